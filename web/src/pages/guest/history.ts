// Guest page, Task history tab: Proxmox's recent tasks of the guest, with those followed here.
import { h, fill, setText } from "../../ui/dom";
import { get } from "../../ui/api";
import { dateTime, uptime } from "../../ui/format";
import { tasks, describe, openTaskLog, taskPill } from "../../ui/tasks";
import { DataTable } from "../../ui/table";
import { vmid, loading, failed } from "./context";

interface PveTask {
  upid: string;
  type?: string;
  status?: string;
  starttime?: number;
  endtime?: number;
  user?: string;
  node?: string;
}

export async function tasksTab(panel: HTMLElement): Promise<void> {
  if (!panel.childElementCount) loading(panel);
  let list: PveTask[];
  try {
    list = (await get<{ data: PveTask[] }>(`/api/proxmox/vm/${vmid}/tasks?limit=50`)).data;
  } catch (e) {
    failed(panel, e, () => void tasksTab(panel));
    return;
  }
  // Tasks Uma followed but Proxmox has not listed yet still show.
  const known = new Set(list.map((t) => t.upid));
  for (const t of tasks.list()) {
    if ((t.vmid === vmid || t.upid.includes(`:${vmid}:`)) && !known.has(t.upid)) {
      list.push({ upid: t.upid, type: t.type, status: t.status === "running" ? undefined : t.exitstatus ?? undefined, starttime: Math.floor(t.started / 1000), endtime: t.ended ? Math.floor(t.ended / 1000) : undefined, user: t.user, node: t.node });
    }
  }
  const table = new DataTable<PveTask>({
    caption: "Tasks of this guest",
    key: (t) => t.upid,
    sort: { id: "start", dir: -1 },
    empty: () => "No tasks recorded for this guest.",
    columns: [
      { id: "start", label: "Started", sort: (t) => t.starttime ?? 0, render: (td, t) => setText(td, t.starttime ? dateTime(t.starttime * 1000) : "—") },
      { id: "what", label: "Task", render: (td, t) => fill(td, h("button", { type: "button", class: "link-button", text: describe({ upid: t.upid, type: t.type, vmid }), onclick: () => openTaskLog(t.upid) })) },
      { id: "user", label: "User", class: "hide-narrow", render: (td, t) => setText(td, t.user ?? "") },
      { id: "took", label: "Duration", class: "num hide-narrow", render: (td, t) => setText(td, t.starttime && t.endtime ? uptime(Math.max(1, t.endtime - t.starttime)) : "—") },
      {
        id: "status",
        label: "Status",
        render: (td, t) => {
          const running = !t.endtime && (!t.status || t.status === "running");
          fill(td, taskPill({ upid: t.upid, status: running ? "running" : "stopped", exitstatus: t.status, ok: t.status === "OK", started: 0 }));
        },
      },
    ],
  });
  table.set(list);
  fill(panel, h("div", { class: "subhead" }, h("h3", { text: "Recent tasks" }), h("button", { type: "button", class: "button button-small", text: "Refresh", onclick: () => void tasksTab(panel) })), table.el);
}

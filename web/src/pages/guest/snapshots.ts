// Guest page, Snapshots tab: the list, take a snapshot, roll back to one or delete it.
import { request } from "../../live";
import { h, fill, setText } from "../../ui/dom";
import { get } from "../../ui/api";
import { dateTime } from "../../ui/format";
import { tasks } from "../../ui/tasks";
import { confirmAction, openDialog } from "../../ui/dialog";
import { field, validate, showServerError, str, bool, revalidateOnInput } from "../../ui/form";
import { DataTable } from "../../ui/table";
import { vmid, caps, isCt, noun, effectiveStatus, progressEl, followTask, loading, failed } from "./context";

interface Snapshot {
  name: string;
  description?: string;
  snaptime?: number;
  vmstate?: number;
  parent?: string;
  running?: number;
}

export async function snapshotsTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let list: Snapshot[];
  try {
    list = (await get<{ data: Snapshot[] }>(`/api/proxmox/vm/${vmid}/snapshots`)).data;
  } catch (e) {
    failed(panel, e, () => void snapshotsTab(panel));
    return;
  }
  const current = list.find((s) => s.name === "current");
  const snaps = list.filter((s) => s.name !== "current");
  const table = new DataTable<Snapshot>({
    caption: "Snapshots",
    key: (s) => s.name,
    sort: { id: "time", dir: -1 },
    empty: () => "No snapshots yet.",
    rowClass: (s) => (s.name === current?.parent ? "snap-current" : ""),
    columns: [
      { id: "name", label: "Name", class: "col-name", sort: (s) => s.name, render: (td, s) => fill(td, s.name, s.name === current?.parent ? h("span", { class: "badge", text: "current", title: "The guest's current state is based on this snapshot" }) : null) },
      { id: "time", label: "Taken", sort: (s) => s.snaptime ?? 0, render: (td, s) => setText(td, s.snaptime ? dateTime(s.snaptime * 1000) : "—") },
      { id: "desc", label: "Description", render: (td, s) => setText(td, s.description ?? "") },
      { id: "ram", label: "RAM", class: "hide-narrow", render: (td, s) => setText(td, s.vmstate ? "included" : "—") },
      {
        id: "actions",
        label: "Actions",
        class: "col-actions",
        render: (td, s) => {
          const rb = h("button", { type: "button", class: "button button-small", text: "Roll back…", onclick: () => void snapshotOp("rollback", s.name) });
          const del = h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Delete…", onclick: () => void snapshotOp("delete", s.name) });
          fill(td, h("span", { class: "button-row" }, caps.rollback ? rb : null, caps.snapshot ? del : null));
        },
      },
    ],
  });
  table.set(snaps);
  const createBtn = h("button", { type: "button", class: "button button-primary button-small", text: "Take snapshot…", onclick: () => takeSnapshot() });
  fill(
    panel,
    h("div", { class: "subhead" }, h("h3", { text: `${snaps.length} snapshot${snaps.length === 1 ? "" : "s"}` }), caps.snapshot ? createBtn : h("span", { class: "muted small", text: "Taking snapshots needs VM.Snapshot." })),
    table.el,
  );
}

function takeSnapshot(): void {
  const running = effectiveStatus() === "running";
  const dlg = openDialog({
    title: "Take a snapshot",
    body: [
      field({ label: "Name", name: "snapname", required: true, pattern: "[a-zA-Z][a-zA-Z0-9_\\-]{1,39}", patternMessage: "2 to 40 letters, digits, '_' or '-', starting with a letter.", placeholder: "before-upgrade" }),
      field({ label: "Description", name: "description", textarea: true, rows: 2, maxlength: 8192 }),
      !isCt ? field({ label: "Include RAM", name: "vmstate", type: "checkbox", disabled: !running, hint: running ? "Saves the running state too (slower, uses disk space)." : "Only for a running VM." }) : h("span"),
    ],
    submitLabel: "Take snapshot",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const ack = await request<{ upid?: string }>("vm:snapshot", { vmid, op: "create", snapname: str(form, "snapname"), description: str(form, "description") || undefined, vmstate: !isCt && bool(form, "vmstate") });
      if ("error" in ack) {
        showServerError(form, ack.error);
        return false;
      }
      if (ack.upid) {
        tasks.started(ack.upid, vmid);
        followTask(ack.upid, `Taking snapshot ${str(form, "snapname")}`, "Snapshot taken.");
      }
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

async function snapshotOp(op: "rollback" | "delete", name: string): Promise<void> {
  const ok = await confirmAction({
    title: op === "rollback" ? `Roll back to ${name}?` : `Delete snapshot ${name}?`,
    message: op === "rollback" ? `The ${noun} returns to the state of ${name}; everything since is lost.` : "The snapshot is removed; the guest's current state is not changed.",
    confirmLabel: op === "rollback" ? "Roll back" : "Delete snapshot",
    danger: true,
  });
  if (!ok) return;
  const ack = await request<{ upid?: string }>("vm:snapshot", { vmid, op, snapname: name });
  if ("error" in ack) {
    fill(progressEl, h("span", { class: "alert alert-error", text: ack.error.message }));
    return;
  }
  if (ack.upid) {
    tasks.started(ack.upid, vmid);
    followTask(ack.upid, op === "rollback" ? `Rolling back to ${name}` : `Deleting snapshot ${name}`, op === "rollback" ? `Rolled back to ${name}.` : `Snapshot ${name} deleted.`);
  }
}

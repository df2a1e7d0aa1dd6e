// Guest page, Replication tab: the guest's replication jobs, add one, remove one.
import { h, fill, setText, announce } from "../../ui/dom";
import { api, get, messageOf } from "../../ui/api";
import { confirmAction, openDialog } from "../../ui/dialog";
import { field, validate, showServerError, str, num, revalidateOnInput } from "../../ui/form";
import { DataTable } from "../../ui/table";
import * as cluster from "../../ui/cluster";
import { b, vmid, caps, res, progressEl, reloadTab, loading, failed } from "./context";

interface Job {
  id: string;
  target: string;
  schedule?: string;
  rate?: number;
  comment?: string;
  source?: string;
  disable?: number;
}

export async function replicationTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let list: Job[];
  try {
    list = await get<Job[]>(`/api/proxmox/cluster/replication?vmid=${vmid}`);
  } catch (e) {
    failed(panel, e, () => void replicationTab(panel));
    return;
  }
  const can = caps.replicate;
  const table = new DataTable<Job>({
    caption: "Replication jobs",
    key: (j) => j.id,
    sort: { id: "id", dir: 1 },
    empty: () => "No replication jobs.",
    columns: [
      { id: "id", label: "Job", sort: (j) => j.id, render: (td, j) => setText(td, j.id) },
      { id: "target", label: "To node", sort: (j) => j.target, render: (td, j) => setText(td, j.target) },
      { id: "schedule", label: "Schedule", render: (td, j) => fill(td, h("code", { text: j.schedule ?? "*/15" })) },
      { id: "rate", label: "Rate limit", class: "hide-narrow", render: (td, j) => setText(td, j.rate ? `${j.rate} MB/s` : "none") },
      { id: "comment", label: "Comment", render: (td, j) => setText(td, j.comment ?? "") },
      { id: "state", label: "State", render: (td, j) => fill(td, j.disable ? h("span", { class: "pill", text: "disabled" }) : h("span", { class: "pill pill-ok", text: "active" })) },
      {
        id: "actions",
        label: "Actions",
        class: "col-actions",
        render: (td, j) => fill(td, can ? h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Remove…", onclick: () => void removeJob(j) }) : null),
      },
    ],
  });
  table.set(list);
  fill(
    panel,
    h(
      "div",
      { class: "subhead" },
      h("h3", { text: `${list.length} job${list.length === 1 ? "" : "s"}` }),
      can ? h("button", { type: "button", class: "button button-primary button-small", text: "Add replication…", onclick: () => void addJob() }) : h("span", { class: "muted small", text: "Changing replication needs VM.Replicate." }),
    ),
    table.el,
  );
}

async function addJob(): Promise<void> {
  let nodeList: cluster.NodeInfo[] = [];
  try {
    nodeList = await cluster.nodes();
  } catch (e) {
    fill(progressEl, h("span", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const targets = nodeList.filter((n) => n.node !== (res.node ?? b.node));
  const dlg = openDialog({
    title: "Replicate to another node",
    body: h(
      "div",
      { class: "form-grid" },
      field({ label: "Target node", name: "target", required: true, options: targets.map((n) => [n.node, `${n.node}${n.status === "online" ? "" : " (offline)"}`] as const) }),
      field({ label: "Schedule", name: "schedule", value: "*/15", required: true, pattern: "[a-zA-Z0-9*\\/:,. \\-]{1,128}", patternMessage: "A calendar event such as */15, hourly, 22:30 or mon..fri 02:00.", hint: "Proxmox calendar event: */15 is every 15 minutes." }),
      field({ label: "Rate limit", name: "rate", type: "number", min: 1, max: 10000, step: 1, suffix: "MB/s", placeholder: "none" }),
      field({ label: "Comment", name: "comment", maxlength: 255 }),
    ),
    submitLabel: "Add replication",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      try {
        const body: Record<string, unknown> = { vmid, target: str(form, "target"), schedule: str(form, "schedule") };
        if (num(form, "rate") !== undefined) body.rate = num(form, "rate");
        if (str(form, "comment")) body.comment = str(form, "comment");
        await api("POST", "/api/proxmox/cluster/replication", body);
      } catch (e) {
        showServerError(form, e as { message: string; field?: string });
        return false;
      }
      announce("Replication job added.");
      reloadTab("replication");
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

async function removeJob(j: Job): Promise<void> {
  const ok = await confirmAction({ title: `Remove replication ${j.id}?`, message: `Replication to ${j.target} stops and its copy is removed.`, confirmLabel: "Remove", danger: true });
  if (!ok) return;
  try {
    await api("DELETE", `/api/proxmox/cluster/replication/${encodeURIComponent(j.id)}`);
    announce("Replication job removed.");
  } catch (e) {
    fill(progressEl, h("span", { class: "alert alert-error", text: messageOf(e) }));
  }
  reloadTab("replication");
}

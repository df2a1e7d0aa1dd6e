// Guest page, Backups tab: the guest's backups, back up now, and restore from one.
import { request } from "../../live";
import { h, fill, setText } from "../../ui/dom";
import { get } from "../../ui/api";
import { bytes, dateTime } from "../../ui/format";
import { disableWithReason } from "../../ui/progress";
import { tasks } from "../../ui/tasks";
import { confirmAction, openDialog } from "../../ui/dialog";
import { field, showServerError, str } from "../../ui/form";
import { DataTable } from "../../ui/table";
import * as cluster from "../../ui/cluster";
import { b, vmid, caps, noun, res, status, effectiveStatus, progressEl, actionButton, followTask, loading, failed } from "./context";

interface Backup {
  volid: string;
  storage?: string;
  size?: number;
  ctime?: number;
  notes?: string;
  format?: string;
}

export async function backupsTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let list: Backup[];
  try {
    list = (await get<{ data: Backup[] }>(`/api/proxmox/vm/${vmid}/backups`)).data;
  } catch (e) {
    failed(panel, e, () => void backupsTab(panel));
    return;
  }
  const table = new DataTable<Backup>({
    caption: "Backups",
    key: (x) => x.volid,
    sort: { id: "time", dir: -1 },
    empty: () => "No backups of this guest yet.",
    columns: [
      { id: "time", label: "Taken", sort: (x) => x.ctime ?? 0, render: (td, x) => setText(td, x.ctime ? dateTime(x.ctime * 1000) : "—") },
      { id: "size", label: "Size", class: "num", sort: (x) => x.size ?? 0, render: (td, x) => setText(td, bytes(x.size)) },
      { id: "storage", label: "Storage", sort: (x) => x.storage ?? "", render: (td, x) => setText(td, x.storage ?? "") },
      { id: "notes", label: "Notes", class: "hide-narrow", render: (td, x) => setText(td, x.notes ?? "") },
      {
        id: "actions",
        label: "Actions",
        class: "col-actions",
        render: (td, x) => {
          if (!caps.allocate) {
            fill(td, h("span", { class: "muted small", text: "Restoring needs VM.Allocate" }));
            return;
          }
          const btn = actionButton("Restore…", "button-small", () => void restore(x));
          const why = effectiveStatus() !== "stopped" ? `Stop the ${noun} first: a backup restores over a stopped guest.` : null;
          disableWithReason(btn, why);
          fill(td, btn);
        },
      },
    ],
  });
  table.set(list);
  const backupBtn = h("button", { type: "button", class: "button button-primary button-small", text: "Back up now…", onclick: () => void backupNow() });
  fill(
    panel,
    h("div", { class: "subhead" }, h("h3", { text: `${list.length} backup${list.length === 1 ? "" : "s"}` }), caps.backup ? backupBtn : h("span", { class: "muted small", text: "Backing up needs VM.Backup." })),
    table.el,
  );
}

async function backupNow(): Promise<void> {
  let stores: cluster.StorageInfo[] = [];
  try {
    stores = await cluster.storages(res.node ?? b.node);
  } catch {
    // The server's default storage still works.
  }
  const dlg = openDialog({
    title: `Back up ${status.name ?? vmid}`,
    body: h(
      "div",
      { class: "form-grid" },
      field({ label: "Storage", name: "storage", options: [["", "Default backup storage"], ...stores.map((s) => [s.storage, s.storage] as [string, string])] }),
      field({ label: "Mode", name: "mode", options: [["snapshot", "Snapshot (no downtime)"], ["suspend", "Suspend"], ["stop", "Stop"]], value: "snapshot" }),
      field({ label: "Compression", name: "compress", options: [["zstd", "ZSTD (fast, good)"], ["lzo", "LZO (fastest)"], ["gzip", "GZIP (compatible)"], ["0", "None"]], value: "zstd" }),
    ),
    submitLabel: "Start backup",
    onSubmit: async (form) => {
      const payload: Record<string, unknown> = { vmid, mode: str(form, "mode"), compress: str(form, "compress") };
      if (str(form, "storage")) payload.storage = str(form, "storage");
      const ack = await request<{ upid?: string }>("vm:backup", payload);
      if ("error" in ack) {
        showServerError(form, ack.error);
        return false;
      }
      if (ack.upid) {
        tasks.started(ack.upid, vmid);
        followTask(ack.upid, "Backing up", "Backup finished.");
      }
      return true;
    },
  });
  void dlg;
}

async function restore(x: Backup): Promise<void> {
  const name = status.name ?? res.name ?? String(vmid);
  const ok = await confirmAction({
    title: `Restore ${name} from a backup?`,
    message: h("p", null, `The ${noun}'s disks and configuration are replaced by the backup of ${x.ctime ? dateTime(x.ctime * 1000) : x.volid}. `, h("strong", { text: "Changes since then are lost." })),
    confirmLabel: "Restore",
    danger: true,
    typed: name,
  });
  if (!ok) return;
  const ack = await request<{ upid?: string }>("vm:restore", { vmid, archive: x.volid });
  if ("error" in ack) {
    fill(progressEl, h("span", { class: "alert alert-error", text: ack.error.message }));
    return;
  }
  if (ack.upid) {
    tasks.started(ack.upid, vmid);
    followTask(ack.upid, "Restoring", "Restored from the backup.");
  }
}

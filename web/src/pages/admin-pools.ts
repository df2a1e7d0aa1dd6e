// Admin: every pool with its usage and limits; create a pool for a user or group; edit a pool's
// limits; delete an empty pool.
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf } from "../ui/api";
import { DataTable } from "../ui/table";
import { field, validate, showServerError, clearErrors, formAlert, str, revalidateOnInput } from "../ui/form";
import { openDialog, confirmAction } from "../ui/dialog";
import { quotaMeter } from "../ui/status";
import { gib, mib, plural } from "../ui/format";
import { forget, type PoolInfo } from "../ui/cluster";
import { limitFields, readLimits } from "../ui/limits";
import { suggestNames } from "../ui/suggest";

initShell<Boot>();

const SOURCE: Record<string, string> = { pool: "own", owner: "owner's budget", global: "defaults", none: "none" };
let pools: PoolInfo[] = [];

const table = new DataTable<PoolInfo>({
  caption: "All pools",
  key: (p) => p.poolid,
  sort: { id: "pool", dir: 1 },
  empty: () => "No pools yet.",
  columns: [
    { id: "pool", label: "Pool", class: "col-name", sort: (p) => p.poolid, render: (td, p) => fill(td, h("a", { href: `/pools/${encodeURIComponent(p.poolid)}`, class: "row-link", text: p.poolid }), p.comment ? h("div", { class: "muted small", text: p.comment }) : null) },
    { id: "guests", label: "Guests", class: "num", sort: (p) => p.usage.vms + p.usage.lxcs, render: (td, p) => setText(td, `${p.usage.vms} VM · ${p.usage.lxcs} CT`) },
    { id: "cpu", label: "vCPUs", class: "col-meter", sort: (p) => p.usage.cpu, render: (td, p) => fill(td, quotaMeter({ label: `vCPUs of ${p.poolid}`, used: p.usage.cpu, limit: p.limits.maxCpu, format: String, compact: true })) },
    { id: "mem", label: "Memory", class: "col-meter", sort: (p) => p.usage.memory, render: (td, p) => fill(td, quotaMeter({ label: `Memory of ${p.poolid}`, used: p.usage.memory, limit: p.limits.maxMemory, format: mib, compact: true })) },
    { id: "disk", label: "Disk", class: "col-meter", sort: (p) => p.usage.disk, render: (td, p) => fill(td, quotaMeter({ label: `Disk of ${p.poolid}`, used: p.usage.disk, limit: p.limits.maxDisk, format: gib, compact: true })) },
    { id: "source", label: "Limits", sort: (p) => p.limitsSource ?? "", render: (td, p) => setText(td, SOURCE[p.limitsSource ?? "none"] ?? String(p.limitsSource)) },
    {
      id: "actions",
      label: "Actions",
      class: "col-actions",
      render: (td, p) => {
        const del = h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Delete…", onclick: () => void deletePool(p) });
        const guests = p.usage.vms + p.usage.lxcs;
        if (guests > 0) {
          del.setAttribute("aria-disabled", "true");
          del.title = `Move or delete its ${plural(guests, "guest")} first`;
          del.onclick = null;
        }
        fill(td, h("span", { class: "button-row" }, h("button", { type: "button", class: "button button-small", text: "Limits…", onclick: () => editLimits(p) }), del));
      },
    },
  ],
});
must("[data-pools]").append(table.el);
// The meters in the table carry their own label; keep them compact.
table.el.classList.add("table-meters");

async function load(): Promise<void> {
  forget("pools");
  try {
    pools = (await get<{ pools: PoolInfo[] }>("/api/proxmox/pools")).pools;
  } catch (e) {
    fill(must("[data-pools]"), h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  table.set(pools);
  setText(must("[data-pool-count]"), plural(pools.length, "pool"));
}

function createForm(): HTMLFormElement {
  const form = h("form", { class: "inline-form", novalidate: true, "aria-label": "New pool" });
  const kind = field({ label: "Owner kind", name: "ownerType", options: [["user", "User"], ["group", "Group"]], value: "user", aliases: ["owner.type", "type"] });
  const name = field({ label: "Owner", name: "ownerName", required: true, placeholder: "alice", pattern: "[A-Za-z0-9._@\\-]{1,128}", patternMessage: "Letters, digits, '.', '_', '-' and '@'.", aliases: ["owner.name", "owner", "name"] });
  const comment = field({ label: "Description", name: "comment", maxlength: 200, placeholder: "Alice's second lab", validate: (v) => (/[\r\n]/.test(v) ? "One line only." : null) });
  const submit = h("button", { type: "submit", class: "button button-primary form-submit", text: "Create pool" });
  form.append(kind, name, comment, submit);
  suggestNames(name.querySelector("input")!, () => (str(form, "ownerType") === "group" ? "group" : "user"));
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    submit.disabled = true;
    submit.classList.add("is-busy");
    try {
      const body: Record<string, unknown> = { owner: { type: str(form, "ownerType"), name: str(form, "ownerName") } };
      if (str(form, "comment")) body.comment = str(form, "comment");
      const r = await api<{ poolid?: string; aclWarning?: string | null }>("POST", "/api/proxmox/pools", body);
      const id = r.poolid ?? "";
      if (r.aclWarning) formAlert(form, `Created pool ${id}, but its owner could not be given access: ${r.aclWarning}`, "error");
      else formAlert(form, `Created pool ${id}.`, "ok");
      announce(`Created pool ${id}.`);
      (form.querySelector("[name=ownerName]") as HTMLInputElement).value = "";
      (form.querySelector("[name=comment]") as HTMLInputElement).value = "";
      void load();
    } catch (err) {
      showServerError(form, err as { message: string; field?: string });
    } finally {
      submit.disabled = false;
      submit.classList.remove("is-busy");
    }
  });
  return form;
}

export function editLimits(p: PoolInfo, after?: () => void): void {
  const dlg = openDialog({
    title: `Limits of ${p.poolid}`,
    wide: true,
    body: [
      h("p", { class: "muted", text: p.limitsSource === "pool" ? "This pool has its own limits." : "This pool uses the default limits; saving gives it its own." }),
      limitFields(p.limits),
    ],
    submitLabel: "Save limits",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      try {
        await api("PUT", `/api/proxmox/pools/${encodeURIComponent(p.poolid)}/limits`, readLimits(form));
      } catch (e) {
        showServerError(form, e as { message: string; field?: string });
        return false;
      }
      announce(`Limits of ${p.poolid} saved.`);
      void load();
      after?.();
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

async function deletePool(p: PoolInfo): Promise<void> {
  const ok = await confirmAction({ title: `Delete pool ${p.poolid}?`, message: "The pool, its ACL entries and its own limits are removed.", confirmLabel: "Delete pool", danger: true, typed: p.poolid });
  if (!ok) return;
  try {
    await api("DELETE", `/api/proxmox/pools/${encodeURIComponent(p.poolid)}`);
    announce(`Pool ${p.poolid} deleted.`);
  } catch (e) {
    must("[data-pools]").prepend(h("p", { class: "alert alert-error", role: "alert", text: messageOf(e) }));
  }
  void load();
}

must("[data-create-pool]").append(createForm());
void load();

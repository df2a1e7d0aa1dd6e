// Admin: the default limits every pool gets, and each pool's own limits (edit, or go back to
// the defaults).
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf } from "../ui/api";
import { DataTable } from "../ui/table";
import { validate, showServerError, clearErrors, formAlert, revalidateOnInput } from "../ui/form";
import { openDialog, confirmAction } from "../ui/dialog";
import { gib, mib } from "../ui/format";
import type { PoolInfo } from "../ui/cluster";
import { limitFields, readLimits, type LimitValues } from "../ui/limits";

initShell<Boot>();

async function loadGlobal(): Promise<void> {
  const root = must("[data-global]");
  let values: LimitValues;
  try {
    values = await get<LimitValues>("/api/settings/limits");
  } catch (e) {
    fill(root, h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const form = h("form", { novalidate: true, "aria-label": "Default limits" }, limitFields(values, true));
  const submit = h("button", { type: "submit", class: "button button-primary", text: "Save defaults" });
  form.append(h("div", { class: "form-actions" }, submit));
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    submit.disabled = true;
    try {
      await api("POST", "/api/settings/limits", readLimits(form, true));
      formAlert(form, "Default limits saved.", "ok");
      announce("Default limits saved.");
      void loadPools();
    } catch (err) {
      showServerError(form, err as { message: string; field?: string });
    } finally {
      submit.disabled = false;
    }
  });
  fill(root, form);
}

const fmt = (n: number, f: (x: number) => string = String) => (n > 0 ? f(n) : "—");
const table = new DataTable<PoolInfo>({
  caption: "Limits per pool",
  key: (p) => p.poolid,
  sort: { id: "pool", dir: 1 },
  empty: () => "No pools yet.",
  columns: [
    { id: "pool", label: "Pool", class: "col-name", sort: (p) => p.poolid, render: (td, p) => fill(td, h("a", { href: `/pools/${encodeURIComponent(p.poolid)}`, class: "row-link", text: p.poolid })) },
    { id: "source", label: "Source", sort: (p) => p.limitsSource ?? "", render: (td, p) => fill(td, p.limitsSource === "pool" ? h("span", { class: "pill pill-info", text: "own" }) : h("span", { class: "pill", text: p.limitsSource === "global" ? "defaults" : p.limitsSource === "owner" ? "owner's budget" : "none" })) },
    { id: "vms", label: "VMs", class: "num", render: (td, p) => setText(td, fmt(p.limits.maxVMs)) },
    { id: "lxcs", label: "CTs", class: "num", render: (td, p) => setText(td, fmt(p.limits.maxLXCs)) },
    { id: "cpu", label: "vCPUs", class: "num", render: (td, p) => setText(td, fmt(p.limits.maxCpu)) },
    { id: "mem", label: "Memory", class: "num", render: (td, p) => setText(td, fmt(p.limits.maxMemory, mib)) },
    { id: "disk", label: "Disk", class: "num", render: (td, p) => setText(td, fmt(p.limits.maxDisk, gib)) },
    { id: "vnets", label: "VNets", class: "num", render: (td, p) => setText(td, fmt(p.limits.maxVnets)) },
    {
      id: "actions",
      label: "Actions",
      class: "col-actions",
      render: (td, p) =>
        fill(
          td,
          h(
            "span",
            { class: "button-row" },
            h("button", { type: "button", class: "button button-small", text: "Edit…", "aria-label": `Edit limits of ${p.poolid}`, onclick: () => edit(p) }),
            p.limitsSource === "pool" ? h("button", { type: "button", class: "button button-small button-quiet", text: "Use defaults", onclick: () => void reset(p) }) : null,
          ),
        ),
    },
  ],
});
must("[data-pool-limits]").append(table.el);

async function loadPools(): Promise<void> {
  try {
    table.set((await get<{ pools: PoolInfo[] }>("/api/proxmox/pools")).pools);
  } catch (e) {
    fill(must("[data-pool-limits]"), h("p", { class: "alert alert-error", text: messageOf(e) }));
  }
}

function edit(p: PoolInfo): void {
  const dlg = openDialog({
    title: `Limits of ${p.poolid}`,
    wide: true,
    body: [limitFields(p.limits)],
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
      void loadPools();
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

async function reset(p: PoolInfo): Promise<void> {
  const ok = await confirmAction({ title: `Use the defaults for ${p.poolid}?`, message: "The pool's own limits are removed; the default limits apply to it.", confirmLabel: "Use defaults" });
  if (!ok) return;
  try {
    await api("DELETE", `/api/proxmox/pools/${encodeURIComponent(p.poolid)}/limits`);
    announce(`${p.poolid} uses the default limits.`);
  } catch (e) {
    must("[data-pool-limits]").prepend(h("p", { class: "alert alert-error", role: "alert", text: messageOf(e) }));
  }
  void loadPools();
}

void loadGlobal();
void loadPools();

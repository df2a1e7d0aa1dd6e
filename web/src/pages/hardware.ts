// Hardware templates: every template the user may use (their own, shared ones, the prebuilt
// ones), with what the create wizard does with each; create one from scratch or from a guest's
// configuration, edit, share or stop sharing, delete. Prebuilt ones are for administrators to
// change. The server checks every field and names the one it refuses.
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { DataTable } from "../ui/table";
import { confirmAction, openDialog } from "../ui/dialog";
import { bool, field, num, showServerError, str } from "../ui/form";
import { mib, plural } from "../ui/format";
import { templateExtras, WIZARD_KEYS, type HwTemplate } from "../ui/hwtemplates";
import { resources } from "../ui/resources";

const boot = initShell<Boot>();
const me = boot.user?.username ?? "";
const isAdmin = Boolean((boot.user as { isAdmin?: boolean } | undefined)?.isAdmin);
const alertEl = must("[data-templates-alert]");
const CATEGORIES = ["custom", "web", "database", "development", "compute", "gaming"];

function say(kind: "ok" | "error", text: string): void {
  fill(alertEl, h("p", { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status", text }));
}

const canChange = (t: HwTemplate) => isAdmin || (!t.system && t.owner === me);

function size(t: HwTemplate): string {
  const c = t.config;
  const cpus = Number(c.cores ?? 1) * Number(c.sockets ?? 1);
  return `${cpus} vCPU · ${mib(Number(c.memory ?? 0))}`;
}

function wizardNote(config: HwTemplate["config"]): string {
  const { apply, skip } = templateExtras({ config });
  return [
    apply.length ? `Set after creation: ${apply.map(([k]) => k).join(", ")}.` : "",
    skip.length ? `Not applied by the wizard (administrators only): ${skip.join(", ")}.` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

const table = new DataTable<HwTemplate>({
  caption: "Hardware templates",
  key: (t) => t.id,
  sort: { id: "name", dir: 1 },
  empty: () => "No template yet. Make one with New template….",
  columns: [
    {
      id: "name",
      label: "Name",
      class: "col-name",
      sort: (t) => t.name.toLowerCase(),
      render: (td, t) => fill(td, h("strong", { text: t.name }), t.description ? h("div", { class: "muted small", text: t.description }) : null),
    },
    { id: "size", label: "Size", sort: (t) => Number(t.config.cores ?? 1) * Number(t.config.sockets ?? 1), render: (td, t) => setText(td, size(t)) },
    { id: "category", label: "Category", sort: (t) => t.category ?? "", render: (td, t) => fill(td, h("span", { class: "pill", text: t.category ?? "custom" })) },
    {
      id: "owner",
      label: "Owner",
      sort: (t) => (t.system ? "" : (t.owner ?? "")),
      render: (td, t) => fill(td, t.system ? "Uma (everyone)" : t.owner === me ? "you" : (t.owner ?? "—"), t.shared && !t.system ? h("span", { class: "muted small", text: " · shared" }) : null),
    },
    {
      id: "act",
      label: "Actions",
      hideLabel: true,
      class: "actions",
      render: (td, t) =>
        fill(
          td,
          h(
            "div",
            { class: "button-row" },
            h("a", { class: "button button-small", href: `/create?hw=${encodeURIComponent(t.id)}`, text: "Use" }),
            canChange(t) ? h("button", { type: "button", class: "button button-small", text: "Edit…", "data-edit-template": t.id, onclick: () => edit(t) }) : null,
            canChange(t) ? h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Delete…", "data-delete-template": t.id, onclick: () => void remove(t) }) : null,
          ),
        ),
    },
  ],
});
fill(must("[data-templates]"), table.el);

async function load(): Promise<void> {
  try {
    const r = await get<{ templates: HwTemplate[] }>("/api/hardware-templates");
    table.set(r.templates);
    const mine = r.templates.filter((t) => t.owner === me).length;
    setText(must("[data-template-count]"), `${plural(r.templates.length, "template")} · ${mine} yours`);
  } catch (e) {
    say("error", `The templates could not be loaded: ${messageOf(e)}`);
  }
}

/** `key=value` lines of the keys the fields above don't cover. */
function extraLines(config: HwTemplate["config"]): string {
  return Object.entries(config)
    .filter(([k]) => !["cores", "sockets", "memory", "net0"].includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}

function parseExtra(text: string): { config: Record<string, string | number | boolean>; bad: string | null } {
  const config: Record<string, string | number | boolean> = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    if (at < 1) return { config, bad: `Line ${i + 1} is not key=value: “${line}”` };
    const k = line.slice(0, at).trim();
    const v = line.slice(at + 1).trim();
    config[k] = /^-?\d+$/.test(v) ? Number(v) : v === "true" ? true : v === "false" ? false : v;
  }
  return { config, bad: null };
}

function edit(t: HwTemplate | null, from?: HwTemplate["config"], fromName?: string): void {
  const base = t?.config ?? from ?? { cores: 2, sockets: 1, memory: 2048 };
  const bridge = /bridge=([A-Za-z0-9_.-]+)/.exec(String(base.net0 ?? ""))?.[1] ?? "";
  const note = h("p", { class: "hint", text: wizardNote(base) });
  const body = [
    h(
      "div",
      { class: "form-grid" },
      field({ label: "Name", name: "name", required: true, maxlength: 100, value: t?.name ?? (fromName ? `Like ${fromName}` : ""), class: "span-all" }),
      field({ label: "Description", name: "description", maxlength: 191, value: t?.description ?? "", class: "span-all" }),
      field({ label: "Cores", name: "cores", type: "number", min: 1, max: 128, step: 1, required: true, value: Number(base.cores ?? 2) }),
      field({ label: "Sockets", name: "sockets", type: "number", min: 1, max: 4, step: 1, required: true, value: Number(base.sockets ?? 1) }),
      field({ label: "Memory", name: "memory", type: "number", min: 64, max: 1048576, step: 1, required: true, suffix: "MiB", value: Number(base.memory ?? 2048) }),
      field({ label: "Network bridge", name: "bridge", value: bridge, placeholder: "e.g. vmbr0 (optional)", pattern: "[A-Za-z0-9_.-]*", patternMessage: "Letters, digits, '.', '_' or '-'" }),
      field({ label: "Category", name: "category", options: (isAdmin ? [...CATEGORIES, "prebuilt"] : CATEGORIES).map((c) => [c, c] as const), value: t?.category ?? "custom" }),
      field({ label: "Shared with everyone", name: "shared", type: "checkbox", value: t?.shared ?? false, disabled: Boolean(t?.system) }),
      field({ label: "More settings (key=value, one per line)", name: "extra", textarea: true, rows: 4, value: extraLines(base), class: "span-all", placeholder: "agent=1\nonboot=1" }),
    ),
    note,
  ];
  const dlg = openDialog({
    title: t ? `Edit “${t.name}”` : "New hardware template",
    body,
    wide: true,
    submitLabel: t ? "Save" : "Create",
    onSubmit: async (form) => {
      const extra = parseExtra(str(form, "extra"));
      if (extra.bad) {
        showServerError(form, { message: extra.bad, field: "extra" });
        return false;
      }
      const config: Record<string, string | number | boolean> = { ...extra.config, cores: num(form, "cores") ?? 1, sockets: num(form, "sockets") ?? 1, memory: num(form, "memory") ?? 2048 };
      const b = str(form, "bridge");
      if (b) config.net0 = `virtio,bridge=${b}`;
      const payload = { name: str(form, "name"), description: str(form, "description"), category: str(form, "category"), shared: bool(form, "shared"), config };
      try {
        const r = t
          ? await api<{ template: HwTemplate }>("PATCH", `/api/hardware-templates/${encodeURIComponent(t.id)}`, payload)
          : await api<{ template: HwTemplate }>("POST", "/api/hardware-templates", payload);
        say("ok", `${t ? "Saved" : "Created"} “${r.template.name}”.`);
        announce(t ? "Template saved." : "Template created.");
        // The VMs to start a template from.
resources.start();
void load();
        return true;
      } catch (e) {
        const err = e as ApiError;
        // The server names config keys as `config` (or `config.<key>`): those live in the extra lines.
        showServerError(form, err.field?.startsWith("config") && !WIZARD_KEYS.some((k) => err.field === `config.${k}`) ? { ...err, field: "extra" } : err);
        return false;
      }
    },
  });
  dlg.form?.addEventListener("input", () => {
    const { config } = parseExtra(str(dlg.form as HTMLFormElement, "extra"));
    note.textContent = wizardNote(config);
  });
}

async function remove(t: HwTemplate): Promise<void> {
  const ok = await confirmAction({ title: `Delete “${t.name}”?`, message: t.shared ? "Everyone it is shared with loses it too. Guests made from it keep their hardware." : "Guests made from it keep their hardware.", confirmLabel: "Delete template", danger: true });
  if (!ok) return;
  try {
    await api("DELETE", `/api/hardware-templates/${encodeURIComponent(t.id)}`);
    say("ok", `Deleted “${t.name}”.`);
  } catch (e) {
    say("error", messageOf(e));
  }
  // The VMs to start a template from.
resources.start();
void load();
}

/** Start from scratch, or from the configuration of a guest the user can see. */
must("[data-new-template]").addEventListener("click", () => {
  const guests = [...resources.items.values()].filter((r) => r.type === "qemu" && r.vmid);
  if (!guests.length) return edit(null);
  const pick = field({
    label: "Start from",
    name: "from",
    options: [["", "Nothing (a fresh template)"] as const, ...guests.map((g) => [String(g.vmid), `${g.name ?? "VM"} (${g.vmid})`] as const)],
  });
  openDialog({
    title: "New hardware template",
    body: [pick, h("p", { class: "muted small", text: "From a VM: its cores, sockets, memory, bridge and settings, as a start." })],
    submitLabel: "Next",
    onSubmit: async (form) => {
      const vmid = str(form, "from");
      if (!vmid) {
        edit(null);
        return true;
      }
      try {
        const cfg = await get<{ config?: Record<string, unknown> } & Record<string, unknown>>(`/api/proxmox/vm/${encodeURIComponent(vmid)}/config`);
        const raw = (cfg.config ?? cfg) as Record<string, unknown>;
        const keep: HwTemplate["config"] = {};
        for (const k of ["cores", "sockets", "memory", "net0", "cpu", "vga", "agent", "tablet", "balloon", "onboot", "bios", "machine", "numa", "ostype"]) {
          const v = raw[k];
          if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") keep[k] = v;
        }
        const g = guests.find((x) => String(x.vmid) === vmid);
        edit(null, keep, g?.name ?? vmid);
        return true;
      } catch (e) {
        showServerError(form, { message: `That VM's configuration could not be read: ${messageOf(e)}`, field: "from" });
        return false;
      }
    },
  });
});

// The VMs to start a template from.
resources.start();
void load();

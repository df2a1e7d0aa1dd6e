// Networks (SDN) island: the zones and VNets the user may see; creating a VNet (named with the
// user's prefix, tagged, optionally charged to a pool) and deleting one's own; for
// administrators, creating zones and applying pending changes (once per cooldown).
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf } from "../ui/api";
import { DataTable } from "../ui/table";
import { openDialog, confirmAction } from "../ui/dialog";
import { field, validate, showServerError, str, num, bool, setValue, revalidateOnInput } from "../ui/form";
import * as cluster from "../ui/cluster";
import { tasks } from "../ui/tasks";
import { plural } from "../ui/format";

interface SdnBoot extends Boot {
  sdnAdmin: boolean;
  namePrefixes: string[];
}

interface Zone {
  zone: string;
  type: string;
  ipam?: string;
  mtu?: number;
  bridge?: string;
  peers?: string;
  pending?: unknown;
  state?: string;
}

interface Vnet {
  vnet: string;
  zone: string;
  tag?: number;
  alias?: string;
  vlanaware?: number;
  state?: string;
}

const b = initShell<SdnBoot>();
const admin = b.sdnAdmin;
const me = b.user.username.toLowerCase();
const ID = "[a-zA-Z][a-zA-Z0-9]{1,7}";
let zones: Zone[] = [];
let vnets: Vnet[] = [];

function ownerOf(alias: string | undefined): string | null {
  const i = (alias ?? "").lastIndexOf("_DEV_");
  return i >= 0 ? (alias ?? "").slice(i + 5).toLowerCase() : null;
}

const zoneTable = new DataTable<Zone>({
  caption: "SDN zones",
  key: (z) => z.zone,
  sort: { id: "zone", dir: 1 },
  empty: () => (admin ? "No zones yet. Create one to hold VNets." : "No zones are open to you. Ask an administrator for access to a zone."),
  columns: [
    { id: "zone", label: "Zone", class: "col-name", sort: (z) => z.zone, render: (td, z) => fill(td, h("strong", { text: z.zone })) },
    { id: "type", label: "Type", sort: (z) => z.type, render: (td, z) => setText(td, z.type) },
    { id: "ipam", label: "IPAM", render: (td, z) => setText(td, z.ipam ?? "—") },
    { id: "detail", label: "Bridge / peers", render: (td, z) => setText(td, z.bridge ?? z.peers ?? "—") },
    { id: "mtu", label: "MTU", class: "num", render: (td, z) => setText(td, z.mtu ? String(z.mtu) : "auto") },
    { id: "vnets", label: "VNets", class: "num", sort: (z) => vnets.filter((v) => v.zone === z.zone).length, render: (td, z) => setText(td, String(vnets.filter((v) => v.zone === z.zone).length)) },
  ],
});

const vnetTable = new DataTable<Vnet>({
  caption: "VNets",
  key: (v) => v.vnet,
  sort: { id: "vnet", dir: 1 },
  empty: () => h("span", null, "No VNets yet. ", zones.length ? "Create one for your guests." : ""),
  hash: (v) => JSON.stringify(v),
  columns: [
    { id: "vnet", label: "VNet", class: "col-name", sort: (v) => v.vnet, render: (td, v) => fill(td, h("strong", { text: v.vnet }), v.state ? h("span", { class: "pill pill-warn", text: `pending: ${v.state}` }) : null) },
    { id: "zone", label: "Zone", sort: (v) => v.zone, render: (td, v) => setText(td, v.zone) },
    { id: "tag", label: "Tag", class: "num", sort: (v) => v.tag ?? 0, render: (td, v) => setText(td, v.tag ? String(v.tag) : "—") },
    { id: "alias", label: "Alias", render: (td, v) => setText(td, v.alias ?? "") },
    { id: "owner", label: "Owner", sort: (v) => ownerOf(v.alias) ?? "", render: (td, v) => fill(td, ownerOf(v.alias) ? h("span", null, ownerOf(v.alias)!, ownerOf(v.alias) === me ? h("span", { class: "badge", text: "you" }) : null) : h("span", { class: "muted", text: "—" })) },
    {
      id: "actions",
      label: "Actions",
      class: "col-actions",
      render: (td, v) => {
        const mine = ownerOf(v.alias) === me;
        fill(td, admin || mine ? h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Delete…", "aria-label": `Delete VNet ${v.vnet}`, onclick: () => void deleteVnet(v) }) : null);
      },
    },
  ],
});
must("[data-zones]").append(zoneTable.el);
must("[data-vnets]").replaceChildren(vnetTable.el);

async function load(): Promise<void> {
  try {
    const [z, v] = await Promise.all([get<{ zones: Zone[] }>("/api/proxmox/sdn/zones"), get<{ vnets: Vnet[] }>(`/api/proxmox/sdn/vnets${admin ? "" : "?includeAll=true"}`)]);
    zones = z.zones;
    const own = admin ? [] : (await get<{ vnets: Vnet[] }>("/api/proxmox/sdn/vnets")).vnets;
    const byName = new Map<string, Vnet>();
    for (const x of [...v.vnets, ...own]) byName.set(x.vnet, x);
    vnets = [...byName.values()];
  } catch (e) {
    fill(must("[data-vnets]"), h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  zoneTable.set(zones);
  vnetTable.set(vnets);
  setText(must("[data-zone-count]"), plural(zones.length, "zone"));
  setText(must("[data-vnet-count]"), plural(vnets.length, "VNet"));
  const create = h("button", { type: "button", class: "button button-primary button-small", text: "New VNet…", onclick: () => void createVnet() });
  if (!zones.length) {
    create.setAttribute("aria-disabled", "true");
    create.title = "No zone is open to you";
    create.onclick = null;
  }
  fill(must("[data-vnet-actions]"), zones.length ? create : h("span", { class: "muted small", text: "No zone is open to you for new VNets." }));
  fill(must("[data-zone-actions]"), admin ? h("button", { type: "button", class: "button button-small", text: "New zone…", onclick: () => createZone() }) : null);
}

// --- VNets ---------------------------------------------------------------------------------------

async function createVnet(): Promise<void> {
  let pools: cluster.PoolInfo[] = [];
  try {
    pools = (await cluster.pools()).filter((p) => p.allowManage);
  } catch {
    // Charging to a pool is optional.
  }
  const prefixes = b.namePrefixes;
  const dlg = openDialog({
    title: "New VNet",
    wide: true,
    body: [
      h(
        "div",
        { class: "form-grid" },
        field({ label: "Zone", name: "zone", required: true, options: zones.map((z) => [z.zone, `${z.zone} (${z.type})`] as const) }),
        field({
          label: "Name",
          name: "vnet",
          required: true,
          pattern: ID,
          patternMessage: "2 to 8 letters or digits, starting with a letter.",
          hint: admin ? "2 to 8 letters or digits." : `Must start with ${prefixes.join(", ")} (2 to 8 characters in all).`,
          validate: (v) => (admin || prefixes.some((p) => v.toLowerCase().startsWith(p)) ? null : `The name must start with ${prefixes.join(" or ")}.`),
        }),
        field({ label: "VLAN tag", name: "tag", type: "number", min: 1, max: 4094, step: 1, hint: "Userlabs zones: 1001 to 1255 (required there)." }),
        field({ label: "Label", name: "alias", maxlength: admin ? 256 : 64, pattern: admin ? "[A-Za-z0-9 _.\\(\\)\\-]{0,256}" : "[A-Za-z0-9_\\-]{0,64}", patternMessage: admin ? "Letters, digits, spaces, '_', '-', '.', '(' and ')'." : "Letters, digits, '_' and '-'." }),
        field({ label: "Charge to pool", name: "poolId", options: [["", "No pool"], ...pools.map((p) => [p.poolid, p.poolid] as [string, string])], hint: "Counts against the pool's VNet quota." }),
        field({ label: "VLAN aware", name: "vlanaware", type: "checkbox", hint: "Let guests use their own VLAN tags inside it." }),
      ),
      h("p", { class: "hint", text: "New VNets are pending until an administrator applies the network changes." }),
    ],
    submitLabel: "Create VNet",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const body: Record<string, unknown> = { zone: str(form, "zone"), vnet: str(form, "vnet") };
      if (num(form, "tag") !== undefined) body.tag = num(form, "tag");
      if (str(form, "alias")) body.alias = str(form, "alias");
      if (str(form, "poolId")) body.poolId = str(form, "poolId");
      if (bool(form, "vlanaware")) body.vlanaware = true;
      try {
        await api("POST", "/api/proxmox/sdn/vnets", body);
      } catch (e) {
        showServerError(form, e as { message: string; field?: string });
        return false;
      }
      announce(`VNet ${body.vnet} created.`);
      void load();
      return true;
    },
  });
  if (!dlg.form) return;
  const form = dlg.form;
  revalidateOnInput(form);
  const suggest = async () => {
    try {
      const r = await get<{ nextTag: number; suggestedName?: string }>(`/api/proxmox/sdn/vnets/next-tag?zone=${encodeURIComponent(str(form, "zone"))}`);
      setValue(form, "tag", r.nextTag);
      if (r.suggestedName && !str(form, "vnet")) setValue(form, "vnet", r.suggestedName);
    } catch {
      // Suggestions are a convenience.
    }
  };
  form.querySelector("[name=zone]")?.addEventListener("change", () => void suggest());
  void suggest();
}

async function deleteVnet(v: Vnet): Promise<void> {
  const ok = await confirmAction({ title: `Delete VNet ${v.vnet}?`, message: "Guests using it lose this network once the change is applied.", confirmLabel: "Delete VNet", danger: true });
  if (!ok) return;
  try {
    await api("DELETE", `/api/proxmox/sdn/vnets?vnet=${encodeURIComponent(v.vnet)}`);
    announce(`VNet ${v.vnet} deleted.`);
  } catch (e) {
    must("[data-vnets]").prepend(h("p", { class: "alert alert-error", role: "alert", text: messageOf(e) }));
  }
  void load();
}

// --- zones and apply (administrators) -----------------------------------------------------------

function createZone(): void {
  const dlg = openDialog({
    title: "New zone",
    body: h(
      "div",
      { class: "form-grid" },
      field({ label: "Zone id", name: "zone", required: true, pattern: ID, patternMessage: "2 to 8 letters or digits, starting with a letter." }),
      field({ label: "Type", name: "type", options: [["simple", "Simple"], ["vlan", "VLAN"], ["qinq", "QinQ"], ["vxlan", "VXLAN"]], value: "simple" }),
      field({ label: "MTU", name: "mtu", type: "number", min: 576, max: 65520, step: 1, placeholder: "auto" }),
      field({ label: "Bridge", name: "bridge", placeholder: "vmbr0", pattern: "[a-zA-Z][a-zA-Z0-9_.\\-]{0,14}", patternMessage: "A bridge name such as vmbr0.", hint: "VLAN and QinQ zones." }),
      field({ label: "Peers", name: "peers", placeholder: "10.0.0.1,10.0.0.2", class: "span-all", hint: "VXLAN zones: the nodes' addresses, comma-separated." }),
    ),
    submitLabel: "Create zone",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const type = str(form, "type");
      if ((type === "vlan" || type === "qinq") && !str(form, "bridge")) {
        showServerError(form, { field: "bridge", message: "A VLAN or QinQ zone needs a bridge." });
        return false;
      }
      if (type === "vxlan" && !str(form, "peers")) {
        showServerError(form, { field: "peers", message: "A VXLAN zone needs its peers." });
        return false;
      }
      const body: Record<string, unknown> = { zone: str(form, "zone"), type };
      if (num(form, "mtu") !== undefined) body.mtu = num(form, "mtu");
      if (str(form, "bridge")) body.bridge = str(form, "bridge");
      if (str(form, "peers")) body.peers = str(form, "peers");
      try {
        await api("POST", "/api/proxmox/sdn/zones", body);
      } catch (e) {
        showServerError(form, e as { message: string; field?: string });
        return false;
      }
      announce(`Zone ${body.zone} created.`);
      void load();
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

let applyTimer: number | null = null;
async function renderApply(): Promise<void> {
  if (!admin) return;
  const el = must("[data-apply]");
  let queue: { remainingSeconds: number; appliedBy?: string | null; cooldownSeconds: number };
  let st: { isRunning: boolean };
  try {
    [queue, st] = await Promise.all([get<typeof queue>("/api/proxmox/sdn/apply-queue"), get<typeof st>("/api/proxmox/sdn/status")]);
  } catch (e) {
    fill(el, h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const btn = h("button", { type: "button", class: "button button-primary", text: "Apply network changes…" });
  const reason = st.isRunning ? "A network change is being applied now." : queue.remainingSeconds > 0 ? `Applied${queue.appliedBy ? ` by ${queue.appliedBy}` : ""} moments ago; possible again in ${queue.remainingSeconds} s.` : null;
  if (reason) {
    btn.setAttribute("aria-disabled", "true");
    btn.title = reason;
  }
  btn.addEventListener("click", async () => {
    if (btn.getAttribute("aria-disabled") === "true") return;
    const ok = await confirmAction({ title: "Apply network changes?", message: `Pending zones and VNets are written to every node and networking reloads. The next apply is possible ${Math.round(queue.cooldownSeconds / 60)} minutes later.`, confirmLabel: "Apply" });
    if (!ok) return;
    try {
      const r = await api<{ upid?: string }>("POST", "/api/proxmox/sdn/apply-queue");
      if (r.upid) tasks.started(r.upid, null);
      announce("Network changes are being applied.");
    } catch (e) {
      el.append(h("p", { class: "alert alert-error", role: "alert", text: messageOf(e) }));
    }
    void renderApply();
  });
  fill(
    el,
    h("div", { class: "card section", role: "region", "aria-label": "Apply network changes" }, h("div", { class: "subhead subhead-flat" }, h("p", { class: "muted", text: reason ?? "Changes to zones and VNets take effect when applied." }), btn)),
  );
  if (applyTimer !== null) window.clearTimeout(applyTimer);
  if (reason) applyTimer = window.setTimeout(() => void renderApply(), 5000);
}

void load();
void renderApply();

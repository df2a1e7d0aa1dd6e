// Dashboard island: cluster health, nodes, the user's pools against their quotas, and every
// guest the user may see with live status, CPU, memory and uptime; search and filters (kept in
// the address), and bulk power actions on a selection.
import { initShell, watchFreshness, type Boot } from "../ui/shell";
import { resources, isTemplate, type Resource } from "../ui/resources";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { guestTable } from "../ui/guests";
import { clusterStatus, meter, nodeStatus, quotaMeter, updateMeter } from "../ui/status";
import { bytes, bytesOf, gib, mib, pct, plural, tags as splitTags, uptime, clock } from "../ui/format";
import { POWER, power, whyNot, type PowerAction } from "../ui/power";
import { confirmAction, openDialog } from "../ui/dialog";
import { field, showServerError, str } from "../ui/form";

interface DashBoot extends Boot {
  cluster: { ok: boolean; version?: string; error?: string };
}

export interface Pool {
  poolid: string;
  comment?: string | null;
  allowManage: boolean;
  owned?: boolean;
  limits: { maxCpu: number; maxMemory: number; maxDisk: number; maxVMs: number; maxLXCs: number; maxVnets: number };
  limitsSource?: string;
  usage: { cpu: number; memory: number; disk: number; vms: number; lxcs: number; vnets: number };
}

interface Node {
  node: string;
  status?: string;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  uptime?: number;
}

const b = initShell<DashBoot>();
resources.start();
watchFreshness();

// --- summary ---------------------------------------------------------------------------------

const clusterEl = must("[data-cluster-status]");
const clusterNote = must("[data-cluster-note]");
function renderSummary(): void {
  const c = resources.cluster;
  if (c.status !== "unknown") {
    const key = `${c.status}|${c.error ?? ""}`;
    if (clusterEl.dataset.v !== key) {
      clusterEl.dataset.v = key;
      fill(clusterEl, clusterStatus(c.status));
      setText(clusterNote, c.status === "down" ? c.error ?? "Proxmox cannot be reached." : c.error ?? (b.cluster.version ? `Proxmox VE ${b.cluster.version}${b.demo ? " · demo cluster" : ""}` : ""));
    }
  }
  const guests = resources.guests().filter((g) => !isTemplate(g));
  const running = guests.filter((g) => g.status === "running");
  setText(must("[data-stat-running]"), `${running.length}`);
  setText(must("[data-stat-guests]"), `of ${plural(guests.length, "guest")} you can see`);
  const vcpu = running.reduce((s, g) => s + (g.maxcpu ?? 0), 0);
  const allCpu = guests.reduce((s, g) => s + (g.maxcpu ?? 0), 0);
  setText(must("[data-stat-cpu]"), `${vcpu}`);
  setText(must("[data-stat-cpu-note]"), `of ${allCpu} assigned`);
  const mem = running.reduce((s, g) => s + (g.mem ?? 0), 0);
  const maxmem = guests.reduce((s, g) => s + (g.maxmem ?? 0), 0);
  setText(must("[data-stat-mem]"), bytes(mem));
  setText(must("[data-stat-mem-note]"), `of ${bytes(maxmem)} assigned`);
}

// --- nodes -----------------------------------------------------------------------------------

const nodesEl = must("[data-nodes]");
let restNodes: Node[] | null = null;
let restNodesAt = 0;
const nodeRows = new Map<string, HTMLElement>();

function renderNodes(): void {
  const fromStore = resources.all().filter((r) => r.type === "node") as Node[];
  const nodes = (fromStore.length ? fromStore : restNodes ?? []).slice().sort((a, b2) => a.node.localeCompare(b2.node));
  if (!nodes.length) {
    if (restNodes) fill(nodesEl, h("p", { class: "muted small", text: "No nodes to show." }));
    return;
  }
  if (!nodeRows.size) nodesEl.replaceChildren();
  const seen = new Set<string>();
  for (const n of nodes) {
    seen.add(n.node);
    let row = nodeRows.get(n.node);
    const online = n.status === "online";
    const cpu = { fraction: online ? n.cpu ?? 0 : null, text: online ? pct(n.cpu) : "—", valueText: online ? `${pct(n.cpu)} of ${n.maxcpu} CPUs` : "offline" };
    const memF = online && n.maxmem ? (n.mem ?? 0) / n.maxmem : null;
    const mem = { fraction: memF, text: online ? bytesOf(n.mem, n.maxmem) : "—", valueText: online ? `${bytes(n.mem)} of ${bytes(n.maxmem)}` : "offline" };
    if (!row) {
      row = h(
        "div",
        { class: "node-row" },
        h(
          "div",
          { class: "node-name" },
          b.user.isAdmin ? h("a", { href: `/nodes/${encodeURIComponent(n.node)}`, class: "node-link" }, h("strong", { text: n.node })) : h("strong", { text: n.node }),
          h("span", { class: "node-status" }),
          h("span", { class: "node-uptime muted small num" }),
        ),
        meter({ label: `CPU of ${n.node}`, ...cpu }),
        meter({ label: `Memory of ${n.node}`, ...mem }),
      );
      row.children[1]!.prepend(h("span", { class: "meter-label", text: "CPU" }));
      row.children[2]!.prepend(h("span", { class: "meter-label", text: "Memory" }));
      nodeRows.set(n.node, row);
      nodesEl.append(row);
    } else {
      updateMeter(row.children[1] as HTMLElement, cpu);
      updateMeter(row.children[2] as HTMLElement, mem);
    }
    const st = row.querySelector<HTMLElement>(".node-status")!;
    if (st.dataset.v !== n.status) {
      st.dataset.v = n.status ?? "";
      fill(st, nodeStatus(n.status));
    }
    setText(row.querySelector(".node-uptime")!, online ? `up ${uptime(n.uptime)}` : "");
  }
  for (const [id, row] of nodeRows) {
    if (!seen.has(id)) {
      row.remove();
      nodeRows.delete(id);
    }
  }
  if (!fromStore.length && restNodesAt) {
    let note = nodesEl.parentElement!.querySelector<HTMLElement>(".card-note");
    if (!note) {
      note = h("p", { class: "card-note muted small" });
      nodesEl.after(note);
    }
    setText(note, `Node load as of ${clock(restNodesAt)}, refreshed every 30 s.`);
  }
}

async function loadNodes(): Promise<void> {
  if (resources.all().some((r) => r.type === "node")) return;
  try {
    restNodes = await get<Node[]>("/api/proxmox/nodes");
    restNodesAt = Date.now();
  } catch (e) {
    if (!restNodes) fill(nodesEl, h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  renderNodes();
}
void loadNodes();
window.setInterval(() => {
  if (document.visibilityState === "visible") void loadNodes();
}, 30_000);

// --- pools -----------------------------------------------------------------------------------

const poolsEl = must("[data-pools]");
let pools: Pool[] = [];
let poolSig = "";
let poolTimer: number | null = null;

async function loadPools(): Promise<void> {
  try {
    pools = (await get<{ pools: Pool[] }>("/api/proxmox/pools")).pools;
    // Without a pool to create guests in, the button would lead nowhere.
    const create = document.querySelector<HTMLElement>(".page-actions a[href='/create']");
    if (create) create.hidden = !b.user.isAdmin && !pools.some((p) => p.allowManage);
    renderPools();
    renderFilters();
    renderGuests();
  } catch (e) {
    fill(poolsEl, h("p", { class: "alert alert-error", text: `Pools could not be read: ${messageOf(e)}` }));
  }
}

export function poolCard(p: Pool): HTMLElement {
  const l = p.limits;
  const u = p.usage;
  return h(
    "article",
    { class: "pool-item" },
    h(
      "header",
      { class: "pool-head" },
      h("a", { href: `/pools/${encodeURIComponent(p.poolid)}`, class: "pool-name", text: p.poolid }),
      p.owned ? h("span", { class: "badge", text: "owner" }) : p.allowManage && !b.user.isAdmin ? h("span", { class: "badge", text: "manager" }) : null,
      p.comment ? h("span", { class: "muted small pool-comment", text: p.comment }) : null,
      p.owned && u.vms + u.lxcs === 0
        ? h("button", { type: "button", class: "button button-small button-danger-quiet pool-delete", text: "Delete…", "aria-label": `Delete pool ${p.poolid}`, "data-delete-pool": p.poolid, onclick: () => void deletePool(p) })
        : null,
    ),
    h(
      "div",
      { class: "quota-grid" },
      quotaMeter({ label: "vCPUs", used: u.cpu, limit: l.maxCpu, format: (n) => String(n) }),
      quotaMeter({ label: "Memory", used: u.memory, limit: l.maxMemory, format: mib }),
      quotaMeter({ label: "Disk", used: u.disk, limit: l.maxDisk, format: gib }),
      quotaMeter({ label: "VMs", used: u.vms, limit: l.maxVMs, format: (n) => String(n) }),
      quotaMeter({ label: "Containers", used: u.lxcs, limit: l.maxLXCs, format: (n) => String(n) }),
    ),
  );
}

function renderPools(): void {
  if (!pools.length) {
    fill(poolsEl, h("p", { class: "empty" }, "You have no pools yet. ", h("button", { type: "button", class: "link-button", text: "Make one", onclick: () => newPool() }), " to create guests in."));
    return;
  }
  fill(poolsEl, ...pools.map(poolCard));
}

/** A line above the pools: what just happened to one. */
const poolNote = h("p", { class: "alert card-note pool-note", role: "status", hidden: true });
poolsEl.before(poolNote);
function notePools(kind: "ok" | "error", text: string): void {
  poolNote.className = `alert alert-${kind} card-note pool-note`;
  poolNote.setAttribute("role", kind === "error" ? "alert" : "status");
  poolNote.textContent = text;
  poolNote.hidden = false;
}

/** A pool of one's own: Uma names it, the caller owns it, the default quota applies. */
function newPool(): void {
  openDialog({
    title: "New pool",
    body: [
      field({ label: "What is it for?", name: "comment", maxlength: 200, placeholder: "e.g. Team testing", hint: "Shown with the pool. Uma names the pool after you; the default quota applies." }),
    ],
    submitLabel: "Create pool",
    onSubmit: async (form) => {
      try {
        const r = await api<{ poolid?: string; aclWarning?: string | null }>("POST", "/api/proxmox/pools", { comment: str(form, "comment") || undefined });
        notePools(r.aclWarning ? "error" : "ok", r.aclWarning ? `Pool ${r.poolid ?? ""} created, but its access in Proxmox could not be set (${r.aclWarning}); an administrator can grant it.` : `Pool ${r.poolid ?? ""} created: create guests in it with New guest.`);
        void loadPools();
        return true;
      } catch (e) {
        showServerError(form, e as ApiError);
        return false;
      }
    },
  });
}

async function deletePool(p: Pool): Promise<void> {
  const ok = await confirmAction({ title: `Delete pool ${p.poolid}?`, message: "It holds no guest. Its access entries go with it.", confirmLabel: "Delete pool", danger: true });
  if (!ok) return;
  try {
    await api("DELETE", `/api/proxmox/pools/${encodeURIComponent(p.poolid)}`);
    notePools("ok", `Pool ${p.poolid} deleted.`);
  } catch (e) {
    notePools("error", `Pool ${p.poolid} could not be deleted: ${messageOf(e)}`);
  }
  void loadPools();
}
must("[data-new-pool]").addEventListener("click", () => newPool());

/** Pool usage changes when guests come, go or change size: read it again then. */
function maybeReloadPools(): void {
  const sig = resources
    .guests()
    .map((g) => `${g.vmid}:${g.pool}:${g.maxcpu}:${g.maxmem}:${g.maxdisk}:${g.template}`)
    .sort()
    .join(",");
  if (sig === poolSig) return;
  const first = poolSig === "";
  poolSig = sig;
  if (first) return;
  if (poolTimer !== null) window.clearTimeout(poolTimer);
  poolTimer = window.setTimeout(() => void loadPools(), 1500);
}
if (b.user.isAdmin) setText(must("#pools-title"), "Pools");
// A long list scrolls inside its card; keyboard users can scroll it too.
poolsEl.tabIndex = 0;
poolsEl.setAttribute("role", "region");
poolsEl.setAttribute("aria-label", "Pools and their quotas");
void loadPools();

// --- guests ----------------------------------------------------------------------------------

const filtersForm = must<HTMLFormElement>("[data-filters]");
const params = new URLSearchParams(location.search);
const filter = {
  q: params.get("q") ?? "",
  pool: params.get("pool") ?? "",
  node: params.get("node") ?? "",
  state: params.get("state") ?? "",
  tag: params.get("tag") ?? "",
};
const selected = new Set<number>();

const table = guestTable({
  caption: "Guests you may see",
  selectable: true,
  showPool: true,
  selected,
  onSelect: () => {
    renderGuests();
    renderBulk();
  },
  onTag: (t) => {
    filter.tag = t;
    syncFilterControls();
    renderGuests();
  },
  empty: () =>
    resources.freshness === "loading" && !resources.items.size
      ? h("span", { class: "muted", text: "Loading guests…" })
      : resources.guests().length
        ? h("span", null, "No guest matches these filters. ", h("button", { type: "button", class: "link-button", text: "Clear filters", onclick: clearFilters }))
        : pools.length || b.user.isAdmin
          ? h("span", null, "No guests yet. ", h("a", { href: "/create", text: "Create your first one" }), ".")
          : "No guests yet. You need a pool to create guests in: ask an administrator for one.",
});
must("[data-guests]").append(table.el);

// "Select all shown" in the header of the selection column.
const allBox = h("input", { type: "checkbox", class: "checkbox", "aria-label": "Select all shown guests" });
table.header("select")?.append(allBox);
allBox.addEventListener("change", () => {
  for (const g of visible()) {
    if (isTemplate(g)) continue;
    if (allBox.checked) selected.add(g.vmid!);
    else selected.delete(g.vmid!);
  }
  renderGuests();
  renderBulk();
});

function matches(g: Resource): boolean {
  const q = filter.q.trim().toLowerCase();
  if (q) {
    const hay = `${g.vmid} ${g.name ?? ""} ${g.tags ?? ""} ${g.node ?? ""} ${g.pool ?? ""}`.toLowerCase();
    if (!q.split(/\s+/).every((w) => hay.includes(w))) return false;
  }
  if (filter.pool && (g.pool ?? "") !== filter.pool) return false;
  if (filter.node && g.node !== filter.node) return false;
  if (filter.state) {
    if (filter.state === "template") {
      if (!isTemplate(g)) return false;
    } else if (isTemplate(g)) return false;
    else if (filter.state === "paused") {
      if (g.status !== "paused" && g.status !== "suspended") return false;
    } else if (g.status !== filter.state) return false;
  }
  if (filter.tag && !splitTags(g.tags).includes(filter.tag)) return false;
  return true;
}

function visible(): Resource[] {
  return resources.guests().filter(matches);
}

function renderGuests(): void {
  const all = resources.guests();
  for (const id of [...selected]) if (!all.some((g) => g.vmid === id)) selected.delete(id);
  const shown = visible();
  table.set(shown);
  // Nothing to filter or select without guests.
  const none = all.length === 0 && resources.freshness !== "loading";
  filtersForm.hidden = none;
  must("[data-bulkbar]").hidden = none;
  setText(must("[data-guest-count]"), all.length ? (shown.length === all.length ? plural(all.length, "guest") : `${shown.length} of ${all.length} shown`) : "");
  const selectable = shown.filter((g) => !isTemplate(g));
  allBox.checked = selectable.length > 0 && selectable.every((g) => selected.has(g.vmid!));
  allBox.indeterminate = !allBox.checked && selectable.some((g) => selected.has(g.vmid!));
  allBox.disabled = selectable.length === 0;
}

function setOptions(select: HTMLSelectElement, values: string[], allLabel: string, current: string): void {
  const want = ["", ...values];
  if (current && !want.includes(current)) want.push(current);
  const have = [...select.options].map((o) => o.value);
  if (have.join("\u0000") !== want.join("\u0000")) {
    fill(select, ...want.map((v) => h("option", { value: v, text: v || allLabel })));
  }
  select.value = current;
}

function renderFilters(): void {
  const guests = resources.guests();
  const poolIds = new Set([...guests.map((g) => g.pool ?? "").filter(Boolean), ...pools.map((p) => p.poolid)]);
  setOptions(filtersForm.elements.namedItem("pool") as HTMLSelectElement, [...poolIds].sort(), "All pools", filter.pool);
  setOptions(filtersForm.elements.namedItem("node") as HTMLSelectElement, [...new Set(guests.map((g) => g.node ?? "").filter(Boolean))].sort(), "All nodes", filter.node);
  setOptions(filtersForm.elements.namedItem("tag") as HTMLSelectElement, [...new Set(guests.flatMap((g) => splitTags(g.tags)))].sort(), "Any tag", filter.tag);
}

function syncFilterControls(): void {
  (filtersForm.elements.namedItem("q") as HTMLInputElement).value = filter.q;
  (filtersForm.elements.namedItem("state") as HTMLSelectElement).value = filter.state;
  renderFilters();
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(filter)) {
    if (v) url.searchParams.set(k, v);
    else url.searchParams.delete(k);
  }
  history.replaceState(null, "", url);
  // Nothing to clear while nothing filters.
  const clear = filtersForm.querySelector<HTMLButtonElement>("[data-clear-filters]");
  if (clear) clear.disabled = !Object.values(filter).some(Boolean);
}

function clearFilters(): void {
  filter.q = filter.pool = filter.node = filter.state = filter.tag = "";
  syncFilterControls();
  renderGuests();
  (filtersForm.elements.namedItem("q") as HTMLInputElement).focus();
}

filtersForm.addEventListener("submit", (e) => e.preventDefault());
filtersForm.addEventListener("reset", (e) => {
  e.preventDefault();
  clearFilters();
});
filtersForm.addEventListener("input", (e) => {
  const t = e.target as HTMLInputElement | HTMLSelectElement;
  if (t.name in filter) {
    filter[t.name as keyof typeof filter] = t.value;
    syncFilterControls();
    renderGuests();
  }
});
syncFilterControls();

// --- bulk actions ----------------------------------------------------------------------------

const BULK: PowerAction[] = ["start", "shutdown", "reboot", "stop"];
const bulkActions = must("[data-bulk-actions]");
const bulkCount = must("[data-bulk-count]");
const bulkButtons = new Map<PowerAction, HTMLButtonElement>();
const bulkResult = h("div", { class: "bulk-result", role: "status", hidden: true });
must("[data-bulkbar]").after(bulkResult);

for (const a of BULK) {
  const btn = h("button", { type: "button", class: `button button-small${POWER[a].danger ? " button-danger-quiet" : ""}`, text: POWER[a].label });
  btn.addEventListener("click", () => void runBulk(a));
  bulkButtons.set(a, btn);
  bulkActions.append(btn);
}
bulkActions.append(h("button", { type: "button", class: "button button-small button-quiet", text: "Clear selection", "data-clear-selection": true, onclick: () => {
  selected.clear();
  renderGuests();
  renderBulk();
} }));

function selectedGuests(): Resource[] {
  return resources.guests().filter((g) => selected.has(g.vmid!));
}

function renderBulk(): void {
  const sel = selectedGuests();
  const bar = must("[data-bulkbar]");
  bar.classList.toggle("has-selection", sel.length > 0);
  setText(bulkCount, sel.length ? `${plural(sel.length, "guest")} selected` : "Select guests for bulk actions.");
  for (const [a, btn] of bulkButtons) {
    const ok = sel.filter((g) => !whyNot(g, a));
    btn.disabled = ok.length === 0;
    btn.title = sel.length === 0 ? "Select guests first" : ok.length === 0 ? `None of the selected guests can ${POWER[a].label.toLowerCase()} now` : `${POWER[a].label} ${plural(ok.length, "guest")}`;
    btn.textContent = sel.length && ok.length ? `${POWER[a].label} (${ok.length})` : POWER[a].label;
  }
  const clear = bulkActions.querySelector<HTMLButtonElement>("[data-clear-selection]");
  if (clear) clear.hidden = sel.length === 0;
}

async function runBulk(a: PowerAction): Promise<void> {
  const targets = selectedGuests().filter((g) => !whyNot(g, a));
  if (!targets.length) return;
  if (a === "stop" || targets.length > 1) {
    const names = targets.map((g) => g.name ?? String(g.vmid)).join(", ");
    const ok = await confirmAction({
      title: `${POWER[a].label} ${plural(targets.length, "guest")}?`,
      message: a === "stop" ? `Stopping cuts the power of ${names}: unsaved data in them is lost.` : `${POWER[a].label}: ${names}.`,
      confirmLabel: `${POWER[a].label} ${plural(targets.length, "guest")}`,
      danger: POWER[a].danger,
    });
    if (!ok) return;
  }
  bulkResult.hidden = false;
  fill(bulkResult, h("span", { class: "spinner", "aria-hidden": "true" }), ` ${POWER[a].doing} ${plural(targets.length, "guest")}…`);
  const results = await Promise.all(targets.map(async (g) => ({ g, r: await power(g.vmid!, a) })));
  const failed = results.filter((x) => x.r.error);
  const started = results.length - failed.length;
  const dismiss = h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss", text: "✕", onclick: () => (bulkResult.hidden = true) });
  fill(
    bulkResult,
    h(
      "div",
      { class: `alert ${failed.length ? "alert-warn" : "alert-ok"} alert-dismissable` },
      h("span", { text: `${POWER[a].label}: ${plural(started, "task")} started${failed.length ? `, ${failed.length} refused` : ""}.${started ? ` Follow ${started === 1 ? "it" : "them"} in the task bar below.` : ""}` }),
      dismiss,
    ),
    failed.length ? h("ul", { class: "error-list" }, ...failed.map((x) => h("li", null, h("strong", { text: `${x.g.name ?? x.g.vmid}: ` }), x.r.error!.message))) : null,
  );
  announce(`${POWER[a].label}: ${started} started, ${failed.length} refused.`);
  selected.clear();
  renderGuests();
  renderBulk();
}

// --- wiring ----------------------------------------------------------------------------------

function renderAll(): void {
  renderSummary();
  renderNodes();
  renderFilters();
  renderGuests();
  renderBulk();
  maybeReloadPools();
}
resources.subscribe(renderAll);
renderAll();


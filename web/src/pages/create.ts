// Create wizard island: a VM (from a hardware template, with an ISO) or a container (from an OS
// template), in four steps — basics, hardware, disk and media, review — with the pool's quota
// beside it (what is used, what this request adds, what is left) before anything is sent. Or a
// clone of a template. Each step validates before the next; the server's errors go back to the
// step and field they concern. Creation runs as a task whose progress is shown until it ends.
import { templateExtras, type HwTemplate } from "../ui/hwtemplates";
import { initShell, type Boot } from "../ui/shell";
import { request } from "../live";
import { h, fill, must, uid, announce } from "../ui/dom";
import { get, messageOf } from "../ui/api";
import * as cluster from "../ui/cluster";
import { field, validate, showServerError, clearErrors, formAlert, str, num, bool, setValue, revalidateOnInput, labelControl } from "../ui/form";
import { quotaMeter } from "../ui/status";
import { bytes, gib, mib, plural } from "../ui/format";
import { tasks, openTaskLog } from "../ui/tasks";
import { openCloneDialog, NAME_PATTERN, NAME_MESSAGE } from "../ui/clone";
import type { GuestKind } from "../generated/wire";

interface CreateBoot extends Boot {
  pool: string | null;
  type: GuestKind | "clone" | null;
}


interface Limits {
  limits: { maxCpu: number; maxMemory: number; maxDisk: number; maxVMs: number; maxLXCs: number };
  usage: { cpu: number; memory: number; disk: number; vms: number; lxcs: number };
  /** Usage of every pool that shares this pool's budget (the owner's pools), when it is shared. */
  budgetUsage?: { cpu: number; memory: number; disk: number; vms: number; lxcs: number };
  sharedWith?: string[];
  remaining: { cpu: number | null; memory: number | null; disk: number | null; vms: number | null; lxcs: number | null };
  source: string;
}

interface GuestTemplate {
  vmid: number;
  name?: string;
  node?: string;
  type?: string;
  pool?: string;
}

const b = initShell<CreateBoot>();
const root = must("[data-wizard]");
const quotaEl = must("[data-quota]");

let kind: GuestKind | "clone" = b.type ?? "qemu";
let poolList: cluster.PoolInfo[] = [];
let nodeList: cluster.NodeInfo[] = [];
let hwTemplates: HwTemplate[] = [];
let limits: Limits | null = null;
let step = 0;

const STEPS = ["Basics", "Hardware", "Disk and media", "Review"];
/** Which step holds each field the server may name. */
const FIELD_STEP: Record<string, number> = {
  type: 0, pool: 0, node: 0, name: 0, hostname: 0, vmid: 0,
  cores: 1, sockets: 1, memory: 1, swap: 1,
  storage: 2, diskSize: 2, iso: 2, ostemplate: 2, ostype: 2, net0: 2, bridge: 2, password: 2, sshPublicKeys: 2, unprivileged: 2,
};
/** Template keys users may set after creation; the others are only for administrators. */

const form = h("form", { class: "wizard-form", novalidate: true, "aria-label": "New guest" });
const stepNav = h("ol", { class: "steps", "aria-label": "Steps" });
const stepEls: HTMLFieldSetElement[] = STEPS.map((name, i) => h("fieldset", { class: "step", hidden: i !== 0, "aria-label": name }));
const nav = h("div", { class: "form-actions" });

async function start(): Promise<void> {
  try {
    [poolList, nodeList, hwTemplates] = await Promise.all([
      cluster.pools(),
      cluster.nodes(),
      get<{ templates: HwTemplate[] }>("/api/hardware-templates").then((r) => r.templates),
    ]);
  } catch (e) {
    fill(root, h("p", { class: "alert alert-error", text: `The wizard could not load: ${messageOf(e)}` }));
    return;
  }
  if (!managedPools().length && !b.user.isAdmin) {
    fill(
      root,
      h("h2", { text: "No pool to create guests in" }),
      h("p", { class: "muted", text: "Guests live in pools, and their quotas come from the pool. You have no pool yet: ask an administrator to create one for you or to give you access to one." }),
      h("p", null, h("a", { class: "button", href: "/dashboard", text: "Back to the dashboard" })),
    );
    quotaEl.closest("aside")?.setAttribute("hidden", "");
    return;
  }
  buildKindChooser();
  render();
}

function managedPools(): cluster.PoolInfo[] {
  const mine = poolList.filter((p) => p.allowManage);
  return mine.length ? mine : poolList;
}

// --- the chooser and the step list ----------------------------------------------------------------

const kindBox = h("div", { class: "choice-grid", role: "radiogroup", "aria-label": "What to create" });

function buildKindChooser(): void {
  const name = uid("kind");
  const opts: [typeof kind, string, string][] = [
    ["qemu", "Virtual machine", "A full computer: any OS, from an ISO image."],
    ["lxc", "Container", "A light Linux system sharing the node's kernel."],
    ["clone", "Clone a template", "A copy of a prepared image, ready in seconds."],
  ];
  for (const [value, title, meta] of opts) {
    const input = h("input", { type: "radio", name, value, checked: value === kind });
    input.addEventListener("change", () => {
      kind = value;
      step = 0;
      render();
    });
    kindBox.append(h("label", { class: "choice" }, input, h("span", { class: "choice-title", text: title }), h("span", { class: "choice-meta", text: meta })));
  }
}

function render(): void {
  if (kind === "clone") {
    void renderClone();
    return;
  }
  buildSteps();
  fill(root, h("h2", { class: "sr-only", text: "What to create" }), kindBox, h("hr", { class: "sep" }), stepNav, form);
  form.replaceChildren(...stepEls, nav);
  showStep(step);
  void loadLimits();
}

function buildSteps(): void {
  fill(
    stepNav,
    ...STEPS.map((name, i) =>
      h("li", null, h("button", { type: "button", text: name, "data-step": i, onclick: () => goTo(i) })),
    ),
  );
  buildBasics(stepEls[0]!);
  buildHardware(stepEls[1]!);
  buildDisk(stepEls[2]!);
  fill(stepEls[3]!, h("legend", { class: "sr-only", text: "Review" }));
  revalidateOnInput(form);
}

function showStep(i: number): void {
  step = i;
  stepEls.forEach((el, j) => (el.hidden = j !== i));
  stepNav.querySelectorAll<HTMLButtonElement>("button").forEach((btn, j) => {
    if (j === i) btn.setAttribute("aria-current", "step");
    else btn.removeAttribute("aria-current");
    btn.classList.toggle("is-done", j < i);
  });
  if (i === 3) renderReview();
  const back = h("button", { type: "button", class: "button", text: "Back", onclick: () => goTo(step - 1) });
  const next = h("button", { type: "button", class: "button button-primary", text: `Next: ${STEPS[i + 1] ?? ""}`, onclick: () => goTo(step + 1) });
  const create = h("button", { type: "submit", class: "button button-primary", text: kind === "lxc" ? "Create container" : "Create VM" });
  fill(nav, i > 0 ? back : null, i < 3 ? next : create);
  updateQuota();
}

/** Moves to step `i`; going forward validates the steps in between. */
function goTo(i: number): void {
  if (i < 0 || i > 3) return;
  for (let s = step; s < i; s += 1) {
    stepEls.forEach((el, j) => (el.hidden = j !== s));
    if (!validate(stepEls[s]!)) {
      showStep(s);
      validate(stepEls[s]!);
      return;
    }
  }
  showStep(i);
  stepEls[i]!.querySelector<HTMLElement>("input, select, textarea, button")?.focus();
}

// --- step 1: basics -----------------------------------------------------------------------------

function buildBasics(el: HTMLFieldSetElement): void {
  const pools = managedPools();
  const poolOptions: [string, string][] = pools.map((p) => [p.poolid, `${p.poolid}${p.comment ? ` — ${p.comment}` : ""}`]);
  if (b.user.isAdmin) poolOptions.push(["", "No pool (administrators)"]);
  const nodes = nodeList.filter((n) => n.status === "online");
  const best = [...nodes].sort((x, y) => (x.mem ?? 0) / (x.maxmem ?? 1) - (y.mem ?? 0) / (y.maxmem ?? 1))[0];
  const isCt = kind === "lxc";
  fill(
    el,
    h("legend", { class: "sr-only", text: "Basics" }),
    h("h2", { text: isCt ? "A new container" : "A new virtual machine" }),
    poolOptions.length
      ? null
      : h("p", { class: "alert alert-warn", text: "You have no pool to create guests in. Ask an administrator for a pool." }),
    h(
      "div",
      { class: "form-grid" },
      field({ label: "Pool", name: "pool", options: poolOptions, value: b.pool ?? pools[0]?.poolid ?? "", required: !b.user.isAdmin, hint: "The guest counts against this pool's quota." }),
      field({
        label: "Node",
        name: "node",
        required: true,
        options: nodes.map((n) => [n.node, `${n.node} — ${bytes((n.maxmem ?? 0) - (n.mem ?? 0))} free`] as const),
        value: best?.node ?? "",
      }),
      field({ label: isCt ? "Host name" : "Name", name: isCt ? "hostname" : "name", required: true, pattern: NAME_PATTERN, patternMessage: NAME_MESSAGE, placeholder: isCt ? "cache-1" : "web-1", aliases: ["name", "hostname"] }),
      field({ label: "ID", name: "vmid", type: "number", min: 100, max: 999999999, step: 1, placeholder: "next free", hint: "Leave empty for the next free id." }),
    ),
  );
  cluster.nextId().then((id) => {
    const input = el.querySelector<HTMLInputElement>("[name=vmid]");
    if (input) input.placeholder = `next free: ${id}`;
  }).catch(() => undefined);
  el.querySelector("[name=pool]")?.addEventListener("change", () => void loadLimits());
  el.querySelector("[name=node]")?.addEventListener("change", () => buildDisk(stepEls[2]!));
}

// --- step 2: hardware ---------------------------------------------------------------------------

function buildHardware(el: HTMLFieldSetElement): void {
  const isCt = kind === "lxc";
  const grid = h(
    "div",
    { class: "form-grid" },
    field({ label: "Cores", name: "cores", type: "number", min: 1, max: 128, step: 1, required: true, value: isCt ? 1 : 2 }),
    isCt ? null : field({ label: "Sockets", name: "sockets", type: "number", min: 1, max: 4, step: 1, required: true, value: 1 }),
    field({ label: "Memory", name: "memory", type: "number", min: isCt ? 16 : 64, max: 1048576, step: 1, required: true, suffix: "MiB", value: isCt ? 512 : 2048 }),
    isCt ? field({ label: "Swap", name: "swap", type: "number", min: 0, max: 1048576, step: 1, suffix: "MiB", value: 512 }) : null,
  );
  const parts: (Node | null)[] = [h("legend", { class: "sr-only", text: "Hardware" }), h("h2", { text: "Hardware" })];
  if (!isCt && hwTemplates.length) {
    const name = uid("hw");
    const box = h("div", { class: "choice-grid section", role: "radiogroup", "aria-label": "Hardware template" });
    const custom = h("input", { type: "radio", name, value: "", checked: true });
    box.append(h("label", { class: "choice" }, custom, h("span", { class: "choice-title", text: "Custom" }), h("span", { class: "choice-meta", text: "Set cores and memory yourself." })));
    custom.addEventListener("change", () => (form.dataset.hw = ""));
    // `/create?hw=<id>` (the templates page's Use) starts from that template.
    const wanted = new URLSearchParams(location.search).get("hw");
    for (const t of hwTemplates) {
      const c = t.config;
      const input = h("input", { type: "radio", name, value: t.id });
      input.addEventListener("change", () => applyTemplate(t));
      if (t.id === wanted) {
        input.checked = true;
        queueMicrotask(() => applyTemplate(t));
      }
      box.append(
        h(
          "label",
          { class: "choice" },
          input,
          h("span", { class: "choice-title", text: t.name }),
          h("span", { class: "choice-meta", text: `${Number(c.cores ?? 1) * Number(c.sockets ?? 1)} vCPU · ${mib(Number(c.memory ?? 0))}` }),
          t.description ? h("span", { class: "choice-meta", text: t.description }) : null,
        ),
      );
    }
    parts.push(h("p", { class: "muted small", text: "Start from a hardware template, then adjust:" }), box);
  }
  parts.push(h("div", { class: "section" }, grid), h("p", { class: "hint section", "data-template-note": true }));
  fill(el, ...parts);
  el.addEventListener("input", updateQuota);
}

function applyTemplate(t: HwTemplate): void {
  form.dataset.hw = t.id;
  const c = t.config;
  setValue(form, "cores", Number(c.cores ?? 1));
  setValue(form, "sockets", Number(c.sockets ?? 1));
  setValue(form, "memory", Number(c.memory ?? 2048));
  const net = String(c.net0 ?? "");
  const bridge = /bridge=([A-Za-z0-9_.-]+)/.exec(net)?.[1];
  if (bridge) setValue(form, "bridge", bridge);
  const extra = templateExtras(t);
  const note = form.querySelector<HTMLElement>("[data-template-note]");
  if (note) {
    note.textContent = [
      extra.apply.length ? `Also set after creation: ${extra.apply.map(([k, v]) => `${k}=${v}`).join(", ")}.` : "",
      extra.skip.length ? `Not applied (administrators only): ${extra.skip.join(", ")}.` : "",
    ].join(" ");
  }
  updateQuota();
}

// --- step 3: disk and media ---------------------------------------------------------------------

function buildDisk(el: HTMLFieldSetElement): void {
  const isCt = kind === "lxc";
  const node = str(form, "node") || nodeList.find((n) => n.status === "online")?.node || "";
  const storageBox = h("div", { class: "field-slot" }, h("p", { class: "muted small", text: "Loading storages…" }));
  const mediaBox = h("div", { class: "field-slot span-all" }, h("p", { class: "muted small", text: isCt ? "Loading OS templates…" : "Loading ISO images…" }));
  fill(
    el,
    h("legend", { class: "sr-only", text: "Disk and media" }),
    h("h2", { text: "Disk and media" }),
    h(
      "div",
      { class: "form-grid" },
      storageBox,
      field({ label: isCt ? "Root disk size" : "Disk size", name: "diskSize", type: "number", min: 1, max: 65536, step: 1, required: true, suffix: "GiB", value: isCt ? 8 : 32 }),
      mediaBox,
      isCt
        ? null
        : field({ label: "Guest OS", name: "ostype", options: [["l26", "Linux (kernel 2.6 or newer)"], ["win11", "Windows 11 / Server 2022"], ["win10", "Windows 10 / Server 2016–2019"], ["other", "Other"]], value: "l26" }),
      field({ label: "Network bridge", name: "bridge", value: "vmbr0", required: true, pattern: "[a-zA-Z][a-zA-Z0-9_.\\-]{0,14}", patternMessage: "A bridge or VNet name such as vmbr0.", aliases: ["net0", "bridge"], hint: "vmbr0, or a VNet of yours." }),
      isCt ? field({ label: "Root password", name: "password", type: "password", autocomplete: "new-password", validate: (v) => (v && (v.length < 5 || v.length > 128) ? "Root password must be 5 to 128 characters." : null), hint: "Or give an SSH key below." }) : null,
      isCt ? field({ label: "SSH public keys", name: "sshPublicKeys", textarea: true, rows: 2, class: "span-all", placeholder: "ssh-ed25519 AAAA… you@laptop", validate: (v) => (v.split("\n").every((l) => !l.trim() || /^(ssh-|ecdsa-|sk-)/.test(l.trim())) ? null : "One OpenSSH public key per line (ssh-ed25519 …).") }) : null,
      isCt ? field({ label: "Unprivileged container", name: "unprivileged", type: "checkbox", value: true, hint: "Safer; keep unless you know you need otherwise." }) : null,
      field({ label: "Start after creation", name: "start", type: "checkbox", value: false }),
    ),
  );
  el.addEventListener("input", updateQuota);
  void loadStorage(node, storageBox);
  void loadMedia(node, mediaBox);
}

async function loadStorage(node: string, slot: HTMLElement): Promise<void> {
  const isCt = kind === "lxc";
  let list: cluster.StorageInfo[] = [];
  try {
    list = node ? await cluster.storages(node) : [];
  } catch (e) {
    fill(slot, h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const usable = list.filter((s) => s.storage !== "local" || isCt);
  if (!usable.length) {
    fill(
      slot,
      field({ label: "Storage", name: "storage", options: isCt ? [] : [["", "No disk"]], required: isCt, value: "" }),
      h("p", { class: "hint", text: isCt ? "No storage you may use on this node: a container needs one. Ask an administrator." : "No storage you may use on this node: the VM is created without a disk." }),
    );
    return;
  }
  fill(
    slot,
    field({
      label: "Storage",
      name: "storage",
      required: true,
      options: usable.map((s) => [s.storage, `${s.storage}${s.free !== undefined ? ` — ${bytes(s.free)} free` : ""}`] as const),
      value: usable.find((s) => s.storage === "local-lvm")?.storage ?? usable[0]!.storage,
    }),
  );
}

async function loadMedia(node: string, slot: HTMLElement): Promise<void> {
  const isCt = kind === "lxc";
  let groups: { storage: string; items: cluster.Volume[]; error?: string }[] = [];
  try {
    groups = node ? await (isCt ? cluster.ctTemplates(node) : cluster.isos(node)) : [];
  } catch (e) {
    fill(slot, h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const id = uid("media");
  const select = h("select", { id, name: isCt ? "ostemplate" : "iso", class: "input", required: isCt });
  if (!isCt) select.append(h("option", { value: "", text: "No ISO (boot from network or disk)" }));
  else select.append(h("option", { value: "", text: "Choose an OS template" }));
  let count = 0;
  for (const g of groups) {
    if (!g.items.length) continue;
    const og = h("optgroup", { label: g.storage });
    for (const v of g.items) {
      og.append(h("option", { value: v.volid, text: `${cluster.volumeName(v.volid)} (${bytes(v.size)})` }));
      count += 1;
    }
    select.append(og);
  }
  const label = isCt ? "OS template" : "ISO image";
  const wrap = field({ label, name: "__media", type: "text" });
  // Reuse the field's label, hint and error slots around the select.
  const input = wrap.querySelector("input")!;
  select.setAttribute("aria-describedby", input.getAttribute("aria-describedby") ?? "");
  wrap.querySelector("label")!.htmlFor = id;
  if (isCt) wrap.querySelector("label")!.append(h("span", { class: "req", "aria-hidden": "true", text: " *" }));
  input.replaceWith(select);
  labelControl(select, label);
  const errs = groups.filter((g) => g.error).map((g) => `${g.storage}: ${g.error}`);
  const hint = count
    ? null
    : h("p", { class: "hint", text: isCt ? "No OS templates on storages you may use on this node. Ask an administrator." : "No ISO images on storages you may use on this node." });
  fill(slot, wrap, hint, errs.length ? h("p", { class: "hint", text: `Not readable: ${errs.join("; ")}` }) : null);
}

// --- step 4: review -----------------------------------------------------------------------------

function payloadOf(): Record<string, unknown> {
  const isCt = kind === "lxc";
  const p: Record<string, unknown> = { type: kind, node: str(form, "node") };
  if (str(form, "pool")) p.pool = str(form, "pool");
  if (num(form, "vmid") !== undefined) p.vmid = num(form, "vmid");
  p.cores = num(form, "cores");
  p.memory = num(form, "memory");
  const storage = str(form, "storage");
  if (storage) {
    p.storage = storage;
    p.diskSize = num(form, "diskSize");
  }
  p.start = bool(form, "start");
  if (isCt) {
    p.hostname = str(form, "hostname");
    p.swap = num(form, "swap");
    p.ostemplate = str(form, "ostemplate");
    p.bridge = str(form, "bridge");
    p.unprivileged = bool(form, "unprivileged");
    if (str(form, "password")) p.password = (form.elements.namedItem("password") as HTMLInputElement).value;
    if (str(form, "sshPublicKeys")) p.sshPublicKeys = str(form, "sshPublicKeys");
  } else {
    p.name = str(form, "name");
    p.sockets = num(form, "sockets");
    if (str(form, "iso")) p.iso = str(form, "iso");
    p.ostype = str(form, "ostype");
    p.net0 = str(form, "bridge");
  }
  return p;
}

function renderReview(): void {
  const p = payloadOf();
  const isCt = kind === "lxc";
  const t = hwTemplates.find((x) => x.id === form.dataset.hw);
  const extras = templateExtras(t);
  const row = (k: string, v: string) => [h("dt", { text: k }), h("dd", { text: v })];
  fill(
    stepEls[3]!,
    h("legend", { class: "sr-only", text: "Review" }),
    h("h2", { text: "Review" }),
    h(
      "dl",
      { class: "review" },
      row("Type", isCt ? "Container (LXC)" : "Virtual machine (QEMU)"),
      row(isCt ? "Host name" : "Name", String(p.hostname ?? p.name ?? "")),
      row("ID", p.vmid ? String(p.vmid) : "next free"),
      row("Pool", String(p.pool ?? "none")),
      row("Node", String(p.node)),
      t ? row("Hardware template", t.name) : null,
      row("vCPUs", `${Number(p.cores) * Number(p.sockets ?? 1)}${isCt ? "" : ` (${plural(Number(p.cores), "core")} × ${plural(Number(p.sockets), "socket")})`}`),
      row("Memory", mib(Number(p.memory))),
      isCt ? row("Swap", mib(Number(p.swap ?? 0))) : null,
      row("Disk", p.storage ? `${gib(Number(p.diskSize))} on ${p.storage}` : "none"),
      isCt ? row("OS template", cluster.volumeName(String(p.ostemplate ?? ""))) : row("ISO image", p.iso ? cluster.volumeName(String(p.iso)) : "none"),
      row("Network", `bridge ${isCt ? p.bridge : p.net0}`),
      row("Start after creation", p.start ? "yes" : "no"),
      extras.apply.length ? row("Set after creation", extras.apply.map(([k, v]) => `${k}=${v}`).join(", ")) : null,
    ),
    h("div", { class: "section", "data-review-quota": true }),
  );
  updateQuota();
}

// --- quota -------------------------------------------------------------------------------------

async function loadLimits(): Promise<void> {
  const pool = str(form, "pool");
  limits = null;
  if (!pool) {
    fill(quotaEl, h("p", { class: "muted small", text: b.user.isAdmin ? "No pool: no quota applies." : "Choose a pool to see what is left." }));
    return;
  }
  fill(quotaEl, h("p", { class: "muted small", text: "Reading the pool's usage…" }));
  try {
    limits = await get<Limits>(`/api/proxmox/pools/${encodeURIComponent(pool)}/limits`);
  } catch (e) {
    fill(quotaEl, h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  updateQuota();
}

/** Problems the request would have with the quota, as the server would word them. */
function overQuota(): string[] {
  if (!limits) return [];
  const p = payloadOf();
  const l = limits.limits;
  const u = limits.budgetUsage ?? limits.usage;
  const isCt = kind === "lxc";
  const ask = {
    guests: 1,
    cpu: Number(p.cores ?? 1) * Number(p.sockets ?? 1),
    memory: Number(p.memory ?? 0),
    disk: p.storage ? Number(p.diskSize ?? 0) : 0,
  };
  const out: string[] = [];
  const check = (limit: number, used: number, add: number, what: string, fmt: (n: number) => string) => {
    if (limit > 0 && used + add > limit) out.push(`${what}: the pool allows ${fmt(limit)}, uses ${fmt(used)}, and this adds ${fmt(add)} (${fmt(Math.max(0, limit - used))} left).`);
  };
  if (isCt) check(l.maxLXCs, u.lxcs, 1, "Containers", String);
  else check(l.maxVMs, u.vms, 1, "VMs", String);
  check(l.maxCpu, u.cpu, ask.cpu, "vCPUs", String);
  check(l.maxMemory, u.memory, ask.memory, "Memory", mib);
  check(l.maxDisk, u.disk, ask.disk, "Disk", gib);
  return out;
}

function updateQuota(): void {
  if (kind === "clone") return;
  if (!limits) return;
  const p = payloadOf();
  const l = limits.limits;
  const u = limits.budgetUsage ?? limits.usage;
  const isCt = kind === "lxc";
  const cpu = Number(p.cores ?? 1) * Number(p.sockets ?? 1);
  const problems = overQuota();
  const shared = (limits.sharedWith ?? []).join(", ");
  const SOURCE: Record<string, string> = {
    pool: "this pool's own limits",
    owner: shared ? `its owner's budget (the default limits), shared with ${shared}` : "its owner's budget (the default limits)",
    global: "the global default limits",
    none: "no limits",
  };
  const parts = [
    h("p", { class: "muted small", text: limits.source === "none" ? `${str(form, "pool")} has no limits.` : `${str(form, "pool")} uses ${SOURCE[limits.source] ?? limits.source}; the striped part is this request.` }),
    isCt
      ? quotaMeter({ label: "Containers", used: u.lxcs, add: 1, limit: l.maxLXCs, format: String })
      : quotaMeter({ label: "VMs", used: u.vms, add: 1, limit: l.maxVMs, format: String }),
    quotaMeter({ label: "vCPUs", used: u.cpu, add: Number.isFinite(cpu) ? cpu : 0, limit: l.maxCpu, format: String }),
    quotaMeter({ label: "Memory", used: u.memory, add: Number(p.memory ?? 0) || 0, limit: l.maxMemory, format: mib }),
    quotaMeter({ label: "Disk", used: u.disk, add: p.storage ? Number(p.diskSize ?? 0) || 0 : 0, limit: l.maxDisk, format: gib }),
    problems.length
      ? h("div", { class: "alert alert-warn", role: "status" }, h("strong", { text: "Over the quota. " }), "The server will refuse this unless it changes:", h("ul", { class: "error-list" }, ...problems.map((t) => h("li", { text: t }))))
      : h("p", { class: "alert alert-ok small", text: "Fits the pool's quota." }),
  ];
  fill(quotaEl, ...parts);
  const inReview = form.querySelector<HTMLElement>("[data-review-quota]");
  if (inReview) {
    fill(
      inReview,
      problems.length
        ? h("p", { class: "alert alert-warn" }, "This request is over the pool's quota (see the quota panel); Uma checks again when you create, against the pool's usage at that moment.")
        : null,
    );
  }
}

// --- submit -------------------------------------------------------------------------------------

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearErrors(form);
  for (let s = 0; s < 3; s += 1) {
    stepEls.forEach((el, j) => (el.hidden = j !== s));
    if (!validate(stepEls[s]!)) {
      showStep(s);
      validate(stepEls[s]!);
      return;
    }
  }
  showStep(3);
  const submit = nav.querySelector<HTMLButtonElement>("button[type=submit]");
  if (submit) {
    submit.disabled = true;
    submit.classList.add("is-busy");
  }
  const payload = payloadOf();
  const ack = await request<{ upid?: string; vmid?: number }>("vm:create", payload, 30_000);
  if (submit) {
    submit.disabled = false;
    submit.classList.remove("is-busy");
  }
  if ("error" in ack) {
    const f = ack.error.field;
    const target = f !== undefined ? FIELD_STEP[f] : undefined;
    if (target !== undefined && target !== 3) {
      showStep(target);
      showServerError(stepEls[target]!, ack.error);
      formAlert(form, null);
    } else {
      formAlert(form, ack.error.message, "error");
    }
    if (ack.error.code === "quota_exceeded") void loadLimits();
    announce(ack.error.message);
    return;
  }
  const t = hwTemplates.find((x) => x.id === form.dataset.hw);
  showProgress(ack.vmid ?? 0, ack.upid, String(payload.name ?? payload.hostname ?? ""), templateExtras(t).apply);
});

function showProgress(vmid: number, upid: string | undefined, name: string, extras: [string, string][]): void {
  const what = kind === "lxc" ? "container" : "VM";
  const bar = h("span");
  const prog = h("div", { class: "progress is-indeterminate", role: "progressbar", "aria-label": `Creating ${what} ${vmid}` }, bar);
  const text = h("p", { role: "status", text: `Creating ${what} ${vmid} (${name})…` });
  const links = h("div", { class: "form-actions" });
  fill(root, h("div", { class: "progress-card" }, h("h2", { text: `Creating ${name}` }), text, prog, links));
  fill(quotaEl, h("p", { class: "muted small", text: "The new guest now counts against the pool." }));
  if (!upid) {
    text.textContent = `${what} ${vmid} created.`;
    fill(links, h("a", { class: "button button-primary", href: `/guests/${vmid}`, text: `Open ${name}` }));
    return;
  }
  tasks.started(upid, vmid);
  const stop = tasks.follow(
    upid,
    async (t) => {
      if (t.status === "running") {
        if (t.progress) {
          prog.classList.remove("is-indeterminate");
          bar.style.width = `${t.progress}%`;
        }
        return;
      }
      stop();
      prog.classList.remove("is-indeterminate");
      bar.style.width = "100%";
      if (!t.ok) {
        text.className = "alert alert-error";
        text.textContent = `Creating ${what} ${vmid} failed: ${t.exitstatus ?? "unknown error"}`;
        fill(links, h("button", { type: "button", class: "button", text: "Show log", onclick: () => openTaskLog(upid) }), h("a", { class: "button", href: "/create", text: "Start over" }));
        return;
      }
      let note = "";
      if (extras.length) {
        const ack = await request("vm:config", { vmid, set: Object.fromEntries(extras) });
        note = "error" in ack ? ` The template's other settings were not applied: ${ack.error.message}` : ` Applied ${extras.map(([k]) => k).join(", ")} from the template.`;
      }
      text.className = "alert alert-ok";
      text.textContent = `${what === "VM" ? "VM" : "Container"} ${vmid} (${name}) was created.${note}`;
      announce(text.textContent);
      fill(
        links,
        h("a", { class: "button button-primary", href: `/guests/${vmid}`, text: `Open ${name}` }),
        h("a", { class: "button", href: "/create", text: "Create another" }),
        h("button", { type: "button", class: "button button-quiet", text: "Show log", onclick: () => openTaskLog(upid) }),
      );
      links.querySelector<HTMLElement>("a")?.focus();
    },
    true,
  );
}

// --- clone ------------------------------------------------------------------------------------

async function renderClone(): Promise<void> {
  fill(root, h("h2", { class: "sr-only", text: "What to create" }), kindBox, h("hr", { class: "sep" }), h("p", { class: "muted", text: "Loading templates…" }));
  fill(quotaEl, h("p", { class: "muted small", text: "A clone needs the source's vCPUs, memory and disk from the pool you choose; the clone dialog's pool decides." }));
  let list: GuestTemplate[];
  try {
    list = await get<GuestTemplate[]>("/api/proxmox/templates");
  } catch (e) {
    root.lastElementChild?.replaceWith(h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const grid = h("div", { class: "choice-grid" });
  for (const t of list) {
    grid.append(
      h(
        "div",
        { class: "choice choice-static" },
        h("span", { class: "choice-title", text: t.name ?? `Template ${t.vmid}` }),
        h("span", { class: "choice-meta", text: `${t.type === "lxc" ? "Container" : "VM"} template ${t.vmid} on ${t.node ?? "?"}${t.pool ? ` · ${t.pool}` : ""}` }),
        h("button", {
          type: "button",
          class: "button button-small",
          text: "Clone…",
          onclick: () =>
            void openCloneDialog({ vmid: t.vmid, name: t.name, type: t.type, node: t.node, template: true, pool: poolList.find((p) => p.allowManage)?.poolid }, (vmid, upid, name) => {
              kind = t.type === "lxc" ? "lxc" : "qemu";
              showProgress(vmid, upid, name, []);
            }),
        }),
      ),
    );
  }
  root.lastElementChild?.replaceWith(list.length ? h("div", { class: "wizard-clone" }, h("h2", { text: "Templates you may clone" }), grid) : h("p", { class: "empty", text: "There are no templates you may clone." }));
}

void start();

// Guest page island: live summary and uPlot charts (guest:watch → guest:update), power buttons
// with task progress, clone and delete, and tabs for hardware, options, snapshots, backups with
// restore, firewall rules, replication and task history. Every form validates on the client and
// shows the server's error text; what the user may not do is hidden or disabled with a reason.
import { initShell, watchFreshness, type Boot } from "../ui/shell";
import { resources, type Resource } from "../ui/resources";
import { onConnect, request, onLiveState, initLive } from "../live";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf } from "../ui/api";
import { Chart } from "../ui/chart";
import { guestStatus, meter, updateMeter, lockText } from "../ui/status";
import { bytes, bytesOf, dateTime, pct, uptime, tags as splitTags, clock } from "../ui/format";
import { PowerButtons } from "../ui/power";
import { ProgressLine, disableWithReason } from "../ui/progress";
import { ConsoleView } from "../ui/console";
import { tasks, describe, openTaskLog, taskPill, type Task } from "../ui/tasks";
import { confirmAction, openDialog } from "../ui/dialog";
import { field, validate, showServerError, formAlert, clearErrors, str, num, bool, revalidateOnInput } from "../ui/form";
import { tabs } from "../ui/tabs";
import { DataTable } from "../ui/table";
import { openCloneDialog, NAME_PATTERN, NAME_MESSAGE } from "../ui/clone";
import * as cluster from "../ui/cluster";
import type { GuestKind } from "../generated/wire";

interface Caps {
  power: boolean;
  console: boolean;
  configure: boolean;
  snapshot: boolean;
  rollback: boolean;
  backup: boolean;
  clone: boolean;
  allocate: boolean;
  replicate: boolean;
}

interface GuestBoot extends Boot {
  vmid: number;
  type: GuestKind;
  node: string;
  resource: Resource;
  caps: Caps;
  poolManage: boolean;
  consoleMax?: number;
}

/** `status/current` of the guest (the fields we show). */
interface Status {
  status?: string;
  qmpstatus?: string;
  name?: string;
  cpu?: number;
  cpus?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  disk?: number;
  maxdisk?: number;
  netin?: number;
  netout?: number;
  uptime?: number;
  lock?: string;
  template?: number | boolean;
  tags?: string;
}

interface RrdPoint {
  time: number;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  netin?: number;
  netout?: number;
  diskread?: number;
  diskwrite?: number;
}

type Config = Record<string, string | number>;

const b = initShell<GuestBoot>();
const vmid = b.vmid;
const caps = b.caps;
const isCt = b.type === "lxc";
const noun = isCt ? "container" : "VM";
resources.start();
watchFreshness();

let res: Resource = b.resource;
let status: Status = { status: res.status, name: res.name, maxmem: res.maxmem, maxdisk: res.maxdisk, cpus: res.maxcpu, lock: res.lock, uptime: res.uptime };
let gone = false;
/** The Console tab's view, once the tab was shown. */
let consolePanel: ConsoleView | null = null;

function effectiveStatus(): string {
  if (status.qmpstatus === "paused" || status.qmpstatus === "suspended") return "paused";
  return status.status ?? res.status ?? "unknown";
}

function isTemplateGuest(): boolean {
  return res.template === true || res.template === 1 || status.template === 1 || status.template === true;
}

function guestLike() {
  return { type: b.type, status: effectiveStatus(), template: isTemplateGuest(), lock: status.lock ?? res.lock };
}

// --- header, power and actions ---------------------------------------------------------------

const statusEl = must("[data-guest-status]");
const progressEl = must("[data-power-progress]");
const actionsEl = must("[data-actions]");
const line = new ProgressLine(progressEl);
const powerButtons = caps.power ? new PowerButtons({ vmid, type: b.type, name: () => status.name ?? res.name ?? String(vmid), line }) : null;
line.onChange(() => renderHeader());
line.onTaskEnd(() => void refreshStatus());

/** A button that explains itself when clicked while not available. */
function actionButton(label: string, cls: string, run: () => void): HTMLButtonElement {
  return line.button(label, cls, run);
}

function followTask(upid: string, doing: string, done: string, then?: (t: Task) => void): void {
  line.follow(upid, doing, done, then);
}

function buildActions(): void {
  const parts: HTMLElement[] = [];
  if (powerButtons) parts.push(powerButtons.el);
  const other = h("div", { class: "button-row" });
  if (caps.console && !isTemplateGuest()) other.append(h("a", { class: "button", href: `/guests/${vmid}/console`, text: "Console" }));
  if (caps.clone) other.append(h("button", { type: "button", class: "button", text: "Clone…", onclick: () => void cloneGuest() }));
  if (caps.allocate) other.append(actionButton("Delete…", "button-danger-quiet", () => void deleteGuest()));
  if (other.childElementCount) parts.push(other);
  if (!caps.power) parts.unshift(h("p", { class: "muted small", text: `You can watch this ${noun} but not power it.` }));
  fill(actionsEl, ...parts);
}

function renderHeader(): void {
  const st = effectiveStatus();
  const lock = status.lock ?? res.lock;
  const key = `${st}|${lock ?? ""}|${isTemplateGuest()}|${gone}`;
  if (statusEl.dataset.v !== key) {
    statusEl.dataset.v = key;
    fill(statusEl, gone ? h("span", { class: "pill pill-bad", text: "Deleted" }) : guestStatus(st, { template: isTemplateGuest(), lock }));
  }
  setText(must("[data-guest-name]"), status.name ?? res.name ?? `Guest ${vmid}`);
  setText(must("[data-guest-node]"), res.node ?? b.node);
  powerButtons?.update(guestLike(), gone ? `The ${noun} no longer exists.` : null);
  consolePanel?.setGuest(guestLike());
}

async function cloneGuest(): Promise<void> {
  await openCloneDialog({ vmid, name: status.name ?? res.name, type: b.type, node: res.node ?? b.node, template: isTemplateGuest(), pool: res.pool }, (newId, upid, name) => {
    if (!upid) return;
    const doing = `Cloning to ${name} (${newId})`;
    followTask(upid, doing, `Clone ${name} (${newId}) created.`, (t) => {
      if (t.ok && newId) {
        progressEl.append(h("a", { href: `/guests/${newId}`, text: `Open ${name}` }));
      }
    });
  });
}

async function deleteGuest(): Promise<void> {
  const name = status.name ?? res.name ?? String(vmid);
  const ok = await confirmAction({
    title: `Delete ${name}?`,
    message: h("p", null, `This destroys ${noun} ${vmid} with all its disks and snapshots. Backups are kept. `, h("strong", { text: "This cannot be undone." })),
    confirmLabel: `Delete ${noun}`,
    danger: true,
    typed: name,
  });
  if (!ok) return;
  const ack = await request<{ upid?: string }>("vm:delete", { vmid });
  if ("error" in ack) {
    fill(progressEl, h("span", { class: "alert alert-error", text: ack.error.message }));
    return;
  }
  if (ack.upid) {
    tasks.started(ack.upid, vmid);
    followTask(ack.upid, `Deleting ${name}`, `${name} was deleted.`, (t) => {
      if (t.ok) {
        gone = true;
        renderHeader();
        window.setTimeout(() => location.assign(res.pool ? `/pools/${encodeURIComponent(res.pool)}` : "/dashboard"), 1500);
      }
    });
  }
}

// --- summary and live usage -------------------------------------------------------------------

const factsEl = must("[data-facts]");
const usageEl = must("[data-usage]");
const usage = {
  cpu: meter({ label: "CPU", fraction: null, text: "—" }),
  mem: meter({ label: "Memory", fraction: null, text: "—" }),
  disk: meter({ label: isCt ? "Root disk" : "Disk", fraction: null, text: "—" }),
};
for (const [k, el] of Object.entries(usage)) el.prepend(h("span", { class: "meter-label", text: k === "cpu" ? "CPU" : k === "mem" ? "Memory" : isCt ? "Root disk" : "Disk size" }));
usageEl.append(usage.cpu, usage.mem, usage.disk);

function renderSummary(): void {
  const running = effectiveStatus() === "running";
  const cpus = status.cpus ?? status.maxcpu ?? res.maxcpu;
  const lock = status.lock ?? res.lock;
  const tagList = splitTags(status.tags ?? res.tags);
  const key = JSON.stringify([res.node, res.pool, cpus, status.maxmem, status.maxdisk, lock, tagList, running, running ? Math.floor((status.uptime ?? 0) / 60) : 0, isTemplateGuest()]);
  if (factsEl.dataset.v !== key) {
    factsEl.dataset.v = key;
    fill(
      factsEl,
      h("dt", { text: "ID" }), h("dd", { class: "num", text: String(vmid) }),
      h("dt", { text: "Type" }), h("dd", { text: isCt ? "LXC container" : "QEMU virtual machine" }),
      h("dt", { text: "Node" }), h("dd", { text: res.node ?? b.node }),
      h("dt", { text: "Pool" }), h("dd", null, res.pool ? h("a", { href: `/pools/${encodeURIComponent(res.pool)}`, text: res.pool }) : h("span", { class: "muted", text: "none" })),
      h("dt", { text: "vCPUs" }), h("dd", { class: "num", text: cpus ? String(cpus) : "—" }),
      h("dt", { text: "Memory" }), h("dd", { class: "num", text: bytes(status.maxmem ?? res.maxmem) }),
      h("dt", { text: "Uptime" }), h("dd", { class: "num live-value", text: running ? uptime(status.uptime) : "—" }),
      h("dt", { text: "Tags" }), h("dd", null, tagList.length ? tagList.map((t) => h("span", { class: "tag", text: t })) : h("span", { class: "muted", text: "none" })),
      lock ? [h("dt", { text: "Lock" }), h("dd", null, h("span", { class: "pill pill-warn", text: lockText(lock) }))] : null,
    );
    factsEl.querySelectorAll(".tag").forEach((t) => ((t as HTMLElement).style.marginLeft = "0"));
  }
  const maxcpu = cpus ?? 1;
  updateMeter(usage.cpu, running ? { fraction: status.cpu ?? 0, text: pct(status.cpu, 1), valueText: `${pct(status.cpu, 1)} of ${maxcpu} vCPUs` } : { fraction: null, text: "not running" });
  const mm = status.maxmem ?? res.maxmem;
  updateMeter(usage.mem, running && mm ? { fraction: (status.mem ?? 0) / mm, text: bytesOf(status.mem, mm) } : { fraction: null, text: running ? "—" : "not running" });
  const md = status.maxdisk ?? res.maxdisk;
  if (isCt) updateMeter(usage.disk, md ? { fraction: (status.disk ?? res.disk ?? 0) / md, text: bytesOf(status.disk ?? res.disk, md) } : { fraction: null, text: "—" });
  else updateMeter(usage.disk, { fraction: null, text: bytes(md) });
}

// --- charts -----------------------------------------------------------------------------------

const tfSelect = must<HTMLSelectElement>("[data-timeframe]");
let timeframe = "hour";
const netFmt = (v: number) => `${bytes(v, 0)}/s`;
const timeUnit = () => (timeframe === "hour" || timeframe === "day" ? "minute" : timeframe === "year" ? "month" : "day") as "minute" | "day" | "month";
const charts = {
  cpu: new Chart({ timeUnit, title: "CPU", series: [{ label: "CPU", color: "--chart-1", fill: true }], format: (v) => `${v === 0 || v >= 10 ? v.toFixed(0) : v.toFixed(1)}%`, range: [0, 100] }),
  mem: new Chart({ timeUnit, title: "Memory", series: [{ label: "Used", color: "--chart-2", fill: true }, { label: "Total", color: "--muted", dash: true }], format: (v) => bytes(v, 0), floor: 1024 ** 3 }),
  net: new Chart({ timeUnit, title: "Network", series: [{ label: "In", color: "--chart-1", fill: true }, { label: "Out", color: "--chart-3" }], format: netFmt, floor: 1024 }),
  disk: new Chart({ timeUnit, title: "Disk I/O", series: [{ label: "Read", color: "--chart-2", fill: true }, { label: "Write", color: "--chart-3" }], format: netFmt, floor: 1024 }),
};
must("[data-charts]").append(charts.cpu.el, charts.mem.el, charts.net.el, charts.disk.el);
let points: RrdPoint[] = [];

function setRrd(list: RrdPoint[] | undefined, replace: boolean): void {
  if (!list) return;
  if (replace) points = list.slice();
  else {
    const byTime = new Map(points.map((p) => [p.time, p]));
    for (const p of list) byTime.set(p.time, p);
    points = [...byTime.values()].sort((a, c) => a.time - c.time);
  }
  const xs = points.map((p) => p.time);
  const n = (v: number | undefined) => (v === undefined || v === null || Number.isNaN(v) ? null : v);
  charts.cpu.set(xs, [points.map((p) => (p.cpu === undefined ? null : p.cpu * 100))]);
  charts.mem.set(xs, [points.map((p) => n(p.mem)), points.map((p) => n(p.maxmem))]);
  charts.net.set(xs, [points.map((p) => n(p.netin)), points.map((p) => n(p.netout))]);
  charts.disk.set(xs, [points.map((p) => n(p.diskread)), points.map((p) => n(p.diskwrite))]);
}

// --- live: guest:watch, guest:update, with a REST fallback --------------------------------------

interface WatchAck {
  vmid: number;
  type: string;
  node: string;
  resource?: Resource;
  status?: Status;
  rrd?: RrdPoint[];
  timeframe?: string;
}

let restTimer: number | null = null;
let lastUpdate = 0;

async function watch(): Promise<void> {
  const ack = await request<WatchAck>("guest:watch", { vmid, timeframe });
  if ("error" in ack) {
    if (ack.error.code === "not_found") {
      gone = true;
      renderAll();
    }
    return;
  }
  if (ack.resource) res = { ...res, ...ack.resource };
  if (ack.status) {
    status = { ...ack.status };
    lastUpdate = Date.now();
  }
  if (ack.rrd) setRrd(ack.rrd, true);
  // An older server answers without status and charts: read them, then every few seconds.
  if (!ack.status || !ack.rrd) {
    await restLoad(true);
    startRestPolling();
  } else {
    stopRestPolling();
  }
  renderAll();
}

async function restLoad(withRrd: boolean): Promise<void> {
  try {
    const s = await get<{ data: Status }>(`/api/proxmox/vm/${vmid}/status`);
    status = { ...s.data };
    if (withRrd) {
      const r = await get<{ data: RrdPoint[] }>(`/api/proxmox/vm/${vmid}/rrddata?timeframe=${timeframe}`);
      setRrd(r.data, true);
    }
    lastUpdate = Date.now();
    renderAll();
  } catch (e) {
    fill(progressEl, h("span", { class: "alert alert-error", text: messageOf(e) }));
  }
}

function startRestPolling(): void {
  stopRestPolling();
  let n = 0;
  restTimer = window.setInterval(() => {
    if (document.visibilityState !== "visible") return;
    n += 1;
    // Skip when the server pushed an update meanwhile.
    if (Date.now() - lastUpdate < 4000) return;
    void restLoad(n % 12 === 0);
  }, 5000);
}

function stopRestPolling(): void {
  if (restTimer !== null) window.clearInterval(restTimer);
  restTimer = null;
}

async function refreshStatus(): Promise<void> {
  try {
    const s = await get<{ data: Status }>(`/api/proxmox/vm/${vmid}/status`);
    status = { ...s.data };
    renderAll();
  } catch {
    // The live stream will bring it.
  }
}

const socket = initLive(document);
socket?.on("guest:update", (u: { vmid: number; status?: Status; rrd?: RrdPoint[]; timeframe?: string }) => {
  if (u.vmid !== vmid) return;
  if (u.status) status = { ...u.status };
  if (u.rrd && (!u.timeframe || u.timeframe === timeframe)) setRrd(u.rrd, false);
  lastUpdate = Date.now();
  renderAll();
});
onConnect(() => void watch());
onLiveState((s) => {
  if (s !== "live") stopRestPolling();
});
tfSelect.addEventListener("change", async () => {
  const old = timeframe;
  timeframe = tfSelect.value;
  points = [];
  setRrd([], true);
  await request("guest:unwatch", { vmid, timeframe: old });
  await watch();
});

// The cluster list also carries this guest: keep the header in step and notice a deletion.
resources.subscribe(() => {
  const r = resources.guest(vmid);
  if (r) {
    res = r;
    if (!lastUpdate || Date.now() - lastUpdate > 3000) {
      status = { ...status, status: r.status, cpu: r.cpu, mem: r.mem, maxmem: r.maxmem, uptime: r.uptime, lock: r.lock, name: r.name, tags: r.tags };
    }
  } else if (resources.freshness === "live" && resources.items.size > 0) {
    gone = true;
  }
  renderAll();
});

function renderAll(): void {
  renderHeader();
  renderSummary();
}

// --- tabs --------------------------------------------------------------------------------------

const loaders: Record<string, (panel: HTMLElement) => void> = {
  hardware: (p) => void hardwareTab(p),
  console: (p) => consoleTab(p),
  options: (p) => void optionsTab(p),
  snapshots: (p) => void snapshotsTab(p),
  backups: (p) => void backupsTab(p),
  firewall: (p) => void firewallTab(p),
  replication: (p) => void replicationTab(p),
  tasks: (p) => void tasksTab(p),
};
const tabDefs = [
  { id: "hardware", label: "Hardware" },
  ...(caps.console && !isTemplateGuest() ? [{ id: "console", label: "Console" }] : []),
  { id: "options", label: "Options" },
  { id: "snapshots", label: "Snapshots" },
  { id: "backups", label: "Backups" },
  { id: "firewall", label: "Firewall" },
  { id: "replication", label: "Replication" },
  { id: "tasks", label: "Task history" },
];
const loaded = new Set<string>();
tabs(must("[data-tabs]"), tabDefs, (id, panel) => {
  if (loaded.has(id)) return;
  loaded.add(id);
  loaders[id]?.(panel);
});

function reloadTab(id: string): void {
  const panel = document.getElementById(`panel-${id}`);
  if (panel && loaded.has(id)) loaders[id]?.(panel);
}

// When a task on this guest ends, the lists it changes are read again.
tasks.onDone((t) => {
  if (t.vmid !== vmid && !t.upid.includes(`:${vmid}:`)) return;
  reloadTab("tasks");
  const type = t.type ?? "";
  if (/snapshot|rollback/.test(type)) reloadTab("snapshots");
  if (/vzdump|restore/.test(type)) reloadTab("backups");
  if (/resize|restore|rollback/.test(type)) {
    configCache = null;
    reloadTab("hardware");
  }
});

/** The Console tab: the same console as the console page, connected on request. */
function consoleTab(panel: HTMLElement): void {
  consolePanel = new ConsoleView({
    vmid,
    type: b.type,
    name: () => status.name ?? res.name ?? `Guest ${vmid}`,
    allowed: caps.console,
    consoleMax: b.consoleMax,
    compact: true,
    pageLink: `/guests/${vmid}/console`,
    start: powerButtons ? (done) => void powerButtons.run("start", (t) => done(t.ok === true)).then((started) => started || done(false)) : undefined,
  });
  consolePanel.setGuest(guestLike());
  fill(panel, consolePanel.el);
}

function loading(panel: HTMLElement): void {
  fill(panel, h("p", { class: "muted", text: "Loading…" }));
}

function failed(panel: HTMLElement, e: unknown, retry: () => void): void {
  fill(panel, h("p", { class: "alert alert-error" }, `${messageOf(e)} `, h("button", { type: "button", class: "link-button", text: "Try again", onclick: retry })));
}

function readOnlyNote(what: string, priv: string): HTMLElement {
  return h("p", { class: "alert alert-info disabled-note", text: `You can see this ${noun}'s ${what} but not change them (that needs ${priv}).` });
}

let configCache: Promise<Config> | null = null;
function loadConfig(): Promise<Config> {
  configCache ??= get<{ data: Config }>(`/api/proxmox/vm/${vmid}/config`).then((r) => r.data);
  configCache.catch(() => (configCache = null));
  return configCache;
}

/** Sends a configuration change; shows the server's answer on the form. */
async function sendConfig(form: HTMLFormElement, set: Record<string, unknown>, del: string[]): Promise<boolean> {
  if (!Object.keys(set).length && !del.length) {
    formAlert(form, "Nothing changed.", "info");
    return false;
  }
  const ack = await request<{ diff?: unknown }>("vm:config", { vmid, set, delete: del });
  if ("error" in ack) {
    showServerError(form, ack.error);
    return false;
  }
  configCache = null;
  formAlert(form, `Saved at ${clock(Date.now())}.${effectiveStatus() === "running" && !isCt ? " Some changes take effect at the next restart." : ""}`, "ok");
  announce("Changes saved.");
  return true;
}

// Hardware -------------------------------------------------------------------------------------

const DISK_KEY = isCt ? /^(rootfs|mp\d+)$/ : /^(scsi|virtio|sata|ide)\d+$/;

async function hardwareTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let cfg: Config;
  try {
    cfg = await loadConfig();
  } catch (e) {
    failed(panel, e, () => void hardwareTab(panel));
    return;
  }
  const can = caps.configure;
  const form = h("form", { class: "section-form", novalidate: true });
  const fs = h("fieldset", { disabled: !can });
  fs.append(h("legend", { class: "sr-only", text: "CPU and memory" }));
  const grid = h("div", { class: "form-grid" });
  grid.append(field({ label: "Cores", name: "cores", type: "number", min: 1, max: 512, step: 1, required: true, value: cfg.cores ?? 1 }));
  if (!isCt) grid.append(field({ label: "Sockets", name: "sockets", type: "number", min: 1, max: 16, step: 1, required: true, value: cfg.sockets ?? 1 }));
  grid.append(field({ label: "Memory", name: "memory", type: "number", min: isCt ? 16 : 64, max: 4194304, step: 1, required: true, suffix: "MiB", value: cfg.memory ?? 512 }));
  if (isCt) grid.append(field({ label: "Swap", name: "swap", type: "number", min: 0, max: 4194304, step: 1, suffix: "MiB", value: cfg.swap ?? 0 }));
  else grid.append(field({ label: "CPU type", name: "cpu", value: cfg.cpu ?? "", placeholder: "default (kvm64)", pattern: "[a-zA-Z0-9_.,=+;\\-]{1,128}", patternMessage: "A Proxmox CPU type such as host or x86-64-v2-AES." }));
  fs.append(grid);
  const save = h("button", { type: "submit", class: "button button-primary", text: "Save CPU and memory" });
  if (can) fs.append(h("div", { class: "form-actions" }, save));
  form.append(fs);
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    const set: Record<string, unknown> = {};
    const del: string[] = [];
    for (const k of isCt ? ["cores", "memory", "swap"] : ["cores", "sockets", "memory"]) {
      const v = num(form, k);
      if (v !== undefined && String(v) !== String(cfg[k] ?? "")) set[k] = v;
    }
    if (!isCt) {
      const cpu = str(form, "cpu");
      if (cpu && cpu !== String(cfg.cpu ?? "")) set.cpu = cpu;
      if (!cpu && cfg.cpu !== undefined) del.push("cpu");
    }
    save.disabled = true;
    save.classList.add("is-busy");
    if (await sendConfig(form, set, del)) cfg = await loadConfig().catch(() => cfg);
    save.disabled = false;
    save.classList.remove("is-busy");
  });

  // Disks
  const disks = Object.entries(cfg).filter(([k, v]) => DISK_KEY.test(k) && !String(v).includes("media=cdrom"));
  const diskList = h(
    "ul",
    { class: "disk-list" },
    ...disks.map(([k, v]) => {
      const size = /size=([0-9.]+[KMGT]?)/.exec(String(v))?.[1] ?? "?";
      const grow = h("button", { type: "button", class: "button button-small", text: "Grow…", onclick: () => growDisk(k, size) });
      if (!can) disableWithReason(grow, "Needs VM.Config.Disk");
      return h("li", null, h("span", null, h("strong", { text: k }), " ", h("code", { class: "muted break", text: String(v).split(",")[0] ?? "" })), h("span", { class: "button-row" }, h("span", { class: "num", text: size }), can ? grow : null));
    }),
  );
  // Network and CD drive (read here; the bridge is chosen when creating)
  const nets = Object.entries(cfg).filter(([k]) => /^net\d+$/.test(k));
  const cd = !isCt ? Object.entries(cfg).find(([k, v]) => /^(ide|sata)\d+$/.test(k) && String(v).includes("media=cdrom")) : undefined;
  fill(
    panel,
    can ? null : readOnlyNote("hardware settings", "VM.Config.*"),
    h("h3", { class: "sr-only", text: "CPU and memory" }),
    form,
    h("div", { class: "subhead" }, h("h3", { text: "Disks" })),
    disks.length ? diskList : h("p", { class: "empty", text: "No disks." }),
    h("div", { class: "subhead" }, h("h3", { text: "Network" })),
    nets.length
      ? h("ul", { class: "disk-list" }, ...nets.map(([k, v]) => h("li", null, h("strong", { text: k }), h("code", { class: "muted break", text: String(v) }))))
      : h("p", { class: "empty", text: "No network devices." }),
    cd ? h("div", { class: "subhead" }, h("h3", { text: "CD/DVD drive" }), can ? h("button", { type: "button", class: "button button-small", text: "Change media…", onclick: () => changeIso(cd[0], String(cd[1])) }) : null) : null,
    cd ? h("p", null, h("code", { class: "break", text: String(cd[1]).split(",")[0] === "none" ? "No media inserted" : String(cd[1]).split(",")[0] ?? "" })) : null,
  );
}

function growDisk(disk: string, current: string): void {
  const dlg = openDialog({
    title: `Grow disk ${disk}`,
    body: [
      h("p", { class: "muted", text: `Current size: ${current}. Disks can only grow; the file system inside must be extended afterwards.` }),
      field({ label: "Add", name: "add", type: "number", min: 1, max: 65536, step: 1, required: true, suffix: "GiB", value: 8, hint: "Counts against the pool's disk quota." }),
    ],
    submitLabel: "Grow disk",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const ack = await request<{ upid?: string }>("vm:resize", { vmid, disk, size: `+${num(form, "add")}G` });
      if ("error" in ack) {
        showServerError(form, { ...ack.error, field: ack.error.field === "size" ? "add" : ack.error.field });
        return false;
      }
      configCache = null;
      if (ack.upid) {
        tasks.started(ack.upid, vmid);
        followTask(ack.upid, `Growing ${disk}`, `Disk ${disk} grown.`);
      } else {
        reloadTab("hardware");
      }
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

async function changeIso(key: string, current: string): Promise<void> {
  let groups: Awaited<ReturnType<typeof cluster.isos>> = [];
  try {
    groups = await cluster.isos(res.node ?? b.node);
  } catch (e) {
    fill(progressEl, h("span", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const options: [string, string][] = [["none", "No media (eject)"]];
  for (const g of groups) for (const i of g.items) options.push([i.volid, `${cluster.volumeName(i.volid)} (${g.storage}, ${bytes(i.size)})`]);
  openDialog({
    title: "Change CD/DVD media",
    body: [
      field({ label: "ISO image", name: "iso", options, value: current.split(",")[0] ?? "none", hint: options.length === 1 ? "No ISO images on storages you may use." : undefined }),
    ],
    submitLabel: "Change media",
    onSubmit: async (form) => {
      const iso = str(form, "iso");
      const ok = await sendConfig(form, { [key]: `${iso},media=cdrom` }, []);
      if (ok) reloadTab("hardware");
      return ok;
    },
  });
}

// Options ----------------------------------------------------------------------------------------

async function optionsTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let cfg: Config;
  try {
    cfg = await loadConfig();
  } catch (e) {
    failed(panel, e, () => void optionsTab(panel));
    return;
  }
  const can = caps.configure;
  const nameKey = isCt ? "hostname" : "name";
  const form = h("form", { novalidate: true });
  const fs = h(
    "fieldset",
    { disabled: !can },
    h("legend", { class: "sr-only", text: "Options" }),
    h(
      "div",
      { class: "form-grid" },
      field({ label: isCt ? "Host name" : "Name", name: nameKey, required: true, value: cfg[nameKey] ?? "", pattern: NAME_PATTERN, patternMessage: NAME_MESSAGE }),
      field({ label: "Tags", name: "tags", value: String(cfg.tags ?? "").split(/[;, ]/).filter(Boolean).join("; "), placeholder: "web; prod", pattern: "[a-zA-Z0-9_+.\\-]+([;, ]+[a-zA-Z0-9_+.\\-]+)*[;, ]*", patternMessage: "Tags are letters, digits, '_', '+', '.', '-', separated by ';'.", hint: "Separate tags with ';'." }),
      field({ label: "Description", name: "description", textarea: true, rows: 3, value: cfg.description ?? "", maxlength: 8192, class: "span-all" }),
      field({ label: "Start at boot", name: "onboot", type: "checkbox", value: String(cfg.onboot ?? "0") === "1", hint: "Start when its node starts." }),
      field({ label: "Protection", name: "protection", type: "checkbox", value: String(cfg.protection ?? "0") === "1", hint: "Refuse deletion and disk removal while set." }),
    ),
  );
  const save = h("button", { type: "submit", class: "button button-primary", text: "Save options" });
  if (can) fs.append(h("div", { class: "form-actions" }, save));
  form.append(fs);
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    const set: Record<string, unknown> = {};
    const del: string[] = [];
    const name = str(form, nameKey);
    if (name !== String(cfg[nameKey] ?? "")) set[nameKey] = name;
    const tagsNew = str(form, "tags").split(/[;, ]+/).filter(Boolean).join(";");
    if (tagsNew !== String(cfg.tags ?? "").split(/[;, ]+/).filter(Boolean).join(";")) {
      if (tagsNew) set.tags = tagsNew;
      else del.push("tags");
    }
    const desc = (form.elements.namedItem("description") as HTMLTextAreaElement).value;
    if (desc !== String(cfg.description ?? "")) {
      if (desc.trim()) set.description = desc;
      else del.push("description");
    }
    for (const k of ["onboot", "protection"]) {
      const v = bool(form, k) ? 1 : 0;
      if (String(v) !== String(cfg[k] ?? "0")) set[k] = v;
    }
    save.disabled = true;
    save.classList.add("is-busy");
    if (await sendConfig(form, set, del)) cfg = await loadConfig().catch(() => cfg);
    save.disabled = false;
    save.classList.remove("is-busy");
  });
  fill(panel, can ? null : readOnlyNote("options", "VM.Config.Options"), form);
}

// Snapshots --------------------------------------------------------------------------------------

interface Snapshot {
  name: string;
  description?: string;
  snaptime?: number;
  vmstate?: number;
  parent?: string;
  running?: number;
}

async function snapshotsTab(panel: HTMLElement): Promise<void> {
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

// Backups ----------------------------------------------------------------------------------------

interface Backup {
  volid: string;
  storage?: string;
  size?: number;
  ctime?: number;
  notes?: string;
  format?: string;
}

async function backupsTab(panel: HTMLElement): Promise<void> {
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

// Firewall ---------------------------------------------------------------------------------------

interface Rule {
  pos: number;
  type: string;
  action: string;
  proto?: string;
  dport?: string;
  sport?: string;
  source?: string;
  dest?: string;
  macro?: string;
  comment?: string;
  enable?: number;
}

const PORTS = "\\d{1,5}(:\\d{1,5})?(,\\d{1,5}(:\\d{1,5})?)*";
const ADDRESS = "[a-zA-Z0-9.:\\/+_,\\-]{1,255}";

async function firewallTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let list: Rule[];
  try {
    list = (await get<{ data: Rule[] }>(`/api/proxmox/vm/${vmid}/firewall/rules`)).data;
  } catch (e) {
    failed(panel, e, () => void firewallTab(panel));
    return;
  }
  const can = caps.configure;
  const table = new DataTable<Rule>({
    caption: "Firewall rules, in the order they apply",
    key: (r) => String(r.pos),
    sort: { id: "pos", dir: 1 },
    empty: () => "No rules: the defaults of the cluster and node apply.",
    columns: [
      { id: "pos", label: "#", class: "num col-id", sort: (r) => r.pos, render: (td, r) => setText(td, String(r.pos)) },
      { id: "on", label: "On", render: (td, r) => fill(td, r.enable ? h("span", { class: "pill pill-ok", text: "on" }) : h("span", { class: "pill", text: "off" })) },
      { id: "dir", label: "Direction", sort: (r) => r.type, render: (td, r) => setText(td, r.type === "in" ? "In" : r.type === "out" ? "Out" : r.type) },
      { id: "action", label: "Action", sort: (r) => r.action, render: (td, r) => fill(td, h("span", { class: `pill ${r.action === "ACCEPT" ? "pill-ok" : "pill-bad"}`, text: r.action })) },
      { id: "proto", label: "Protocol", render: (td, r) => setText(td, r.macro ? `macro ${r.macro}` : r.proto ?? "any") },
      { id: "dport", label: "Dest. port", class: "num", render: (td, r) => setText(td, r.dport ?? "—") },
      { id: "source", label: "Source", class: "hide-narrow", render: (td, r) => setText(td, r.source ?? "any") },
      { id: "dest", label: "Destination", class: "hide-narrow", render: (td, r) => setText(td, r.dest ?? "any") },
      { id: "comment", label: "Comment", render: (td, r) => setText(td, r.comment ?? "") },
      {
        id: "actions",
        label: "Actions",
        class: "col-actions",
        render: (td, r) => fill(td, can ? h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Delete…", "aria-label": `Delete rule ${r.pos}`, onclick: () => void deleteRule(r) }) : null),
      },
    ],
  });
  table.set(list);
  fill(
    panel,
    can ? null : readOnlyNote("firewall rules", "VM.Config.Network"),
    h("div", { class: "subhead" }, h("h3", { text: `${list.length} rule${list.length === 1 ? "" : "s"}` }), can ? h("button", { type: "button", class: "button button-primary button-small", text: "Add rule…", onclick: () => addRule() }) : null),
    table.el,
  );
}

function addRule(): void {
  const dlg = openDialog({
    title: "Add a firewall rule",
    wide: true,
    body: h(
      "div",
      { class: "form-grid" },
      field({ label: "Direction", name: "type", options: [["in", "In (to the guest)"], ["out", "Out (from the guest)"]], value: "in" }),
      field({ label: "Action", name: "action", options: [["ACCEPT", "Accept"], ["DROP", "Drop"], ["REJECT", "Reject"]], value: "ACCEPT" }),
      field({ label: "Protocol", name: "proto", options: [["tcp", "TCP"], ["udp", "UDP"], ["icmp", "ICMP"], ["", "Any"]], value: "tcp" }),
      field({ label: "Destination port", name: "dport", placeholder: "443 or 8000:8080", pattern: PORTS, patternMessage: "Ports like 22, 80,443 or 8000:8080." }),
      field({ label: "Source port", name: "sport", pattern: PORTS, patternMessage: "Ports like 22, 80,443 or 8000:8080." }),
      field({ label: "Source", name: "source", placeholder: "any, 10.0.0.0/8", pattern: ADDRESS, patternMessage: "An address, a network (10.0.0.0/8), a range, an alias or an IP set." }),
      field({ label: "Destination", name: "dest", placeholder: "any", pattern: ADDRESS, patternMessage: "An address, a network, a range, an alias or an IP set." }),
      field({ label: "Comment", name: "comment", maxlength: 255 }),
      field({ label: "Enabled", name: "enable", type: "checkbox", value: true }),
    ),
    submitLabel: "Add rule",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const proto = str(form, "proto");
      for (const p of ["dport", "sport"]) {
        if (str(form, p) && proto !== "tcp" && proto !== "udp") {
          showServerError(form, { field: p, message: "Ports need the TCP or UDP protocol." });
          return false;
        }
      }
      const rule: Record<string, unknown> = { type: str(form, "type"), action: str(form, "action"), enable: bool(form, "enable") ? 1 : 0 };
      for (const k of ["proto", "dport", "sport", "source", "dest", "comment"]) if (str(form, k)) rule[k] = str(form, k);
      const ack = await request("vm:firewall", { vmid, op: "add", rule });
      if ("error" in ack) {
        showServerError(form, ack.error);
        return false;
      }
      announce("Rule added.");
      reloadTab("firewall");
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

async function deleteRule(r: Rule): Promise<void> {
  const ok = await confirmAction({
    title: `Delete rule ${r.pos}?`,
    message: `${r.type === "in" ? "In" : "Out"} ${r.action} ${r.proto ?? ""} ${r.dport ?? ""} ${r.comment ? `(${r.comment})` : ""}`.replace(/\s+/g, " "),
    confirmLabel: "Delete rule",
    danger: true,
  });
  if (!ok) return;
  const ack = await request("vm:firewall", { vmid, op: "delete", pos: r.pos });
  if ("error" in ack) {
    fill(progressEl, h("span", { class: "alert alert-error", text: ack.error.message }));
    return;
  }
  announce("Rule deleted.");
  reloadTab("firewall");
}

// Replication ------------------------------------------------------------------------------------

interface Job {
  id: string;
  target: string;
  schedule?: string;
  rate?: number;
  comment?: string;
  source?: string;
  disable?: number;
}

async function replicationTab(panel: HTMLElement): Promise<void> {
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

// Task history -----------------------------------------------------------------------------------

interface PveTask {
  upid: string;
  type?: string;
  status?: string;
  starttime?: number;
  endtime?: number;
  user?: string;
  node?: string;
}

async function tasksTab(panel: HTMLElement): Promise<void> {
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

// --- start --------------------------------------------------------------------------------------

buildActions();
renderAll();

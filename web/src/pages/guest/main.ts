// Guest page island: live summary and uPlot charts (guest:watch → guest:update), power buttons
// with task progress, clone and delete, and tabs for hardware, options, snapshots, backups with
// restore, firewall rules, replication and task history. Every form validates on the client and
// shows the server's error text; what the user may not do is hidden or disabled with a reason.
//
// This module builds the header, summary, charts and live updates, and the tabs, whose panels are
// the other modules here; context.ts (imported after the shared modules, before the tabs) starts
// the shell and holds the boot data and the state they share.
import { resources, type Resource } from "../../ui/resources";
import { onConnect, request, onLiveState, initLive } from "../../live";
import { h, fill, must, setText } from "../../ui/dom";
import { api, get, messageOf } from "../../ui/api";
import { Chart } from "../../ui/chart";
import { guestStatus, meter, updateMeter, lockText } from "../../ui/status";
import { bytes, bytesOf, pct, uptime, tags as splitTags } from "../../ui/format";
import { PowerButtons } from "../../ui/power";
import { ConsoleView } from "../../ui/console";
import { tasks } from "../../ui/tasks";
import { confirmAction } from "../../ui/dialog";
import { tabs } from "../../ui/tabs";
import { openCloneDialog } from "../../ui/clone";
import { b, vmid, caps, isCt, noun, res, status, setRes, setStatus, effectiveStatus, isTemplateGuest, guestLike, statusEl, progressEl, actionsEl, line, actionButton, followTask, loaders, loaded, reloadTab, forgetConfig, type Status } from "./context";
import { hardwareTab } from "./hardware";
import { optionsTab } from "./options";
import { snapshotsTab } from "./snapshots";
import { backupsTab } from "./backups";
import { firewallTab } from "./firewall";
import { replicationTab } from "./replication";
import { tasksTab } from "./history";

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

let gone = false;
/** The Console tab's view, once the tab was shown. */
let consolePanel: ConsoleView | null = null;

// --- header, power and actions ---------------------------------------------------------------

const powerButtons = caps.power ? new PowerButtons({ vmid, type: b.type, name: () => status.name ?? res.name ?? String(vmid), line }) : null;
line.onChange(() => renderHeader());
line.onTaskEnd(() => void refreshStatus());

function buildActions(): void {
  const parts: HTMLElement[] = [];
  if (powerButtons) parts.push(powerButtons.el);
  const other = h("div", { class: "button-row" });
  if (caps.console && !isTemplateGuest()) other.append(h("a", { class: "button", href: `/guests/${vmid}/console`, text: "Console" }));
  if (caps.clone) other.append(h("button", { type: "button", class: "button", text: "Clone…", onclick: () => void cloneGuest() }));
  // A stopped VM can become a template (to clone from); Proxmox keeps no way back.
  if (caps.allocate && !isCt && !isTemplateGuest() && effectiveStatus() === "stopped") {
    const make = actionButton("Make template…", "", () => void makeTemplate());
    make.dataset.makeTemplate = "";
    other.append(make);
  }
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
    // What may be done depends on the state (Make template: stopped VMs only).
    if (actionsEl.childElementCount) buildActions();
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

async function makeTemplate(): Promise<void> {
  const name = status.name ?? res.name ?? String(vmid);
  const ok = await confirmAction({
    title: `Make ${name} a template?`,
    message: "A template can't be started: it is what new VMs are cloned from (full or linked clones). Proxmox has no way back to a normal VM.",
    confirmLabel: "Make template",
  });
  if (!ok) return;
  try {
    const r = await api<{ upid?: string }>("POST", `/api/proxmox/vm/${vmid}/template`, {});
    if (r.upid) {
      tasks.started(r.upid, vmid);
      followTask(r.upid, `Making ${name} a template`, `${name} is a template now.`, () => void refreshStatus());
    }
  } catch (e) {
    fill(progressEl, h("span", { class: "alert alert-error", text: messageOf(e) }));
  }
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
  if (ack.resource) setRes({ ...res, ...ack.resource });
  if (ack.status) {
    setStatus({ ...ack.status });
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
    setStatus({ ...s.data });
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
    setStatus({ ...s.data });
    renderAll();
  } catch {
    // The live stream will bring it.
  }
}

const socket = initLive(document);
socket?.on("guest:update", (u: { vmid: number; status?: Status; rrd?: RrdPoint[]; timeframe?: string }) => {
  if (u.vmid !== vmid) return;
  if (u.status) setStatus({ ...u.status });
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
    setRes(r);
    if (!lastUpdate || Date.now() - lastUpdate > 3000) {
      setStatus({ ...status, status: r.status, cpu: r.cpu, mem: r.mem, maxmem: r.maxmem, uptime: r.uptime, lock: r.lock, name: r.name, tags: r.tags });
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

// Each tab's loader; the registry lives in context.ts so that the tabs can reload themselves.
Object.assign<typeof loaders, typeof loaders>(loaders, {
  hardware: (p) => void hardwareTab(p),
  console: (p) => consoleTab(p),
  options: (p) => void optionsTab(p),
  snapshots: (p) => void snapshotsTab(p),
  backups: (p) => void backupsTab(p),
  firewall: (p) => void firewallTab(p),
  replication: (p) => void replicationTab(p),
  tasks: (p) => void tasksTab(p),
});
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
tabs(must("[data-tabs]"), tabDefs, (id, panel) => {
  if (loaded.has(id)) return;
  loaded.add(id);
  loaders[id]?.(panel);
});

// When a task on this guest ends, the lists it changes are read again.
tasks.onDone((t) => {
  if (t.vmid !== vmid && !t.upid.includes(`:${vmid}:`)) return;
  reloadTab("tasks");
  const type = t.type ?? "";
  if (/snapshot|rollback/.test(type)) reloadTab("snapshots");
  if (/vzdump|restore/.test(type)) reloadTab("backups");
  if (/resize|restore|rollback/.test(type)) {
    forgetConfig();
    reloadTab("hardware");
  }
});

// The configuration read while the first tab opened is not kept: the next tab to need it reads it
// afresh.
forgetConfig();

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

// --- start --------------------------------------------------------------------------------------

buildActions();
renderAll();

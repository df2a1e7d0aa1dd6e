// A node's page (administrators): its state now (CPU, memory, root disk, load, uptime), its
// charts over a chosen period, live through node:watch → node:update, and the guests on it.
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText } from "../ui/dom";
import { onConnect, request, initLive } from "../live";
import { Chart } from "../ui/chart";
import { meter, updateMeter, nodeStatus, guestStatus } from "../ui/status";
import { bytes, bytesOf, pct, uptime, plural } from "../ui/format";
import { resources } from "../ui/resources";

const b = initShell<Boot & { node: string }>();
const node = b.node;

interface NodeStatus {
  cpu?: number;
  memory?: { used?: number; total?: number };
  rootfs?: { used?: number; total?: number };
  uptime?: number;
  loadavg?: (string | number)[];
  cpuinfo?: { cpus?: number; model?: string };
  pveversion?: string;
}
interface RrdPoint {
  time: number;
  cpu?: number;
  memused?: number;
  memtotal?: number;
  netin?: number;
  netout?: number;
  loadavg?: number;
}

const alertEl = must("[data-node-alert]");
const usage = {
  cpu: meter({ label: "CPU", fraction: null, text: "—" }),
  mem: meter({ label: "Memory", fraction: null, text: "—" }),
  root: meter({ label: "Root disk", fraction: null, text: "—" }),
};
for (const [k, el] of Object.entries(usage)) el.prepend(h("span", { class: "meter-label", text: k === "cpu" ? "CPU" : k === "mem" ? "Memory" : "Root disk" }));
must("[data-node-usage]").append(usage.cpu, usage.mem, usage.root);

function renderStatus(s: NodeStatus): void {
  fill(must("[data-node-status]"), nodeStatus("online"));
  const cpus = s.cpuinfo?.cpus;
  updateMeter(usage.cpu, { fraction: s.cpu ?? null, text: pct(s.cpu), valueText: `${pct(s.cpu)}${cpus ? ` of ${cpus} CPUs` : ""}` });
  const m = s.memory ?? {};
  updateMeter(usage.mem, { fraction: m.total ? (m.used ?? 0) / m.total : null, text: bytesOf(m.used, m.total) });
  const r = s.rootfs ?? {};
  updateMeter(usage.root, { fraction: r.total ? (r.used ?? 0) / r.total : null, text: bytesOf(r.used, r.total) });
  const load = (s.loadavg ?? []).map((x) => Number(x).toFixed(2)).join(" · ");
  setText(
    must("[data-node-facts]"),
    [s.pveversion ? `Proxmox VE ${String(s.pveversion).replace(/^pve-manager\//, "").split("/")[0]}` : "", cpus ? `${cpus} CPUs${s.cpuinfo?.model ? ` (${s.cpuinfo.model})` : ""}` : "", s.uptime ? `up ${uptime(s.uptime)}` : "", load ? `load ${load}` : ""]
      .filter(Boolean)
      .join(" · "),
  );
}

// --- charts -----------------------------------------------------------------------------------
const tfSelect = must<HTMLSelectElement>("[data-timeframe]");
let timeframe = "hour";
const timeUnit = () => (timeframe === "hour" || timeframe === "day" ? "minute" : timeframe === "year" ? "month" : "day") as "minute" | "day" | "month";
const netFmt = (v: number) => `${bytes(v, 0)}/s`;
const charts = {
  cpu: new Chart({ timeUnit, title: "CPU", series: [{ label: "CPU", color: "--chart-1", fill: true }], format: (v) => `${v.toFixed(v >= 10 || v === 0 ? 0 : 1)}%`, range: [0, 100] }),
  mem: new Chart({ timeUnit, title: "Memory", series: [{ label: "Used", color: "--chart-2", fill: true }, { label: "Total", color: "--muted", dash: true }], format: (v) => bytes(v, 0), floor: 1024 ** 3 }),
  net: new Chart({ timeUnit, title: "Network", series: [{ label: "In", color: "--chart-1", fill: true }, { label: "Out", color: "--chart-3" }], format: netFmt, floor: 1024 }),
  load: new Chart({ timeUnit, title: "Load", series: [{ label: "Load", color: "--chart-2", fill: true }], format: (v) => v.toFixed(2), floor: 1 }),
};
must("[data-charts]").append(charts.cpu.el, charts.mem.el, charts.net.el, charts.load.el);
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
  charts.mem.set(xs, [points.map((p) => n(p.memused)), points.map((p) => n(p.memtotal))]);
  charts.net.set(xs, [points.map((p) => n(p.netin)), points.map((p) => n(p.netout))]);
  charts.load.set(xs, [points.map((p) => n(p.loadavg))]);
}

async function watch(): Promise<void> {
  const ack = await request<{ status?: NodeStatus; rrd?: RrdPoint[] }>("node:watch", { node, timeframe });
  if ("error" in ack) {
    fill(alertEl, h("p", { class: "alert alert-error", role: "alert", text: ack.error.message }));
    return;
  }
  fill(alertEl);
  if (ack.status) renderStatus(ack.status);
  setRrd(ack.rrd, true);
}

const socket = initLive(document);
socket?.on("node:update", (u: { node: string; status?: NodeStatus; rrd?: RrdPoint[]; timeframe?: string }) => {
  if (u.node !== node) return;
  if (u.status) renderStatus(u.status);
  if (u.rrd && (!u.timeframe || u.timeframe === timeframe)) setRrd(u.rrd, false);
});
onConnect(() => void watch());
tfSelect.addEventListener("change", async () => {
  await request("node:unwatch", { node });
  timeframe = tfSelect.value;
  setRrd([], true);
  await watch();
});

// --- guests on the node -----------------------------------------------------------------------
const guestsEl = must("[data-node-guests]");
function renderGuests(): void {
  const list = resources
    .guests()
    .filter((g) => g.node === node)
    .sort((a, c) => (a.vmid ?? 0) - (c.vmid ?? 0));
  setText(must("[data-guest-count]"), plural(list.length, "guest"));
  fill(
    guestsEl,
    list.length
      ? h(
          "ul",
          { class: "node-guests" },
          ...list.map((g) =>
            h(
              "li",
              {},
              h("a", { href: `/guests/${g.vmid}`, text: `${g.name ?? g.type} (${g.vmid})` }),
              " ",
              guestStatus(g.status ?? "unknown", { template: Boolean(g.template) }),
              h("span", { class: "muted small", text: ` ${g.pool ?? "no pool"} · ${g.maxcpu ?? 0} vCPU · ${bytes(g.maxmem)}` }),
            ),
          ),
        )
      : h("p", { class: "muted small card-note", text: "No guest runs on this node." }),
  );
}
resources.subscribe(renderGuests);
resources.start();

// Time-series charts on uPlot: sized to their box (ResizeObserver), coloured from the theme's
// custom properties (redrawn when the theme changes), with a "now" value in the title and an
// empty-state text while there are no points.
import uPlot from "uplot";
import { h } from "./dom";

export interface SeriesDef {
  label: string;
  /** A CSS custom property: `--chart-1`. */
  color: string;
  fill?: boolean;
  dash?: boolean;
}

export interface ChartOptions {
  title: string;
  series: SeriesDef[];
  format: (v: number) => string;
  /** Fixed y range (CPU %: [0, 100]). */
  range?: [number, number];
  /** The least top of the y axis (so an idle guest's chart has sensible ticks). */
  floor?: number;
  /** How to label the time axis (read at every draw, so it follows a timeframe change). */
  timeUnit?: () => "minute" | "day" | "month";
}

function timeLabel(unit: "minute" | "day" | "month", s: number): string {
  const d = new Date(s * 1000);
  if (unit === "minute") return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  if (unit === "day") return d.toLocaleDateString([], { month: "short", day: "numeric" });
  return d.toLocaleDateString([], { month: "short", year: "2-digit" });
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function alpha(color: string, a: number): string {
  return `color-mix(in srgb, ${color} ${Math.round(a * 100)}%, transparent)`;
}

const charts = new Set<Chart>();
let themeWatch = false;

function watchTheme(): void {
  if (themeWatch) return;
  themeWatch = true;
  const redraw = () => {
    for (const c of charts) c.redraw();
  };
  new MutationObserver(redraw).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redraw);
}

export class Chart {
  readonly el: HTMLElement;
  private readonly box: HTMLElement;
  private readonly now: HTMLElement;
  private readonly empty: HTMLElement;
  private plot: uPlot | null = null;
  private data: uPlot.AlignedData;
  private resize: ResizeObserver;

  constructor(private readonly o: ChartOptions) {
    this.now = h("span", { class: "chart-now" });
    this.empty = h("div", { class: "chart-empty", text: "Waiting for data…" });
    this.box = h("div", { class: "chart-box" }, this.empty);
    this.el = h("figure", { class: "chart", role: "group", "aria-label": o.title }, h("h3", null, h("span", { text: o.title }), this.now), this.box);
    this.data = [[], ...o.series.map(() => [])] as unknown as uPlot.AlignedData;
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.box);
    charts.add(this);
    watchTheme();
  }

  private make(): void {
    const width = Math.max(200, this.box.clientWidth);
    const height = 150;
    const fmt = this.o.format;
    const axisStroke = () => cssVar("--muted");
    const gridStroke = () => cssVar("--border");
    const opts: uPlot.Options = {
      width,
      height,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      // A key to the lines; the current value is in the title (and follows the cursor there).
      legend: { show: this.o.series.length > 1, live: false },
      scales: { x: { time: true }, y: this.o.range ? { range: this.o.range } : { range: (_u, _min, max) => [0, Math.max(this.o.floor ?? 1, max > 0 ? max * 1.1 : 1)] } },
      axes: [
        {
          stroke: axisStroke,
          grid: { stroke: gridStroke, width: 1 },
          ticks: { stroke: gridStroke, width: 1 },
          font: "11px system-ui, sans-serif",
          space: 60,
          values: (_u, vals) => vals.map((v) => timeLabel(this.o.timeUnit?.() ?? "minute", v)),
        },
        {
          stroke: axisStroke,
          grid: { stroke: gridStroke, width: 1 },
          ticks: { show: false },
          size: 64,
          space: 36,
          font: "11px system-ui, sans-serif",
          values: (_u, vals) => vals.map((v) => fmt(v)),
        },
      ],
      series: [
        {},
        ...this.o.series.map((s) => ({
          label: s.label,
          stroke: () => cssVar(s.color),
          width: 1.75,
          dash: s.dash ? [4, 4] : undefined,
          fill: s.fill ? () => alpha(cssVar(s.color), 0.14) : undefined,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "—" : fmt(v)),
        })),
      ],
    };
    this.plot = new uPlot(opts, this.data, this.box);
  }

  private fit(): void {
    if (!this.plot) return;
    const w = this.box.clientWidth;
    if (w > 0 && Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: 150 });
  }

  /** x: unix seconds; ys: one array per series. */
  set(xs: number[], ys: (number | null)[][]): void {
    this.data = [xs, ...ys] as unknown as uPlot.AlignedData;
    this.empty.hidden = xs.length > 0;
    if (!this.plot) {
      if (xs.length === 0) return;
      this.make();
    } else {
      this.plot.setData(this.data);
    }
    const last = ys[0]?.[ys[0].length - 1];
    this.now.textContent = last === null || last === undefined ? "" : this.o.format(last);
  }

  redraw(): void {
    if (!this.plot) return;
    // Axis and grid colours are read when drawing; rebuild to pick up the new theme.
    this.plot.destroy();
    this.plot = null;
    this.make();
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    charts.delete(this);
  }
}

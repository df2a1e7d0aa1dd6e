// Status pills (always with text, never colour alone) and meters (usage bars with their number).
import { h } from "./dom";

export type Tone = "ok" | "bad" | "warn" | "info" | "neutral";

export function pill(text: string, tone: Tone, title?: string): HTMLSpanElement {
  return h("span", { class: `pill pill-${tone}`, title }, h("span", { class: "pill-dot", "aria-hidden": "true" }), text);
}

const GUEST: Record<string, [string, Tone]> = {
  running: ["Running", "ok"],
  stopped: ["Stopped", "neutral"],
  paused: ["Paused", "warn"],
  suspended: ["Suspended", "warn"],
  prelaunch: ["Starting", "info"],
  unknown: ["Unknown", "warn"],
};

export function guestStatus(status: string | undefined, opts: { template?: boolean; lock?: string; stale?: boolean } = {}): HTMLSpanElement {
  if (opts.template) return pill("Template", "neutral");
  const [text, tone] = GUEST[status ?? "unknown"] ?? [status ?? "Unknown", "warn" as Tone];
  const p = pill(text, tone);
  if (opts.lock) {
    p.append(h("span", { class: "pill-lock", text: ` · ${lockText(opts.lock)}` }));
    p.title = `Locked: ${opts.lock}`;
  }
  return p;
}

export function lockText(lock: string): string {
  const map: Record<string, string> = {
    backup: "backing up",
    create: "creating",
    clone: "cloning",
    migrate: "migrating",
    snapshot: "snapshotting",
    "snapshot-delete": "deleting snapshot",
    rollback: "rolling back",
    suspending: "suspending",
    suspended: "suspended",
    disk: "disk busy",
    destroyed: "being deleted",
  };
  return map[lock] ?? lock;
}

export function nodeStatus(status: string | undefined): HTMLSpanElement {
  return status === "online" ? pill("Online", "ok") : pill(status ? status[0]!.toUpperCase() + status.slice(1) : "Unknown", "bad");
}

export function clusterStatus(status: string | undefined): HTMLSpanElement {
  if (status === "up") return pill("Healthy", "ok");
  if (status === "degraded") return pill("Degraded", "warn");
  if (status === "down") return pill("Unreachable", "bad");
  return pill("Checking…", "neutral");
}

export interface MeterOptions {
  label: string;
  /** 0..1, or null when unknown. */
  fraction: number | null;
  text: string;
  /** Longer text for screen readers. */
  valueText?: string;
  compact?: boolean;
}

export function meter(o: MeterOptions): HTMLDivElement {
  const fill = h("span", { class: "meter-fill" });
  const el = h(
    "div",
    { class: `meter${o.compact ? " meter-compact" : ""}`, role: "meter", "aria-label": o.label, "aria-valuemin": "0", "aria-valuemax": "100" },
    h("span", { class: "meter-bar" }, fill),
    h("span", { class: "meter-text" }),
  );
  updateMeter(el, o);
  return el;
}

export function updateMeter(el: HTMLElement, o: Omit<MeterOptions, "label" | "compact">): void {
  const fill = el.querySelector<HTMLElement>(".meter-fill");
  const text = el.querySelector<HTMLElement>(".meter-text");
  const f = o.fraction === null || !Number.isFinite(o.fraction) ? null : Math.max(0, Math.min(1, o.fraction));
  if (fill) {
    const w = `${f === null ? 0 : (f * 100).toFixed(1)}%`;
    if (fill.style.width !== w) fill.style.width = w;
  }
  el.dataset.level = f === null ? "none" : f >= 0.9 ? "high" : f >= 0.75 ? "mid" : "low";
  if (text && text.textContent !== o.text) text.textContent = o.text;
  // A meter needs a value: without one it is a picture with its text as the name.
  const label = el.dataset.label ?? el.getAttribute("aria-label") ?? "";
  el.dataset.label = label;
  if (f === null) {
    el.setAttribute("role", "img");
    for (const a of ["aria-valuenow", "aria-valuetext", "aria-valuemin", "aria-valuemax"]) el.removeAttribute(a);
    el.setAttribute("aria-label", `${label}: ${o.valueText ?? o.text}`);
  } else {
    el.setAttribute("role", "meter");
    el.setAttribute("aria-label", label);
    el.setAttribute("aria-valuemin", "0");
    el.setAttribute("aria-valuemax", "100");
    el.setAttribute("aria-valuenow", String(Math.round(f * 100)));
    el.setAttribute("aria-valuetext", o.valueText ?? o.text);
  }
}

/** A quota bar: what is used, what a request adds, against the limit (0 = unlimited). */
export function quotaMeter(o: { label: string; used: number; add?: number; limit: number; format: (n: number) => string; compact?: boolean }): HTMLDivElement {
  const add = o.add ?? 0;
  const unlimited = o.limit <= 0;
  const total = o.used + add;
  const over = !unlimited && total > o.limit;
  const usedFill = h("span", { class: "meter-fill" });
  const addFill = h("span", { class: "meter-fill meter-fill-add" });
  const base = unlimited ? 0 : Math.min(1, o.used / o.limit);
  const extra = unlimited ? 0 : Math.max(0, Math.min(1 - base, add / o.limit));
  usedFill.style.width = `${(base * 100).toFixed(1)}%`;
  addFill.style.width = `${(extra * 100).toFixed(1)}%`;
  const text = unlimited
    ? `${o.format(o.used)}${add ? ` + ${o.format(add)}` : ""} · no limit`
    : `${o.format(o.used)}${add ? ` + ${o.format(add)}` : ""} of ${o.format(o.limit)}`;
  const el = h(
    "div",
    {
      class: `meter meter-quota${o.compact ? " meter-stack" : ""}${over ? " is-over" : ""}${unlimited ? " is-unlimited" : ""}`,
      // With no limit there is no value to measure: a picture named by its text.
      role: unlimited ? "img" : "meter",
      "aria-label": unlimited ? `${o.label}: ${text}` : o.label,
      "aria-valuemin": unlimited ? undefined : "0",
      "aria-valuemax": unlimited ? undefined : "100",
      "aria-valuenow": unlimited ? undefined : String(Math.round(Math.min(1, total / o.limit) * 100)),
      "aria-valuetext": unlimited ? undefined : `${text}${over ? ", over the limit" : ""}`,
    },
    o.compact ? null : h("span", { class: "meter-label", text: o.label }),
    o.compact ? h("span", { class: "meter-text", text }) : null,
    h("span", { class: "meter-bar" }, usedFill, addFill),
    o.compact ? null : h("span", { class: "meter-text", text }),
  );
  el.dataset.level = unlimited ? "none" : over ? "high" : total / o.limit >= 0.75 ? "mid" : "low";
  return el;
}

// The guest page's shared state and helpers: the boot data, the guest's last known resource and
// status, the progress line under the actions (where tabs report their tasks and errors), the
// tab registry for reloading a tab, and the configuration cache the hardware and options tabs use.
// Its top level runs before the rest of the page's code (main.ts imports it before the tabs): the
// shell starts and these elements are looked up first.
import { initShell, watchFreshness, type Boot } from "../../ui/shell";
import { resources, type Resource } from "../../ui/resources";
import { request } from "../../live";
import { h, fill, must, announce } from "../../ui/dom";
import { get, messageOf } from "../../ui/api";
import { clock } from "../../ui/format";
import { ProgressLine } from "../../ui/progress";
import type { Task } from "../../ui/tasks";
import { showServerError, formAlert } from "../../ui/form";
import type { GuestKind } from "../../generated/wire";

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
export interface Status {
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

export type Config = Record<string, string | number>;

export const b = initShell<GuestBoot>();
export const vmid = b.vmid;
export const caps = b.caps;
export const isCt = b.type === "lxc";
export const noun = isCt ? "container" : "VM";
resources.start();
watchFreshness();

export let res: Resource = b.resource;
export let status: Status = { status: res.status, name: res.name, maxmem: res.maxmem, maxdisk: res.maxdisk, cpus: res.maxcpu, lock: res.lock, uptime: res.uptime };

/** Replaces the guest's resource (from the cluster list or the watch answer). */
export function setRes(r: Resource): void {
  res = r;
}

/** Replaces the guest's status (from the watch answer, an update or a REST read). */
export function setStatus(s: Status): void {
  status = s;
}

export function effectiveStatus(): string {
  if (status.qmpstatus === "paused" || status.qmpstatus === "suspended") return "paused";
  return status.status ?? res.status ?? "unknown";
}

export function isTemplateGuest(): boolean {
  return res.template === true || res.template === 1 || status.template === 1 || status.template === true;
}

export function guestLike() {
  return { type: b.type, status: effectiveStatus(), template: isTemplateGuest(), lock: status.lock ?? res.lock };
}

// --- header elements, and the progress line the tabs report on too ---------------------------

export const statusEl = must("[data-guest-status]");
export const progressEl = must("[data-power-progress]");
export const actionsEl = must("[data-actions]");
export const line = new ProgressLine(progressEl);

/** A button that explains itself when clicked while not available. */
export function actionButton(label: string, cls: string, run: () => void): HTMLButtonElement {
  return line.button(label, cls, run);
}

export function followTask(upid: string, doing: string, done: string, then?: (t: Task) => void): void {
  line.follow(upid, doing, done, then);
}

// --- tabs: shared by the tab modules ---------------------------------------------------------

/** What shows each tab's panel; main.ts fills it in. */
export const loaders: Record<string, (panel: HTMLElement) => void> = {};
export const loaded = new Set<string>();

export function reloadTab(id: string): void {
  const panel = document.getElementById(`panel-${id}`);
  if (panel && loaded.has(id)) loaders[id]?.(panel);
}

export function loading(panel: HTMLElement): void {
  fill(panel, h("p", { class: "muted", text: "Loading…" }));
}

export function failed(panel: HTMLElement, e: unknown, retry: () => void): void {
  fill(panel, h("p", { class: "alert alert-error" }, `${messageOf(e)} `, h("button", { type: "button", class: "link-button", text: "Try again", onclick: retry })));
}

export function readOnlyNote(what: string, priv: string): HTMLElement {
  return h("p", { class: "alert alert-info disabled-note", text: `You can see this ${noun}'s ${what} but not change them (that needs ${priv}).` });
}

let configCache: Promise<Config> | null = null;
export function loadConfig(): Promise<Config> {
  configCache ??= get<{ data: Config }>(`/api/proxmox/vm/${vmid}/config`).then((r) => r.data);
  configCache.catch(() => (configCache = null));
  return configCache;
}

/** Drops the cached configuration: the next `loadConfig` reads it again. */
export function forgetConfig(): void {
  configCache = null;
}

/** Sends a configuration change; shows the server's answer on the form. */
export async function sendConfig(form: HTMLFormElement, set: Record<string, unknown>, del: string[]): Promise<boolean> {
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

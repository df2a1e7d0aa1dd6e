// The quota form shared by the admin pages: the six pool limits (0 = no limit), for one pool or
// for the global defaults. Validated on the client (whole numbers ≥ 0); the server's error
// shows on the field it names.
import { h } from "./dom";
import { field } from "./form";

export interface LimitValues {
  maxVMs: number;
  maxLXCs: number;
  maxVnets: number;
  maxCpu: number;
  maxMemory: number;
  maxDisk: number;
  maxVnetsPerUser?: number;
}

export const LIMIT_FIELDS: [keyof LimitValues, string, string | undefined][] = [
  ["maxVMs", "VMs", undefined],
  ["maxLXCs", "Containers", undefined],
  ["maxCpu", "vCPUs", undefined],
  ["maxMemory", "Memory", "MiB"],
  ["maxDisk", "Disk", "GiB"],
  ["maxVnets", "VNets", undefined],
];

export function limitFields(values: Partial<LimitValues>, withPerUser = false): HTMLElement {
  const grid = h("div", { class: "form-grid" });
  const all = withPerUser ? [...LIMIT_FIELDS, ["maxVnetsPerUser", "VNets per user", undefined] as [keyof LimitValues, string, undefined]] : LIMIT_FIELDS;
  for (const [name, label, suffix] of all) {
    grid.append(field({ label, name, type: "number", min: 0, max: 9007199254740991, step: 1, required: true, suffix, value: values[name] ?? 0, hint: "0 = no limit" }));
  }
  return grid;
}

export function readLimits(form: HTMLElement, withPerUser = false): LimitValues {
  const out: Record<string, number> = {};
  const all = withPerUser ? [...LIMIT_FIELDS.map((f) => f[0]), "maxVnetsPerUser"] : LIMIT_FIELDS.map((f) => f[0]);
  for (const k of all) out[k] = Number((form.querySelector(`[name=${k}]`) as HTMLInputElement).value);
  return out as unknown as LimitValues;
}

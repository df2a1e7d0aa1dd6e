// Cached reads the forms share: pools the user sees, nodes, storages, ISO images and container
// templates per node, the next free guest id.
import { get } from "./api";

export interface PoolInfo {
  poolid: string;
  comment?: string | null;
  allowManage: boolean;
  owned?: boolean;
  limits: { maxCpu: number; maxMemory: number; maxDisk: number; maxVMs: number; maxLXCs: number; maxVnets: number };
  limitsSource?: string;
  usage: { cpu: number; memory: number; disk: number; vms: number; lxcs: number; vnets: number };
  /** With limitsSource "owner": the usage of all the owner's pools that share the budget. */
  budgetUsage?: { cpu: number; memory: number; disk: number; vms: number; lxcs: number; vnets: number };
  sharedWith?: string[];
}

export interface NodeInfo {
  node: string;
  status?: string;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  uptime?: number;
}

export interface StorageInfo {
  storage: string;
  node?: string;
  total?: number;
  used?: number;
  free?: number;
  status?: string;
}

export interface Volume {
  volid: string;
  size?: number;
  format?: string;
  content?: string;
  ctime?: number;
}

const cache = new Map<string, Promise<unknown>>();

function cached<T>(key: string, load: () => Promise<T>): Promise<T> {
  let p = cache.get(key) as Promise<T> | undefined;
  if (!p) {
    p = load();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

export function forget(prefix: string): void {
  for (const k of [...cache.keys()]) if (k.startsWith(prefix)) cache.delete(k);
}

export const pools = () => cached("pools", async () => (await get<{ pools: PoolInfo[] }>("/api/proxmox/pools")).pools);
export const nodes = () => cached("nodes", () => get<NodeInfo[]>("/api/proxmox/nodes"));
export const storages = (node: string) =>
  cached(`storage:${node}`, () => get<StorageInfo[]>(`/api/proxmox/storage?node=${encodeURIComponent(node)}`));

async function volumes(kind: "isos" | "ct-templates", node: string): Promise<{ storage: string; items: Volume[]; error?: string }[]> {
  return (await get<{ data: { storage: string; items: Volume[]; error?: string }[] }>(`/api/proxmox/nodes/${encodeURIComponent(node)}/storage/${kind}`)).data;
}

export const isos = (node: string) => cached(`isos:${node}`, () => volumes("isos", node));
export const ctTemplates = (node: string) => cached(`ct:${node}`, () => volumes("ct-templates", node));
export const nextId = () => get<{ nextId: number }>("/api/proxmox/next-id").then((r) => r.nextId);

/** The file name of a volume id: `local:iso/debian.iso` → `debian.iso`. */
export function volumeName(volid: string): string {
  return volid.replace(/^[^:]+:/, "").replace(/^(iso|vztmpl|backup)\//, "");
}

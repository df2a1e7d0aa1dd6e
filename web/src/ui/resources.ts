// The cluster resources the user may see, live: a snapshot from `resources:watch`, then
// `resources:delta` events applied in version order (a gap means a fresh snapshot), and
// `cluster:status`. After a dropped connection the store marks its data stale at once and takes a
// fresh snapshot on reconnect. Should the server not answer `resources:watch`, the store falls
// back to reading `GET /api/proxmox/resources` every 15 s and says so (never "live").
import { onConnect, onLiveState, request, initLive, liveState } from "../live";
import { get, messageOf } from "./api";
import type { ResourceKind } from "../generated/wire";

export interface Resource {
  id: string;
  type: ResourceKind;
  vmid?: number;
  node?: string;
  name?: string;
  status?: string;
  pool?: string;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  disk?: number;
  maxdisk?: number;
  uptime?: number;
  template?: boolean | number;
  tags?: string;
  lock?: string;
  storage?: string;
}

export type ClusterHealth = { status: "up" | "degraded" | "down" | "unknown"; error?: string; since?: number };

/** live: pushed by the server; polling: read every few seconds; stale: connection lost. */
export type Freshness = "loading" | "live" | "polling" | "stale" | "error";

interface WatchAck {
  version: number;
  items: Resource[];
  cluster?: ClusterHealth;
}

interface Delta {
  from: number;
  to: number;
  upsert?: Resource[];
  remove?: string[];
}

const POLL_MS = 15_000;

export function isGuest(r: Resource): boolean {
  return r.type === "qemu" || r.type === "lxc";
}

export function isTemplate(r: Resource): boolean {
  return r.template === true || r.template === 1;
}

class ResourceStore {
  items = new Map<string, Resource>();
  version: number | null = null;
  cluster: ClusterHealth = { status: "unknown" };
  freshness: Freshness = "loading";
  updatedAt = 0;
  error: string | null = null;
  private mode: "socket" | "rest" = "socket";
  private listeners = new Set<() => void>();
  private pollTimer: number | null = null;
  private started = false;
  private watching = false;

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  all(): Resource[] {
    return [...this.items.values()];
  }

  guests(): Resource[] {
    return this.all().filter(isGuest);
  }

  guest(vmid: number): Resource | undefined {
    return this.all().find((r) => isGuest(r) && r.vmid === vmid);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const socket = initLive(document);
    // First paint without waiting for the socket.
    void this.readRest(true);
    socket?.on("resources:delta", (d: Delta) => this.applyDelta(d));
    socket?.on("cluster:status", (c: ClusterHealth) => {
      this.cluster = c;
      this.emit();
    });
    onConnect(() => void this.watch());
    onLiveState((s) => {
      if (s !== "live" && this.freshness !== "loading") {
        this.freshness = "stale";
        this.stopPolling();
        this.emit();
      }
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.mode === "rest" && this.freshness !== "stale") void this.readRest(false);
    });
  }

  /** Re-reads everything now (after an action, or a button press). */
  refresh(): void {
    if (this.mode === "socket" && this.watching) void this.watch();
    else void this.readRest(false);
  }

  private async watch(): Promise<void> {
    const ack = await request<WatchAck>("resources:watch", {}, 8000);
    if ("error" in ack) {
      if (ack.error.code === "timeout" || ack.error.code === "offline") {
        // The server does not stream resources (or did not answer): read them periodically.
        this.mode = "rest";
        this.watching = false;
        void this.readRest(false);
        this.startPolling();
      } else {
        this.error = ack.error.message;
        this.freshness = "error";
        this.cluster = { status: ack.error.code === "unavailable" ? "down" : this.cluster.status, error: ack.error.message };
        this.emit();
        window.setTimeout(() => void this.watch(), 10_000);
      }
      return;
    }
    this.mode = "socket";
    this.watching = true;
    this.stopPolling();
    this.items = new Map(ack.items.map((r) => [r.id, r]));
    this.version = ack.version;
    if (ack.cluster) this.cluster = ack.cluster;
    this.freshness = "live";
    this.error = null;
    this.updatedAt = Date.now();
    this.emit();
  }

  private applyDelta(d: Delta): void {
    if (this.mode !== "socket" || !this.watching) return;
    // Already in the snapshot (a delta sent while the snapshot was taken): nothing to do.
    if (this.version !== null && d.to <= this.version) return;
    if (this.version === null || d.from !== this.version) {
      // A missed delta: ask for a fresh snapshot rather than guess.
      void this.watch();
      return;
    }
    for (const r of d.upsert ?? []) this.items.set(r.id, r);
    for (const id of d.remove ?? []) this.items.delete(id);
    this.version = d.to;
    this.updatedAt = Date.now();
    this.freshness = "live";
    this.emit();
  }

  private async readRest(first: boolean): Promise<void> {
    try {
      const resp = await get<{ data: Resource[] }>("/api/proxmox/resources");
      // A socket snapshot that arrived meanwhile is newer: keep it.
      if (first && this.freshness !== "loading") return;
      this.items = new Map(resp.data.map((r) => [r.id, r]));
      this.updatedAt = Date.now();
      this.error = null;
      if (this.cluster.status === "unknown" || this.mode === "rest") this.cluster = { status: "up" };
      // The first read shows data while the live stream connects ("loading" until then).
      if (!first) this.freshness = liveState() === "live" ? "polling" : "stale";
      this.emit();
    } catch (e) {
      this.error = messageOf(e);
      if (this.items.size === 0 || this.mode === "rest") {
        this.freshness = "error";
        this.cluster = { status: "down", error: this.error };
      }
      this.emit();
    }
  }

  private startPolling(): void {
    this.stopPolling();
    this.pollTimer = window.setInterval(() => {
      if (document.visibilityState === "visible") void this.readRest(false);
    }, POLL_MS);
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) window.clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}

export const resources = new ResourceStore();

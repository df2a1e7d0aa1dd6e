// Proxmox tasks, live: a store fed by the task:* events (and by acks of actions this tab starts),
// kept per user in localStorage so the list survives page changes, resynced with task:status on
// every reconnect; and the task bar at the bottom of every signed-in page (running tasks, last
// results, the log of one on click) — like Proxmox's own task list.
import { onConnect, request } from "../live";
import { clock, dateTime } from "./format";
import { h, fill, announce } from "./dom";
import { openDialog } from "./dialog";
import type { TaskState } from "../generated/wire";

export interface Task {
  upid: string;
  vmid?: number | null;
  type?: string;
  node?: string;
  user?: string;
  status: TaskState;
  exitstatus?: string | null;
  ok?: boolean;
  progress?: number;
  started: number;
  ended?: number;
}

interface TaskStatusAck {
  status?: string;
  exitstatus?: string;
  progress?: number;
  type?: string;
  node?: string;
  user?: string;
  starttime?: number;
  endtime?: number;
  logs?: { n: number; t: string }[];
}

const KEEP = 25;
const MAX_AGE = 24 * 3600 * 1000;

const VERBS: Record<string, string> = {
  start: "Start",
  stop: "Stop",
  shutdown: "Shut down",
  reboot: "Reboot",
  suspend: "Suspend",
  resume: "Resume",
  reset: "Reset",
  create: "Create",
  destroy: "Delete",
  clone: "Clone",
  snapshot: "Snapshot",
  rollback: "Roll back",
  delsnapshot: "Delete snapshot of",
  restore: "Restore",
  template: "Convert to template",
  migrate: "Migrate",
  resize: "Resize disk of",
  move: "Move disk of",
};

/** What a UPID says: node, start time, type and id. */
export function parseUpid(upid: string): { node?: string; started?: number; type?: string; id?: string; user?: string } {
  const p = upid.split(":");
  if (p[0] !== "UPID" || p.length < 8) return {};
  const started = Number.parseInt(p[4] ?? "", 16);
  return {
    node: p[1],
    started: Number.isFinite(started) ? started * 1000 : undefined,
    type: p[5],
    id: p[6],
    user: p[7],
  };
}

type NameOf = (vmid: number) => string | undefined;
let nameOf: NameOf = () => undefined;

/** Lets the task list show guest names (the page knows them). */
export function setGuestNames(fn: NameOf): void {
  nameOf = fn;
}

/** "Start VM 100 (alice-web)". */
export function describe(t: Pick<Task, "type" | "vmid" | "upid">): string {
  const type = t.type ?? parseUpid(t.upid).type ?? "task";
  const idRaw = t.vmid ?? Number(parseUpid(t.upid).id);
  const vmid = Number.isFinite(idRaw) && idRaw ? Number(idRaw) : null;
  let noun = "guest";
  let verb = type;
  if (type === "vzdump") {
    verb = "Back up";
  } else if (type.startsWith("qm")) {
    noun = "VM";
    verb = VERBS[type.slice(2)] ?? type;
  } else if (type.startsWith("vz") || type.startsWith("pct")) {
    noun = "CT";
    verb = VERBS[type.replace(/^(vz|pct)/, "")] ?? type;
  } else if (VERBS[type]) {
    verb = VERBS[type] ?? type;
  }
  if (!vmid) return verb;
  const name = nameOf(vmid);
  return `${verb} ${noun} ${vmid}${name ? ` (${name})` : ""}`;
}

export function resultText(t: Task): string {
  if (t.status === "running") return t.progress ? `Running · ${t.progress}%` : "Running";
  if (t.ok || t.exitstatus === "OK") return "OK";
  return t.exitstatus || "Failed";
}

type Listener = (t: Task) => void;

class TaskStore {
  private tasks = new Map<string, Task>();
  private listeners = new Set<() => void>();
  private followers = new Map<string, Set<Listener>>();
  private doneListeners = new Set<Listener>();
  private key = "uma-tasks";
  private polling = new Set<string>();

  init(username: string): void {
    this.key = `uma-tasks:${username}`;
    try {
      const saved = JSON.parse(localStorage.getItem(this.key) ?? "[]") as Task[];
      const now = Date.now();
      for (const t of saved) if (t.upid && now - t.started < MAX_AGE) this.tasks.set(t.upid, t);
    } catch {
      // A broken or missing list starts empty.
    }
  }

  list(): Task[] {
    return [...this.tasks.values()].sort((a, b) => b.started - a.started);
  }

  get(upid: string): Task | undefined {
    return this.tasks.get(upid);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Every task that ends (any of this user's, or of watched guests). */
  onDone(fn: Listener): () => void {
    this.doneListeners.add(fn);
    return () => this.doneListeners.delete(fn);
  }

  /** Calls `fn` with each change of one task (and now, when known). */
  follow(upid: string, fn: Listener, withProgress = false): () => void {
    let set = this.followers.get(upid);
    if (!set) {
      set = new Set();
      this.followers.set(upid, set);
    }
    set.add(fn);
    const t = this.tasks.get(upid);
    if (t) fn(t);
    if (withProgress) void this.pollProgress(upid);
    return () => set?.delete(fn);
  }

  /** A task this tab just started (from an action's ack), before its first event arrives. */
  started(upid: string, vmid?: number | null): Task {
    const u = parseUpid(upid);
    return this.upsert({ upid, vmid, type: u.type, node: u.node, user: u.user, status: "running", started: u.started ?? Date.now() });
  }

  upsert(partial: Partial<Task> & { upid: string }): Task {
    const before = this.tasks.get(partial.upid);
    const u = parseUpid(partial.upid);
    const t: Task = {
      started: u.started ?? Date.now(),
      type: u.type,
      node: u.node,
      status: "running",
      ...before,
      ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined && v !== null)),
    } as Task;
    if (t.status === "stopped") {
      t.ended ??= Date.now();
      t.ok = t.ok ?? t.exitstatus === "OK";
      t.progress = t.ok ? 100 : t.progress;
    }
    this.tasks.set(t.upid, t);
    this.prune();
    this.save();
    for (const fn of this.listeners) fn();
    for (const fn of this.followers.get(t.upid) ?? []) fn(t);
    if (t.status === "stopped" && before?.status !== "stopped") {
      for (const fn of this.doneListeners) fn(t);
    }
    return t;
  }

  /** Asks the server for the status of every task still shown as running. */
  async resync(): Promise<void> {
    for (const t of this.list().filter((x) => x.status === "running")) {
      const ack = await request<TaskStatusAck>("task:status", { upid: t.upid });
      if ("error" in ack) {
        if (ack.error.code === "not_found") this.upsert({ upid: t.upid, status: "stopped", exitstatus: "unknown (no longer listed)", ok: false });
        continue;
      }
      this.fromStatus(t.upid, ack);
    }
  }

  fromStatus(upid: string, s: TaskStatusAck): void {
    this.upsert({
      upid,
      status: s.status === "running" ? "running" : "stopped",
      exitstatus: s.exitstatus,
      progress: s.progress,
      ended: s.endtime ? s.endtime * 1000 : undefined,
    });
  }

  private async pollProgress(upid: string): Promise<void> {
    if (this.polling.has(upid)) return;
    this.polling.add(upid);
    try {
      for (let i = 0; i < 600; i += 1) {
        const t = this.tasks.get(upid);
        if (t && t.status === "stopped") break;
        const ack = await request<TaskStatusAck>("task:status", { upid });
        if (!("error" in ack)) this.fromStatus(upid, ack);
        if (this.tasks.get(upid)?.status === "stopped") break;
        await new Promise((r) => setTimeout(r, 1500));
      }
    } finally {
      this.polling.delete(upid);
    }
  }

  private prune(): void {
    const all = this.list();
    const now = Date.now();
    for (const [i, t] of all.entries()) {
      if (i >= KEEP || now - t.started > MAX_AGE) this.tasks.delete(t.upid);
    }
  }

  private save(): void {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.list()));
    } catch {
      // Storage may be full or disabled; the list still works for this page.
    }
  }
}

export const tasks = new TaskStore();

/** Subscribes the store to the socket; call once per page. */
export function connectTasks(socket: { on(event: string, fn: (t: Task) => void): unknown }, username: string): void {
  tasks.init(username);
  for (const event of ["task:started", "task:update", "task:done"]) {
    socket.on(event, (t: Task) => {
      if (t && typeof t.upid === "string") tasks.upsert({ ...t, status: t.status === "running" ? "running" : "stopped" });
    });
  }
  onConnect(() => void tasks.resync());
}

// --- the task bar -------------------------------------------------------------------------

export function mountTaskbar(root: HTMLElement): void {
  const count = h("span", { class: "taskbar-count" });
  const last = h("span", { class: "taskbar-last" });
  const toggle = h(
    "button",
    { type: "button", class: "taskbar-toggle", "aria-expanded": "false", "aria-controls": "taskbar-panel" },
    h("span", { class: "taskbar-title", text: "Tasks" }),
    count,
    last,
  );
  const body = h("tbody");
  const empty = h("p", { class: "muted small taskbar-empty", text: "No tasks yet. Actions you start (power, snapshots, backups…) appear here." });
  const table = h(
    "table",
    { class: "table table-compact" },
    h("caption", { class: "sr-only", text: "Recent tasks" }),
    h(
      "thead",
      null,
      h("tr", null, h("th", { scope: "col", text: "Started" }), h("th", { scope: "col", text: "Task" }), h("th", { scope: "col", class: "hide-narrow", text: "Node" }), h("th", { scope: "col", class: "hide-narrow", text: "User" }), h("th", { scope: "col", text: "Status" })),
    ),
    body,
  );
  const panel = h("div", { id: "taskbar-panel", class: "taskbar-panel", hidden: true }, empty, table);
  fill(root, toggle, panel);
  root.classList.add("taskbar");

  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !panel.hidden && !document.querySelector("dialog[open]")) {
      panel.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });

  const render = () => {
    const list = tasks.list();
    const running = list.filter((t) => t.status === "running");
    fill(
      count,
      running.length ? h("span", { class: "spinner", "aria-hidden": "true" }) : null,
      running.length ? `${running.length} running` : "none running",
    );
    const done = list.find((t) => t.status === "stopped");
    if (done) {
      fill(last, h("span", { class: `pill ${done.ok ? "pill-ok" : "pill-bad"}`, text: done.ok ? "OK" : "Failed" }), ` ${describe(done)} · ${clock(done.ended ?? done.started)}`);
    } else {
      fill(last);
    }
    empty.hidden = list.length > 0;
    table.hidden = list.length === 0;
    fill(
      body,
      list.map((t) =>
        h(
          "tr",
          { class: t.status === "running" ? "is-running" : "" },
          h("td", { class: "nowrap num", text: clock(t.started) }),
          h("td", null, h("button", { type: "button", class: "link-button", text: describe(t), onclick: () => openTaskLog(t.upid) })),
          h("td", { class: "hide-narrow", text: t.node ?? "" }),
          h("td", { class: "hide-narrow", text: t.user ?? "" }),
          h("td", null, taskPill(t)),
        ),
      ),
    );
  };
  tasks.onChange(render);
  tasks.onDone((t) => announce(`${describe(t)}: ${resultText(t)}`));
  render();
}

export function taskPill(t: Task): HTMLElement {
  if (t.status === "running") {
    return h("span", { class: "pill pill-info" }, h("span", { class: "spinner", "aria-hidden": "true" }), t.progress ? ` Running ${t.progress}%` : " Running");
  }
  const ok = t.ok || t.exitstatus === "OK";
  return h("span", { class: `pill ${ok ? "pill-ok" : "pill-bad"}`, title: t.exitstatus ?? "", text: ok ? "OK" : t.exitstatus || "Failed" });
}

/** The log of one task in a dialog, refreshed while it runs. */
export function openTaskLog(upid: string): void {
  const t = tasks.get(upid);
  const facts = h("dl", { class: "facts" });
  const log = h("pre", { class: "log", tabindex: "0", "aria-label": "Task log" }, "Loading the log…");
  const error = h("p", { class: "alert alert-error", role: "alert", hidden: true });
  const dlg = openDialog({
    title: t ? describe(t) : "Task",
    wide: true,
    body: [facts, error, log],
    actions: [{ label: "Close", primary: true }],
  });
  let stop = false;
  dlg.onClose(() => (stop = true));
  const load = async () => {
    while (!stop) {
      const ack = await request<TaskStatusAck>("task:status", { upid, logs: true });
      if ("error" in ack) {
        error.hidden = false;
        error.textContent = ack.error.message;
        log.textContent = "";
        return;
      }
      tasks.fromStatus(upid, ack);
      const cur = tasks.get(upid);
      fill(
        facts,
        h("dt", { text: "Status" }), h("dd", null, cur ? taskPill(cur) : ack.status ?? ""),
        h("dt", { text: "Node" }), h("dd", { text: ack.node ?? parseUpid(upid).node ?? "" }),
        h("dt", { text: "User" }), h("dd", { text: ack.user ?? parseUpid(upid).user ?? "" }),
        h("dt", { text: "Started" }), h("dd", { text: ack.starttime ? dateTime(ack.starttime * 1000) : "" }),
        ack.endtime ? [h("dt", { text: "Ended" }), h("dd", { text: dateTime(ack.endtime * 1000) })] : null,
        h("dt", { text: "Task id" }), h("dd", null, h("code", { class: "break", text: upid })),
      );
      const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      log.textContent = (ack.logs ?? []).map((l) => l.t).join("\n") || "(no log lines)";
      if (atEnd) log.scrollTop = log.scrollHeight;
      if (ack.status !== "running") return;
      await new Promise((r) => setTimeout(r, 1500));
    }
  };
  void load();
}

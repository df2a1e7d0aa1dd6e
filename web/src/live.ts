// The live connection of signed-in pages: one Socket.IO socket per tab, shared by every island
// (initLive returns the same socket to each caller). It shows its state in [data-live-status]
// (data-state = connecting | live | reconnecting | offline), reconnects by itself — also after
// the server restarts — and tells subscribers on every (re)connect so they resubscribe and
// resync. It follows the session: when the server ends it (sign-out elsewhere, revoked by an
// admin, expired), the page says why and goes to the login page.
import { io, type Socket } from "socket.io-client";
import { stepUpFor } from "./ui/api";

const ENDED: Record<string, string> = {
  "session:expired": "Your session expired. Please sign in again.",
  "session:revoked": "An administrator ended your session.",
  "session:ended": "You signed out in another tab.",
};

export type LiveState = "connecting" | "live" | "reconnecting" | "offline";

const LABEL: Record<LiveState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** An ack: `{ok: true, …}` or `{error: {code, message, field?}}`. */
export type Ack<T = Record<never, never>> =
  | ({ ok: true } & T)
  | { ok?: undefined; error: { code: string; message: string; field?: string } };

let socket: Socket | null = null;
let state: LiveState = "connecting";
let ended = false;
const stateListeners = new Set<(s: LiveState) => void>();
const connectHooks = new Set<() => void>();

export function liveState(): LiveState {
  return state;
}

/** Calls `fn` with every state change (and now). Returns an unsubscribe function. */
export function onLiveState(fn: (s: LiveState) => void): () => void {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

/** Calls `fn` on every (re)connect — now, when already connected. Subscriptions go here. */
export function onConnect(fn: () => void): () => void {
  connectHooks.add(fn);
  if (socket?.connected) fn();
  return () => connectHooks.delete(fn);
}

/** Emits `event` and waits for its ack (an error ack when no answer comes in time). */
export async function request<T = Record<never, never>>(
  event: string,
  payload: unknown,
  timeoutMs = 15_000,
): Promise<Ack<T>> {
  const s = socket;
  if (!s || !s.connected) {
    return { error: { code: "offline", message: "Not connected to Uma. Reconnecting…" } };
  }
  try {
    const ack = (await s.timeout(timeoutMs).emitWithAck(event, payload)) as Ack<T>;
    // A sensitive action wants a recent second factor: ask for it, then try once more.
    if ("error" in ack && ack.error.code === "step_up_required" && (await stepUpFor(ack.error.message))) {
      return (await s.timeout(timeoutMs).emitWithAck(event, payload)) as Ack<T>;
    }
    return ack;
  } catch {
    return { error: { code: "timeout", message: "Uma did not answer in time. Try again." } };
  }
}

export function initLive(doc: Document): Socket | null {
  if (socket) return socket;
  const status = doc.querySelector<HTMLElement>("[data-live-status]");
  if (!status) return null;
  const label = status.querySelector<HTMLElement>("[data-live-label]") ?? status;
  const s = io({ path: "/api/socket/io", transports: ["websocket", "polling"] });
  socket = s;
  const set = (next: LiveState, detail?: string) => {
    state = next;
    status.dataset.state = next;
    label.textContent = LABEL[next];
    status.title = detail ?? LABEL[next];
    for (const fn of stateListeners) fn(next);
  };
  set("connecting");
  s.on("connect", () => {
    set("live", "Live updates on.");
    for (const fn of connectHooks) fn();
  });
  s.on("disconnect", (reason) => {
    if (ended) return;
    set("reconnecting", "Connection lost. Reconnecting…");
    // After a server-side disconnect (restart) the client does not retry by itself.
    if (reason === "io server disconnect") {
      window.setTimeout(() => s.connect(), 1000 + Math.random() * 2000);
    }
  });
  s.on("connect_error", (err) => {
    if (err.message === "Unauthorized") {
      ended = true;
      leave(doc, "Please sign in again.");
    } else {
      set("reconnecting", `Cannot connect for live updates (${err.message}). Retrying…`);
      // The client retries by itself unless the server had closed the socket: then we do.
      if (!s.active) window.setTimeout(() => s.connect(), 2000 + Math.random() * 2000);
    }
  });
  s.on("server:shutdown", () => set("reconnecting", "The server is restarting. Reconnecting…"));
  for (const [event, message] of Object.entries(ENDED)) {
    s.on(event, () => {
      ended = true;
      s.disconnect();
      set("offline", message);
      leave(doc, message);
    });
  }
  return s;
}

function leave(doc: Document, message: string): void {
  const toast = doc.createElement("div");
  toast.className = "toast";
  toast.setAttribute("role", "alert");
  toast.textContent = message;
  doc.body.append(toast);
  const next = encodeURIComponent(location.pathname);
  setTimeout(() => location.assign(`/login?next=${next}`), 1500);
}

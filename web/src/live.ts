// The live connection of signed-in pages: one Socket.IO socket per tab. It shows its state in
// [data-live-status] and follows the session: when the server ends it (sign-out elsewhere,
// revoked by an admin, expired), the page says why and goes to the login page.
import { io, type Socket } from "socket.io-client";

const ENDED: Record<string, string> = {
  "session:expired": "Your session expired. Please sign in again.",
  "session:revoked": "An administrator ended your session.",
  "session:ended": "You signed out in another tab.",
};

export function initLive(doc: Document): Socket | null {
  const status = doc.querySelector<HTMLElement>("[data-live-status]");
  if (!status) return null;
  const socket = io({ path: "/api/socket/io", transports: ["websocket", "polling"] });
  const say = (text: string) => {
    status.textContent = text;
  };
  socket.on("connect", () => say("Live updates on."));
  socket.on("disconnect", (reason) => {
    if (reason !== "io server disconnect") say("Connection lost. Reconnecting…");
  });
  socket.on("connect_error", (err) => {
    if (err.message === "Unauthorized") {
      leave(doc, "Please sign in again.");
    } else {
      say(`Cannot connect for live updates (${err.message}). Retrying…`);
    }
  });
  socket.on("server:shutdown", () => say("The server is restarting. Reconnecting…"));
  for (const [event, message] of Object.entries(ENDED)) {
    socket.on(event, () => {
      socket.disconnect();
      leave(doc, message);
    });
  }
  return socket;
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

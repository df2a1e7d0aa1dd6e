// Notification banners under the top bar of every signed-in page: read once, then kept live by
// `notification:upsert`, `notification:remove` and `notification:dismissed` events. A banner
// shows while it is active and inside its window (by the server's clock, so a browser whose
// clock is off still shows it on time); its dismiss button hides it for good, in every tab.
import type { Socket } from "socket.io-client";
import { api, ApiError, get, messageOf } from "./api";
import { h, fill, announce } from "./dom";
import { onConnect } from "../live";

export type NoticeKind = "info" | "warning" | "error" | "success";

export interface Notice {
  id: string;
  message: string;
  type: NoticeKind;
  isActive: boolean;
  priority: number;
  startsAt: number | null;
  endsAt: number | null;
  createdAt: number;
  updatedAt: number;
}

const ALLOWED = new Set(["B", "I", "EM", "STRONG", "U", "BR"]);

/** The message's emphasis kept, anything else reduced to its text (the server already allows
 *  only these tags; this keeps the page safe even if a row was edited by hand). */
export function messageNodes(html: string): Node[] {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  const copy = (from: Node): Node[] => {
    if (from.nodeType === Node.TEXT_NODE) return [document.createTextNode(from.textContent ?? "")];
    if (from.nodeType !== Node.ELEMENT_NODE) return [];
    const el = from as Element;
    const kids = Array.from(el.childNodes).flatMap(copy);
    if (!ALLOWED.has(el.tagName)) return kids;
    const out = document.createElement(el.tagName.toLowerCase());
    out.append(...kids);
    return [out];
  };
  return Array.from(doc.body.childNodes).flatMap(copy);
}

/** Whether a banner shows at server time `now`. */
export function showsAt(n: Notice, now: number): boolean {
  return n.isActive && (n.startsAt == null || n.startsAt <= now) && (n.endsAt == null || now < n.endsAt);
}

const ORDER = (a: Notice, b: Notice) => b.priority - a.priority || b.createdAt - a.createdAt;

class Banners {
  private items = new Map<string, Notice>();
  private dismissed = new Set<string>();
  /** Drawn banners by id, with the `updatedAt` they were drawn from. */
  private drawn = new Map<string, { el: HTMLElement; at: number }>();
  /** Server time minus browser time. */
  private skew = 0;
  private timer: number | undefined;
  /** Counts events, so a list read before the last event is not applied over it. */
  events = 0;

  constructor(private root: HTMLElement) {}

  private now(): number {
    return Date.now() + this.skew;
  }

  setClock(serverNow: number | undefined): void {
    if (typeof serverNow === "number") this.skew = serverNow - Date.now();
  }

  replace(list: Notice[], dismissed: string[]): void {
    this.items = new Map(list.map((n) => [n.id, n]));
    for (const id of dismissed) this.dismissed.add(id);
    this.render();
  }

  upsert(n: Notice): void {
    this.events++;
    this.items.set(n.id, n);
    this.render();
  }

  remove(id: string): void {
    this.events++;
    if (this.items.delete(id)) this.render();
  }

  dismissedHere(id: string): void {
    this.events++;
    this.dismissed.add(id);
    this.render();
  }

  /** Draws what shows now (a banner is rebuilt only when it changed, so focus and screen
   *  readers are not disturbed), announces new ones, and wakes at the next start or end. */
  render(): void {
    window.clearTimeout(this.timer);
    const now = this.now();
    const shown = [...this.items.values()]
      .filter((n) => !this.dismissed.has(n.id) && showsAt(n, now))
      .sort(ORDER);
    const keep = new Set(shown.map((n) => n.id));
    for (const [id, d] of this.drawn) {
      if (!keep.has(id)) {
        d.el.remove();
        this.drawn.delete(id);
      }
    }
    shown.forEach((n, i) => {
      let d = this.drawn.get(n.id);
      if (!d || d.at !== n.updatedAt) {
        const el = this.banner(n);
        if (d) d.el.replaceWith(el);
        else announce(`Notice: ${plainText(n.message)}`);
        d = { el, at: n.updatedAt };
        this.drawn.set(n.id, d);
      }
      const at = this.root.children[i] ?? null;
      if (at !== d.el) this.root.insertBefore(d.el, at);
    });
    this.root.hidden = shown.length === 0;
    const edges = [...this.items.values()]
      .flatMap((n) => [n.startsAt, n.endsAt])
      .filter((t): t is number => t != null && t > now);
    if (edges.length) {
      const wait = Math.min(Math.min(...edges) - now + 50, 2 ** 31 - 1);
      this.timer = window.setTimeout(() => this.render(), wait);
    }
  }

  private banner(n: Notice): HTMLElement {
    const text = h("p", { class: "banner-text" });
    text.append(...messageNodes(n.message));
    const close = h(
      "button",
      {
        type: "button",
        class: "banner-close",
        "aria-label": "Dismiss this notice",
        title: "Dismiss",
        onclick: () => void this.dismiss(n.id, close),
      },
      "×",
    );
    return h("div", { class: "banner", "data-kind": n.type, "data-notice": n.id }, text, close);
  }

  private async dismiss(id: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    // Focus moves to the next banner's button (or the page) rather than to nowhere.
    const next = this.drawn.get(id)?.el.nextElementSibling?.querySelector<HTMLElement>(".banner-close");
    try {
      await api("POST", `/api/notifications/${encodeURIComponent(id)}/dismiss`);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) {
        button.disabled = false;
        button.title = `Could not dismiss: ${messageOf(e)}`;
        announce(`Could not dismiss the notice: ${messageOf(e)}`);
        return;
      }
      // Deleted meanwhile: it goes all the same.
    }
    this.dismissedHere(id);
    (next ?? document.getElementById("main"))?.focus();
  }
}

/** A message as plain text (line breaks as spaces), for announcements and labels. */
export function plainText(html: string): string {
  const parts = messageNodes(html).map((x) => (x.nodeName === "BR" ? " " : (x.textContent ?? "")));
  return parts.join("").replace(/\s+/g, " ").trim();
}

interface ListBody {
  notifications: Notice[];
  dismissed?: string[];
  now?: number;
}

/** Shows the banners in `[data-banners]`, live over `socket` (re-read on every reconnect). */
export function mountBanners(socket: Socket | null): void {
  const root = document.querySelector<HTMLElement>("[data-banners]");
  if (!root) return;
  const banners = new Banners(root);
  let readAt = 0;
  const load = async (): Promise<void> => {
    readAt = Date.now();
    const seen = banners.events;
    try {
      const body = await get<ListBody>("/api/notifications");
      // An event arrived while reading: this list may predate it, so read again.
      if (banners.events !== seen) return load();
      banners.setClock(body.now);
      banners.replace(body.notifications, body.dismissed ?? []);
    } catch {
      // Banners are news, not the page: a failed read leaves what is shown.
    }
  };
  if (!socket) {
    void load();
    return;
  }
  // Read now, and again at every reconnect, so what changed while away shows.
  if (!socket.connected) void load();
  onConnect(() => {
    if (Date.now() - readAt > 2000) void load();
  });
  socket.on("notification:upsert", (m: { notification: Notice; now?: number }) => {
    banners.setClock(m.now);
    banners.upsert(m.notification);
  });
  socket.on("notification:remove", (m: { id: string }) => banners.remove(m.id));
  socket.on("notification:dismissed", (m: { id: string }) => banners.dismissedHere(m.id));
}

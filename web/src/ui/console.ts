// A guest's console in the browser: noVNC's RFB client over Uma's WebSocket proxy, with a toolbar
// (connect/reconnect, scale to fit, full screen, Ctrl-Alt-Del, paste as keystrokes) and clear
// messages for what can go wrong: the guest is stopped (with Start when the user may power it),
// the user may not open its console, the server ended the console (close code 4000 with the
// reason: an administrator closed it, idle timeout, the guest's console closed) or refused the
// connection. Used by the console page and by the guest page's Console tab.
//
// Flow (docs/consoles.md): `POST /api/proxmox/vm/{vmid}/vnc` answers a one-time ticket, password
// and the proxy's `url`; the page opens that WebSocket itself (so it can read the close code and
// reason, which noVNC does not pass on) and hands it to RFB with the password.
import RFB from "@novnc/novnc";
import { h, fill, announce, uid } from "./dom";
import { api, ApiError, messageOf } from "./api";
import { disableWithReason } from "./progress";
import type { GuestLike } from "./power";
import type { GuestKind } from "../generated/wire";

/** The answer of `POST /api/proxmox/vm/{vmid}/vnc`. */
export interface ConsoleTicket {
  port: number;
  ticket: string;
  password: string;
  url: string;
  node: string;
  type: string;
  vmid: number;
  name?: string;
}

/** The close code Uma's proxy ends a console with; the reason is the text to show. */
export const CLOSE_WITH_REASON = 4000;

export interface ConsoleViewOptions {
  vmid: number;
  type: GuestKind;
  /** The guest's name now. */
  name: () => string;
  /** The user may open this guest's console (`VM.Console`). */
  allowed: boolean;
  /** At most this many consoles per user (the server's `CONSOLE_MAX_PER_USER`). */
  consoleMax?: number;
  /** Connect as soon as the view is shown. */
  autoConnect?: boolean;
  /** Starts the guest (the user may power it); `done(true)` when it runs. */
  start?: (done: (ok: boolean) => void) => void;
  /** A link to the console on a page of its own (the guest page's panel). */
  pageLink?: string;
  /** A smaller screen (inside another page). */
  compact?: boolean;
}

type State = "idle" | "connecting" | "connected" | "ended" | "stopped" | "denied";

const PASTE_MAX = 5000;
const SCALE_KEY = "uma-console-scale";

/** The X11 keysym that types `ch`, or null for characters that have none. */
export function keysymOf(ch: string): number | null {
  const cp = ch.codePointAt(0);
  if (cp === undefined) return null;
  if (ch === "\n") return 0xff0d; // Return
  if (ch === "\t") return 0xff09; // Tab
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp; // Latin-1 = keysym
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return null;
  return 0x01000000 + cp; // Unicode keysyms
}

function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const s = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

export class ConsoleView {
  readonly el: HTMLElement;
  private readonly screen: HTMLDivElement;
  private readonly overlay: HTMLDivElement;
  private readonly statusEl: HTMLParagraphElement;
  private readonly connectBtn: HTMLButtonElement;
  private readonly scaleBtn: HTMLButtonElement;
  private readonly fullBtn: HTMLButtonElement;
  private readonly cadBtn: HTMLButtonElement;
  private readonly pasteBtn: HTMLButtonElement;
  private readonly pasteForm: HTMLFormElement;
  private readonly pasteText: HTMLTextAreaElement;
  private rfb: RFB | null = null;
  private state: State = "idle";
  private attempt = 0;
  private scale: boolean;
  private guest: GuestLike = {};
  private everConnected = false;
  private lastEscape = 0;
  private userClosed = false;
  /** When this view last started the guest (a console is retried a while after). */
  private startedAt = 0;

  constructor(private readonly o: ConsoleViewOptions) {
    this.scale = localStorage.getItem(SCALE_KEY) !== "off";
    const statusId = uid("console-status");
    const hintId = uid("console-hint");
    this.connectBtn = h("button", { type: "button", class: "button button-primary button-small", "data-console-connect": true, text: "Connect", onclick: () => this.toggleConnection() });
    this.scaleBtn = h("button", { type: "button", class: "button button-small", "aria-pressed": String(this.scale), "data-console-scale": true, text: "Scale to fit", onclick: () => this.setScale(!this.scale) });
    this.fullBtn = h("button", { type: "button", class: "button button-small", "aria-pressed": "false", "data-console-fullscreen": true, text: "Full screen", onclick: () => void this.toggleFullscreen() });
    this.cadBtn = h("button", { type: "button", class: "button button-small", "data-console-cad": true, text: "Ctrl-Alt-Del", onclick: () => this.ctrlAltDel() });
    const pasteId = uid("console-paste");
    this.pasteBtn = h("button", { type: "button", class: "button button-small", "aria-expanded": "false", "aria-controls": pasteId, "data-console-paste": true, text: "Paste as keystrokes…", onclick: () => this.togglePaste() });
    if (!document.fullscreenEnabled) disableWithReason(this.fullBtn, "This browser does not allow full screen here.");

    const textId = uid("console-paste-text");
    this.pasteText = h("textarea", { id: textId, class: "input", rows: 3, maxlength: PASTE_MAX, spellcheck: false, autocomplete: "off", "aria-describedby": `${textId}-hint` });
    this.pasteForm = h(
      "form",
      { class: "console-paste", id: pasteId, hidden: true, "aria-label": "Paste as keystrokes" },
      h("div", { class: "field" }, h("label", { for: textId, text: "Text to type into the guest" }), this.pasteText, h("p", { class: "hint", id: `${textId}-hint`, text: `Sent as key presses, one character at a time; a line break presses Enter. Up to ${PASTE_MAX.toLocaleString()} characters.` })),
      h("div", { class: "button-row" }, h("button", { type: "submit", class: "button button-primary button-small", text: "Type it" }), h("button", { type: "button", class: "button button-small", text: "Close", onclick: () => this.togglePaste(false) })),
    );
    this.pasteForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.typeText(this.pasteText.value);
    });

    this.statusEl = h("p", { class: "console-status", id: statusId, role: "status", "aria-live": "polite" });
    this.overlay = h("div", { class: "console-overlay" });
    this.screen = h("div", { class: "console-screen", "data-console-screen": true });
    const wrap = h("div", { class: "console-frame" }, this.screen, this.overlay);
    // Keys go to the guest while the screen has focus; Escape then Tab leaves it (the guest gets
    // the Escape, not the Tab), so the keyboard is never trapped.
    this.screen.addEventListener(
      "keydown",
      (e) => {
        if (e.key === "Escape") this.lastEscape = Date.now();
        else if (e.key === "Tab" && Date.now() - this.lastEscape < 2000) {
          e.preventDefault();
          e.stopPropagation();
          this.lastEscape = 0;
          this.rfb?.blur();
          this.connectBtn.focus();
          this.setStatus("Left the screen: keys no longer go to the guest.");
        } else if (e.key !== "Shift") this.lastEscape = 0;
      },
      true,
    );
    const toolbar = h(
      "div",
      { class: "console-toolbar", role: "group", "aria-label": "Console controls", "aria-describedby": hintId },
      this.connectBtn,
      this.scaleBtn,
      this.fullBtn,
      this.cadBtn,
      this.pasteBtn,
      o.pageLink ? h("a", { class: "button button-small button-quiet", href: o.pageLink, text: "Open on its own page" }) : null,
    );
    this.el = h(
      "section",
      { class: `console${o.compact ? " console-compact" : ""}`, "aria-label": `Console of ${o.name()}` },
      toolbar,
      this.pasteForm,
      h("div", { class: "console-bar" }, this.statusEl, h("p", { class: "console-hint muted small", id: hintId, text: "Keys go to the guest while its screen has focus (click it, or Tab to it). To leave the screen, press Escape, then Tab." })),
      wrap,
    );
    document.addEventListener("fullscreenchange", () => {
      const on = document.fullscreenElement === this.el;
      this.fullBtn.setAttribute("aria-pressed", String(on));
      this.fullBtn.textContent = on ? "Exit full screen" : "Full screen";
    });
    window.addEventListener("pagehide", () => this.rfb?.disconnect());

    if (!o.allowed) this.show("denied", { title: "Not allowed", text: `You may not open the console of ${o.name()} (that needs the VM.Console permission).`, tone: "error" });
    else if (o.autoConnect) void this.connect();
    else this.show("idle", { title: `Console of ${o.name()}`, text: "Connect to see the guest's screen and type into it.", actions: [this.actionButton("Connect", () => void this.connect(), true)] });
  }

  /** The guest's state (from the page's live data): messages and Start follow it. */
  setGuest(g: GuestLike): void {
    const was = this.guest.status;
    this.guest = g;
    if (this.state === "stopped" && g.status === "running" && was !== "running") {
      this.show("ended", { title: `${this.o.name()} is running`, text: "Connect to open its console.", actions: [this.actionButton("Connect", () => void this.connect(), true)] });
    }
  }

  /** Asks for a ticket and opens the console. */
  async connect(): Promise<void> {
    if (!this.o.allowed || this.rfb || this.state === "connecting") return;
    const attempt = ++this.attempt;
    this.show("connecting", { title: "Connecting…", text: `Opening the console of ${this.o.name()}.`, busy: true });
    let t: ConsoleTicket;
    try {
      t = await api<ConsoleTicket>("POST", `/api/proxmox/vm/${this.o.vmid}/vnc`);
    } catch (e) {
      if (attempt === this.attempt) this.refused(e);
      return;
    }
    if (attempt !== this.attempt) return;
    this.open(t);
  }

  /** Closes the console (the person asked to). */
  disconnect(): void {
    if (this.rfb) {
      this.userClosed = true;
      this.rfb.disconnect();
    } else if (this.state === "connecting") {
      this.attempt += 1; // the ticket's answer is dropped
      this.show("ended", { title: "Not connected", text: "Connecting was cancelled.", actions: [this.actionButton("Connect", () => void this.connect(), true)] });
    }
  }

  private open(t: ConsoleTicket): void {
    const attempt = this.attempt;
    const url = new URL(t.url, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, ["binary"]);
    } catch (e) {
      this.show("ended", { title: "The console could not be opened", text: messageOf(e), tone: "error", actions: [this.reconnectButton()] });
      return;
    }
    let opened = false;
    let closed: CloseEvent | null = null;
    let security: { status: number; reason?: string } | null = null;
    ws.addEventListener("open", () => (opened = true));
    ws.addEventListener("close", (e) => (closed = e));
    this.userClosed = false;
    fill(this.screen);
    const rfb = new RFB(this.screen, ws, { credentials: { password: t.password }, shared: true });
    this.rfb = rfb;
    rfb.scaleViewport = this.scale;
    rfb.resizeSession = false;
    rfb.focusOnClick = true;
    rfb.background = "transparent";
    rfb.addEventListener("connect", () => {
      this.everConnected = true;
      // Someone who pressed Connect (or Start) in the message wants to type next.
      const wanted = this.overlay.contains(document.activeElement);
      this.show("connected");
      const canvas = this.screen.querySelector("canvas");
      if (canvas) {
        canvas.tabIndex = 0;
        canvas.setAttribute("role", "application");
        canvas.setAttribute("aria-roledescription", "remote screen");
        canvas.setAttribute("aria-label", `Screen of ${this.o.name()}. Keys go to the guest; press Escape, then Tab to leave.`);
      }
      if (wanted) rfb.focus({ preventScroll: true });
      announce(`Console of ${this.o.name()} connected.`);
    });
    rfb.addEventListener("credentialsrequired", () => rfb.sendCredentials({ password: t.password }));
    rfb.addEventListener("securityfailure", (e) => (security = e.detail));
    rfb.addEventListener("disconnect", () => {
      if (this.rfb === rfb) this.rfb = null;
      // The socket's close event comes before noVNC's; wait a tick for both to be recorded.
      window.setTimeout(() => {
        if (attempt === this.attempt) this.ended(opened, closed, security);
      }, 0);
    });
  }

  private ended(opened: boolean, closed: CloseEvent | null, security: { status: number; reason?: string } | null): void {
    const name = this.o.name();
    if (this.userClosed) {
      this.userClosed = false;
      this.show("ended", { title: "Disconnected", text: `You closed the console of ${name}.`, actions: [this.reconnectButton()] });
      return;
    }
    if (closed?.code === CLOSE_WITH_REASON) {
      const reason = sentence(closed.reason || "The console was closed on the server.");
      if (this.guest.status === "stopped") {
        this.stopped(`${name} stopped, and its console closed.`);
        return;
      }
      this.show("ended", { title: "Console closed", text: reason, tone: "warn", alert: true, actions: [this.reconnectButton()] });
      return;
    }
    if (security) {
      this.show("ended", { title: "The guest refused the console's password", text: `${security.reason ? sentence(security.reason) + " " : ""}The one-time password may have expired; reconnect for a new one.`, tone: "error", alert: true, actions: [this.reconnectButton()] });
      return;
    }
    if (!opened) {
      const max = this.o.consoleMax;
      const limit = max ? `you already have ${max === 1 ? "a console" : `${max} consoles`} open (close one in another tab or window)` : "you already have as many consoles open as you may (close one in another tab or window)";
      this.show("ended", { title: "Uma refused the console connection", text: `Usually because ${limit}, or the console ticket expired before it was used. Reconnect to try again.`, tone: "error", alert: true, actions: [this.reconnectButton()] });
      return;
    }
    if (this.guest.status === "stopped") {
      this.stopped(`${name} stopped, and its console closed.`);
      return;
    }
    const code = closed ? ` (code ${closed.code}${closed.reason ? `: ${closed.reason}` : ""})` : "";
    this.show("ended", { title: this.everConnected ? "Connection lost" : "The console could not be opened", text: `The connection to the console of ${name} ended${code}.`, tone: "warn", alert: true, actions: [this.reconnectButton()] });
  }

  /** The ticket request failed: say why in the person's terms. */
  private refused(e: unknown): void {
    const name = this.o.name();
    const status = e instanceof ApiError ? e.status : 0;
    if (status === 409 && Date.now() - this.startedAt < 30_000) {
      // Just started: Uma's view of the cluster follows within a few seconds.
      this.show("connecting", { title: "Connecting…", text: `Waiting for ${name} to run.`, busy: true });
      const attempt = this.attempt;
      window.setTimeout(() => {
        if (attempt === this.attempt && this.state === "connecting") {
          this.state = "idle";
          void this.connect();
        }
      }, 1500);
    } else if (status === 409) {
      this.stopped(`${name} is not running. Start it to open its console.`);
    } else if (status === 403) {
      this.show("denied", { title: "Not allowed", text: `You may not open the console of ${name}: ${messageOf(e)}`, tone: "error", alert: true });
    } else if (status === 404) {
      this.show("denied", { title: "Guest not found", text: `${name} no longer exists, or you may not see it.`, tone: "error", alert: true });
    } else if (status === 429) {
      this.show("ended", { title: "Too many consoles", text: `${sentence(messageOf(e))} Wait a moment, or close a console in another tab or window.`, tone: "warn", alert: true, actions: [this.reconnectButton()] });
    } else {
      this.show("ended", { title: "The console could not be opened", text: sentence(messageOf(e)), tone: "error", alert: true, actions: [this.reconnectButton()] });
    }
  }

  private stopped(text: string): void {
    const actions: HTMLButtonElement[] = [];
    const start = this.o.start;
    if (start) {
      const btn = this.actionButton(`Start ${this.o.type === "lxc" ? "container" : "VM"}`, () => {
        btn.disabled = true;
        btn.classList.add("is-busy");
        start((ok) => {
          btn.disabled = false;
          btn.classList.remove("is-busy");
          if (ok) {
            this.startedAt = Date.now();
            void this.connect();
          } else {
            this.setStatus(`${this.o.name()} did not start: the power buttons' message says why.`);
          }
        });
      }, true);
      actions.push(btn);
    }
    actions.push(this.actionButton("Try again", () => void this.connect(), !start));
    this.show("stopped", { title: "Not running", text: start ? text : `${text} You may not power it; ask someone who may.`, tone: "info", actions });
  }

  private toggleConnection(): void {
    if (this.connectBtn.dataset.reason) {
      this.setStatus(this.connectBtn.dataset.reason);
      return;
    }
    if (this.rfb || this.state === "connecting") this.disconnect();
    else void this.connect();
  }

  private setScale(on: boolean): void {
    this.scale = on;
    localStorage.setItem(SCALE_KEY, on ? "on" : "off");
    this.scaleBtn.setAttribute("aria-pressed", String(on));
    if (this.rfb) this.rfb.scaleViewport = on;
    this.setStatus(on ? "The screen is scaled to fit." : "The screen is shown at its own size; scroll to see all of it.");
  }

  private async toggleFullscreen(): Promise<void> {
    if (this.fullBtn.dataset.reason) {
      this.setStatus(this.fullBtn.dataset.reason);
      return;
    }
    try {
      if (document.fullscreenElement === this.el) await document.exitFullscreen();
      else await this.el.requestFullscreen();
      this.rfb?.focus();
    } catch (e) {
      this.setStatus(`Full screen is not available: ${messageOf(e)}`);
    }
  }

  private ctrlAltDel(): void {
    if (this.cadBtn.dataset.reason || !this.rfb) {
      this.setStatus(this.cadBtn.dataset.reason ?? "Not connected.");
      return;
    }
    this.rfb.sendCtrlAltDel();
    this.rfb.focus();
    this.setStatus("Sent Ctrl-Alt-Del.");
  }

  private togglePaste(open = this.pasteForm.hidden): void {
    if (open && this.pasteBtn.dataset.reason) {
      this.setStatus(`Paste as keystrokes: ${this.pasteBtn.dataset.reason}`);
      return;
    }
    this.pasteForm.hidden = !open;
    this.pasteBtn.setAttribute("aria-expanded", String(open));
    if (open) this.pasteText.focus();
    else this.pasteBtn.focus();
  }

  /** Types `text` into the guest, one key press per character. */
  typeText(text: string): void {
    if (!this.rfb || this.state !== "connected") {
      this.setStatus("Connect first: the text is typed into the running console.");
      return;
    }
    const chars = [...text.replace(/\r\n?/g, "\n")].slice(0, PASTE_MAX);
    let typed = 0;
    let skipped = 0;
    for (const ch of chars) {
      const keysym = keysymOf(ch);
      if (keysym === null) {
        skipped += 1;
        continue;
      }
      this.rfb.sendKey(keysym, null);
      typed += 1;
    }
    this.rfb.focus();
    this.setStatus(`Typed ${typed.toLocaleString()} character${typed === 1 ? "" : "s"}${skipped ? `; ${skipped} without a key were left out` : ""}.`);
  }

  private actionButton(label: string, run: () => void, primary = false): HTMLButtonElement {
    return h("button", { type: "button", class: `button${primary ? " button-primary" : ""}`, text: label, onclick: run });
  }

  private reconnectButton(): HTMLButtonElement {
    return this.actionButton(this.everConnected ? "Reconnect" : "Try again", () => void this.connect(), true);
  }

  private setStatus(text: string): void {
    this.statusEl.textContent = text;
  }

  /** Switches state: the overlay (a message over the screen, or nothing), status and buttons. */
  private show(state: State, m?: { title: string; text: string; tone?: "info" | "warn" | "error"; busy?: boolean; alert?: boolean; actions?: HTMLElement[] }): void {
    this.state = state;
    const connected = state === "connected";
    this.el.dataset.state = state;
    this.overlay.hidden = connected;
    if (m) {
      const focusInside = this.overlay.contains(document.activeElement);
      fill(
        this.overlay,
        h(
          "div",
          { class: `console-message${m.tone ? ` console-message-${m.tone}` : ""}`, role: m.alert ? "alert" : null, tabindex: "-1", "data-console-message": true },
          h("h2", null, m.busy ? h("span", { class: "spinner", "aria-hidden": "true" }) : null, m.busy ? " " : null, m.title),
          h("p", { text: m.text }),
          m.actions?.length ? h("div", { class: "button-row" }, m.actions) : null,
        ),
      );
      // Keep the focus in the message when it was there (a pressed button was replaced).
      if (focusInside) (this.overlay.querySelector<HTMLElement>("button") ?? this.overlay.querySelector<HTMLElement>("[data-console-message]"))?.focus();
    }
    const name = this.o.name();
    const label: Record<State, string> = {
      idle: "Not connected.",
      connecting: "Connecting…",
      connected: `Connected to ${name}.`,
      ended: m ? `${m.title}. ${m.text}` : "Not connected.",
      stopped: m?.text ?? `${name} is not running.`,
      denied: m?.text ?? "Not allowed.",
    };
    this.setStatus(label[state]);
    this.connectBtn.textContent = connected ? "Disconnect" : state === "connecting" ? "Cancel" : this.everConnected ? "Reconnect" : "Connect";
    this.connectBtn.classList.toggle("button-primary", !connected);
    disableWithReason(this.connectBtn, state === "denied" ? (m?.text ?? "Not allowed.") : null);
    const notConnected = connected ? null : "Connect first.";
    disableWithReason(this.cadBtn, notConnected);
    disableWithReason(this.pasteBtn, notConnected);
    if (!connected && !this.pasteForm.hidden) this.pasteForm.hidden = true;
  }
}

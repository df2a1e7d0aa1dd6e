// The chat widget, on every signed-in page: a button with the unread count, and a panel with the
// conversations (the public channel, groups, direct messages), threads with reactions, replies,
// edit and delete of one's own messages, typing indicators and read receipts, and toasts for
// messages that arrive elsewhere. It speaks the original's events over the page's one socket and
// reloads what it shows on every (re)connect, so nothing is missed across a reconnect. Pictures
// and PDFs are attached by the paperclip, by dropping them on the message box or by pasting them;
// they upload with progress before the message is sent, and show in the thread as a picture or a
// file chip. A group's settings (name, members and admins, leave, delete) open from the thread's
// header in a dialog (chat/group.ts).
import type { Socket } from "socket.io-client";
import { initLive, onConnect, request, type Ack } from "./live";
import { api, get, messageOf } from "./ui/api";
import { h, fill, announce } from "./ui/dom";
import { contentFragment, contentText, firstLink } from "./chat/render";
import { openGroupSettings, type GroupSettings } from "./chat/group";
import { ACCEPT_ALL, fileSize, filesOf, uploadFile, type Upload } from "./ui/upload";

interface UserRef {
  id: string;
  username: string;
  displayName: string;
  avatar?: string | null;
}

interface Reaction {
  id: string;
  emoji: string;
  userId: string;
  user?: { id: string; username: string } | null;
}

interface Msg {
  id: string;
  seq: number;
  content: string;
  senderId: string;
  receiverId: string | null;
  groupId: string | null;
  read: boolean;
  delivered: boolean;
  editedAt: string | null;
  deletedAt: string | null;
  replyTo?: (Msg & { sender?: UserRef }) | null;
  createdAt: string;
  sender: UserRef;
  receiver: UserRef | null;
  group: { id: string; name: string } | null;
  reactions: Reaction[];
  metadata?: { attachments?: Attachment[] } | null;
}

/** A link's card from `/api/metadata`. */
interface Card {
  title: string;
  description: string | null;
  imageUrl: string | null;
  siteName: string | null;
  url: string;
}

/** Cards of the links in the messages shown (a card is fetched once per page). */
const cards = new Map<string, Promise<Card | null>>();

function cardOf(url: string): Promise<Card | null> {
  let card = cards.get(url);
  if (!card) {
    // A link without a card (refused, unreachable, not a page) just shows as a link.
    card = get<Card>(`/api/metadata?url=${encodeURIComponent(url)}`).catch(() => null);
    cards.set(url, card);
  }
  return card;
}

/** Messages from the end of a thread whose links get cards. */
const CARD_RECENT = 30;

interface Attachment {
  id: string;
  url: string;
  name: string;
  contentType: string;
  size: number;
}

/** A file being attached to the next message of a conversation. */
interface Pending {
  key: number;
  name: string;
  fraction: number;
  /** When its upload started: an upload recorded before is an earlier one of the same file. */
  started: number;
  upload?: Upload;
  error?: string;
}

let pendingKeys = 0;

interface Conv {
  key: string;
  kind: "group" | "direct";
  /** Group id or the other user's name. */
  target: string;
  title: string;
  unread: number;
  last?: Msg | null;
  online?: boolean;
  isPublic?: boolean;
  isAdmin?: boolean;
  members?: UserRef[];
  /** The other person's picture (direct conversations). */
  avatar?: string | null;
}

const QUICK = ["👍", "❤️", "😂", "🎉", "😮"];

function bootUser(): { username: string; displayName: string } | null {
  const el = document.getElementById("uma-boot");
  if (!el?.textContent) return null;
  try {
    return (JSON.parse(el.textContent) as { user?: { username: string; displayName: string } }).user ?? null;
  } catch {
    return null;
  }
}

class ChatWidget {
  private readonly me: string;
  private myId = "";
  private convs = new Map<string, Conv>();
  private messages = new Map<string, Msg[]>();
  private open: string | null = null;
  private replyTo: Msg | null = null;
  private editing: Msg | null = null;
  private typing = new Map<string, number>();
  private online = new Set<string>();
  private dnd = false;
  private sending: Promise<unknown> = Promise.resolve();
  private lastTypingSent = 0;
  /** Files for the next message, per conversation. */
  private pending = new Map<string, Pending[]>();
  /** The open Group settings dialog. */
  private settings: GroupSettings | null = null;
  /** What happened to a conversation that is gone (shown above the list). */
  private notice: string | null = null;

  private readonly root: HTMLElement;
  private readonly toggle: HTMLButtonElement;
  private readonly badge: HTMLElement;
  private readonly panel: HTMLElement;
  private readonly body: HTMLElement;
  private readonly title: HTMLElement;
  private readonly back: HTMLButtonElement;
  private readonly groupButton: HTMLButtonElement;

  constructor(me: string, private readonly socket: Socket) {
    this.me = me;
    this.badge = h("span", { class: "chat-badge", hidden: true, "aria-label": "unread messages" });
    this.toggle = h(
      "button",
      { type: "button", class: "chat-toggle", "aria-expanded": "false", "aria-controls": "chat-panel", "data-chat-toggle": true },
      chatIcon(),
      h("span", { class: "chat-toggle-label", text: "Chat" }),
      this.badge,
    );
    this.title = h("h2", { class: "chat-title", text: "Chat" });
    this.back = h("button", { type: "button", class: "button button-quiet button-small", hidden: true, text: "← All", onclick: () => this.showList() });
    this.groupButton = h(
      "button",
      { type: "button", class: "button button-quiet button-small chat-group-button", hidden: true, "aria-label": "Group settings", title: "Group settings", "data-chat-group-settings": true, onclick: () => void this.openSettings() },
      usersIcon(),
    );
    this.body = h("div", { class: "chat-body" });
    this.panel = h(
      "section",
      { id: "chat-panel", class: "chat-panel", hidden: true, "aria-label": "Chat", "data-chat-panel": true },
      h(
        "header",
        { class: "chat-head" },
        this.back,
        this.title,
        this.groupButton,
        h("button", { type: "button", class: "button button-quiet button-small", "aria-label": "Close chat", text: "✕", onclick: () => this.setOpen(false) }),
      ),
      this.body,
    );
    this.root = h("div", { class: "chat-widget", "data-chat-widget": true }, this.panel, this.toggle);
    this.toggle.addEventListener("click", () => this.setOpen(this.panel.hidden));
    this.panel.addEventListener("keydown", (e) => {
      if (e.key !== "Escape" || this.editing || this.replyTo) return;
      e.preventDefault();
      this.setOpen(false);
      this.toggle.focus();
    });
    document.body.append(this.root);
    this.listen();
    onConnect(() => void this.reload());
  }

  private setOpen(open: boolean): void {
    this.panel.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      if (this.open) this.markRead(this.open);
      this.render();
      void this.reload();
      // Keyboard users land in the panel, not back at the top of the page.
      this.panel.querySelector<HTMLElement>("[data-chat-input], .chat-body button, .chat-body input, .chat-head button")?.focus();
    }
  }

  private listen(): void {
    const s = this.socket;
    s.on("new_message", (m: Msg) => this.incoming(m, true));
    s.on("message_sent", (m: Msg) => this.incoming(m, false));
    s.on("message_updated", (m: Msg) => this.updated(m));
    s.on("user_typing", (t: { from: string; isTyping: boolean; groupId?: string }) => {
      const key = t.groupId ? `g:${t.groupId}` : `d:${t.from}`;
      if (t.isTyping) this.typing.set(`${key}|${t.from}`, Date.now() + 5000);
      else this.typing.delete(`${key}|${t.from}`);
      if (this.open === key) this.renderTyping();
      window.setTimeout(() => this.open === key && this.renderTyping(), 5100);
    });
    s.on("presence", (p: { username: string; status: string }) => {
      if (p.status === "online") this.online.add(p.username);
      else this.online.delete(p.username);
      const c = this.convs.get(`d:${p.username}`);
      if (c) {
        c.online = p.status === "online";
        this.render();
      }
    });
    s.on("online_users_list", (users: string[]) => {
      this.online = new Set(users);
    });
    s.on("messages_read", (r: { by: string; senderId?: string; upToSeq: number }) => {
      if (r.by === this.me || r.senderId === undefined) return;
      for (const m of this.messages.get(`d:${r.by}`) ?? []) {
        if (m.sender.username === this.me && m.seq <= r.upToSeq) m.read = true;
      }
      if (this.open === `d:${r.by}`) this.renderThread();
    });
    s.on("messages_delivered", (d: { to: string; messageIds: string[] }) => {
      const ids = new Set(d.messageIds);
      for (const m of this.messages.get(`d:${d.to}`) ?? []) if (ids.has(m.id)) m.delivered = true;
      if (this.open === `d:${d.to}`) this.renderThread();
    });
    s.on("group_updated", (g: { groupId: string }) => {
      void this.reload();
      if (this.settings?.groupId === g.groupId) void this.settings.refresh();
    });
    s.on("group_removed", (g: { groupId: string; name?: string; deleted?: boolean; by?: string }) => {
      const key = `g:${g.groupId}`;
      const name = g.name ?? this.convs.get(key)?.title ?? "the group";
      this.convs.delete(key);
      this.messages.delete(key);
      // What this person did themself they already know.
      if (g.by !== this.me) {
        const text = g.deleted ? `${g.by ?? "An admin"} deleted the group “${name}”.` : `You were removed from “${name}”.`;
        this.notice = text;
        if (this.settings?.groupId === g.groupId) this.settings.gone(text);
      }
      if (this.open === key) this.showList();
      else this.render();
      void this.reload();
    });
  }

  private keyOf(m: Msg): string {
    if (m.groupId) return `g:${m.groupId}`;
    const other = m.sender.username === this.me ? m.receiver?.username : m.sender.username;
    return `d:${other ?? "?"}`;
  }

  private incoming(m: Msg, notify: boolean): void {
    const key = this.keyOf(m);
    const list = this.messages.get(key);
    if (list) {
      if (list.some((x) => x.id === m.id)) return;
      list.push(m);
      list.sort((a, b) => a.seq - b.seq);
    }
    let c = this.convs.get(key);
    if (!c) {
      c = m.groupId
        ? { key, kind: "group", target: m.groupId, title: m.group?.name ?? "Group", unread: 0 }
        : { key, kind: "direct", target: key.slice(2), title: (m.sender.username === this.me ? m.receiver?.displayName : m.sender.displayName) ?? key.slice(2), unread: 0 };
      this.convs.set(key, c);
    }
    c.last = m;
    const mine = m.sender.username === this.me;
    const visible = !this.panel.hidden && this.open === key && document.visibilityState === "visible";
    if (!mine) {
      this.typing.delete(`${key}|${m.sender.username}`);
      if (visible) this.markRead(key, true);
      else {
        c.unread += 1;
        if (notify && !this.dnd) this.toast(c, m);
      }
    }
    this.render();
  }

  private updated(m: Msg): void {
    const key = this.keyOf(m);
    const list = this.messages.get(key);
    const at = list?.findIndex((x) => x.id === m.id) ?? -1;
    if (list && at >= 0) list[at] = m;
    const c = this.convs.get(key);
    if (c?.last?.id === m.id) c.last = m;
    if (this.open === key) this.renderThread();
    else this.render();
  }

  private toast(c: Conv, m: Msg): void {
    const text = m.deletedAt ? "" : textOf(m);
    const t = h(
      "button",
      { type: "button", class: "chat-toast", role: "status", "data-chat-toast": true, onclick: () => { t.remove(); this.setOpen(true); void this.openConv(c.key); } },
      h("strong", { text: c.kind === "group" ? `${m.sender.displayName} in ${c.title}` : m.sender.displayName }),
      h("span", { text: text.length > 90 ? `${text.slice(0, 90)}…` : text }),
    );
    let stack = document.querySelector<HTMLElement>(".chat-toasts");
    if (!stack) {
      stack = h("div", { class: "chat-toasts", "aria-live": "polite" });
      document.body.append(stack);
    }
    stack.append(t);
    window.setTimeout(() => t.remove(), 6000);
  }

  /** Reloads conversations (and the open thread): on start and after every reconnect. */
  private async reload(): Promise<void> {
    try {
      const [groups, recent, settings] = await Promise.all([
        get<Array<{ id: string; name: string; public: boolean; isAdmin: boolean; unreadCount: number; lastMessage: Msg | null; members: UserRef[] }>>("/api/groups"),
        get<Array<{ username: string; displayName: string; online: boolean; unreadCount: number; lastMessage: Msg; avatar?: string | null }>>("/api/chat/recent"),
        get<{ settings: { dnd: boolean }; user: UserRef }>("/api/chat/settings"),
      ]);
      this.dnd = settings.settings.dnd;
      this.myId = settings.user.id;
      const next = new Map<string, Conv>();
      for (const g of groups) {
        next.set(`g:${g.id}`, { key: `g:${g.id}`, kind: "group", target: g.id, title: g.name, unread: g.unreadCount, last: g.lastMessage, isPublic: g.public, isAdmin: g.isAdmin, members: g.members });
      }
      for (const r of recent) {
        next.set(`d:${r.username}`, { key: `d:${r.username}`, kind: "direct", target: r.username, title: r.displayName, unread: r.unreadCount, last: r.lastMessage, online: r.online, avatar: r.avatar });
      }
      for (const [key, c] of this.convs) if (!next.has(key) && c.kind === "direct") next.set(key, { ...c, unread: 0 });
      this.convs = next;
      const online = await request<{ users: string[] }>("get_online_users", null);
      if (online.ok) this.online = new Set(online.users);
      if (this.open) await this.loadHistory(this.open);
      this.render();
    } catch (e) {
      this.body.replaceChildren(h("p", { class: "chat-empty", text: `Chat is unavailable: ${messageOf(e)}` }));
    }
  }

  private async loadHistory(key: string): Promise<void> {
    const c = this.convs.get(key);
    if (!c) return;
    const path = c.kind === "group"
      ? `/api/chat/history/group?groupId=${encodeURIComponent(c.target)}&limit=100`
      : `/api/chat/history?username=${encodeURIComponent(c.target)}&limit=100`;
    this.messages.set(key, await get<Msg[]>(path));
  }

  private async openConv(key: string): Promise<void> {
    this.open = key;
    this.notice = null;
    this.replyTo = null;
    this.editing = null;
    try {
      await this.loadHistory(key);
    } catch (e) {
      this.toastError(messageOf(e));
    }
    this.markRead(key, true);
    this.render();
    this.body.querySelector<HTMLTextAreaElement>("textarea")?.focus();
  }

  /** Marks `key` read here and on the server (`force`: even when nothing is unread here). */
  private markRead(key: string, force = false): void {
    const c = this.convs.get(key);
    if (!c || (c.unread === 0 && !force)) return;
    c.unread = 0;
    const payload = c.kind === "group" ? { groupId: c.target } : { username: c.target };
    void request("mark_read", payload);
    this.renderBadge();
  }

  private showList(): void {
    this.open = null;
    this.render();
  }

  private renderBadge(): void {
    const total = [...this.convs.values()].reduce((n, c) => n + c.unread, 0);
    this.badge.hidden = total === 0;
    this.badge.textContent = total > 99 ? "99+" : String(total);
    this.toggle.setAttribute("aria-label", total ? `Chat, ${total} unread` : "Chat");
  }

  private render(): void {
    this.renderBadge();
    if (this.panel.hidden) return;
    if (this.open) this.renderThread();
    else this.renderList();
  }

  private renderList(): void {
    this.title.textContent = "Chat";
    this.back.hidden = true;
    this.groupButton.hidden = true;
    const convs = [...this.convs.values()].sort((a, b) => {
      if (a.isPublic !== b.isPublic) return a.isPublic ? -1 : 1;
      return (b.last?.seq ?? 0) - (a.last?.seq ?? 0);
    });
    const search = h("input", { class: "input", type: "search", placeholder: "Message someone…", "aria-label": "Find a person to message", "data-chat-search": true });
    const results = h("ul", { class: "chat-results" });
    let timer = 0;
    search.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(async () => {
        const q = search.value.trim();
        if (q.length < 2) return fill(results);
        const users = await get<Array<UserRef & { online: boolean }>>(`/api/users/search?q=${encodeURIComponent(q)}`).catch(() => []);
        fill(results, users.map((u) => h("li", null, h("button", { type: "button", class: "chat-result", onclick: () => this.startDirect(u) }, presenceDot(u.online), ` ${u.displayName} `, h("span", { class: "muted small", text: `@${u.username}` })))));
      }, 200);
    });
    const items = convs.map((c) =>
      h(
        "li",
        null,
        h(
          "button",
          { type: "button", class: "chat-conv", "data-conv": c.key, onclick: () => void this.openConv(c.key) },
          c.avatar
            ? h("img", { class: "chat-avatar", src: c.avatar, alt: "" })
            : h("span", { class: "chat-avatar", "aria-hidden": "true", text: c.kind === "group" ? "#" : c.title.slice(0, 1).toUpperCase() }),
          h(
            "span",
            { class: "chat-conv-main" },
            h("span", { class: "chat-conv-title" }, c.kind === "direct" ? presenceDot(c.online ?? this.online.has(c.target)) : null, c.title),
            h("span", { class: "chat-conv-last muted small", text: c.last ? preview(c.last) : c.isPublic ? "Everyone is here" : "No messages yet" }),
          ),
          c.unread ? h("span", { class: "chat-unread", "aria-label": `${c.unread} unread`, text: String(c.unread) }) : null,
        ),
      ),
    );
    fill(
      this.body,
      this.notice ? h("p", { class: "chat-notice", role: "status", "data-chat-notice": true, text: this.notice }) : null,
      h("div", { class: "chat-tools" }, search, h("button", { type: "button", class: "button button-quiet button-small", text: "New group", onclick: () => this.renderNewGroup() })),
      results,
      items.length ? h("ul", { class: "chat-convs" }, items) : h("p", { class: "chat-empty", text: "No conversations yet." }),
    );
  }

  private startDirect(u: UserRef): void {
    const key = `d:${u.username}`;
    if (!this.convs.has(key)) this.convs.set(key, { key, kind: "direct", target: u.username, title: u.displayName, unread: 0, avatar: u.avatar });
    void this.openConv(key);
  }

  private renderNewGroup(): void {
    this.title.textContent = "New group";
    this.back.hidden = false;
    this.groupButton.hidden = true;
    const picked = new Map<string, UserRef>();
    const name = h("input", { class: "input", placeholder: "Group name", "aria-label": "Group name", maxlength: 100 });
    const search = h("input", { class: "input", type: "search", placeholder: "Add people…", "aria-label": "Add people" });
    const chosen = h("div", { class: "chat-chips" });
    const results = h("ul", { class: "chat-results" });
    const error = h("p", { class: "chat-error", role: "alert" });
    const drawChosen = () => fill(chosen, [...picked.values()].map((u) => h("button", { type: "button", class: "chat-chip", onclick: () => { picked.delete(u.id); drawChosen(); } }, `${u.displayName} ✕`)));
    search.addEventListener("input", async () => {
      const q = search.value.trim();
      if (q.length < 2) return fill(results);
      const users = await get<UserRef[]>(`/api/users/search?q=${encodeURIComponent(q)}`).catch(() => []);
      fill(results, users.map((u) => h("li", null, h("button", { type: "button", class: "chat-result", onclick: () => { picked.set(u.id, u); drawChosen(); } }, `${u.displayName} @${u.username}`))));
    });
    const create = h("button", {
      type: "button",
      class: "button button-primary",
      text: "Create group",
      onclick: async () => {
        try {
          const g = await api<{ id: string; name: string }>("POST", "/api/groups", { name: name.value, memberIds: [...picked.keys()] });
          this.convs.set(`g:${g.id}`, { key: `g:${g.id}`, kind: "group", target: g.id, title: g.name, unread: 0, isAdmin: true });
          await this.openConv(`g:${g.id}`);
        } catch (e) {
          error.textContent = messageOf(e);
        }
      },
    });
    fill(this.body, h("div", { class: "chat-form" }, name, search, chosen, results, error, create));
    name.focus();
  }

  /** Opens the Group settings dialog of the open group. */
  private async openSettings(): Promise<void> {
    const c = this.open ? this.convs.get(this.open) : undefined;
    if (!c || c.kind !== "group") return;
    try {
      this.settings = await openGroupSettings({
        groupId: c.target,
        myId: this.myId,
        onChanged: (g) => {
          const conv = this.convs.get(`g:${g.id}`);
          if (!conv) return;
          conv.title = g.name;
          conv.isAdmin = g.isAdmin;
          conv.members = g.members;
          if (this.open === conv.key) this.title.textContent = `# ${g.name}`;
        },
        onGone: (g, deleted) => {
          this.convs.delete(`g:${g.id}`);
          this.messages.delete(`g:${g.id}`);
          this.notice = deleted ? `You deleted the group “${g.name}”.` : `You left “${g.name}”.`;
          this.showList();
          // The dialog gives focus back to the header's button, hidden now: the list takes it.
          window.setTimeout(() => this.body.querySelector<HTMLElement>("[data-chat-search]")?.focus(), 0);
        },
        onClosed: () => (this.settings = null),
      });
    } catch (e) {
      this.toastError(messageOf(e));
    }
  }

  private renderThread(): void {
    const key = this.open;
    if (!key) return;
    const c = this.convs.get(key);
    if (!c) return this.showList();
    this.title.textContent = c.kind === "group" ? `# ${c.title}` : c.title;
    this.back.hidden = false;
    // The public channel has everyone and no one to manage.
    this.groupButton.hidden = c.kind !== "group" || Boolean(c.isPublic);
    const list = this.messages.get(key) ?? [];
    const log = h("ol", { class: "chat-log", "aria-label": `Messages with ${c.title}`, "data-chat-log": true });
    const lastMine = [...list].reverse().find((m) => m.sender.username === this.me);
    const carded = new Set(list.slice(-CARD_RECENT));
    for (const m of list) log.append(this.messageItem(m, c, m === lastMine, carded.has(m)));
    const input = h("textarea", { class: "input chat-input", rows: 2, placeholder: `Message ${c.title}`, "aria-label": "Message", maxlength: 5000, "data-chat-input": true });
    if (this.editing) input.value = contentText(this.editing.content);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        void this.submit(c, input);
      } else if (e.key === "Escape") {
        this.editing = null;
        this.replyTo = null;
        this.renderThread();
      }
    });
    input.addEventListener("input", () => this.sendTyping(c, input.value.length > 0));
    const note = this.editing
      ? h("div", { class: "chat-note" }, "Editing your message ", h("button", { type: "button", class: "button button-quiet button-small", text: "Cancel", onclick: () => { this.editing = null; this.renderThread(); } }))
      : this.replyTo
        ? h("div", { class: "chat-note" }, `Replying to ${this.replyTo.sender.displayName}: ${contentText(this.replyTo.content).slice(0, 60)} `, h("button", { type: "button", class: "button button-quiet button-small", text: "Cancel", onclick: () => { this.replyTo = null; this.renderThread(); } }))
        : null;
    const typing = h("p", { class: "chat-typing muted small", "aria-live": "polite", "data-chat-typing": true });
    const picker = h("input", { type: "file", accept: ACCEPT_ALL, multiple: true, hidden: true, "data-chat-file": true });
    picker.addEventListener("change", () => {
      this.attach(c.key, [...(picker.files ?? [])]);
      picker.value = "";
    });
    const clip = this.editing
      ? null
      : h("button", { type: "button", class: "button button-quiet chat-attach", "aria-label": "Attach a picture or PDF", title: "Attach a picture or PDF", "data-chat-attach": true, onclick: () => picker.click() }, clipIcon());
    const form = h(
      "form",
      { class: "chat-compose", onsubmit: (e: Event) => { e.preventDefault(); void this.submit(c, input); } },
      note,
      h("ul", { class: "chat-pending", "aria-label": "Files for this message", "data-chat-pending": true }),
      clip,
      picker,
      input,
      h("button", { type: "submit", class: "button button-primary", text: this.editing ? "Save" : "Send", "data-chat-send": true }),
    );
    if (!this.editing) {
      form.addEventListener("dragover", (e) => {
        if (!e.dataTransfer?.types.includes("Files")) return;
        e.preventDefault();
        form.classList.add("is-dropping");
      });
      form.addEventListener("dragleave", (e) => {
        if (!form.contains(e.relatedTarget as Node | null)) form.classList.remove("is-dropping");
      });
      form.addEventListener("drop", (e) => {
        form.classList.remove("is-dropping");
        const files = filesOf(e.dataTransfer);
        if (!files.length) return;
        e.preventDefault();
        this.attach(c.key, files);
      });
      input.addEventListener("paste", (e) => {
        const files = filesOf(e.clipboardData);
        if (!files.length) return;
        e.preventDefault();
        this.attach(c.key, files);
      });
    }
    fill(this.body, log, typing, form);
    this.renderPending(c.key);
    this.renderTyping();
    log.scrollTop = log.scrollHeight;
    // Pictures and link cards arrive after the thread is drawn: a reader at the end stays at
    // the end as they push the messages up.
    let atEnd = true;
    log.addEventListener("scroll", () => (atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40));
    const keep = () => {
      if (atEnd) log.scrollTop = log.scrollHeight;
    };
    log.addEventListener("load", keep, true);
    log.addEventListener("chat:grew", keep);
    const active = document.activeElement;
    if (!active || active === document.body) input.focus();
  }

  /** Uploads files for the next message of `key`, each shown with its progress. */
  private attach(key: string, files: File[]): void {
    const list = this.pending.get(key) ?? [];
    this.pending.set(key, list);
    for (const file of files) {
      const p: Pending = { key: ++pendingKeys, name: file.name, fraction: 0, started: Date.now() };
      list.push(p);
      void uploadFile(file, {
        onProgress: (f) => {
          p.fraction = f;
          this.renderPending(key);
        },
      })
        .then((up) => {
          p.upload = up;
          announce(`${up.name} is ready to send.`);
        })
        .catch((e: unknown) => {
          p.error = messageOf(e);
          announce(`${file.name} was not attached: ${p.error}`);
        })
        .finally(() => this.renderPending(key));
    }
    this.renderPending(key);
  }

  private renderPending(key: string): void {
    const el = this.body.querySelector<HTMLElement>("[data-chat-pending]");
    if (!el || this.open !== key) return;
    const list = this.pending.get(key) ?? [];
    const drop = (p: Pending) => {
      this.pending.set(key, list.filter((x) => x !== p));
      this.renderPending(key);
      // A file uploaded for this message and never sent goes, and frees its space; the same
      // file uploaded earlier (and maybe sent) stays.
      if (p.upload && p.upload.createdAt >= p.started - 2000) {
        void api("DELETE", `/api/uploads/${encodeURIComponent(p.upload.id)}`).catch(() => undefined);
      }
    };
    fill(
      el,
      ...list.map((p) =>
        h(
          "li",
          { class: `chat-file${p.error ? " is-error" : ""}`, "data-pending": p.upload ? "done" : p.error ? "error" : "uploading" },
          h("span", { class: "chat-file-name", title: p.name, text: p.name }),
          p.error
            ? h("span", { class: "chat-file-error", role: "alert", text: p.error })
            : p.upload
              ? h("span", { class: "muted small", text: fileSize(p.upload.size) })
              : h("progress", { max: 1, value: p.fraction, "aria-label": `Uploading ${p.name}` }),
          h("button", { type: "button", class: "chat-file-remove", "aria-label": `Remove ${p.name}`, text: "✕", onclick: () => drop(p) }),
        ),
      ),
    );
    el.hidden = list.length === 0;
  }

  private attachmentsOf(m: Msg): HTMLElement | null {
    const list = m.deletedAt ? [] : (m.metadata?.attachments ?? []);
    if (!list.length) return null;
    return h(
      "div",
      { class: "chat-attachments" },
      list.map((a) => {
        if (a.contentType.startsWith("image/")) {
          const img = h("img", { class: "chat-image", src: a.url, alt: a.name, loading: "lazy" });
          const link = h("a", { href: a.url, target: "_blank", rel: "noopener", title: `${a.name} · ${fileSize(a.size)}`, "data-chat-image": true }, img);
          // A picture its uploader deleted.
          img.addEventListener("error", () => link.replaceWith(h("span", { class: "chat-file is-gone", text: `${a.name} (no longer available)` })));
          return link;
        }
        return h("a", { class: "chat-file", href: a.url, download: a.name, title: `${a.name} · ${fileSize(a.size)}`, "data-chat-download": true }, fileIcon(), h("span", { class: "chat-file-name", text: a.name }), h("span", { class: "muted small chat-file-size", text: fileSize(a.size) }));
      }),
    );
  }

  /** The preview card of a message's first link, filled in when it arrives. */
  private linkCard(m: Msg): HTMLElement | null {
    if (m.deletedAt) return null;
    const url = firstLink(m.content);
    if (!url) return null;
    const slot = h("div", { class: "chat-card-slot" });
    void cardOf(url).then((card) => {
      if (!card || !card.title) return;
      const img = card.imageUrl ? h("img", { class: "chat-card-image", src: card.imageUrl, alt: "", loading: "lazy" }) : null;
      img?.addEventListener("error", () => img.remove());
      slot.addEventListener("load", () => slot.dispatchEvent(new Event("chat:grew", { bubbles: true })), { once: true, capture: true });
      fill(
        slot,
        h(
          "a",
          { class: "chat-card", href: card.url, target: "_blank", rel: "noopener noreferrer nofollow", "data-chat-card": true },
          img,
          h(
            "span",
            { class: "chat-card-text" },
            card.siteName ? h("span", { class: "chat-card-site", text: card.siteName }) : null,
            h("strong", { class: "chat-card-title", text: card.title }),
            card.description ? h("span", { class: "chat-card-desc", text: card.description }) : null,
          ),
        ),
      );
      slot.dispatchEvent(new Event("chat:grew", { bubbles: true }));
    });
    return slot;
  }

  private messageItem(m: Msg, c: Conv, lastMine: boolean, withCard = false): HTMLElement {
    const mine = m.sender.username === this.me;
    const content = h("div", { class: "chat-content" });
    if (m.deletedAt) content.append(h("em", { class: "muted", text: "This message was deleted." }));
    else content.append(contentFragment(m.content));
    const reply = m.replyTo ? h("blockquote", { class: "chat-quote" }, h("strong", { text: m.replyTo.sender?.displayName ?? "" }), " ", contentText(m.replyTo.content).slice(0, 80)) : null;
    const counts = new Map<string, { n: number; mine: boolean; who: string[] }>();
    for (const r of m.reactions ?? []) {
      const e = counts.get(r.emoji) ?? { n: 0, mine: false, who: [] };
      e.n += 1;
      e.mine ||= r.userId === this.myId;
      if (r.user) e.who.push(r.user.username);
      counts.set(r.emoji, e);
    }
    const reactions = counts.size
      ? h("div", { class: "chat-reactions" }, [...counts].map(([emoji, e]) => h("button", { type: "button", class: `chat-reaction${e.mine ? " is-mine" : ""}`, "aria-pressed": String(e.mine), title: e.who.join(", "), "data-reaction": emoji, onclick: () => void this.react(m, emoji) }, `${emoji} ${e.n}`)))
      : null;
    const actions = m.deletedAt
      ? null
      : h(
          "div",
          { class: "chat-actions", role: "group", "aria-label": "Message actions" },
          QUICK.map((emoji) => h("button", { type: "button", class: "chat-act", "aria-label": `React ${emoji}`, "data-react": emoji, text: emoji, onclick: () => void this.react(m, emoji) })),
          h("button", { type: "button", class: "chat-act", text: "Reply", onclick: () => { this.replyTo = m; this.editing = null; this.renderThread(); } }),
          mine ? h("button", { type: "button", class: "chat-act", text: "Edit", "data-edit": true, onclick: () => { this.editing = m; this.replyTo = null; this.renderThread(); } }) : null,
          mine ? h("button", { type: "button", class: "chat-act chat-act-danger", text: "Delete", "data-delete": true, onclick: () => void this.remove(m) }) : null,
        );
    const status = mine && lastMine && c.kind === "direct" ? h("span", { class: "chat-status muted small", text: m.read ? "Seen" : m.delivered ? "Delivered" : "Sent" }) : null;
    return h(
      "li",
      { class: `chat-msg${mine ? " is-mine" : ""}`, "data-message": m.id },
      h("div", { class: "chat-meta small" }, h("strong", { text: mine ? "You" : m.sender.displayName }), " ", h("time", { class: "muted", dateTime: m.createdAt, text: new Date(m.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) }), m.editedAt && !m.deletedAt ? h("span", { class: "muted", text: " · edited" }) : null),
      reply,
      content,
      withCard ? this.linkCard(m) : null,
      this.attachmentsOf(m),
      reactions,
      actions,
      status,
    );
  }

  private renderTyping(): void {
    const el = this.body.querySelector<HTMLElement>("[data-chat-typing]");
    if (!el || !this.open) return;
    const now = Date.now();
    const who = [...this.typing].filter(([k, until]) => k.startsWith(`${this.open}|`) && until > now).map(([k]) => k.split("|")[1]);
    el.textContent = who.length ? `${who.join(", ")} ${who.length > 1 ? "are" : "is"} typing…` : "";
  }

  private sendTyping(c: Conv, typing: boolean): void {
    const now = Date.now();
    if (typing && now - this.lastTypingSent < 2000) return;
    this.lastTypingSent = typing ? now : 0;
    const to = c.kind === "group" ? { groupId: c.target } : { to: c.target };
    void request("typing", { ...to, isTyping: typing });
  }

  private async submit(c: Conv, input: HTMLTextAreaElement): Promise<void> {
    const text = input.value.trim();
    const files = this.editing ? [] : (this.pending.get(c.key) ?? []);
    if (files.some((p) => !p.upload && !p.error)) {
      this.toastError("Wait for the files to finish uploading.");
      return;
    }
    const attachments = files.flatMap((p) => (p.upload ? [p.upload.id] : []));
    if (!text && !attachments.length) return;
    input.value = "";
    if (!this.editing) this.pending.delete(c.key);
    this.sendTyping(c, false);
    const editing = this.editing;
    const replyTo = this.replyTo;
    this.editing = null;
    this.replyTo = null;
    // One at a time: the next message leaves when the previous one is stored.
    this.sending = this.sending.then(async () => {
      const ack: Ack = editing
        ? await request("edit_message", { messageId: editing.id, content: text })
        : await request("send_message", { ...(c.kind === "group" ? { groupId: c.target } : { to: c.target }), content: text, replyToId: replyTo?.id, ...(attachments.length ? { attachments } : {}) });
      if (!ack.ok) {
        this.toastError(ack.error.message);
        input.value = text;
        // Nothing is lost: the files wait for the next try.
        if (files.length) this.pending.set(c.key, files);
      }
      this.renderThread();
    });
    await this.sending;
  }

  private async react(m: Msg, emoji: string): Promise<void> {
    const ack = await request("add_reaction", { messageId: m.id, emoji });
    if (!ack.ok) this.toastError(ack.error.message);
  }

  private async remove(m: Msg): Promise<void> {
    if (!window.confirm("Delete this message for everyone?")) return;
    const ack = await request("delete_message", { messageId: m.id });
    if (!ack.ok) this.toastError(ack.error.message);
  }

  private toastError(text: string): void {
    const t = h("div", { class: "toast", role: "alert", text });
    document.body.append(t);
    window.setTimeout(() => t.remove(), 4000);
  }
}

function chatIcon(): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M4 5h16v10H9l-5 4z");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

function presenceDot(online: boolean | undefined): HTMLElement {
  return h("span", { class: `chat-dot${online ? " is-online" : ""}`, role: "img", "aria-label": online ? "online" : "offline" });
}

/** A line icon drawn with `d` (stroked in the text colour). */
function icon(d: string): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "chat-clip");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

const usersIcon = () => icon("M16 20v-1.5a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4V20M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM22 20v-1.5a4 4 0 0 0-3-3.9M15.5 4.1a3.5 3.5 0 0 1 0 6.8");
const clipIcon = () => icon("M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9");
const fileIcon = () => icon("M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5M9 13h6M9 17h6");

/** The text of a message, or what it carries when it has none. */
function textOf(m: Msg): string {
  const text = contentText(m.content);
  if (text.trim()) return text;
  const files = m.metadata?.attachments ?? [];
  return files.length ? `📎 ${files.map((a) => a.name).join(", ")}` : text;
}

function preview(m: Msg): string {
  if (m.deletedAt) return "Message deleted";
  const text = textOf(m);
  return `${m.sender.displayName}: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`;
}

const user = bootUser();
const socket = user ? initLive(document) : null;
if (user && socket) new ChatWidget(user.username, socket);

// A person's settings: the theme (kept in this browser), chat preferences (do not disturb, who
// may message me, whether others see me online), the people I blocked (with Unblock, and a way
// to block someone), and the sessions I am signed in with (revoke one, or all but this one).
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { DataTable } from "../ui/table";
import { confirmAction } from "../ui/dialog";
import { bool, clearErrors, field, formAlert, showServerError, str } from "../ui/form";
import { ago, dateTime, device, plural } from "../ui/format";
import { applyTheme } from "../theme";

initShell<Boot>();

// ---- Appearance ----
const themeForm = must<HTMLFormElement>("[data-theme-form]");
const current = (document.documentElement.dataset.theme as "system" | "light" | "dark" | undefined) ?? "system";
const radio = themeForm.querySelector<HTMLInputElement>(`input[value="${current}"]`) ?? themeForm.querySelector<HTMLInputElement>('input[value="system"]');
if (radio) radio.checked = true;
themeForm.addEventListener("change", (e) => {
  const v = (e.target as HTMLInputElement).value as "system" | "light" | "dark";
  applyTheme(document, v);
  announce(`Theme: ${v === "system" ? "like the system" : v}.`);
});

// ---- Chat ----
interface ChatSettings {
  dnd: boolean;
  allowMessagesFrom: "everyone" | "none";
  showOnlineStatus: boolean;
}
interface UserRef {
  id: string;
  username: string;
  displayName: string;
}

async function loadChat(): Promise<void> {
  const root = must("[data-chat-settings]");
  let s: { settings: ChatSettings; blocked: UserRef[] };
  try {
    s = await get("/api/chat/settings");
  } catch (e) {
    fill(root, h("p", { class: "alert alert-error card-note", text: `Your chat settings could not be loaded: ${messageOf(e)}` }));
    return;
  }
  const form = h(
    "form",
    { class: "settings-form", novalidate: true, "aria-label": "Chat preferences" },
    h(
      "div",
      { class: "form-grid" },
      field({ label: "Do not disturb (no pop-up notices for new messages)", name: "dnd", type: "checkbox", value: s.settings.dnd, class: "span-all" }),
      field({ label: "Others see when I am online", name: "showOnlineStatus", type: "checkbox", value: s.settings.showOnlineStatus, class: "span-all" }),
      field({
        label: "Who may send me direct messages",
        name: "allowMessagesFrom",
        options: [["everyone", "Everyone I haven't blocked"], ["none", "Nobody (groups still reach me)"]],
        value: s.settings.allowMessagesFrom,
      }),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button button-primary", text: "Save" })),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      await api("PUT", "/api/chat/settings", { dnd: bool(form, "dnd"), showOnlineStatus: bool(form, "showOnlineStatus"), allowMessagesFrom: str(form, "allowMessagesFrom") });
      formAlert(form, "Saved.", "ok");
      announce("Chat settings saved.");
    } catch (err) {
      showServerError(form, err as ApiError);
    }
  });
  fill(root, form);
  renderBlocks(s.blocked);
}

// ---- Blocks ----
function renderBlocks(blocked: UserRef[]): void {
  const root = must("[data-blocks]");
  const add = h(
    "form",
    { class: "inline-form", novalidate: true, "aria-label": "Block someone" },
    field({ label: "Block someone", name: "username", placeholder: "Their user name", autocomplete: "off" }),
    h("button", { type: "submit", class: "button", text: "Block" }),
  );
  add.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(add);
    const username = str(add, "username");
    if (!username) return;
    try {
      await api("POST", "/api/chat/blocks", { username });
      announce(`${username} is blocked.`);
      void loadChat();
    } catch (err) {
      const e = err as ApiError;
      showServerError(add, e.status === 404 ? { message: `Nobody called “${username}” has used Uma yet.`, field: "username" } : e);
    }
  });
  fill(
    root,
    blocked.length
      ? h(
          "ul",
          { class: "block-list" },
          ...blocked.map((u) =>
            h(
              "li",
              {},
              h("span", {}, h("strong", { text: u.displayName }), h("span", { class: "muted small", text: ` ${u.username}` })),
              h("button", {
                type: "button",
                class: "button button-small",
                text: "Unblock",
                "aria-label": `Unblock ${u.displayName}`,
                onclick: async () => {
                  try {
                    await api("DELETE", `/api/chat/blocks/${encodeURIComponent(u.username)}`);
                    announce(`${u.displayName} is unblocked.`);
                    void loadChat();
                  } catch (err) {
                    fill(must("[data-settings-alert]"), h("p", { class: "alert alert-error", role: "alert", text: messageOf(err) }));
                  }
                },
              }),
            ),
          ),
        )
      : h("p", { class: "muted small card-note", text: "You have blocked nobody." }),
    add,
  );
}

// ---- Sessions ----
interface Session {
  id: string;
  ipAddress: string | null;
  userAgent: string | null;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  sockets: number;
  current: boolean;
}

const sessions = new DataTable<Session>({
  caption: "Your sessions",
  key: (s) => s.id,
  empty: () => "No session.",
  columns: [
    { id: "device", label: "Browser", class: "col-name", render: (td, s) => fill(td, h("strong", { text: device(s.userAgent) }), s.current ? " " : null, s.current ? h("span", { class: "pill pill-info", text: "this one" }) : null) },
    { id: "ip", label: "Address", render: (td, s) => setText(td, s.ipAddress ?? "—") },
    { id: "since", label: "Signed in", render: (td, s) => setText(td, dateTime(s.createdAt)) },
    { id: "seen", label: "Last active", render: (td, s) => setText(td, s.current ? "now" : ago(s.lastSeenAt)) },
    { id: "open", label: "Open pages", class: "num", render: (td, s) => setText(td, String(s.sockets)) },
    {
      id: "act",
      label: "Actions",
      hideLabel: true,
      class: "actions",
      render: (td, s) =>
        fill(
          td,
          s.current
            ? null
            : h("button", {
                type: "button",
                class: "button button-small button-danger-quiet",
                text: "Sign out",
                "aria-label": `Sign out ${device(s.userAgent)} from ${s.ipAddress ?? "an unknown address"}`,
                onclick: () => void revoke(s),
              }),
        ),
    },
  ],
});
must("[data-sessions]").append(sessions.el);

async function loadSessions(): Promise<void> {
  try {
    const r = await get<{ sessions: Session[] }>("/api/sessions");
    sessions.set(r.sessions);
    const others = r.sessions.filter((s) => !s.current).length;
    setText(must("[data-session-count]"), others ? `${plural(others, "other session")} besides this one` : "Only this one");
    must<HTMLButtonElement>("[data-revoke-others]").disabled = others === 0;
  } catch (e) {
    fill(must("[data-settings-alert]"), h("p", { class: "alert alert-error", role: "alert", text: `Your sessions could not be loaded: ${messageOf(e)}` }));
  }
}

async function revoke(s: Session): Promise<void> {
  try {
    await api("DELETE", `/api/sessions/${encodeURIComponent(s.id)}`);
    announce("Signed out there.");
  } catch (e) {
    fill(must("[data-settings-alert]"), h("p", { class: "alert alert-error", role: "alert", text: messageOf(e) }));
  }
  void loadSessions();
}

must("[data-revoke-others]").addEventListener("click", async () => {
  const ok = await confirmAction({
    title: "Sign out everywhere else?",
    message: "Every other browser signed in as you is signed out at once; this one stays.",
    confirmLabel: "Sign out the others",
    danger: true,
  });
  if (!ok) return;
  try {
    const r = await api<{ revoked: number }>("POST", "/api/sessions/revoke-others", {});
    fill(must("[data-settings-alert]"), h("p", { class: "alert alert-ok", role: "status", text: `Signed out of ${plural(r.revoked, "other session")}.` }));
  } catch (e) {
    fill(must("[data-settings-alert]"), h("p", { class: "alert alert-error", role: "alert", text: messageOf(e) }));
  }
  void loadSessions();
});

void loadChat();
void loadSessions();

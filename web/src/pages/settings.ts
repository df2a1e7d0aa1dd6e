// A person's settings: their profile (the name others see, a picture), their password (local
// accounts), the theme (kept with the profile), chat preferences (do not disturb, who
// may message me, whether others see me online), the people I blocked (with Unblock, and a way
// to block someone), and the sessions I am signed in with (revoke one, or all but this one).
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { DataTable } from "../ui/table";
import { confirmAction } from "../ui/dialog";
import { bool, clearErrors, field, formAlert, showServerError, str, validate } from "../ui/form";
import { ago, dateTime, device, plural } from "../ui/format";
import { applyTheme, saveTheme } from "../theme";
import { ACCEPT_IMAGES, uploadFile } from "../ui/upload";
import { suggestNames } from "../ui/suggest";
import { mountSecurity } from "./settings-security";

const me = initShell<Boot>().user;

// ---- Profile ----
interface Profile {
  username: string;
  displayName: string | null;
  avatar: string | null;
  theme: "system" | "light" | "dark";
  localAccount: boolean;
}

/** A round picture, or the first letter of the name when there is none. */
function avatarOf(p: Profile): HTMLElement {
  const name = p.displayName ?? p.username;
  return p.avatar
    ? h("img", { class: "avatar avatar-large", src: p.avatar, alt: "" })
    : h("span", { class: "avatar avatar-large", "aria-hidden": "true", text: name.slice(0, 1).toUpperCase() });
}

function renderProfile(p: Profile): void {
  const root = must("[data-profile]");
  const picture = h("div", { class: "avatar-row", "data-avatar": true }, avatarOf(p));
  const file = h("input", { type: "file", accept: ACCEPT_IMAGES, class: "sr-only", tabindex: -1, id: "avatar-file", "aria-label": "Choose a picture" });
  const progress = h("span", { class: "muted small", role: "status", "aria-live": "polite" });
  const choose = h("button", { type: "button", class: "button button-small", text: p.avatar ? "Change picture…" : "Add a picture…", onclick: () => file.click() });
  const remove = p.avatar ? h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Remove picture", onclick: () => void save({ avatar: null }, "Picture removed.") }) : null;
  picture.append(h("div", { class: "button-row" }, choose, remove, progress), file);
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    if (!f) return;
    try {
      const up = await uploadFile(f, { onProgress: (x) => setText(progress, `Uploading… ${Math.round(x * 100)} %`) });
      setText(progress, "");
      await save({ avatar: up.id }, "Picture saved.");
    } catch (e) {
      setText(progress, "");
      formAlert(form, messageOf(e));
    }
  });
  const form = h(
    "form",
    { class: "settings-form", novalidate: true, "aria-label": "Profile" },
    picture,
    h(
      "div",
      { class: "form-grid" },
      field({ label: "Display name", name: "displayName", value: p.displayName ?? "", maxlength: 64, placeholder: p.username, hint: `Shown instead of your user name, ${p.username}. Empty shows the user name.` }),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button button-primary", text: "Save" })),
  );
  const save = async (patch: Record<string, unknown>, done: string): Promise<void> => {
    clearErrors(form);
    try {
      const next = await api<Profile>("PUT", "/api/profile", patch);
      renderProfile(next);
      const again = must("[data-profile] form");
      formAlert(again, done, "ok");
      announce(done);
    } catch (err) {
      showServerError(form, err as ApiError);
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void save({ displayName: str(form, "displayName") || null }, "Profile saved. Your name shows everywhere at once.");
  });
  fill(root, form);
}

// ---- Password (local accounts) ----
function renderPassword(): void {
  must("[data-password-card]").hidden = false;
  const form = h(
    "form",
    { class: "settings-form", novalidate: true, "aria-label": "Change your password" },
    h("input", { name: "username", autocomplete: "username", hidden: true, readonly: true, value: me.username }),
    h(
      "div",
      { class: "form-grid" },
      field({ label: "Current password", name: "current", type: "password", required: true, autocomplete: "current-password" }),
      field({ label: "New password", name: "password", type: "password", required: true, autocomplete: "new-password", hint: "At least 8 characters." }),
      field({ label: "The new one again", name: "again", type: "password", required: true, autocomplete: "new-password" }),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button button-primary", text: "Change password" })),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    if (str(form, "password") !== str(form, "again")) {
      showServerError(form, { message: "The two new passwords differ.", field: "again" });
      return;
    }
    try {
      const r = await api<{ ended: number }>("POST", "/api/account/password", { current: str(form, "current"), password: str(form, "password") });
      form.reset();
      const text = `Password changed.${r.ended ? ` ${plural(r.ended, "other session")} ended.` : ""}`;
      formAlert(form, text, "ok");
      announce(text);
      void loadSessions();
    } catch (err) {
      showServerError(form, err as ApiError);
    }
  });
  fill(must("[data-password]"), form);
}

async function loadProfile(): Promise<void> {
  try {
    const p = await get<Profile>("/api/profile");
    renderProfile(p);
    if (p.localAccount) renderPassword();
  } catch (e) {
    fill(must("[data-profile]"), h("p", { class: "alert alert-error card-note", text: `Your profile could not be loaded: ${messageOf(e)}` }));
  }
}

// ---- Appearance ----
const themeForm = must<HTMLFormElement>("[data-theme-form]");
const current = (document.documentElement.dataset.theme as "system" | "light" | "dark" | undefined) ?? "system";
const radio = themeForm.querySelector<HTMLInputElement>(`input[value="${current}"]`) ?? themeForm.querySelector<HTMLInputElement>('input[value="system"]');
if (radio) radio.checked = true;
themeForm.addEventListener("change", (e) => {
  const v = (e.target as HTMLInputElement).value as "system" | "light" | "dark";
  applyTheme(document, v);
  announce(`Theme: ${v === "system" ? "like the system" : v}.`);
  saveTheme(document, v).catch((err) => formAlert(themeForm, `Kept in this browser only: ${messageOf(err)}`));
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
  suggestNames(add.querySelector("input")!, () => "user");
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

void loadProfile();
mountSecurity(me.username);
void loadChat();
void loadSessions();

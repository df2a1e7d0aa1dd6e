// Admin: the people Uma knows. Local accounts and directory users who signed in, with their
// last sign-in and live sessions; local accounts can be added (Uma makes the password, shown
// once), sent a one-time link to choose their password or given one Uma makes, disabled and
// enabled; anyone's sessions can be ended. Below, every
// live session with its address, browser and open pages, each with Sign out.
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { DataTable } from "../ui/table";
import { confirmAction, openDialog } from "../ui/dialog";
import { bool, field, showServerError, str } from "../ui/form";
import { ago, dateTime, device, plural } from "../ui/format";

const me = initShell<Boot>().user?.username;

interface Person {
  username: string;
  displayName: string | null;
  avatar: string | null;
  source: "local" | "directory";
  isAdmin: boolean;
  disabled: boolean;
  lastSignIn: number | null;
  activeSessions: number;
  secondFactor: boolean;
}

interface Session {
  id: string;
  username: string;
  displayName: string | null;
  isAdmin: boolean;
  authSource: string;
  ipAddress: string | null;
  userAgent: string | null;
  createdAt: number;
  lastSeenAt: number;
  sockets: number;
  current: boolean;
}

const alertEl = must("[data-users-alert]");
function say(kind: "ok" | "error", text: string): void {
  fill(alertEl, h("p", { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status", text }));
}

/** A secret shown once, with a copy button. */
function secretRow(secret: string, data: string): HTMLElement {
  const code = h("code", { class: "secret-once", text: secret, [data]: true });
  const copy = h("button", {
    type: "button",
    class: "button button-small",
    text: "Copy",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Select and copy it";
      }
    },
  });
  return h("p", { class: "secret-row" }, code, copy);
}

/** Shows a password Uma made, once, with a copy button. */
function showPassword(username: string, password: string, why: string): void {
  openDialog({
    title: `Password for ${username}`,
    body: [
      h("p", { text: why }),
      secretRow(password, "data-new-password"),
      h("p", { class: "muted small", text: "It is shown this once. Give it to them over a safe channel; they can change it in their Settings." }),
    ],
    actions: [{ label: "Done", primary: true }],
  });
}

/** Shows a one-time link, once. */
function showLink(username: string, path: string, expiresAt: number): void {
  openDialog({
    title: `Link for ${username}`,
    body: [
      h("p", { text: `${username} opens this link to choose a password. It works once, until ${dateTime(expiresAt)}; their current password works until then.` }),
      secretRow(`${location.origin}${path}`, "data-reset-link"),
      h("p", { class: "muted small", text: "It is shown this once. Send it over a safe channel; a new link replaces this one." }),
    ],
    actions: [{ label: "Done", primary: true }],
  });
}

/** Asks how a local account gets its new password: a link to choose one, or one Uma makes. */
function passwordChoice(p: Person): void {
  const name = p.displayName ?? p.username;
  const path = `/api/admin/users/${encodeURIComponent(p.username)}`;
  const done = (text: string) => {
    say("ok", text);
    announce(text);
    void load();
  };
  openDialog({
    title: `New password for ${name}`,
    body: [
      h("p", { text: "A one-time link lets them choose their own password; their current one works until they use it." }),
      h("p", { class: "muted small", text: "Or Uma makes a password and shows it to you once; their current password stops working and their sessions end now." }),
    ],
    actions: [
      { label: "Cancel" },
      {
        label: "Make a password",
        onClick: async () => {
          try {
            const r = await api<{ password: string; ended: number }>("POST", `${path}/password`, {});
            showPassword(p.username, r.password, `${name}'s new password:`);
            done(`${name} has a new password.${r.ended ? ` ${plural(r.ended, "session")} ended.` : ""}`);
          } catch (e) {
            say("error", messageOf(e));
          }
        },
      },
      {
        label: "Make a link",
        primary: true,
        onClick: async () => {
          try {
            const r = await api<{ path: string; expiresAt: number }>("POST", `${path}/password-link`, {});
            showLink(p.username, r.path, r.expiresAt);
            done(`A one-time link for ${name} is ready.`);
          } catch (e) {
            say("error", messageOf(e));
          }
        },
      },
    ],
  });
}

async function act(p: Person, what: "disable" | "enable" | "sessions/revoke"): Promise<void> {
  const name = p.displayName ?? p.username;
  const ask = {
    disable: { title: `Disable ${name}?`, message: "They can no longer sign in, and every session of theirs ends now.", label: "Disable" },
    enable: null,
    "sessions/revoke": { title: `Sign ${name} out everywhere?`, message: "Every session of theirs ends now; they can sign in again.", label: "Sign out" },
  }[what];
  if (ask && !(await confirmAction({ title: ask.title, message: ask.message, confirmLabel: ask.label, danger: true }))) return;
  try {
    const r = await api<{ ended?: number }>("POST", `/api/admin/users/${encodeURIComponent(p.username)}/${what}`, {});
    const ended = r.ended ? ` ${plural(r.ended, "session")} ended.` : "";
    say("ok", { disable: `${name} is disabled.`, enable: `${name} can sign in again.`, "sessions/revoke": `${name} is signed out.` }[what] + ended);
    announce(`Done: ${name}.`);
  } catch (e) {
    say("error", messageOf(e));
  }
  void load();
}

/** Removes someone's authenticator app and recovery codes (they lost both). */
async function removeFactors(p: Person): Promise<void> {
  const name = p.displayName ?? p.username;
  const ok = await confirmAction({
    title: `Remove ${name}'s second factor?`,
    message: "Their authenticator app and recovery codes stop working. Do this only when you are sure it is them asking (they lost both). If a second factor is required for them, they set up a new one at their next sign-in.",
    confirmLabel: "Remove",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", `/api/admin/users/${encodeURIComponent(p.username)}/factors`);
    say("ok", `${name}'s second factor is removed.`);
    announce(`Done: ${name}.`);
  } catch (e) {
    say("error", messageOf(e));
  }
  void load();
}

const people = new DataTable<Person>({
  caption: "People",
  key: (p) => p.username,
  sort: { id: "name", dir: 1 },
  empty: () => "Nobody yet.",
  columns: [
    { id: "name", label: "Name", class: "col-name", sort: (p) => p.username, render: (td, p) =>
        fill(
          td,
          h(
            "span",
            { class: "person" },
            p.avatar ? h("img", { class: "avatar", src: p.avatar, alt: "" }) : h("span", { class: "avatar", "aria-hidden": "true", text: (p.displayName ?? p.username).slice(0, 1).toUpperCase() }),
            h("span", {}, h("strong", { text: p.displayName ?? p.username }), p.displayName ? h("span", { class: "muted small", text: ` ${p.username}` }) : null),
          ),
        ),
    },
    { id: "source", label: "Account", sort: (p) => p.source, render: (td, p) =>
        fill(
          td,
          h("span", { class: "pill", text: p.source === "local" ? "local" : "directory" }),
          p.secondFactor ? " " : null,
          p.secondFactor ? h("span", { class: "pill pill-info", text: "2nd factor", title: "Has an authenticator app set up" }) : null,
        ) },
    { id: "role", label: "Role", sort: (p) => (p.isAdmin ? 0 : 1), render: (td, p) => fill(td, p.isAdmin ? h("span", { class: "pill pill-info", text: "admin" }) : "user", p.disabled ? h("span", { class: "pill pill-bad", text: "disabled" }) : null) },
    { id: "last", label: "Last sign-in", sort: (p) => -(p.lastSignIn ?? 0), render: (td, p) => setText(td, p.lastSignIn ? ago(p.lastSignIn) : "never") },
    { id: "live", label: "Sessions", class: "num", sort: (p) => p.activeSessions, render: (td, p) => setText(td, String(p.activeSessions)) },
    {
      id: "act",
      label: "Actions",
      hideLabel: true,
      class: "actions",
      render: (td, p) =>
        fill(
          td,
          h(
            "div",
            { class: "button-row" },
          p.source === "local" ? h("button", { type: "button", class: "button button-small", text: "New password…", "data-user-password": p.username, onclick: () => passwordChoice(p) }) : null,
          p.source === "local" && p.username !== me
            ? p.disabled
              ? h("button", { type: "button", class: "button button-small", text: "Enable", "data-user-enable": p.username, onclick: () => void act(p, "enable") })
              : h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Disable…", "data-user-disable": p.username, onclick: () => void act(p, "disable") })
            : null,
          p.activeSessions && p.username !== me ? h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Sign out…", "data-user-signout": p.username, onclick: () => void act(p, "sessions/revoke") }) : null,
          p.secondFactor && p.username !== me ? h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Remove 2nd factor…", "data-user-factors": p.username, onclick: () => void removeFactors(p) }) : null,
          ),
        ),
    },
  ],
});
must("[data-users]").append(people.el);

const live = new DataTable<Session>({
  caption: "Live sessions",
  key: (s) => s.id,
  sort: { id: "seen", dir: 1 },
  empty: () => "No live session.",
  columns: [
    { id: "who", label: "Who", class: "col-name", sort: (s) => s.username, render: (td, s) => fill(td, h("strong", { text: s.displayName ?? s.username }), s.current ? " " : null, s.current ? h("span", { class: "pill pill-info", text: "you, here" }) : null) },
    { id: "device", label: "Browser", render: (td, s) => setText(td, device(s.userAgent)) },
    { id: "ip", label: "Address", render: (td, s) => setText(td, s.ipAddress ?? "—") },
    { id: "since", label: "Signed in", sort: (s) => -s.createdAt, render: (td, s) => setText(td, dateTime(s.createdAt)) },
    { id: "seen", label: "Last active", sort: (s) => -s.lastSeenAt, render: (td, s) => setText(td, ago(s.lastSeenAt)) },
    { id: "pages", label: "Open pages", class: "num", render: (td, s) => setText(td, String(s.sockets)) },
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
                "aria-label": `Sign out ${s.username} (${device(s.userAgent)})`,
                onclick: async () => {
                  try {
                    await api("DELETE", `/api/admin/sessions/${encodeURIComponent(s.id)}`);
                    say("ok", `${s.displayName ?? s.username} is signed out there.`);
                  } catch (e) {
                    say("error", messageOf(e));
                  }
                  void load();
                },
              }),
        ),
    },
  ],
});
must("[data-live-sessions]").append(live.el);

async function load(): Promise<void> {
  try {
    const [u, s] = await Promise.all([get<{ users: Person[] }>("/api/admin/users"), get<{ sessions: Session[] }>("/api/admin/sessions")]);
    people.set(u.users);
    live.set(s.sessions);
    const local = u.users.filter((p) => p.source === "local").length;
    setText(must("[data-user-count]"), `${plural(u.users.length, "person", "people")} · ${local} local`);
    setText(must("[data-live-count]"), plural(s.sessions.length, "session"));
  } catch (e) {
    say("error", `The people could not be loaded: ${messageOf(e)}`);
  }
}

must("[data-new-account]").addEventListener("click", () => {
  openDialog({
    title: "Add a local account",
    body: [
      field({ label: "User name", name: "username", required: true, maxlength: 64, pattern: "[A-Za-z0-9._-]+", patternMessage: "Letters, digits, '.', '_' or '-'", hint: "What they type to sign in." }),
      field({ label: "Administrator", name: "admin", type: "checkbox", value: false }),
      h("p", { class: "muted small", text: "Uma makes the password and shows it to you once." }),
    ],
    submitLabel: "Add account",
    onSubmit: async (form) => {
      try {
        const r = await api<{ username: string; password: string }>("POST", "/api/admin/users", { username: str(form, "username"), admin: bool(form, "admin") });
        showPassword(r.username, r.password, `${r.username} can sign in with:`);
        say("ok", `Added ${r.username}.`);
        void load();
        return true;
      } catch (e) {
        showServerError(form, e as ApiError);
        return false;
      }
    },
  });
});

void load();

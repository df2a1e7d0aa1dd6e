// Admin: notification banners. Every banner (off and over ones too) with its state; New and
// Edit open a form whose preview is the banner as users will see it; Turn on/off and Delete act
// at once (Delete confirmed). The list follows changes other administrators make, live.
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { DataTable, cell } from "../ui/table";
import { confirmAction, openDialog } from "../ui/dialog";
import { bool, field, num, revalidateOnInput, showServerError, str, validate } from "../ui/form";
import { messageNodes, plainText, showsAt, type Notice, type NoticeKind } from "../ui/banners";
import { dateTime, plural } from "../ui/format";
import { initLive, onConnect } from "../live";

initShell<Boot>();

const KINDS: [NoticeKind, string][] = [
  ["info", "Information"],
  ["warning", "Warning"],
  ["error", "Problem"],
  ["success", "Good news"],
];
const KIND_LABEL = new Map(KINDS);
const alertEl = must("[data-notices-alert]");
const countEl = must("[data-notice-count]");
let skew = 0;
const now = () => Date.now() + skew;

type State = "showing" | "scheduled" | "over" | "off";

function stateOf(n: Notice): State {
  if (!n.isActive) return "off";
  if (showsAt(n, now())) return "showing";
  return n.startsAt != null && n.startsAt > now() ? "scheduled" : "over";
}

const STATE_PILL: Record<State, string> = {
  showing: "pill-ok",
  scheduled: "pill-info",
  over: "",
  off: "",
};

const STATE_TEXT: Record<State, string> = {
  showing: "Showing",
  scheduled: "Scheduled",
  over: "Over",
  off: "Off",
};

function windowText(n: Notice): string {
  if (n.startsAt == null && n.endsAt == null) return "Until turned off";
  const from = n.startsAt == null ? "now" : dateTime(n.startsAt);
  return n.endsAt == null ? `From ${from}` : `${from} – ${dateTime(n.endsAt)}`;
}

const table = new DataTable<Notice>({
  caption: "Notification banners",
  key: (n) => n.id,
  // A row is redrawn when the banner changed or its state did (scheduled → showing → over).
  hash: (n) => `${n.updatedAt}|${stateOf(n)}`,
  sort: { id: "priority", dir: -1 },
  empty: () => "No banner yet. New banner… writes one.",
  columns: [
    {
      id: "message",
      label: "Message",
      class: "col-name",
      render: (td, n) =>
        cell(td, `${n.updatedAt}`, () => {
          const p = h("p", { class: "notice-message" });
          p.append(...messageNodes(n.message));
          return [p];
        }),
    },
    {
      id: "type",
      label: "Kind",
      sort: (n) => n.type,
      render: (td, n) => cell(td, n.type, () => h("span", { class: "notice-kind", "data-kind": n.type, text: KIND_LABEL.get(n.type) ?? n.type })),
    },
    { id: "priority", label: "Priority", class: "num", sort: (n) => n.priority, render: (td, n) => setText(td, String(n.priority)) },
    {
      id: "state",
      label: "State",
      sort: (n) => stateOf(n),
      render: (td, n) => cell(td, `${stateOf(n)}|${n.updatedAt}`, () => [h("span", { class: `pill ${STATE_PILL[stateOf(n)]}`, text: STATE_TEXT[stateOf(n)] }), h("div", { class: "muted small", text: windowText(n) })]),
    },
    {
      id: "actions",
      label: "Actions",
      class: "col-actions",
      render: (td, n) =>
        cell(td, `${n.id}|${n.updatedAt}`, () =>
          h(
            "div",
            { class: "button-row" },
            h("button", { type: "button", class: "button button-small", text: "Edit…", "aria-label": `Edit the banner “${plain(n)}”`, onclick: () => edit(current(n)) }),
            h("button", {
              type: "button",
              class: "button button-small",
              text: n.isActive ? "Turn off" : "Turn on",
              "aria-label": `${n.isActive ? "Turn off" : "Turn on"} the banner “${plain(n)}”`,
              onclick: () => void toggle(current(n)),
            }),
            h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Delete…", "aria-label": `Delete the banner “${plain(n)}”`, onclick: () => void remove(current(n)) }),
          ),
        ),
    },
  ],
});

const listError = h("div");
must("[data-notices]").replaceChildren(listError, table.el);
must<HTMLButtonElement>("[data-new-notice]").addEventListener("click", () => edit(null));

function plain(n: Notice): string {
  const t = plainText(n.message);
  return t.length > 40 ? `${t.slice(0, 39)}…` : t;
}

/** The latest copy of a banner (the list follows other administrators' changes). */
function current(n: Notice): Notice {
  return items.find((x) => x.id === n.id) ?? n;
}

function say(kind: "error" | "ok", message: string): void {
  fill(alertEl, h("p", { class: `alert alert-${kind} card-note`, role: kind === "error" ? "alert" : "status", text: message }));
}

let items: Notice[] = [];
let loads = 0;
let loadedAt = 0;

function render(): void {
  table.set(items);
  const showing = items.filter((n) => stateOf(n) === "showing").length;
  setText(countEl, `${plural(items.length, "banner")} · ${showing} showing`);
}

async function load(): Promise<void> {
  const mine = ++loads;
  loadedAt = Date.now();
  try {
    const body = await get<{ notifications: Notice[]; now: number }>("/api/admin/notifications");
    if (mine !== loads) return; // a later read is on its way
    skew = body.now - Date.now();
    items = body.notifications;
    fill(listError);
    render();
  } catch (e) {
    fill(listError, h("p", { class: "alert alert-error card-note", role: "alert", text: `The banners could not be read: ${messageOf(e)}` }));
  }
}

/** `datetime-local` value (local time) of a time in ms. */
function localValue(ms: number | null): string {
  if (ms == null) return "";
  const d = new Date(ms - skew);
  const p = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The time in ms (server clock) of a `datetime-local` value, or null when empty. */
function fromLocal(v: string): number | null {
  if (!v) return null;
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? t + skew : null;
}

/** Puts a banner the server returned into the list. */
function put(n: Notice): void {
  const i = items.findIndex((x) => x.id === n.id);
  if (i >= 0) items[i] = n;
  else items.push(n);
  render();
}

function edit(n: Notice | null): void {
  const preview = h("div", { class: "banner notice-preview", role: "presentation" });
  const previewText = h("p", { class: "banner-text" });
  preview.append(previewText);
  const body = [
    field({
      label: "Message",
      name: "message",
      textarea: true,
      rows: 3,
      required: true,
      maxlength: 2000,
      value: n?.message ?? "",
      hint: "Plain text; <b>, <i>, <u>, <strong>, <em> and <br> are kept, anything else is removed.",
    }),
    h(
      "div",
      { class: "form-grid" },
      field({ label: "Kind", name: "type", options: KINDS, value: n?.type ?? "info" }),
      field({ label: "Priority", name: "priority", type: "number", min: -1000, max: 1000, step: 1, value: n?.priority ?? 0, hint: "Higher shows first." }),
      field({ label: "Show from", name: "startsAt", type: "datetime-local", value: localValue(n?.startsAt ?? null), hint: "Empty: at once." }),
      field({ label: "Show until", name: "endsAt", type: "datetime-local", value: localValue(n?.endsAt ?? null), hint: "Empty: until turned off." }),
    ),
    field({ label: "On (shown to users while within its window)", name: "isActive", type: "checkbox", value: n?.isActive ?? true }),
    h("div", { class: "field" }, h("span", { class: "field-label", text: "Preview" }), preview),
  ];
  const shownTimes = { startsAt: localValue(n?.startsAt ?? null), endsAt: localValue(n?.endsAt ?? null) };
  const d = openDialog({
    title: n ? "Edit banner" : "New banner",
    body,
    wide: true,
    submitLabel: n ? "Save" : "Publish",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const all: Record<string, unknown> = {
        message: str(form, "message"),
        type: str(form, "type"),
        priority: num(form, "priority") ?? 0,
        isActive: bool(form, "isActive"),
      };
      // Times are sent only when changed: the form shows whole minutes, and an untouched
      // time must not move.
      for (const key of ["startsAt", "endsAt"] as const) {
        const value = str(form, key);
        if (!n || value !== shownTimes[key]) all[key] = fromLocal(value);
      }
      // An edit sends only what changed, so another administrator's change to other fields
      // stays.
      const payload = n
        ? Object.fromEntries(Object.entries(all).filter(([k, v]) => !(k in n) || (n as unknown as Record<string, unknown>)[k] !== v))
        : all;
      let saved: { notification: Notice };
      try {
        saved = n
          ? await api("PATCH", `/api/notifications/${encodeURIComponent(n.id)}`, payload)
          : await api("POST", "/api/notifications", payload);
      } catch (e) {
        showServerError(form, e as ApiError);
        return false;
      }
      put(saved.notification);
      say("ok", n ? "Banner saved." : "Banner published.");
      announce(n ? "Banner saved." : "Banner published.");
      return true;
    },
  });
  const form = d.form;
  if (!form) return;
  const update = () => {
    preview.dataset.kind = str(form, "type") || "info";
    const text = str(form, "message");
    fill(previewText, ...(text ? messageNodes(text) : [h("span", { class: "muted", text: "The message shows here." })]));
  };
  revalidateOnInput(form);
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
}

async function toggle(n: Notice): Promise<void> {
  try {
    const saved = await api<{ notification: Notice }>("PATCH", `/api/notifications/${encodeURIComponent(n.id)}`, { isActive: !n.isActive });
    put(saved.notification);
    say("ok", n.isActive ? "Banner turned off." : "Banner turned on.");
  } catch (e) {
    say("error", `The banner could not be changed: ${messageOf(e)}`);
    await load();
  }
}

async function remove(n: Notice): Promise<void> {
  const ok = await confirmAction({
    title: "Delete this banner?",
    message: `“${plain(n)}” goes from every page at once, and can't be brought back. Turn it off instead to keep it for later.`,
    confirmLabel: "Delete banner",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", `/api/notifications/${encodeURIComponent(n.id)}`);
    items = items.filter((x) => x.id !== n.id);
    render();
    say("ok", "Banner deleted.");
  } catch (e) {
    say("error", `The banner could not be deleted: ${messageOf(e)}`);
    await load();
  }
}

// Other administrators' changes: a banner users see arrives whole; one taken down (deleted,
// turned off, over) only by id, so the list is read again for its new state. States change with
// time too. The list is read again at every reconnect.
const socket = initLive(document);
socket?.on("notification:upsert", (m: { notification: Notice }) => put(m.notification));
socket?.on("notification:remove", () => void load());
window.setInterval(() => {
  if (document.visibilityState === "visible") render();
}, 15_000);
if (!socket?.connected) void load();
onConnect(() => {
  if (Date.now() - loadedAt > 2000) void load();
});

// The Group settings dialog of the chat widget: the group's name (renamed by its admins), its
// members with their role, and for admins adding people (a search), removing members and making
// or unmaking admins; for everyone Leave group, for admins Delete group (confirmed). Each action
// is one REST call; its error shows where the person acted (by the field, the member's row or
// the buttons), and the dialog redraws from the server's answer. The server keeps the rules (a
// group keeps an admin; the last admin can't leave): the dialog shows what it says.
import { api, get, messageOf, ApiError } from "../ui/api";
import { h, fill, uid, announce } from "../ui/dom";
import { openDialog, confirmAction, type DialogHandle } from "../ui/dialog";
import { field, showServerError, clearErrors, validate, revalidateOnInput } from "../ui/form";

export interface Member {
  id: string;
  username: string;
  displayName: string;
  role: "admin" | "member";
}

export interface GroupInfo {
  id: string;
  name: string;
  public: boolean;
  isAdmin: boolean;
  members: Member[];
}

export interface GroupSettingsOptions {
  groupId: string;
  /** The signed-in person's user id. */
  myId: string;
  /** The group changed (renamed, members): the widget redraws its title and list. */
  onChanged(g: GroupInfo): void;
  /** The person left the group or deleted it. */
  onGone(g: GroupInfo, deleted: boolean): void;
  /** The dialog closed. */
  onClosed(): void;
}

export interface GroupSettings {
  readonly groupId: string;
  /** Loads the group again and redraws (someone else changed it). */
  refresh(): Promise<void>;
  /** The group is gone for this person (removed, or deleted by someone): says why and closes. */
  gone(text: string): void;
  close(): void;
}

/** The server's message without the field name it starts with ("name: …" reads "…"). */
function said(e: unknown): string {
  const text = messageOf(e);
  const f = e instanceof ApiError ? e.field : undefined;
  if (f && text.startsWith(`${f}: `)) {
    const rest = text.slice(f.length + 2);
    return rest.charAt(0).toUpperCase() + rest.slice(1);
  }
  return text;
}

function showError(el: HTMLElement, text: string | null): void {
  el.hidden = !text;
  el.textContent = text ?? "";
}

const path = (id: string) => `/api/groups/${encodeURIComponent(id)}`;

/** Opens the dialog for a group; resolves once its first state is shown (null when it can't). */
export async function openGroupSettings(o: GroupSettingsOptions): Promise<GroupSettings | null> {
  let g = await get<GroupInfo>(path(o.groupId));
  // Each part is redrawn from the server's answer; the search (and a name being typed) stay.
  const nameSlot = h("div");
  const membersSlot = h("div");
  const addSlot = h("div");
  const endSlot = h("div");
  const body = h("div", { class: "chat-gs", "data-group-settings": o.groupId }, nameSlot, membersSlot, addSlot, endSlot);
  let add: HTMLElement | null = null;
  let drawnName = "";
  let closed = false;

  const admins = () => g.members.filter((m) => m.role === "admin");

  /** Redraws; focus that was on a redrawn element goes to the one `focusKey` (or its own key)
   *  names, else to the members' heading, so it never falls out of the dialog. */
  const draw = (focusKey?: string) => {
    const active = document.activeElement instanceof HTMLElement && body.contains(document.activeElement) ? document.activeElement : null;
    const key = focusKey ?? active?.closest<HTMLElement>("[data-focus-key]")?.dataset.focusKey;
    const nameInput = nameSlot.querySelector<HTMLInputElement>("input[name=name]");
    const typing = g.isAdmin && nameInput !== null && (nameInput === active || nameInput.value.trim() !== drawnName);
    if (!typing) {
      fill(nameSlot, nameSection());
      drawnName = g.name;
    }
    fill(membersSlot, membersSection());
    if (g.isAdmin) {
      add ??= addSection();
      fill(addSlot, add);
    } else {
      fill(addSlot);
    }
    fill(endSlot, endSection());
    if (focusKey || (active && !active.isConnected)) {
      const target = (key ? body.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`) : null) ?? body.querySelector<HTMLElement>("[data-gs-members-title]");
      target?.focus();
    }
  };

  const reload = async (focusKey?: string) => {
    g = await get<GroupInfo>(path(o.groupId));
    o.onChanged(g);
    if (!closed) draw(focusKey);
  };

  /** One change (`PATCH`): redraws from the answer, or shows its error in `error`. */
  const change = async (patch: Record<string, unknown>, error: HTMLElement, done: string, focusKey?: string): Promise<boolean> => {
    showError(error, null);
    try {
      await api("PATCH", path(g.id), patch);
    } catch (e) {
      showError(error, said(e));
      return false;
    }
    announce(done);
    await reload(focusKey).catch((e: unknown) => showError(error, messageOf(e)));
    return true;
  };

  function nameSection(): HTMLElement {
    if (!g.isAdmin) {
      return h("p", { class: "chat-gs-name" }, h("span", { class: "muted", text: "Name " }), h("strong", { "data-gs-name": true, text: g.name }));
    }
    const form = h(
      "form",
      { class: "chat-gs-rename", novalidate: true, "data-gs-rename": true },
      field({ label: "Group name", name: "name", value: g.name, required: true, maxlength: 100 }),
      h("button", { type: "submit", class: "button", text: "Rename", "data-focus-key": "rename" }),
    );
    revalidateOnInput(form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(form);
      if (!validate(form)) return;
      const input = form.querySelector<HTMLInputElement>("input[name=name]");
      const name = input?.value.trim() ?? "";
      if (name === g.name) return;
      try {
        await api("PATCH", path(g.id), { name });
      } catch (err) {
        showServerError(form, { message: said(err), field: err instanceof ApiError ? err.field : undefined });
        return;
      }
      announce(`The group is now called ${name}.`);
      await reload("rename").catch(() => undefined);
    });
    return form;
  }

  function membersSection(): HTMLElement {
    const titleId = uid("gs-members");
    const iAmAdmin = g.isAdmin;
    const rows = g.members.map((m) => {
      const mine = m.id === o.myId;
      const error = h("p", { class: "field-error chat-gs-error", role: "alert", hidden: true });
      const who = m.displayName || m.username;
      const admin = m.role === "admin";
      const roleButton = iAmAdmin
        ? h("button", {
            type: "button",
            class: "button button-small",
            "data-gs-role": m.username,
            "data-focus-key": `role:${m.id}`,
            // The visible words first, then whose row it is.
            "aria-label": `${admin ? "Remove admin" : "Make admin"}: ${mine ? "you" : who}`,
            text: admin ? "Remove admin" : "Make admin",
            onclick: () => void change(admin ? { removeAdminIds: [m.id] } : { addAdminIds: [m.id] }, error, admin ? `${who} is no longer an admin.` : `${who} is now an admin.`, `role:${m.id}`),
          })
        : null;
      const removeButton = iAmAdmin && !mine
        ? h("button", {
            type: "button",
            class: "button button-small button-danger-quiet",
            "data-gs-remove": m.username,
            "aria-label": `Remove ${who} from the group`,
            text: "Remove",
            onclick: async () => {
              const sure = await confirmAction({
                title: `Remove ${who}?`,
                message: `${who} leaves ${g.name} and no longer sees its messages. You can add them again later.`,
                confirmLabel: "Remove",
                danger: true,
              });
              if (!sure) return;
              showError(error, null);
              try {
                await api("DELETE", `${path(g.id)}/members/${encodeURIComponent(m.id)}`);
              } catch (e) {
                showError(error, said(e));
                return;
              }
              announce(`${who} was removed from the group.`);
              await reload().catch((e: unknown) => showError(error, messageOf(e)));
            },
          })
        : null;
      return h(
        "li",
        { class: "chat-gs-member", "data-gs-member": m.username },
        h("span", { class: "chat-avatar", "aria-hidden": "true", text: who.slice(0, 1).toUpperCase() }),
        h(
          "span",
          { class: "chat-gs-who" },
          h("span", { class: "chat-gs-person" }, h("span", { class: "chat-gs-display", text: who }), mine ? h("span", { class: "muted", text: " (you)" }) : null),
          h("span", { class: "muted small", text: `@${m.username}` }),
        ),
        h("span", { class: `badge chat-gs-role${admin ? "" : " is-member"}`, "data-role": m.role, text: admin ? "Admin" : "Member" }),
        roleButton || removeButton ? h("span", { class: "chat-gs-acts" }, roleButton, removeButton) : null,
        error,
      );
    });
    return h(
      "section",
      { class: "chat-gs-section", "aria-labelledby": titleId },
      h("h3", { id: titleId, class: "chat-gs-title", tabindex: -1, "data-gs-members-title": true, text: `Members (${g.members.length})` }),
      h("ul", { class: "chat-gs-members", "data-gs-members": true }, rows),
    );
  }

  function addSection(): HTMLElement {
    const titleId = uid("gs-add");
    const hintId = uid("gs-add-hint");
    const search = h("input", {
      class: "input",
      type: "search",
      placeholder: "Search by name…",
      autocomplete: "off",
      "aria-labelledby": titleId,
      "aria-describedby": hintId,
      "data-gs-search": true,
      "data-focus-key": "add",
    });
    const hint = h("p", { id: hintId, class: "hint", "aria-live": "polite", text: "Type at least 2 letters of a name." });
    const results = h("ul", { class: "chat-results chat-gs-results", "data-gs-results": true });
    const error = h("p", { class: "field-error chat-gs-error", role: "alert", hidden: true });
    let timer = 0;
    let asked = 0;
    search.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(async () => {
        const q = search.value.trim();
        const ask = ++asked;
        if (q.length < 2) {
          hint.textContent = "Type at least 2 letters of a name.";
          return fill(results);
        }
        let found: Array<{ id: string; username: string; displayName: string }>;
        try {
          found = await get(`/api/users/search?q=${encodeURIComponent(q)}`);
        } catch (e) {
          if (ask === asked) showError(error, messageOf(e));
          return;
        }
        if (ask !== asked) return;
        const inGroup = new Set(g.members.map((m) => m.id));
        const people = found.filter((u) => !inGroup.has(u.id));
        hint.textContent = people.length
          ? `${people.length} ${people.length === 1 ? "person" : "people"} found.`
          : found.length
            ? "Everyone found is already in the group."
            : "No one found.";
        fill(
          results,
          people.map((u) =>
            h(
              "li",
              null,
              h(
                "button",
                {
                  type: "button",
                  class: "chat-result",
                  "data-gs-add": u.username,
                  "aria-label": `Add ${u.displayName} (@${u.username})`,
                  onclick: async () => {
                    if (!(await change({ addMemberIds: [u.id] }, error, `${u.displayName} was added to the group.`, "add"))) return;
                    search.value = "";
                    hint.textContent = "Type at least 2 letters of a name.";
                    fill(results);
                  },
                },
                h("span", { class: "chat-avatar", "aria-hidden": "true", text: (u.displayName || u.username).slice(0, 1).toUpperCase() }),
                h("span", { class: "chat-gs-who" }, h("span", { text: u.displayName }), h("span", { class: "muted small", text: `@${u.username}` })),
                h("span", { class: "chat-gs-add", "aria-hidden": "true", text: "Add" }),
              ),
            ),
          ),
        );
      }, 200);
    });
    return h(
      "section",
      { class: "chat-gs-section", "aria-labelledby": titleId },
      h("h3", { id: titleId, class: "chat-gs-title", text: "Add people" }),
      search,
      hint,
      results,
      error,
    );
  }

  function endSection(): HTMLElement {
    const error = h("p", { class: "field-error chat-gs-error", role: "alert", hidden: true });
    const onlyAdmin = g.isAdmin && admins().length === 1;
    const leave = h("button", {
      type: "button",
      class: "button",
      text: "Leave group",
      "data-gs-leave": true,
      onclick: async () => {
        showError(error, null);
        // The only admin is refused whatever they confirm: the server says why (under the
        // buttons) without asking first.
        if (!onlyAdmin) {
          const sure = await confirmAction({
            title: `Leave ${g.name}?`,
            message: "You stop seeing its messages. An admin can add you again.",
            confirmLabel: "Leave group",
            danger: true,
          });
          if (!sure) return;
        }
        try {
          await api("DELETE", `${path(g.id)}/members/${encodeURIComponent(o.myId)}`);
        } catch (e) {
          showError(error, said(e));
          return;
        }
        announce(`You left ${g.name}.`);
        dlg.close();
        o.onGone(g, false);
      },
    });
    const del = g.isAdmin
      ? h("button", {
          type: "button",
          class: "button button-danger",
          text: "Delete group",
          "data-gs-delete": true,
          onclick: async () => {
            showError(error, null);
            const others = g.members.length - 1;
            const sure = await confirmAction({
              title: `Delete ${g.name}?`,
              message: `Its messages are deleted for everyone${others ? `, and its ${others} other ${others === 1 ? "member loses" : "members lose"} the conversation` : ""}. This can't be undone.`,
              confirmLabel: "Delete group",
              danger: true,
            });
            if (!sure) return;
            try {
              await api("DELETE", path(g.id));
            } catch (e) {
              showError(error, said(e));
              return;
            }
            announce(`${g.name} was deleted.`);
            dlg.close();
            o.onGone(g, true);
          },
        })
      : null;
    return h("div", { class: "chat-gs-end" }, h("div", { class: "chat-gs-buttons" }, leave, del), error);
  }

  draw();
  const dlg: DialogHandle = openDialog({ title: "Group settings", body });
  dlg.onClose(() => {
    closed = true;
    o.onClosed();
  });

  return {
    groupId: o.groupId,
    refresh: () => reload().catch(() => undefined),
    gone(text: string) {
      if (closed) return;
      const ok = h("button", { type: "button", class: "button button-primary", text: "OK", onclick: () => dlg.close() });
      fill(body, h("p", { class: "alert alert-info", role: "alert", text }), h("div", { class: "chat-gs-buttons" }, ok));
      ok.focus();
    },
    close: () => dlg.close(),
  };
}

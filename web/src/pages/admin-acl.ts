// Admin: the cluster's access control list — every entry (path, user or group, role,
// propagation), filterable; grant a role on a path; remove an entry; and the directory groups
// whose members are administrators or may sign in at all.
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce, uid } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { DataTable } from "../ui/table";
import { field, validate, showServerError, clearErrors, formAlert, str, bool, revalidateOnInput } from "../ui/form";
import { confirmAction } from "../ui/dialog";
import { plural } from "../ui/format";
import { suggestNames } from "../ui/suggest";
import { mountPolicy } from "./admin-mfa";

initShell<Boot>();

interface Entry {
  path: string;
  type: "user" | "group" | "token";
  ugid: string;
  roleid: string;
  propagate?: number;
}

const PATH = "/((pool|vms|storage)/[A-Za-z0-9_\\-.]+|sdn/zones/[a-z][a-z0-9]{0,7}(/[A-Za-z0-9]{1,8})?)?";
let entries: Entry[] = [];
let q = "";

const table = new DataTable<Entry>({
  caption: "Access control list",
  key: (e) => `${e.path}|${e.type}|${e.ugid}|${e.roleid}`,
  sort: { id: "path", dir: 1 },
  empty: () => (q ? "No entry matches." : "No entries."),
  columns: [
    { id: "path", label: "Path", class: "col-name", sort: (e) => e.path, render: (td, e) => fill(td, h("code", { text: e.path })) },
    { id: "who", label: "User or group", sort: (e) => e.ugid, render: (td, e) => setText(td, e.ugid) },
    { id: "type", label: "Kind", sort: (e) => e.type, render: (td, e) => setText(td, e.type === "group" ? "Group" : e.type === "token" ? "API token" : "User") },
    { id: "role", label: "Role", sort: (e) => e.roleid, render: (td, e) => fill(td, h("code", { text: e.roleid })) },
    { id: "prop", label: "Propagate", render: (td, e) => setText(td, e.propagate === 0 ? "no" : "yes") },
    {
      id: "actions",
      label: "Actions",
      class: "col-actions",
      render: (td, e) => fill(td, e.type === "token" ? h("span", { class: "muted small", text: "tokens: in Proxmox" }) : h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Remove…", "aria-label": `Remove ${e.roleid} of ${e.ugid} on ${e.path}`, onclick: () => void remove(e) })),
    },
  ],
});
must("[data-acl]").append(table.el);

const filterId = uid("filter");
const filter = h("input", { id: filterId, class: "input", type: "search", placeholder: "Path, user, group or role", autocomplete: "off" });
filter.addEventListener("input", () => {
  q = filter.value.trim().toLowerCase();
  render();
});
must("[data-acl-filter]").append(h("div", { class: "field field-inline field-grow" }, h("label", { for: filterId, text: "Filter" }), filter));

function render(): void {
  const shown = entries.filter((e) => !q || `${e.path} ${e.ugid} ${e.roleid} ${e.type}`.toLowerCase().includes(q));
  table.set(shown);
  setText(must("[data-acl-count]"), shown.length === entries.length ? plural(entries.length, "entry", "entries") : `${shown.length} of ${entries.length} shown`);
}

async function load(): Promise<void> {
  try {
    entries = (await get<{ acls: Entry[] }>("/api/proxmox/access/acl")).acls;
  } catch (e) {
    fill(must("[data-acl]"), h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  render();
}

async function grantForm(): Promise<void> {
  let roles: { roleid: string }[] = [];
  let users: { userid: string }[] = [];
  try {
    [roles, users] = await Promise.all([get<{ roleid: string }[]>("/api/proxmox/access/roles"), get<{ userid: string }[]>("/api/proxmox/access/users")]);
  } catch (e) {
    fill(must("[data-grant]"), h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const listId = uid("users");
  const form = h("form", { class: "inline-form", novalidate: true, "aria-label": "Grant a role" });
  const path = field({ label: "Path", name: "path", required: true, placeholder: "/pool/DEV_alice_1", pattern: PATH, patternMessage: "/, /pool/<id>, /vms/<id>, /storage/<id> or /sdn/zones/<zone>." });
  const kind = field({ label: "Kind", name: "kind", options: [["user", "User"], ["group", "Group"]], value: "user" });
  const who = field({ label: "User or group", name: "who", required: true, placeholder: "alice@pve", pattern: "[A-Za-z0-9._@\\-]{1,128}(,[A-Za-z0-9._@\\-]{1,128})*", patternMessage: "Proxmox ids such as alice@pve, comma-separated.", aliases: ["users", "groups"] });
  who.querySelector("input")!.setAttribute("list", listId);
  const role = field({ label: "Role", name: "roles", options: roles.map((r) => [r.roleid, r.roleid] as const), value: "PVEVMUser" });
  const prop = field({ label: "Propagate", name: "propagate", type: "checkbox", value: true, hint: "Also below this path." });
  const submit = h("button", { type: "submit", class: "button button-primary form-submit", text: "Grant" });
  form.append(path, kind, who, role, prop, submit, h("datalist", { id: listId }, ...users.map((u) => h("option", { value: u.userid }))));
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    const body: Record<string, unknown> = { path: str(form, "path"), roles: str(form, "roles"), propagate: bool(form, "propagate") };
    body[str(form, "kind") === "group" ? "groups" : "users"] = str(form, "who");
    submit.disabled = true;
    try {
      await api("PUT", "/api/proxmox/access/acl", body);
      formAlert(form, `Granted ${body.roles} on ${body.path}.`, "ok");
      announce(`Granted ${body.roles} on ${body.path}.`);
      void load();
    } catch (err) {
      showServerError(form, err as { message: string; field?: string });
    } finally {
      submit.disabled = false;
    }
  });
  fill(must("[data-grant]"), form);
}

async function remove(e: Entry): Promise<void> {
  const ok = await confirmAction({ title: "Remove this entry?", message: `${e.ugid} loses ${e.roleid} on ${e.path}.`, confirmLabel: "Remove", danger: true });
  if (!ok) return;
  const body: Record<string, unknown> = { path: e.path, roles: e.roleid, remove: true };
  body[e.type === "group" ? "groups" : "users"] = e.ugid;
  try {
    await api("PUT", "/api/proxmox/access/acl", body);
    announce("Entry removed.");
  } catch (err) {
    must("[data-acl]").prepend(h("p", { class: "alert alert-error", role: "alert", text: messageOf(err) }));
  }
  void load();
}

/** The directory groups whose members are administrators, and those allowed to sign in. */
async function signinGroups(): Promise<void> {
  const root = must("[data-signin-groups]");
  let cfg: { adminGroups: string[]; allowedGroups: string[]; environmentAdminGroups: string[] };
  try {
    cfg = await get("/api/settings/access");
  } catch (e) {
    fill(root, h("p", { class: "alert alert-error", text: `The sign-in groups could not be loaded: ${messageOf(e)}` }));
    return;
  }
  const lines = (v: string[]) => v.join("\n");
  const list = (form: HTMLElement, name: string) =>
    str(form, name)
      .split("\n")
      .map((g) => g.trim())
      .filter(Boolean);
  const form = h(
    "form",
    { novalidate: true, "aria-label": "Who may sign in" },
    h(
      "div",
      { class: "form-grid" },
      field({
        label: "Administrator groups",
        name: "adminGroups",
        textarea: true,
        rows: 3,
        value: lines(cfg.adminGroups),
        hint: cfg.environmentAdminGroups.length
          ? `One group per line. Members of ${cfg.environmentAdminGroups.join(", ")} (ADMIN_GROUPS) are administrators whatever this says.`
          : "One group per line (a name or a DN).",
      }),
      field({
        label: "Allowed groups",
        name: "allowedGroups",
        textarea: true,
        rows: 3,
        value: lines(cfg.allowedGroups),
        hint: "One group per line. Empty: everyone in the directory may sign in; otherwise only these groups' members (and administrators).",
      }),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button button-primary", text: "Save" })),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      await api("POST", "/api/settings/access", { adminGroups: list(form, "adminGroups"), allowedGroups: list(form, "allowedGroups") });
      formAlert(form, "Saved. It applies from each person's next sign-in.", "ok");
      announce("Sign-in groups saved.");
    } catch (err) {
      showServerError(form, err as ApiError);
    }
  });
  fill(root, form, checkForm());
}

interface Check {
  username: string;
  found: boolean;
  source: "local" | "ldap" | null;
  displayName: string | null;
  groups: string[];
  isAdmin: boolean;
  adminBecause: string | null;
  allowed: boolean;
  because: string;
}

/** "Test someone": what signing in would decide for a person, and which rule decides it. */
function checkForm(): HTMLElement {
  const result = h("div", { class: "check-result", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "inline-form section", novalidate: true, "aria-label": "Test someone" },
    field({ label: "Test someone", name: "username", placeholder: "Their user name", hint: "Who they are to Uma and the directory, and the rule that admits or refuses them. No password needed." }),
    h("button", { type: "submit", class: "button", text: "Test" }),
  );
  suggestNames(form.querySelector("input")!, () => "user");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const username = str(form, "username");
    if (!username) {
      showServerError(form, { message: "Name someone to test.", field: "username" });
      return;
    }
    try {
      const c = await get<Check>(`/api/settings/access/check?username=${encodeURIComponent(username)}`);
      const who = c.found ? `${c.displayName ?? c.username} (${c.username}, ${c.source === "local" ? "local account" : "directory"})` : username;
      fill(
        result,
        h(
          "div",
          { class: `alert ${c.allowed ? "alert-ok" : "alert-error"}`, "data-check-result": c.allowed ? "allowed" : "refused" },
          h("p", {}, h("strong", { text: c.allowed ? `${who} may sign in` : `${who} can't sign in` }), `: ${c.because}.`),
          c.isAdmin ? h("p", { text: `Administrator: ${c.adminBecause ?? "yes"}.` }) : c.found ? h("p", { text: "Not an administrator." }) : null,
          c.source === "ldap" ? h("p", { class: "small", text: c.groups.length ? `Directory groups: ${c.groups.join(", ")}.` : "In no directory group." }) : null,
        ),
      );
    } catch (err) {
      showServerError(form, err as ApiError);
    }
  });
  return h("div", {}, form, result);
}

void signinGroups();
void mountPolicy();
void grantForm();
void load();

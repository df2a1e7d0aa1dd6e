// Pool page island: usage against the pool's limits, its members (live, from the resource
// stream), and — for those who manage it — who has which role on it, with grant and revoke.
import { initShell, watchFreshness, type Boot } from "../ui/shell";
import { resources, isGuest, type Resource } from "../ui/resources";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf } from "../ui/api";
import { guestTable } from "../ui/guests";
import { quotaMeter } from "../ui/status";
import { gib, mib, plural } from "../ui/format";
import { DataTable } from "../ui/table";
import { field, validate, showServerError, clearErrors, formAlert, str, revalidateOnInput } from "../ui/form";
import { confirmAction } from "../ui/dialog";
import type { PoolInfo } from "../ui/cluster";
import { suggestNames } from "../ui/suggest";

interface PoolBoot extends Boot {
  poolId: string;
  manage: boolean;
}

interface Detail extends PoolInfo {
  members: Resource[];
}

interface AclEntry {
  ugid: string;
  type: "user" | "group";
  role: string;
}

const b = initShell<PoolBoot>();
const poolId = b.poolId;
resources.start();
watchFreshness();

// --- usage ---------------------------------------------------------------------------------------

let detail: Detail | null = null;
const SOURCE: Record<string, string> = {
  pool: "This pool has its own limits.",
  owner: "This pool shares its owner's budget (the default limits) with the owner's other pools.",
  global: "This pool uses the default limits.",
  none: "No limits are set.",
};

async function loadDetail(): Promise<void> {
  try {
    detail = (await get<{ pool: Detail }>(`/api/proxmox/pools/${encodeURIComponent(poolId)}`)).pool;
  } catch (e) {
    fill(must("[data-usage]"), h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  setText(must("[data-pool-comment]"), detail.comment || "No description.");
  const shared = detail.sharedWith ?? [];
  setText(
    must("[data-limits-source]"),
    (SOURCE[detail.limitsSource ?? "none"] ?? String(detail.limitsSource)) + (shared.length ? ` Counted together with ${shared.join(", ")}.` : ""),
  );
  const l = detail.limits;
  const u = detail.budgetUsage ?? detail.usage;
  fill(
    must("[data-usage]"),
    quotaMeter({ label: "vCPUs", used: u.cpu, limit: l.maxCpu, format: String }),
    quotaMeter({ label: "Memory", used: u.memory, limit: l.maxMemory, format: mib }),
    quotaMeter({ label: "Disk", used: u.disk, limit: l.maxDisk, format: gib }),
    quotaMeter({ label: "VMs", used: u.vms, limit: l.maxVMs, format: String }),
    quotaMeter({ label: "Containers", used: u.lxcs, limit: l.maxLXCs, format: String }),
    quotaMeter({ label: "VNets", used: u.vnets, limit: l.maxVnets, format: String }),
  );
  renderMembers();
}

// --- members -------------------------------------------------------------------------------------

const table = guestTable({
  caption: `Guests in pool ${poolId}`,
  empty: () =>
    b.manage
      ? h("span", null, "No guests in this pool yet. ", h("a", { href: `/create?pool=${encodeURIComponent(poolId)}`, text: "Create one" }), ".")
      : "No guests in this pool that you may see.",
});
must("[data-members]").append(table.el);
let lastSig = "";

function members(): Resource[] {
  const live = resources.guests().filter((g) => g.pool === poolId);
  if (live.length) return live;
  // Someone who sees the pool but not its guests still gets the member list (not live).
  return (detail?.members ?? []).filter(isGuest);
}

function renderMembers(): void {
  const list = members();
  table.set(list);
  setText(must("[data-member-count]"), list.length ? plural(list.length, "guest") : "");
  const sig = list.map((g) => `${g.vmid}:${g.maxcpu}:${g.maxmem}:${g.maxdisk}`).sort().join(",");
  if (lastSig && sig !== lastSig) void loadDetail();
  lastSig = sig;
}
resources.subscribe(renderMembers);

// --- access --------------------------------------------------------------------------------------

const ROLES: [string, string][] = [
  ["PVEVMUser", "VM user: see, power, console"],
  ["PVEVMAdmin", "VM admin: everything on the guests"],
  ["PVEPoolUser", "Pool user: see the pool"],
  ["PVEPoolAdmin", "Pool admin: manage the pool"],
];
if (b.user.isAdmin) ROLES.push(["PVEAdmin", "PVEAdmin (administrators only)"], ["Administrator", "Administrator (administrators only)"]);

async function loadAcl(): Promise<void> {
  const root = must("[data-acl]");
  let entries: AclEntry[];
  try {
    entries = (await get<{ acls: AclEntry[] }>(`/api/proxmox/pools/${encodeURIComponent(poolId)}/acl`)).acls;
  } catch (e) {
    fill(root, h("p", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const me = b.user.username.toLowerCase();
  const isMe = (e: AclEntry) => e.type === "user" && e.ugid.toLowerCase().split("@")[0] === me;
  const acl = new DataTable<AclEntry>({
    caption: `Roles on pool ${poolId}`,
    key: (e) => `${e.type}:${e.ugid}:${e.role}`,
    sort: { id: "who", dir: 1 },
    empty: () => "Nobody has a role on this pool.",
    columns: [
      { id: "who", label: "User or group", class: "col-name", sort: (e) => e.ugid, render: (td, e) => fill(td, h("strong", { text: e.ugid }), isMe(e) ? h("span", { class: "badge", text: "you" }) : null) },
      { id: "type", label: "Kind", sort: (e) => e.type, render: (td, e) => setText(td, e.type === "group" ? "Group" : "User") },
      { id: "role", label: "Role", sort: (e) => e.role, render: (td, e) => fill(td, h("code", { text: e.role })) },
      {
        id: "actions",
        label: "Actions",
        class: "col-actions",
        render: (td, e) => {
          if (!b.manage) return;
          if (isMe(e)) {
            fill(td, h("span", { class: "muted small", text: "Your own access can't be changed here" }));
            return;
          }
          fill(td, h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Revoke…", "aria-label": `Revoke ${e.role} from ${e.ugid}`, onclick: () => void revoke(e) }));
        },
      },
    ],
  });
  acl.set(entries);
  fill(root, acl.el, b.manage ? grantForm() : h("p", { class: "muted small", text: "Only those who manage this pool may grant access." }));
}

function grantForm(): HTMLFormElement {
  const form = h("form", { class: "inline-form section", novalidate: true, "aria-label": "Grant a role" });
  const kind = field({ label: "Kind", name: "type", options: [["user", "User"], ["group", "Group"]], value: "user" });
  const who = field({ label: "User name", name: "who", required: true, placeholder: "alice or alice@pve", pattern: "[A-Za-z0-9._@\\-]{1,128}", patternMessage: "Letters, digits, '.', '_', '-' and '@'.", aliases: ["username", "groupName"] });
  const role = field({ label: "Role", name: "role", options: ROLES, value: "PVEVMUser" });
  const submit = h("button", { type: "submit", class: "button button-primary form-submit", text: "Grant" });
  form.append(kind, who, role, submit);
  suggestNames(who.querySelector("input")!, () => (str(form, "type") === "group" ? "group" : "user"));
  kind.querySelector("select")!.addEventListener("change", (e) => {
    const group = (e.target as HTMLSelectElement).value === "group";
    who.querySelector("label")!.firstChild!.textContent = group ? "Group name" : "User name";
    (who.querySelector("input") as HTMLInputElement).placeholder = group ? "devs" : "alice or alice@pve";
  });
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    const type = str(form, "type");
    const body: Record<string, string> = { poolId, type, role: str(form, "role") };
    body[type === "group" ? "groupName" : "username"] = str(form, "who");
    submit.disabled = true;
    try {
      await api("POST", "/api/proxmox/pools/acl", body);
      announce(`Granted ${body.role} to ${str(form, "who")}.`);
      await loadAcl();
      formAlert(must("[data-acl] form") as HTMLElement, `Granted ${body.role} to ${body.username ?? body.groupName}.`, "ok");
    } catch (err) {
      showServerError(form, err as { message: string; field?: string });
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

async function revoke(e: AclEntry): Promise<void> {
  const ok = await confirmAction({
    title: `Revoke ${e.role}?`,
    message: `${e.ugid} loses the role ${e.role} on ${poolId}.`,
    confirmLabel: "Revoke",
    danger: true,
  });
  if (!ok) return;
  const body: Record<string, string> = { poolId, type: e.type, role: e.role };
  body[e.type === "group" ? "groupName" : "username"] = e.ugid;
  try {
    await api("DELETE", "/api/proxmox/pools/acl", body);
    announce(`Revoked ${e.role} from ${e.ugid}.`);
  } catch (err) {
    const root = must("[data-acl]");
    root.prepend(h("p", { class: "alert alert-error", role: "alert", text: messageOf(err) }));
    return;
  }
  await loadAcl();
}

void loadDetail();
void loadAcl();
renderMembers();

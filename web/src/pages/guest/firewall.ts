// Guest page, Firewall tab: the guest's rules, add one, delete one.
import { request } from "../../live";
import { h, fill, setText, announce } from "../../ui/dom";
import { get } from "../../ui/api";
import { confirmAction, openDialog } from "../../ui/dialog";
import { field, validate, showServerError, str, bool, revalidateOnInput } from "../../ui/form";
import { DataTable } from "../../ui/table";
import { vmid, caps, progressEl, reloadTab, loading, failed, readOnlyNote } from "./context";

interface Rule {
  pos: number;
  type: string;
  action: string;
  proto?: string;
  dport?: string;
  sport?: string;
  source?: string;
  dest?: string;
  macro?: string;
  comment?: string;
  enable?: number;
}

const PORTS = "\\d{1,5}(:\\d{1,5})?(,\\d{1,5}(:\\d{1,5})?)*";
const ADDRESS = "[a-zA-Z0-9.:\\/+_,\\-]{1,255}";

export async function firewallTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let list: Rule[];
  try {
    list = (await get<{ data: Rule[] }>(`/api/proxmox/vm/${vmid}/firewall/rules`)).data;
  } catch (e) {
    failed(panel, e, () => void firewallTab(panel));
    return;
  }
  const can = caps.configure;
  const table = new DataTable<Rule>({
    caption: "Firewall rules, in the order they apply",
    key: (r) => String(r.pos),
    sort: { id: "pos", dir: 1 },
    empty: () => "No rules: the defaults of the cluster and node apply.",
    columns: [
      { id: "pos", label: "#", class: "num col-id", sort: (r) => r.pos, render: (td, r) => setText(td, String(r.pos)) },
      { id: "on", label: "On", render: (td, r) => fill(td, r.enable ? h("span", { class: "pill pill-ok", text: "on" }) : h("span", { class: "pill", text: "off" })) },
      { id: "dir", label: "Direction", sort: (r) => r.type, render: (td, r) => setText(td, r.type === "in" ? "In" : r.type === "out" ? "Out" : r.type) },
      { id: "action", label: "Action", sort: (r) => r.action, render: (td, r) => fill(td, h("span", { class: `pill ${r.action === "ACCEPT" ? "pill-ok" : "pill-bad"}`, text: r.action })) },
      { id: "proto", label: "Protocol", render: (td, r) => setText(td, r.macro ? `macro ${r.macro}` : r.proto ?? "any") },
      { id: "dport", label: "Dest. port", class: "num", render: (td, r) => setText(td, r.dport ?? "—") },
      { id: "source", label: "Source", class: "hide-narrow", render: (td, r) => setText(td, r.source ?? "any") },
      { id: "dest", label: "Destination", class: "hide-narrow", render: (td, r) => setText(td, r.dest ?? "any") },
      { id: "comment", label: "Comment", render: (td, r) => setText(td, r.comment ?? "") },
      {
        id: "actions",
        label: "Actions",
        class: "col-actions",
        render: (td, r) => fill(td, can ? h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Delete…", "aria-label": `Delete rule ${r.pos}`, onclick: () => void deleteRule(r) }) : null),
      },
    ],
  });
  table.set(list);
  fill(
    panel,
    can ? null : readOnlyNote("firewall rules", "VM.Config.Network"),
    h("div", { class: "subhead" }, h("h3", { text: `${list.length} rule${list.length === 1 ? "" : "s"}` }), can ? h("button", { type: "button", class: "button button-primary button-small", text: "Add rule…", onclick: () => addRule() }) : null),
    table.el,
  );
}

function addRule(): void {
  const dlg = openDialog({
    title: "Add a firewall rule",
    wide: true,
    body: h(
      "div",
      { class: "form-grid" },
      field({ label: "Direction", name: "type", options: [["in", "In (to the guest)"], ["out", "Out (from the guest)"]], value: "in" }),
      field({ label: "Action", name: "action", options: [["ACCEPT", "Accept"], ["DROP", "Drop"], ["REJECT", "Reject"]], value: "ACCEPT" }),
      field({ label: "Protocol", name: "proto", options: [["tcp", "TCP"], ["udp", "UDP"], ["icmp", "ICMP"], ["", "Any"]], value: "tcp" }),
      field({ label: "Destination port", name: "dport", placeholder: "443 or 8000:8080", pattern: PORTS, patternMessage: "Ports like 22, 80,443 or 8000:8080." }),
      field({ label: "Source port", name: "sport", pattern: PORTS, patternMessage: "Ports like 22, 80,443 or 8000:8080." }),
      field({ label: "Source", name: "source", placeholder: "any, 10.0.0.0/8", pattern: ADDRESS, patternMessage: "An address, a network (10.0.0.0/8), a range, an alias or an IP set." }),
      field({ label: "Destination", name: "dest", placeholder: "any", pattern: ADDRESS, patternMessage: "An address, a network, a range, an alias or an IP set." }),
      field({ label: "Comment", name: "comment", maxlength: 255 }),
      field({ label: "Enabled", name: "enable", type: "checkbox", value: true }),
    ),
    submitLabel: "Add rule",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const proto = str(form, "proto");
      for (const p of ["dport", "sport"]) {
        if (str(form, p) && proto !== "tcp" && proto !== "udp") {
          showServerError(form, { field: p, message: "Ports need the TCP or UDP protocol." });
          return false;
        }
      }
      const rule: Record<string, unknown> = { type: str(form, "type"), action: str(form, "action"), enable: bool(form, "enable") ? 1 : 0 };
      for (const k of ["proto", "dport", "sport", "source", "dest", "comment"]) if (str(form, k)) rule[k] = str(form, k);
      const ack = await request("vm:firewall", { vmid, op: "add", rule });
      if ("error" in ack) {
        showServerError(form, ack.error);
        return false;
      }
      announce("Rule added.");
      reloadTab("firewall");
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

async function deleteRule(r: Rule): Promise<void> {
  const ok = await confirmAction({
    title: `Delete rule ${r.pos}?`,
    message: `${r.type === "in" ? "In" : "Out"} ${r.action} ${r.proto ?? ""} ${r.dport ?? ""} ${r.comment ? `(${r.comment})` : ""}`.replace(/\s+/g, " "),
    confirmLabel: "Delete rule",
    danger: true,
  });
  if (!ok) return;
  const ack = await request("vm:firewall", { vmid, op: "delete", pos: r.pos });
  if ("error" in ack) {
    fill(progressEl, h("span", { class: "alert alert-error", text: ack.error.message }));
    return;
  }
  announce("Rule deleted.");
  reloadTab("firewall");
}

// The guest table of the dashboard and the pool page: live status, CPU, memory and uptime per
// guest, sortable, optionally selectable for bulk actions.
import { h, setText } from "./dom";
import { DataTable, cell, type Column } from "./table";
import { guestStatus, meter, updateMeter } from "./status";
import { bytes, pct, tags as splitTags, uptime } from "./format";
import { isTemplate, type Resource } from "./resources";

export interface GuestTableOptions {
  caption: string;
  selectable?: boolean;
  showPool?: boolean;
  selected?: Set<number>;
  onSelect?: () => void;
  empty: () => Node | string;
  onTag?: (tag: string) => void;
}

export function guestTable(o: GuestTableOptions): DataTable<Resource> {
  const sel = o.selected ?? new Set<number>();
  const cols: Column<Resource>[] = [];
  if (o.selectable) {
    cols.push({
      id: "select",
      label: "Select",
      hideLabel: true,
      class: "col-select",
      render(td, r, fresh) {
        if (fresh) {
          const box = h("input", { type: "checkbox", class: "checkbox", "aria-label": `Select ${r.name ?? r.vmid}` });
          box.addEventListener("change", () => {
            if (box.checked) sel.add(r.vmid!);
            else sel.delete(r.vmid!);
            o.onSelect?.();
          });
          td.append(box);
        }
        const box = td.firstElementChild as HTMLInputElement;
        box.checked = sel.has(r.vmid!);
        box.disabled = isTemplate(r);
        box.title = isTemplate(r) ? "Templates have no power actions" : "";
      },
    });
  }
  cols.push(
    {
      id: "status",
      label: "Status",
      class: "col-status",
      sort: (r) => (isTemplate(r) ? "z" : r.status ?? ""),
      render(td, r) {
        cell(td, `${r.status}|${r.lock ?? ""}|${isTemplate(r)}`, () => guestStatus(r.status, { template: isTemplate(r), lock: r.lock }));
      },
    },
    {
      id: "vmid",
      label: "ID",
      class: "col-id num",
      sort: (r) => r.vmid ?? 0,
      render(td, r) {
        setText(td, String(r.vmid ?? ""));
      },
    },
    {
      id: "name",
      label: "Name",
      class: "col-name",
      sort: (r) => r.name ?? "",
      render(td, r) {
        cell(td, `${r.name}|${r.vmid}|${r.tags ?? ""}`, () => [
          h("a", { href: `/guests/${r.vmid}`, class: "row-link", text: r.name || `Guest ${r.vmid}` }),
          ...splitTags(r.tags).map((t) =>
            o.onTag
              ? h("button", { type: "button", class: "tag", title: `Show only tag ${t}`, text: t, onclick: () => o.onTag?.(t) })
              : h("span", { class: "tag", text: t }),
          ),
        ]);
      },
    },
    {
      id: "type",
      label: "Type",
      class: "col-type hide-narrow",
      sort: (r) => r.type,
      render(td, r) {
        setText(td, r.type === "qemu" ? "VM" : "CT");
        td.title = r.type === "qemu" ? "QEMU virtual machine" : "LXC container";
      },
    },
    {
      id: "node",
      label: "Node",
      class: "col-node hide-narrow",
      sort: (r) => r.node ?? "",
      render(td, r) {
        setText(td, r.node ?? "");
      },
    },
  );
  if (o.showPool) {
    cols.push({
      id: "pool",
      label: "Pool",
      class: "col-pool hide-narrow",
      sort: (r) => r.pool ?? "",
      render(td, r) {
        cell(td, r.pool ?? "", () => (r.pool ? h("a", { href: `/pools/${encodeURIComponent(r.pool)}`, text: r.pool }) : h("span", { class: "muted", text: "—" })));
      },
    });
  }
  cols.push(
    {
      id: "cpu",
      label: "CPU",
      class: "col-meter",
      sort: (r) => (r.status === "running" ? r.cpu ?? 0 : -1),
      render(td, r, fresh) {
        const running = r.status === "running";
        const o2 = {
          fraction: running ? r.cpu ?? 0 : null,
          text: running ? pct(r.cpu, 0) : "—",
          valueText: running ? `${pct(r.cpu, 0)} of ${r.maxcpu ?? "?"} vCPUs` : "not running",
        };
        if (fresh) td.append(meter({ label: `CPU of ${r.name ?? r.vmid}`, compact: true, ...o2 }));
        else updateMeter(td.firstElementChild as HTMLElement, o2);
      },
    },
    {
      id: "mem",
      label: "Memory",
      class: "col-meter",
      sort: (r) => (r.status === "running" && r.maxmem ? (r.mem ?? 0) / r.maxmem : -1),
      render(td, r, fresh) {
        const running = r.status === "running" && r.maxmem;
        const f = running ? (r.mem ?? 0) / (r.maxmem ?? 1) : null;
        const o2 = {
          fraction: f,
          text: running ? bytes(r.mem) : bytes(r.maxmem),
          valueText: running ? `${bytes(r.mem)} of ${bytes(r.maxmem)}` : `${bytes(r.maxmem)} assigned, not running`,
        };
        if (fresh) td.append(meter({ label: `Memory of ${r.name ?? r.vmid}`, compact: true, ...o2 }));
        else updateMeter(td.firstElementChild as HTMLElement, o2);
      },
    },
    {
      id: "uptime",
      label: "Uptime",
      class: "col-uptime num",
      sort: (r) => r.uptime ?? 0,
      render(td, r) {
        setText(td, r.status === "running" ? uptime(r.uptime) : "—");
      },
    },
  );
  return new DataTable<Resource>({
    columns: cols,
    key: (r) => String(r.vmid),
    caption: o.caption,
    empty: o.empty,
    sort: { id: "vmid", dir: 1 },
    hash: (r) => `${r.status}|${r.lock}|${r.name}|${r.tags}|${r.node}|${r.pool}|${r.cpu}|${r.mem}|${r.maxmem}|${r.uptime}|${r.template}|${sel.has(r.vmid!)}`,
    rowClass: (r) => (sel.has(r.vmid!) ? "is-selected" : ""),
  });
}

// Accessible tabs (WAI-ARIA tabs pattern): arrow keys, Home/End, the selected tab in the address
// (#snapshots) so a reload keeps it, and a callback when a panel is shown (load on demand).
import { h } from "./dom";

export interface TabDef {
  id: string;
  label: string;
}

export function tabs(root: HTMLElement, defs: TabDef[], onShow: (id: string, panel: HTMLElement) => void): { show(id: string): void; panel(id: string): HTMLElement } {
  const list = h("div", { class: "tabs", role: "tablist", "aria-label": root.dataset.label ?? "Sections" });
  const buttons: HTMLButtonElement[] = [];
  const panels = new Map<string, HTMLElement>();
  for (const d of defs) {
    const b = h("button", { type: "button", class: "tab", role: "tab", id: `tab-${d.id}`, "aria-controls": `panel-${d.id}`, "aria-selected": "false", tabindex: "-1", text: d.label });
    b.addEventListener("click", () => show(d.id, true));
    buttons.push(b);
    list.append(b);
    panels.set(d.id, h("div", { class: "tab-panel", role: "tabpanel", id: `panel-${d.id}`, "aria-labelledby": `tab-${d.id}`, tabindex: "0", hidden: true }));
  }
  list.addEventListener("keydown", (e) => {
    const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (i < 0) return;
    let j = -1;
    if (e.key === "ArrowRight") j = (i + 1) % buttons.length;
    else if (e.key === "ArrowLeft") j = (i - 1 + buttons.length) % buttons.length;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = buttons.length - 1;
    if (j >= 0) {
      e.preventDefault();
      buttons[j]!.focus();
      show(defs[j]!.id, true);
    }
  });
  root.replaceChildren(list, ...panels.values());
  const shown = new Set<string>();
  function show(id: string, user = false): void {
    if (!panels.has(id)) id = defs[0]!.id;
    defs.forEach((d, i) => {
      const on = d.id === id;
      const b = buttons[i]!;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      panels.get(d.id)!.hidden = !on;
    });
    if (user) history.replaceState(null, "", `#${id}`);
    onShow(id, panels.get(id)!);
    shown.add(id);
  }
  show(location.hash.slice(1) || defs[0]!.id);
  // A link to another tab of the same page (#backups) changes only the hash.
  window.addEventListener("hashchange", () => {
    const id = location.hash.slice(1);
    if (panels.has(id)) show(id);
  });
  return { show: (id) => show(id, true), panel: (id) => panels.get(id)! };
}

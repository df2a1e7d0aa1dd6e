// Sortable, keyed data tables: rows are updated in place (a row is only re-rendered when its data
// changed, and only moved when the order changed), so live updates cause no flicker, no layout
// shift and no lost focus. Headers are buttons; aria-sort says the order. On narrow screens the
// CSS turns rows into cards, each cell labelled by its column (data-label).
import { h, fill } from "./dom";

export interface Column<T> {
  id: string;
  label: string;
  /** Hide the header text visually (a checkbox column). */
  hideLabel?: boolean;
  sort?: (r: T) => string | number;
  render: (td: HTMLTableCellElement, r: T, fresh: boolean) => void;
  class?: string;
}

export interface TableOptions<T> {
  columns: Column<T>[];
  key: (r: T) => string;
  caption: string;
  empty: () => Node | string;
  hash?: (r: T) => string;
  rowClass?: (r: T) => string;
  sort?: { id: string; dir: 1 | -1 };
  header?: (th: HTMLTableCellElement, c: Column<T>) => void;
}

interface Row {
  tr: HTMLTableRowElement;
  tds: HTMLTableCellElement[];
  hash: string;
}

export class DataTable<T> {
  readonly el: HTMLDivElement;
  private readonly body: HTMLTableSectionElement;
  private readonly rows = new Map<string, Row>();
  private readonly headers = new Map<string, HTMLTableCellElement>();
  private readonly emptyRow: HTMLTableRowElement;
  private data: T[] = [];
  private sortId: string | null;
  private dir: 1 | -1;

  constructor(private readonly o: TableOptions<T>) {
    this.sortId = o.sort?.id ?? null;
    this.dir = o.sort?.dir ?? 1;
    const headRow = h("tr");
    for (const c of o.columns) {
      const th = h("th", { scope: "col", class: c.class ?? "" });
      if (c.sort) {
        th.append(
          h(
            "button",
            { type: "button", class: "sort-button", onclick: () => this.toggleSort(c.id) },
            c.hideLabel ? h("span", { class: "sr-only", text: c.label }) : c.label,
            h("span", { class: "sort-mark", "aria-hidden": "true" }),
          ),
        );
      } else if (c.hideLabel) {
        th.append(h("span", { class: "sr-only", text: c.label }));
      } else {
        th.textContent = c.label;
      }
      o.header?.(th, c);
      this.headers.set(c.id, th);
      headRow.append(th);
    }
    this.body = h("tbody");
    this.emptyRow = h("tr", { class: "empty-row" }, h("td", { colSpan: o.columns.length }));
    this.el = h(
      "div",
      { class: "table-wrap" },
      h("table", { class: "table" }, h("caption", { class: "sr-only", text: o.caption }), h("thead", null, headRow), this.body),
    );
    this.markSort();
  }

  /** Replaces the rows (kept rows are updated in place). */
  set(rows: T[]): void {
    this.data = rows;
    this.render();
  }

  rowsInOrder(): T[] {
    return this.sorted();
  }

  header(id: string): HTMLTableCellElement | undefined {
    return this.headers.get(id);
  }

  private toggleSort(id: string): void {
    if (this.sortId === id) this.dir = this.dir === 1 ? -1 : 1;
    else {
      this.sortId = id;
      this.dir = 1;
    }
    this.markSort();
    this.render();
  }

  private markSort(): void {
    for (const [id, th] of this.headers) {
      if (id === this.sortId) th.setAttribute("aria-sort", this.dir === 1 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  private sorted(): T[] {
    const col = this.o.columns.find((c) => c.id === this.sortId);
    if (!col?.sort) return this.data;
    const key = col.sort;
    const k = this.o.key;
    return [...this.data].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const c =
        typeof x === "number" && typeof y === "number"
          ? x - y
          : String(x).localeCompare(String(y), undefined, { numeric: true, sensitivity: "base" });
      return (c || k(a).localeCompare(k(b), undefined, { numeric: true })) * this.dir;
    });
  }

  private render(): void {
    const rows = this.sorted();
    const seen = new Set<string>();
    const order: HTMLTableRowElement[] = [];
    for (const r of rows) {
      const key = this.o.key(r);
      seen.add(key);
      const hash = this.o.hash ? this.o.hash(r) : JSON.stringify(r);
      let row = this.rows.get(key);
      if (!row) {
        const tr = h("tr", { "data-key": key });
        const tds = this.o.columns.map((c) => {
          const td = h("td", { class: c.class ?? "" });
          if (!c.hideLabel) td.dataset.label = c.label;
          tr.append(td);
          return td;
        });
        row = { tr, tds, hash: "" };
        this.rows.set(key, row);
        this.o.columns.forEach((c, i) => c.render(row!.tds[i]!, r, true));
        row.hash = hash;
      } else if (row.hash !== hash) {
        this.o.columns.forEach((c, i) => c.render(row!.tds[i]!, r, false));
        row.hash = hash;
      }
      const cls = this.o.rowClass?.(r) ?? "";
      if (row.tr.className !== cls) row.tr.className = cls;
      order.push(row.tr);
    }
    for (const [key, row] of this.rows) {
      if (!seen.has(key)) {
        row.tr.remove();
        this.rows.delete(key);
      }
    }
    if (order.length === 0) {
      fill(this.emptyRow.firstElementChild as HTMLElement, this.o.empty());
      if (this.emptyRow.parentNode !== this.body) this.body.append(this.emptyRow);
    } else {
      this.emptyRow.remove();
    }
    // Move only what is out of place (moving a row that holds focus would drop the focus).
    order.forEach((tr, i) => {
      const at = this.body.children[i];
      if (at !== tr) this.body.insertBefore(tr, at ?? null);
    });
  }
}

/** Sets a cell's content only when `key` changed since the last time. */
export function cell(td: HTMLElement, key: string, build: () => Node | string | (Node | string)[]): void {
  if (td.dataset.v === key) return;
  td.dataset.v = key;
  const v = build();
  if (Array.isArray(v)) fill(td, ...v);
  else fill(td, v);
}

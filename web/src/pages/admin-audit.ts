// Admin: the audit log. The summary of the original (events, success rate, failures today,
// people), the last 24 hours per hour, the top actions and recent alerts; the log itself with
// filters (user and action suggestions), pages, a detail view per row (with what changed, for
// rows that carry a before and an after), and exports of the filtered set. Filters live in the
// address, so a filtered view can be shared and survives a reload. With Live on, rows written
// while the page is open (by anyone, on any instance) appear at the top of the first page when
// they match the filters.
import { initShell, type Boot } from "../ui/shell";
import { initLive, onConnect, request } from "../live";
import { h, fill, must, setText } from "../ui/dom";
import { get, messageOf, type ApiError } from "../ui/api";
import { DataTable } from "../ui/table";
import { openDialog } from "../ui/dialog";
import { clearErrors, showServerError } from "../ui/form";
import { dateTime, plural } from "../ui/format";
import { recentFactor } from "../ui/stepup";

initShell<Boot>();

interface Row {
  id: string;
  username: string;
  action: string;
  resource: string;
  details: unknown;
  ipAddress: string | null;
  userAgent: string | null;
  status: "SUCCESS" | "FAILURE" | "WARNING";
  opId: string | null;
  createdAt: number;
}

interface Page {
  logs: Row[];
  pagination: { total: number; pages: number; currentPage: number; limit: number };
}

interface Stats {
  summary: { totalEvents: number; successRate: number; successCount: number; failureCount: number; warningCount: number; failuresToday: number; uniqueUsers: number };
  actionBreakdown: { action: string; count: number; percentage: string }[];
  recentAlerts: { id: string; action: string; username: string; resource: string; status: string; createdAt: number }[];
  hourlyActivity: { hour: string; count: number }[];
}

const FILTERS = ["username", "action", "resource", "status", "startDate", "endDate"] as const;
const LIMIT = 50;
const form = must<HTMLFormElement>("[data-audit-filters]");
const alertEl = must("[data-audit-alert]");
const countEl = must("[data-audit-count]");
const pager = must("[data-audit-pager]");
let page = 1;
let rows: Row[] = [];
let total = 0;
const live = must<HTMLInputElement>("[data-audit-live]");

function filters(): URLSearchParams {
  const q = new URLSearchParams();
  for (const name of FILTERS) {
    const el = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
    const v = el?.value.trim();
    if (v) q.set(name, v);
  }
  return q;
}

function fromAddress(): void {
  const q = new URLSearchParams(location.search);
  for (const name of FILTERS) {
    const el = form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
    if (el) el.value = q.get(name) ?? "";
  }
  page = Math.max(1, Number(q.get("page")) || 1);
}

function toAddress(): void {
  const q = filters();
  if (page > 1) q.set("page", String(page));
  const s = q.toString();
  history.replaceState(null, "", s ? `?${s}` : location.pathname);
  for (const a of document.querySelectorAll<HTMLAnchorElement>("[data-export]")) {
    const e = filters();
    e.set("format", a.dataset.export ?? "csv");
    a.href = `/api/admin/audit-logs/export?${e}`;
  }
}

// Exports want a recent second factor: asked here first, so the download doesn't answer with
// an error page.
for (const a of document.querySelectorAll<HTMLAnchorElement>("[data-export]")) {
  a.addEventListener("click", async (event) => {
    if (a.dataset.confirmed === "1") {
      delete a.dataset.confirmed;
      return;
    }
    event.preventDefault();
    if (await recentFactor("Exporting the audit log wants a second factor.")) {
      a.dataset.confirmed = "1";
      a.click();
    }
  });
}

function statusPill(s: string): HTMLElement {
  const kind = s === "SUCCESS" ? "ok" : s === "FAILURE" ? "bad" : "warn";
  return h("span", { class: `pill pill-${kind}`, text: s.toLowerCase() });
}

const table = new DataTable<Row>({
  caption: "Audit log, newest first",
  key: (r) => r.id,
  empty: () => (filters().toString() ? "No event matches these filters." : "Nothing has been recorded yet."),
  columns: [
    { id: "time", label: "When", render: (td, r) => fill(td, h("time", { dateTime: new Date(r.createdAt).toISOString(), text: dateTime(r.createdAt) })) },
    { id: "user", label: "User", render: (td, r) => setText(td, r.username) },
    { id: "action", label: "Action", render: (td, r) => fill(td, h("code", { text: r.action })) },
    { id: "resource", label: "Resource", class: "col-name", render: (td, r) => fill(td, h("span", { class: "audit-resource", title: r.resource, text: r.resource })) },
    { id: "status", label: "Status", render: (td, r) => fill(td, statusPill(r.status)) },
    { id: "ip", label: "Address", render: (td, r) => setText(td, r.ipAddress ?? "—") },
    {
      id: "more",
      label: "Details",
      hideLabel: true,
      class: "actions",
      render: (td, r) => fill(td, h("button", { type: "button", class: "button button-small", text: "Details…", "aria-label": `Details of ${r.action} by ${r.username}`, "data-audit-details": r.id, onclick: () => details(r) })),
    },
  ],
});
must("[data-audit-table]").append(table.el);

async function load(): Promise<void> {
  toAddress();
  const q = filters();
  q.set("page", String(page));
  q.set("limit", String(LIMIT));
  clearErrors(form);
  fill(alertEl);
  try {
    const r = await get<Page>(`/api/admin/audit-logs?${q}`);
    rows = r.logs;
    table.set(rows);
    total = r.pagination.total;
    setText(countEl, countText());
    renderPager(r.pagination.pages, total);
  } catch (e) {
    const err = e as ApiError;
    if (err.field) showServerError(form, err);
    else fill(alertEl, h("p", { class: "alert alert-error card-note", role: "alert", text: `The log could not be loaded: ${messageOf(e)}` }));
  }
}

function countText(fresh = 0): string {
  const base = `${plural(total, "event")}${filters().toString() ? " match" : ""}`;
  return fresh ? `${base} · ${plural(fresh, "new event")} just now` : base;
}

/** Whether a row written now belongs in the filtered view (the server's rules). */
function matches(r: Row): boolean {
  const q = filters();
  const has = (v: string, part: string | null) => !part || v.toLowerCase().includes(part.toLowerCase());
  const from = q.get("startDate");
  const to = q.get("endDate");
  return (
    has(r.username, q.get("username")) &&
    (!q.get("action") || r.action === q.get("action")) &&
    has(r.resource, q.get("resource")) &&
    (!q.get("status") || r.status === q.get("status")) &&
    (!from || r.createdAt >= Date.parse(`${from}T00:00:00Z`)) &&
    (!to || r.createdAt <= Date.parse(`${to}T23:59:59.999Z`))
  );
}

/** New rows from the tail: on the first page, on top; the count always. */
function arrived(batch: Row[]): void {
  if (!live.checked) return;
  const fresh = batch.filter(matches).sort((a, b) => b.createdAt - a.createdAt);
  if (!fresh.length) return;
  total += fresh.length;
  if (page === 1) {
    rows = [...fresh, ...rows.filter((r) => !fresh.some((f) => f.id === r.id))].slice(0, LIMIT);
    table.set(rows);
  }
  setText(countEl, countText(fresh.length));
}

function renderPager(pages: number, total: number): void {
  if (pages <= 1) {
    fill(pager);
    return;
  }
  const go = (p: number) => () => {
    page = p;
    void load();
    must("#audit-log-title").scrollIntoView({ block: "start" });
  };
  fill(
    pager,
    h("button", { type: "button", class: "button", text: "← Newer", disabled: page <= 1, onclick: go(page - 1) }),
    h("span", { class: "muted small", text: `Page ${page} of ${pages} · ${plural(total, "event")}` }),
    h("button", { type: "button", class: "button", text: "Older →", disabled: page >= pages, onclick: go(page + 1) }),
  );
}

/** Scalar values as text; objects as compact JSON. */
function show(v: unknown): string {
  if (v === undefined) return "—";
  if (v === null) return "null";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The fields a `before`/`after` pair changed. */
function changes(before: Record<string, unknown>, after: Record<string, unknown>): [string, unknown, unknown][] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).map((k) => [k, before[k], after[k]]);
}

function details(r: Row): void {
  const d = (r.details && typeof r.details === "object" ? r.details : {}) as Record<string, unknown>;
  const facts = h(
    "dl",
    { class: "facts" },
    ...(
      [
        ["When", dateTime(r.createdAt)],
        ["User", r.username],
        ["Action", r.action],
        ["Resource", r.resource],
        ["Status", r.status],
        ["Address", r.ipAddress ?? "—"],
        ["Browser", r.userAgent ?? "—"],
        ["Operation", r.opId ?? "—"],
      ] as [string, string][]
    ).flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]),
  );
  const body: Node[] = [facts];
  const before = d.before, after = d.after;
  if (before && after && typeof before === "object" && typeof after === "object") {
    const diff = changes(before as Record<string, unknown>, after as Record<string, unknown>);
    body.push(
      h("h3", { class: "dialog-subtitle", text: "What changed" }),
      diff.length
        ? h(
            "table",
            { class: "table audit-diff" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Field" }), h("th", { scope: "col", text: "Before" }), h("th", { scope: "col", text: "After" }))),
            h("tbody", {}, ...diff.map(([k, b, a]) => h("tr", {}, h("th", { scope: "row", text: k }), h("td", { class: "audit-before", text: show(b) }), h("td", { class: "audit-after", text: show(a) })))),
          )
        : h("p", { class: "muted", text: "Nothing changed." }),
    );
  }
  body.push(h("h3", { class: "dialog-subtitle", text: "Recorded details" }), h("pre", { class: "audit-json", text: JSON.stringify(r.details, null, 2) }));
  openDialog({ title: `${r.action} · ${r.username}`, body, wide: true, actions: [{ label: "Close", primary: true }] });
}

async function loadStats(): Promise<void> {
  let s: Stats;
  try {
    s = await get<Stats>("/api/admin/audit-logs/stats");
  } catch (e) {
    fill(must("[data-audit-top]"), h("li", { class: "muted", text: `Statistics unavailable: ${messageOf(e)}` }));
    return;
  }
  const stat = (k: string, v: string) => setText(must(`[data-stat="${k}"]`), v);
  stat("total", s.summary.totalEvents.toLocaleString());
  stat("rate", `${s.summary.successRate}%`);
  stat("split", `${s.summary.failureCount.toLocaleString()} failed · ${s.summary.warningCount.toLocaleString()} warnings`);
  stat("failures", s.summary.failuresToday.toLocaleString());
  stat("users", s.summary.uniqueUsers.toLocaleString());

  // 24 hourly bars, oldest first, empty hours included.
  const counts = new Map(s.hourlyActivity.map((x) => [x.hour, x.count]));
  const now = new Date();
  now.setUTCMinutes(0, 0, 0);
  const hours = Array.from({ length: 24 }, (_, i) => {
    const t = new Date(now.getTime() - (23 - i) * 3_600_000);
    const key = `${t.toISOString().slice(0, 10)} ${t.toISOString().slice(11, 13)}:00:00`;
    return { t, n: counts.get(key) ?? 0 };
  });
  const max = Math.max(1, ...hours.map((x) => x.n));
  const chart = must("[data-audit-hours]");
  chart.setAttribute("aria-label", `Events per hour, last 24 hours: ${hours.reduce((a, x) => a + x.n, 0)} in all, at most ${max} in an hour`);
  fill(
    chart,
    ...hours.map((x) => {
      const label = `${x.t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}: ${plural(x.n, "event")}`;
      return h("span", { class: "audit-bar", title: label, style: `--v:${x.n / max}` }, h("span", { class: "sr-only", text: label }));
    }),
  );

  const top = must("[data-audit-top]");
  fill(
    top,
    ...(s.actionBreakdown.length
      ? s.actionBreakdown.map((a) =>
          h(
            "li",
            { style: `--share:${Number(a.percentage) / 100}` },
            h("button", { type: "button", class: "link-button", text: a.action, title: `Show only ${a.action}`, onclick: () => filterBy({ action: a.action }) }),
            h("span", { class: "muted small num", text: `${a.count.toLocaleString()} · ${a.percentage}%` }),
          ),
        )
      : [h("li", { class: "muted", text: "Nothing recorded yet." })]),
  );

  const alerts = must("[data-audit-alerts]");
  fill(
    alerts,
    ...(s.recentAlerts.length
      ? s.recentAlerts.map((a) =>
          h(
            "li",
            {},
            statusPill(a.status),
            " ",
            h("button", { type: "button", class: "link-button", text: `${a.action} · ${a.username}`, onclick: () => filterBy({ action: a.action, username: a.username }) }),
            h("span", { class: "muted small", text: ` ${a.resource} · ${dateTime(a.createdAt)}` }),
          ),
        )
      : [h("li", { class: "muted", text: "No failures or warnings in the last 24 hours." })]),
  );
}

function filterBy(values: Partial<Record<(typeof FILTERS)[number], string>>): void {
  form.reset();
  for (const [k, v] of Object.entries(values)) {
    const el = form.elements.namedItem(k) as HTMLInputElement | null;
    if (el) el.value = v ?? "";
  }
  page = 1;
  void load();
  must("#audit-log-title").scrollIntoView({ block: "start" });
}

async function loadSuggestions(): Promise<void> {
  try {
    const s = await get<{ users: string[]; actions: { action: string; count: number }[] }>("/api/admin/audit-logs/suggestions");
    fill(must("#af-users"), ...s.users.map((u) => h("option", { value: u })));
    fill(must("#af-actions"), ...s.actions.map((a) => h("option", { value: a.action, label: `${a.action} (${a.count})` })));
  } catch {
    // Suggestions are a help; the filters work without them.
  }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  page = 1;
  void load();
});
form.addEventListener("reset", () => {
  window.setTimeout(() => {
    page = 1;
    void load();
  });
});

interface ChainReport {
  checked: number;
  from: number;
  head: number;
  broken: { seq: number; id: string | null; reason: string } | null;
}

/** Walks the chain on the server and says whether it holds, or where it breaks. */
async function verifyChain(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  fill(alertEl, h("p", { class: "alert alert-info card-note", role: "status", text: "Verifying the chain…" }));
  try {
    const r = await get<ChainReport>("/api/admin/audit-logs/verify");
    fill(
      alertEl,
      r.broken
        ? h("p", { class: "alert alert-error card-note", role: "alert" }, `The chain breaks at row #${r.broken.seq}${r.broken.id ? ` (${r.broken.id})` : ""}: ${r.broken.reason}. ${plural(r.checked, "row")} before it hold.`)
        : h("p", { class: "alert alert-ok card-note", role: "status", text: `The chain holds: ${plural(r.checked, "row")} checked, #${r.from} to #${r.head}. Nothing was changed, removed or added outside Uma.` }),
    );
  } catch (e) {
    fill(alertEl, h("p", { class: "alert alert-error card-note", role: "alert", text: `The chain could not be verified: ${messageOf(e)}` }));
  } finally {
    button.disabled = false;
  }
}
const verifyButton = must<HTMLButtonElement>("[data-audit-verify]");
verifyButton.addEventListener("click", () => void verifyChain(verifyButton));

const socket = initLive(document);
socket?.on("audit:new", (b: { rows: Row[] }) => arrived(b.rows));
const follow = () => void request(live.checked ? "audit:watch" : "audit:unwatch", {});
onConnect(follow);
live.addEventListener("change", () => {
  follow();
  if (live.checked) void load();
});

fromAddress();
void load();
void loadStats();
void loadSuggestions();

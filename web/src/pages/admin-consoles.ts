// Admin: the open browser consoles (who, which guest, since when, bytes each way, from where),
// read again every few seconds while the tab is visible, and Close on each (confirmed; its user's
// page then says an administrator closed it). Server errors show above the table.
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf } from "../ui/api";
import { DataTable, cell } from "../ui/table";
import { confirmAction } from "../ui/dialog";
import { resources } from "../ui/resources";
import { bytes, clock, plural, uptime } from "../ui/format";

initShell<Boot>();
resources.start();

/** `GET /api/admin/consoles` rows. */
interface OpenConsole {
  id: string;
  user: string;
  vmid: number;
  kind: string;
  node: string;
  sinceMs: number;
  bytesUp: number;
  bytesDown: number;
  ip?: string | null;
}

interface Row extends OpenConsole {
  /** Seconds open, at the last read. */
  openFor: number;
  name?: string;
}

const REFRESH_MS = 3000;
const alertEl = must("[data-consoles-alert]");
const countEl = must("[data-console-count]");
let timer: number | null = null;
let lastCount: number | null = null;

const table = new DataTable<Row>({
  caption: "Open consoles",
  key: (c) => c.id,
  sort: { id: "since", dir: 1 },
  empty: () => "No console is open.",
  columns: [
    { id: "user", label: "User", sort: (c) => c.user, render: (td, c) => setText(td, c.user) },
    {
      id: "guest",
      label: "Guest",
      class: "col-name",
      sort: (c) => c.vmid,
      render: (td, c) =>
        cell(td, `${c.vmid}|${c.name ?? ""}|${c.node}`, () => [
          h("a", { href: `/guests/${c.vmid}`, class: "row-link", text: c.name ?? `Guest ${c.vmid}` }),
          h("div", { class: "muted small", text: `${c.kind === "lxc" ? "CT" : "VM"} ${c.vmid} on ${c.node}` }),
        ]),
    },
    {
      id: "since",
      label: "Open since",
      sort: (c) => c.sinceMs,
      render: (td, c) => cell(td, `${c.sinceMs}|${Math.floor(c.openFor / 10)}`, () => [h("span", { class: "num", text: clock(c.sinceMs) }), h("div", { class: "muted small", text: `for ${uptime(Math.max(1, c.openFor))}` })]),
    },
    { id: "down", label: "To browser", class: "num", sort: (c) => c.bytesDown, render: (td, c) => setText(td, bytes(c.bytesDown)) },
    { id: "up", label: "From browser", class: "num", sort: (c) => c.bytesUp, render: (td, c) => setText(td, bytes(c.bytesUp)) },
    { id: "ip", label: "Address", class: "hide-narrow", sort: (c) => c.ip ?? "", render: (td, c) => setText(td, c.ip ?? "—") },
    {
      id: "actions",
      label: "Actions",
      class: "col-actions",
      render: (td, c) =>
        cell(td, c.id, () =>
          h("button", {
            type: "button",
            class: "button button-small button-danger-quiet",
            "aria-label": `Close the console of ${c.user} on ${c.name ?? `guest ${c.vmid}`}`,
            text: "Close…",
            onclick: () => void closeConsole(c),
          }),
        ),
    },
  ],
});
const listError = h("div");
must("[data-consoles]").replaceChildren(listError, table.el);
let last: { list: OpenConsole[]; at: number } = { list: [], at: Date.now() };

function alertText(el: HTMLElement, kind: "error" | "ok", message: string): void {
  fill(el, h("p", { class: `alert alert-${kind} card-note`, role: kind === "error" ? "alert" : "status", text: message }));
}

function render(): void {
  const { list, at } = last;
  table.set(list.map((c) => ({ ...c, openFor: Math.max(0, Math.floor((at - c.sinceMs) / 1000)), name: resources.guest(c.vmid)?.name })));
}

async function load(): Promise<void> {
  let list: OpenConsole[];
  try {
    list = (await get<{ consoles: OpenConsole[] }>("/api/admin/consoles")).consoles;
  } catch (e) {
    alertText(listError, "error", `The list could not be read: ${messageOf(e)}`);
    return;
  }
  fill(listError);
  last = { list, at: Date.now() };
  render();
  setText(countEl, `${plural(list.length, "console")} open · refreshed every ${REFRESH_MS / 1000} s`);
  if (lastCount !== null && lastCount !== list.length) announce(`${plural(list.length, "console")} open.`);
  lastCount = list.length;
}

async function closeConsole(c: Row): Promise<void> {
  const guest = c.name ?? `guest ${c.vmid}`;
  const ok = await confirmAction({
    title: `Close ${c.user}'s console?`,
    message: `The console of ${guest} closes at once; ${c.user}'s page says that an administrator closed it. They can open it again.`,
    confirmLabel: "Close console",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", `/api/admin/consoles/${encodeURIComponent(c.id)}`);
    alertText(alertEl, "ok", `Closed ${c.user}'s console of ${guest}.`);
  } catch (e) {
    alertText(alertEl, "error", `The console could not be closed: ${messageOf(e)}`);
  }
  await load();
}

function schedule(): void {
  if (timer !== null) window.clearInterval(timer);
  timer = window.setInterval(() => {
    if (document.visibilityState === "visible") void load();
  }, REFRESH_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") void load();
});
// Names arrive with the resource list; fill them in without waiting for the next read.
resources.subscribe(render);
schedule();
void load();

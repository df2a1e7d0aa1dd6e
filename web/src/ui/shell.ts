// The signed-in page shell every page module starts with: the live connection, the task bar,
// and the freshness notice that says when data on screen is not live (connecting, reconnecting,
// read periodically, or unreachable). Data areas get `is-stale` on <body> while it is not live.
import { initLive } from "../live";
import { boot, must } from "./dom";
import { connectTasks, mountTaskbar, setGuestNames } from "./tasks";
import { resources, type Freshness } from "./resources";
import { clock } from "./format";
import { mountBanners } from "./banners";
import "./stepup";

export interface User {
  username: string;
  displayName: string;
  isAdmin: boolean;
  groups?: string[];
}

export interface Boot {
  user: User;
  demo?: boolean;
}

export function initShell<T extends Boot>(): T {
  const data = boot<T>();
  // On a narrow screen the navigation strips scroll: show where the reader is.
  for (const current of document.querySelectorAll<HTMLElement>(".topnav [aria-current=page], .admin-nav [aria-current=page]")) {
    current.scrollIntoView({ block: "nearest", inline: "center" });
  }
  const socket = initLive(document);
  if (socket) connectTasks(socket, data.user?.username ?? "");
  mountBanners(socket);
  const bar = document.getElementById("taskbar");
  if (bar) mountTaskbar(bar);
  setGuestNames((vmid) => resources.guest(vmid)?.name);
  return data;
}

/** Shows how fresh the resource data is; marks the page stale when it is not live. */
export function watchFreshness(): void {
  const note = must("[data-freshness]");
  const text = note.querySelector<HTMLElement>("[data-freshness-text]") ?? note;
  const render = () => {
    const f: Freshness = resources.freshness;
    const at = resources.updatedAt ? clock(resources.updatedAt) : null;
    let msg = "";
    let kind = "info";
    switch (f) {
      case "loading":
        msg = resources.items.size ? "Connecting for live updates…" : "Loading…";
        break;
      case "polling":
        msg = `Live updates are unavailable; refreshed every 15 s (last ${at}).`;
        break;
      case "stale":
        msg = `Connection lost, reconnecting. Values are from ${at ?? "before"} and may be out of date.`;
        kind = "warn";
        break;
      case "error":
        msg = `Proxmox cannot be reached${resources.error ? `: ${resources.error}` : ""}. Retrying…`;
        kind = "error";
        break;
      default:
        msg = "";
    }
    note.hidden = msg === "";
    note.dataset.kind = kind;
    if (text.textContent !== msg) text.textContent = msg;
    document.body.classList.toggle("is-stale", f === "stale" || (f === "error" && resources.items.size > 0));
    document.body.dataset.freshnessState = f;
  };
  resources.subscribe(render);
  render();
}

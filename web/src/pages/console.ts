// Console page island: the guest's screen (web/src/ui/console.ts) with its toolbar, connected at
// once, and the guest's power buttons beside it with the task's progress. The header's status
// follows the live resource list; a stopped guest is offered Start, and the console connects when
// the start finished.
import { initShell, watchFreshness, type Boot } from "../ui/shell";
import { resources, type Resource } from "../ui/resources";
import { h, fill, must, setText } from "../ui/dom";
import { guestStatus } from "../ui/status";
import { PowerButtons, type GuestLike } from "../ui/power";
import { ProgressLine } from "../ui/progress";
import { ConsoleView } from "../ui/console";

interface ConsoleBoot extends Boot {
  vmid: number;
  type: "qemu" | "lxc";
  node: string;
  resource: Resource;
  caps: { power: boolean; console: boolean };
  consoleMax?: number;
}

const b = initShell<ConsoleBoot>();
const vmid = b.vmid;
const noun = b.type === "lxc" ? "container" : "VM";
resources.start();
watchFreshness();

let res: Resource = b.resource;
let gone = false;
const name = () => res.name ?? `Guest ${vmid}`;
const isTemplate = () => res.template === true || res.template === 1;
const guestLike = (): GuestLike => ({ type: b.type, status: res.status, template: isTemplate(), lock: res.lock });

const line = new ProgressLine(must("[data-power-progress]"));
const power = b.caps.power ? new PowerButtons({ vmid, type: b.type, name, line, vertical: true }) : null;
if (power) must("[data-power]").append(power.el);
else fill(must("[data-power]"), h("p", { class: "muted small", text: `You can use this ${noun}'s console but not power it.` }));

const view = new ConsoleView({
  vmid,
  type: b.type,
  name,
  allowed: b.caps.console && !isTemplate(),
  consoleMax: b.consoleMax,
  // Connect at once, also when the list says stopped (it may be a few seconds old): the server's
  // answer (409) then says so, and offers Start.
  autoConnect: true,
  start: power ? (done) => void power.run("start", (t) => done(t.ok === true)).then((started) => started || done(false)) : undefined,
});
must("[data-console]").append(view.el);

const statusEl = must("[data-guest-status]");
function render(): void {
  const st = res.status ?? "unknown";
  const key = `${st}|${res.lock ?? ""}|${gone}`;
  if (statusEl.dataset.v !== key) {
    statusEl.dataset.v = key;
    fill(statusEl, gone ? h("span", { class: "pill pill-bad", text: "Deleted" }) : guestStatus(st, { template: isTemplate(), lock: res.lock }));
  }
  setText(must("[data-guest-name]"), name());
  setText(must("[data-guest-node]"), res.node ?? b.node);
  power?.update(guestLike(), gone ? `The ${noun} no longer exists.` : null);
  view.setGuest(guestLike());
}

line.onChange(render);
resources.subscribe(() => {
  const r = resources.guest(vmid);
  if (r) res = r;
  else if (resources.freshness === "live" && resources.items.size > 0) gone = true;
  render();
});
render();

// Power actions of a guest: which apply in which state (and why not), running one over the socket
// (`vm:power`, the started task going to the task list), and the buttons the guest and console
// pages show.
import { request } from "../live";
import { h } from "./dom";
import { confirmAction } from "./dialog";
import { disableWithReason, type ProgressLine } from "./progress";
import { tasks, type Task } from "./tasks";
import type { GuestKind, PowerAction } from "../generated/wire";

export type { PowerAction };

export const POWER: Record<PowerAction, { label: string; doing: string; done: string; danger?: boolean; qemuOnly?: boolean }> = {
  start: { label: "Start", doing: "Starting", done: "started" },
  shutdown: { label: "Shut down", doing: "Shutting down", done: "shut down" },
  reboot: { label: "Reboot", doing: "Rebooting", done: "rebooted" },
  stop: { label: "Stop", doing: "Stopping", done: "stopped", danger: true },
  suspend: { label: "Pause", doing: "Pausing", done: "paused", qemuOnly: true },
  resume: { label: "Resume", doing: "Resuming", done: "resumed" },
  reset: { label: "Reset", doing: "Resetting", done: "reset", danger: true, qemuOnly: true },
};

export interface GuestLike {
  type?: string;
  status?: string;
  template?: boolean | number;
  lock?: string;
}

/** Why `action` does not apply to the guest now, or null when it does. */
export function whyNot(g: GuestLike, action: PowerAction): string | null {
  if (g.template === true || g.template === 1) return "Templates cannot be powered on; clone one instead.";
  if (POWER[action].qemuOnly && g.type === "lxc") return "Containers do not support this.";
  if (g.lock) return `The guest is locked (${g.lock}).`;
  const s = g.status ?? "unknown";
  const running = s === "running";
  const paused = s === "paused" || s === "suspended";
  switch (action) {
    case "start":
      return running ? "Already running." : paused ? "Paused: resume it instead." : null;
    case "resume":
      return paused ? null : "Not paused.";
    case "stop":
      return running || paused ? null : "Not running.";
    default:
      return running ? null : "Not running.";
  }
}

export interface PowerResult {
  upid?: string;
  error?: { code: string; message: string };
}

export async function power(vmid: number, action: PowerAction): Promise<PowerResult> {
  const ack = await request<{ upid?: string }>("vm:power", { vmid, action });
  if ("error" in ack) return { error: ack.error };
  if (ack.upid) tasks.started(ack.upid, vmid);
  return { upid: ack.upid };
}

/** What `PowerButtons` needs to know about its guest. */
export interface PowerButtonsOptions {
  vmid: number;
  type: GuestKind;
  /** The guest's name now (for the confirmation of stop and reset). */
  name: () => string;
  /** Where progress, results and reasons go. */
  line: ProgressLine;
  /** A column of buttons (beside a console) instead of a row. */
  vertical?: boolean;
}

/**
 * The guest's power buttons: start, shut down, reboot, stop, and (VMs) pause, resume, reset.
 * `update` says which apply to the guest's state now; those that do not stay focusable and say
 * why. A started task's progress shows on the progress line until it ends.
 */
export class PowerButtons {
  readonly el: HTMLDivElement;
  private readonly buttons = new Map<PowerAction, HTMLButtonElement>();
  private readonly noun: string;

  constructor(private readonly o: PowerButtonsOptions) {
    this.noun = o.type === "lxc" ? "container" : "VM";
    this.el = h("div", { class: `power-buttons${o.vertical ? " power-buttons-column" : ""}`, role: "group", "aria-label": "Power" });
    const main: PowerAction[] = ["start", "shutdown", "reboot", "stop"];
    const more: PowerAction[] = o.type === "lxc" ? ["resume"] : ["suspend", "resume", "reset"];
    for (const a of [...main, ...more]) {
      const quiet = main.includes(a) ? "" : "button-quiet";
      const cls = a === "start" ? "button-primary" : `${quiet}${POWER[a].danger ? " button-danger-quiet" : ""}`;
      const btn = o.line.button(POWER[a].label, cls, () => void this.run(a));
      this.buttons.set(a, btn);
      this.el.append(btn);
    }
  }

  /** Re-evaluates the buttons for the guest's state; `blocked` overrides (gone, a task running). */
  update(g: GuestLike, blocked: string | null = null): void {
    const st = g.status ?? "unknown";
    for (const [a, btn] of this.buttons) {
      disableWithReason(btn, blocked ?? (this.o.line.running ? "A task is running on this guest; wait for it to finish." : whyNot(g, a)));
      // Show what applies now; hide what never applies to this state (keeps the row short).
      if (a === "resume") btn.hidden = st !== "paused" && st !== "suspended";
      if (a === "suspend") btn.hidden = st === "paused" || st === "suspended";
    }
  }

  /**
   * Runs `a` (confirming stop and reset first) and follows its task; `then` runs when the task
   * ended. Resolves whether a task started (false: not confirmed, or refused — said on the line).
   */
  async run(a: PowerAction, then?: (t: Task) => void): Promise<boolean> {
    const noun = this.noun;
    if (a === "stop" || a === "reset") {
      const ok = await confirmAction({
        title: `${POWER[a].label} ${this.o.name()}?`,
        message: a === "stop" ? "Stopping cuts the power: unsaved data in the guest is lost. Shut down asks the guest to stop cleanly." : "Reset restarts the guest at once, like the reset button of a computer.",
        confirmLabel: POWER[a].label,
        danger: true,
      });
      if (!ok) return false;
    }
    this.o.line.busy(POWER[a].doing);
    const r = await power(this.o.vmid, a);
    if (r.error) {
      this.o.line.error(r.error.message);
      return false;
    }
    if (!r.upid) {
      this.o.line.clear();
      return false;
    }
    this.o.line.follow(r.upid, `${POWER[a].doing} ${noun}`, `${noun[0]!.toUpperCase()}${noun.slice(1)} ${POWER[a].done}.`, then);
    return true;
  }
}

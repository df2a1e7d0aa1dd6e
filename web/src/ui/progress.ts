// The progress line under a page's actions: what an action is doing, a task's progress until it
// ends, its result, refusals and errors. Buttons that do not apply now stay focusable and say why
// on this line when pressed (`disableWithReason`).
import { h, fill, announce } from "./dom";
import { tasks, openTaskLog, type Task } from "./tasks";

/** Marks `btn` unavailable with `reason` (it stays focusable and explains itself), or available. */
export function disableWithReason(btn: HTMLButtonElement, reason: string | null): void {
  if (reason) {
    btn.setAttribute("aria-disabled", "true");
    btn.title = reason;
    btn.dataset.reason = reason;
  } else {
    btn.removeAttribute("aria-disabled");
    btn.title = "";
    delete btn.dataset.reason;
  }
}

export class ProgressLine {
  /** The task this line follows, while it runs. */
  running: string | null = null;
  private readonly changed = new Set<() => void>();
  private readonly ended = new Set<(t: Task) => void>();

  constructor(readonly el: HTMLElement) {}

  /** `fn` runs when a followed task starts or ends (buttons re-evaluate what applies). */
  onChange(fn: () => void): void {
    this.changed.add(fn);
  }

  /** `fn` runs after any followed task ended. */
  onTaskEnd(fn: (t: Task) => void): void {
    this.ended.add(fn);
  }

  /** A button that runs `run`, or says on this line why it is not available now. */
  button(label: string, cls: string, run: () => void): HTMLButtonElement {
    const btn = h("button", { type: "button", class: `button ${cls}`.trim(), text: label });
    btn.addEventListener("click", () => {
      if (btn.dataset.reason) {
        fill(this.el, h("span", { class: "muted", text: `${label}: ${btn.dataset.reason}` }));
        return;
      }
      run();
    });
    return btn;
  }

  busy(text: string): void {
    fill(this.el, h("span", { class: "spinner", "aria-hidden": "true" }), ` ${text}…`);
  }

  error(message: string): void {
    fill(this.el, h("span", { class: "alert alert-error", text: message }));
  }

  clear(): void {
    fill(this.el);
  }

  /** Shows a task's progress until it ends, then its result; `then` runs at the end. */
  follow(upid: string, doing: string, done: string, then?: (t: Task) => void): void {
    this.running = upid;
    this.emit();
    const bar = h("span");
    const prog = h("div", { class: "progress is-indeterminate", role: "progressbar", "aria-label": doing }, bar);
    const text = h("span", { text: `${doing}…` });
    const log = h("button", { type: "button", class: "link-button small", text: "Show log", onclick: () => openTaskLog(upid) });
    fill(this.el, h("div", { class: "progress-line" }, text, " ", log), prog);
    const stop = tasks.follow(
      upid,
      (t) => {
        if (t.status === "running") {
          if (t.progress) {
            prog.classList.remove("is-indeterminate");
            bar.style.width = `${t.progress}%`;
            prog.setAttribute("aria-valuenow", String(t.progress));
            text.textContent = `${doing}… ${t.progress}%`;
          }
          return;
        }
        stop();
        if (this.running === upid) this.running = null;
        if (t.ok) {
          fill(this.el, h("span", { class: "pill pill-ok", text: "Done" }), ` ${done} `, h("button", { type: "button", class: "link-button small", text: "Show log", onclick: () => openTaskLog(upid) }));
          announce(done);
        } else {
          fill(this.el, h("span", { class: "alert alert-error" }, `${doing} failed: ${t.exitstatus ?? "unknown error"} `, h("button", { type: "button", class: "link-button", text: "Show log", onclick: () => openTaskLog(upid) })));
        }
        this.emit();
        for (const fn of this.ended) fn(t);
        then?.(t);
      },
      true,
    );
  }

  private emit(): void {
    for (const fn of this.changed) fn();
  }
}

// Modal dialogs on the native <dialog> element (focus stays inside, Escape closes, focus returns
// to where it was). A dialog with `onSubmit` wraps its body in a form whose submit button runs
// the callback; the dialog closes when the callback returns true.
import { h, uid } from "./dom";

export interface DialogAction {
  label: string;
  primary?: boolean;
  danger?: boolean;
  /** Runs on click; return false to keep the dialog open. */
  onClick?: () => boolean | void | Promise<boolean | void>;
}

export interface DialogOptions {
  title: string;
  body: Node | Node[];
  actions?: DialogAction[];
  /** Makes the body a form; the submit button is labelled `submitLabel`. */
  onSubmit?: (form: HTMLFormElement) => Promise<boolean> | boolean;
  submitLabel?: string;
  submitDanger?: boolean;
  wide?: boolean;
}

export interface DialogHandle {
  el: HTMLDialogElement;
  form: HTMLFormElement | null;
  close(): void;
  onClose(fn: () => void): void;
}

export function openDialog(o: DialogOptions): DialogHandle {
  const titleId = uid("dlg");
  const returnTo = document.activeElement as HTMLElement | null;
  const closeFns: (() => void)[] = [];
  const dlg = h("dialog", { class: `dialog${o.wide ? " dialog-wide" : ""}`, "aria-labelledby": titleId });
  const close = () => {
    if (dlg.open) dlg.close();
  };
  const header = h(
    "header",
    { class: "dialog-head" },
    h("h2", { id: titleId, text: o.title }),
    h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: close }, "✕"),
  );
  const actions = h("footer", { class: "dialog-actions" });
  for (const a of o.actions ?? []) {
    const b = h("button", {
      type: "button",
      class: `button${a.primary ? " button-primary" : ""}${a.danger ? " button-danger" : ""}`,
      text: a.label,
    });
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const keep = (await a.onClick?.()) === false;
        if (!keep) close();
      } finally {
        b.disabled = false;
      }
    });
    actions.append(b);
  }
  let form: HTMLFormElement | null = null;
  const body = h("div", { class: "dialog-body" }, ...(Array.isArray(o.body) ? o.body : [o.body]));
  if (o.onSubmit) {
    const submit = h("button", {
      type: "submit",
      class: `button ${o.submitDanger ? "button-danger" : "button-primary"}`,
      text: o.submitLabel ?? "Save",
    });
    actions.prepend(h("button", { type: "button", class: "button", text: "Cancel", onclick: close }));
    actions.append(submit);
    form = h("form", { class: "dialog-form", novalidate: true }, body, actions);
    const f = form;
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (submit.disabled) return;
      submit.disabled = true;
      submit.classList.add("is-busy");
      try {
        if (await o.onSubmit?.(f)) close();
      } finally {
        submit.disabled = false;
        submit.classList.remove("is-busy");
      }
    });
    dlg.append(header, form);
  } else {
    // A dialog whose buttons are in its body has no empty footer.
    dlg.append(header, body, ...(o.actions?.length ? [actions] : []));
  }
  dlg.addEventListener("close", () => {
    for (const fn of closeFns) fn();
    dlg.remove();
    returnTo?.focus?.();
  });
  // A click on the backdrop (outside the box) closes, as Escape does.
  dlg.addEventListener("mousedown", (e) => {
    if (e.target === dlg) {
      const r = dlg.getBoundingClientRect();
      const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
      if (!inside) close();
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector<HTMLElement>("[autofocus], input:not([type=hidden]):not([disabled]), select, textarea");
  (first ?? dlg.querySelector<HTMLElement>(".dialog-actions .button-primary, .dialog-actions .button"))?.focus();
  return { el: dlg, form, close, onClose: (fn) => closeFns.push(fn) };
}

/** Asks to confirm; resolves true on confirm. `typed` makes the person type a word first. */
export function confirmAction(o: {
  title: string;
  message: string | Node;
  confirmLabel: string;
  danger?: boolean;
  typed?: string;
}): Promise<boolean> {
  return new Promise((resolve) => {
    let answered = false;
    const parts: Node[] = [typeof o.message === "string" ? h("p", { text: o.message }) : o.message];
    let input: HTMLInputElement | null = null;
    if (o.typed) {
      const id = uid("confirm");
      input = h("input", { id, class: "input", autocomplete: "off", spellcheck: false });
      parts.push(
        h("div", { class: "field" }, h("label", { for: id }, "Type ", h("strong", { text: o.typed }), " to confirm"), input, h("p", { class: "field-error", hidden: true })),
      );
    }
    const d = openDialog({
      title: o.title,
      body: parts,
      submitLabel: o.confirmLabel,
      submitDanger: o.danger,
      onSubmit: () => {
        if (input && input.value.trim() !== o.typed) {
          const err = input.parentElement?.querySelector<HTMLElement>(".field-error");
          if (err) {
            err.hidden = false;
            err.textContent = `Type ${o.typed} exactly.`;
          }
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return false;
        }
        answered = true;
        resolve(true);
        return true;
      },
    });
    d.onClose(() => {
      if (!answered) resolve(false);
    });
  });
}

// Labelled form fields, client-side validation with inline messages, and the server's errors
// shown where they belong: on the field the server names (`error.field`), else above the form.
import { h, uid } from "./dom";

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
type Validator = (value: string, control: Control) => string | null;

export interface FieldOptions {
  label: string;
  name: string;
  type?: string;
  value?: string | number | boolean | null;
  required?: boolean;
  min?: number;
  max?: number;
  step?: number | "any";
  pattern?: string;
  patternMessage?: string;
  placeholder?: string;
  hint?: string | Node;
  options?: (readonly [string, string] | { value: string; label: string; disabled?: boolean })[];
  textarea?: boolean;
  rows?: number;
  autocomplete?: string;
  suffix?: string;
  disabled?: boolean;
  inputmode?: string;
  maxlength?: number;
  validate?: Validator;
  /** Other names the server may use for this field in `error.field`. */
  aliases?: string[];
  class?: string;
}

const validators = new WeakMap<Control, Validator>();
const labels = new WeakMap<Control, string>();

export function field(o: FieldOptions): HTMLDivElement {
  const id = uid(`f-${o.name}`);
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;
  let control: Control;
  if (o.options) {
    const select = h("select", { id, name: o.name, class: "input" });
    for (const opt of o.options) {
      const [value, label, disabled] = Array.isArray(opt)
        ? [opt[0], opt[1], false]
        : [(opt as { value: string }).value, (opt as { label: string }).label, Boolean((opt as { disabled?: boolean }).disabled)];
      select.append(h("option", { value, text: label, disabled }));
    }
    if (o.value !== undefined && o.value !== null) select.value = String(o.value);
    control = select;
  } else if (o.textarea) {
    control = h("textarea", { id, name: o.name, class: "input", rows: o.rows ?? 3, placeholder: o.placeholder, maxLength: o.maxlength });
    if (o.value !== undefined && o.value !== null) control.value = String(o.value);
  } else if (o.type === "checkbox") {
    const box = h("input", { id, name: o.name, type: "checkbox", class: "checkbox" });
    box.checked = Boolean(o.value);
    if (o.disabled) box.disabled = true;
    const wrap = h(
      "div",
      { class: `field field-check${o.class ? ` ${o.class}` : ""}` },
      h("label", { for: id }, box, h("span", { text: o.label })),
      o.hint ? h("p", { class: "hint", id: hintId }, o.hint) : null,
    );
    if (o.hint) box.setAttribute("aria-describedby", hintId);
    labels.set(box, o.label);
    return wrap;
  } else {
    const input = h("input", {
      id,
      name: o.name,
      type: o.type ?? "text",
      class: "input",
      placeholder: o.placeholder,
      autocomplete: o.autocomplete ?? "off",
      inputmode: o.inputmode,
      pattern: o.pattern,
      maxLength: o.maxlength,
    });
    if (o.min !== undefined) input.min = String(o.min);
    if (o.max !== undefined) input.max = String(o.max);
    if (o.step !== undefined) input.step = String(o.step);
    if (o.value !== undefined && o.value !== null) input.value = String(o.value);
    if (o.type === "text" || !o.type) input.spellcheck = false;
    control = input;
  }
  if (o.required) control.required = true;
  if (o.disabled) control.disabled = true;
  if (o.aliases) control.dataset.aliases = o.aliases.join(",");
  if (o.patternMessage) control.dataset.patternMessage = o.patternMessage;
  if (o.validate) validators.set(control, o.validate);
  labels.set(control, o.label);
  control.setAttribute("aria-describedby", `${o.hint ? `${hintId} ` : ""}${errId}`);
  const label = h("label", { for: id }, o.label, o.required ? h("span", { class: "req", "aria-hidden": "true", text: " *" }) : null);
  const inner = o.suffix ? h("div", { class: "input-group" }, control, h("span", { class: "input-suffix", text: o.suffix })) : control;
  return h(
    "div",
    { class: `field${o.class ? ` ${o.class}` : ""}` },
    label,
    inner,
    o.hint ? h("p", { class: "hint", id: hintId }, o.hint) : null,
    h("p", { class: "field-error", id: errId, hidden: true }),
  );
}

/** Gives a control built outside `field()` its label for validation messages. */
export function labelControl(c: Control, label: string): void {
  labels.set(c, label);
}

/** The form's controls that carry a name. */
function controls(form: HTMLElement): Control[] {
  return [...form.querySelectorAll<Control>("input[name], select[name], textarea[name]")];
}

function message(c: Control): string | null {
  const label = labels.get(c) ?? c.name;
  const custom = validators.get(c);
  if (c.disabled || c.closest("[hidden]") || c.closest("fieldset:disabled")) return null;
  const v = c.validity;
  if (v.valueMissing) return `${label} is required.`;
  if (v.badInput) return `${label} must be a number.`;
  if (v.rangeUnderflow) return `${label} must be at least ${(c as HTMLInputElement).min}.`;
  if (v.rangeOverflow) return `${label} must be at most ${(c as HTMLInputElement).max}.`;
  if (v.stepMismatch) return `${label} must be a whole number.`;
  if (v.tooLong) return `${label} is too long.`;
  let badPattern = false;
  try {
    badPattern = v.patternMismatch;
  } catch {
    // A pattern the browser cannot compile is skipped; the server still checks.
  }
  if (badPattern) return c.dataset.patternMessage ?? `${label} has the wrong format.`;
  if (v.typeMismatch) return `${label} is not valid.`;
  return custom ? custom(c.value, c) : null;
}

export function setFieldError(c: Control, text: string | null): void {
  const wrap = c.closest(".field");
  const err = wrap?.querySelector<HTMLElement>(".field-error");
  if (text) {
    c.setAttribute("aria-invalid", "true");
    if (err) {
      err.hidden = false;
      err.textContent = text;
    }
  } else {
    c.removeAttribute("aria-invalid");
    if (err) {
      err.hidden = true;
      err.textContent = "";
    }
  }
}

/** Validates the controls inside `scope`; shows each problem by its field, focuses the first. */
export function validate(scope: HTMLElement): boolean {
  let first: Control | null = null;
  for (const c of controls(scope)) {
    const m = message(c);
    setFieldError(c, m);
    if (m && !first) first = c;
  }
  first?.focus();
  return first === null;
}

/** Live re-validation of a field once it was shown wrong. */
export function revalidateOnInput(form: HTMLElement): void {
  form.addEventListener("input", (e) => {
    const c = e.target as Control;
    if (c.getAttribute?.("aria-invalid") === "true") setFieldError(c, message(c));
  });
}

/** The alert above a form (created on first use); hidden with null. */
export function formAlert(form: HTMLElement, text: string | null, kind: "error" | "ok" | "info" = "error"): void {
  let alert = form.querySelector<HTMLElement>(":scope > .form-alert");
  if (!alert) {
    alert = h("p", { class: "alert form-alert", role: "alert", hidden: true });
    form.prepend(alert);
  }
  alert.className = `alert form-alert alert-${kind}`;
  alert.hidden = !text;
  alert.textContent = text ?? "";
  if (text && kind === "error") alert.scrollIntoView({ block: "nearest" });
}

export function clearErrors(form: HTMLElement): void {
  for (const c of controls(form)) setFieldError(c, null);
  formAlert(form, null);
}

/** Shows a server error: on the named field when the form has it, else above the form. */
export function showServerError(form: HTMLElement, err: { message: string; field?: string; code?: string }): void {
  const f = err.field;
  if (f) {
    const leaf = f.split(".").pop() ?? f;
    const c = controls(form).find(
      (x) => x.name === f || x.name === leaf || (x.dataset.aliases ?? "").split(",").includes(f) || (x.dataset.aliases ?? "").split(",").includes(leaf),
    );
    if (c && !c.disabled && !c.closest("[hidden]")) {
      setFieldError(c, err.message);
      formAlert(form, null);
      c.focus();
      return;
    }
  }
  formAlert(form, err.message, "error");
}

/** Reads a control's value: numbers for number inputs, booleans for checkboxes. */
export function valueOf(form: HTMLElement, name: string): string | number | boolean | undefined {
  const c = form.querySelector<Control>(`[name="${name}"]`);
  if (!c) return undefined;
  if (c instanceof HTMLInputElement && c.type === "checkbox") return c.checked;
  if (c instanceof HTMLInputElement && c.type === "number") return c.value === "" ? undefined : Number(c.value);
  return c.value;
}

export function str(form: HTMLElement, name: string): string {
  const v = valueOf(form, name);
  return v === undefined ? "" : String(v).trim();
}

export function num(form: HTMLElement, name: string): number | undefined {
  const v = valueOf(form, name);
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function bool(form: HTMLElement, name: string): boolean {
  return valueOf(form, name) === true;
}

/** Sets a control's value. */
export function setValue(form: HTMLElement, name: string, value: string | number | boolean | null | undefined): void {
  const c = form.querySelector<Control>(`[name="${name}"]`);
  if (!c) return;
  if (c instanceof HTMLInputElement && c.type === "checkbox") c.checked = Boolean(value);
  else c.value = value === null || value === undefined ? "" : String(value);
}

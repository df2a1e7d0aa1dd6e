// Small DOM helpers: build elements without innerHTML (user data is always text), find them,
// and read the page's boot data (JSON the server renders into the page).

type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

/** Creates `tag` with attributes (`class`, `text`, `aria-*`, `data-*`, `on<event>` handlers). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (typeof value === "function") {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (key === "class") {
        el.className = String(value);
      } else if (key === "text") {
        el.textContent = String(value);
      } else if (value === true) {
        el.setAttribute(key, "");
      } else if (key in el && !key.includes("-") && key !== "list" && key !== "form") {
        (el as unknown as Record<string, unknown>)[key] = value;
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Sets the text of `el` only when it changed (no needless layout work on live updates). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function $<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T | null {
  return root.querySelector<T>(selector);
}

export function $$<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T[] {
  return [...root.querySelectorAll<T>(selector)];
}

/** The element, or an error naming the selector (the template and the module disagree). */
export function must<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T {
  const el = root.querySelector<T>(selector);
  if (!el) throw new Error(`missing ${selector}`);
  return el;
}

/** The page's boot data: `<script type="application/json" id="uma-boot">`. */
export function boot<T>(): T {
  const el = document.getElementById("uma-boot");
  return JSON.parse(el?.textContent || "{}") as T;
}

let ids = 0;
/** A document-unique id for label/aria wiring. */
export function uid(prefix = "u"): string {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** Text for screen readers only. */
export function srOnly(text: string): HTMLSpanElement {
  return h("span", { class: "sr-only", text });
}

/** Announces `text` politely through the page's live region. */
export function announce(text: string): void {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => (region.textContent = text), 30);
}

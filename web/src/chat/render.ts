// Message content as DOM: the server already sanitized it with ammonia; here it is rebuilt
// element by element from an allow-list (defence in depth — never innerHTML into the page), and
// bare http(s) URLs in text become links that open safely in a new tab.

const ALLOWED = new Set(["B", "I", "EM", "STRONG", "U", "S", "BR", "CODE", "PRE", "P", "UL", "OL", "LI", "BLOCKQUOTE", "A"]);
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

export function safeHref(raw: string | null): string | null {
  if (!raw) return null;
  try {
    const url = new URL(raw, location.origin);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href: string, text: string): HTMLAnchorElement {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return a;
}

/** A URL found in text without the punctuation that ends its sentence (and a closing bracket
 *  it did not open): "see https://x.org/a." links to https://x.org/a. */
export function trimUrl(raw: string): string {
  let url = raw.replace(/[.,;:!?'"]+$/, "");
  while (url.endsWith(")") && (url.match(/\(/g) ?? []).length < (url.match(/\)/g) ?? []).length) {
    url = url.slice(0, -1).replace(/[.,;:!?'"]+$/, "");
  }
  return url;
}

function linkify(text: string, out: Node): void {
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const at = m.index ?? 0;
    if (at > last) out.appendChild(document.createTextNode(text.slice(last, at)));
    const url = trimUrl(m[0]);
    const href = safeHref(url);
    out.appendChild(href ? link(href, url) : document.createTextNode(url));
    last = at + url.length;
  }
  if (last < text.length) out.appendChild(document.createTextNode(text.slice(last)));
}

function copy(from: Node, to: Node, inLink: boolean): void {
  for (const child of Array.from(from.childNodes)) {
    if (child.nodeType === Node.TEXT_NODE) {
      if (inLink) to.appendChild(document.createTextNode(child.textContent ?? ""));
      else linkify(child.textContent ?? "", to);
    } else if (child instanceof Element && ALLOWED.has(child.tagName)) {
      if (child.tagName === "A") {
        const href = safeHref(child.getAttribute("href"));
        if (href) {
          const a = link(href, "");
          copy(child, a, true);
          to.appendChild(a);
        } else {
          copy(child, to, inLink);
        }
      } else {
        const el = document.createElement(child.tagName.toLowerCase());
        copy(child, el, inLink);
        to.appendChild(el);
      }
    } else if (child instanceof Element) {
      copy(child, to, inLink);
    }
  }
}

/** The message content as a fragment. */
export function contentFragment(html: string): DocumentFragment {
  const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  const frag = document.createDocumentFragment();
  copy(parsed.body, frag, false);
  return frag;
}

/** Plain text of message content (for previews and notifications). */
export function contentText(html: string): string {
  return new DOMParser().parseFromString(`<body>${html}</body>`, "text/html").body.textContent ?? "";
}

/** The first web address a message links to (for its preview card). */
export function firstLink(html: string): string | null {
  const body = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html").body;
  for (const a of Array.from(body.querySelectorAll("a[href]"))) {
    const href = safeHref(a.getAttribute("href"));
    if (href && href.startsWith("http")) return href;
  }
  for (const m of (body.textContent ?? "").matchAll(URL_RE)) {
    const href = safeHref(trimUrl(m[0]));
    if (href && href.startsWith("http")) return href;
  }
  return null;
}

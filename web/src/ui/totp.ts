// Setting up an authenticator app and showing recovery codes, shared by the sign-in's setup step
// and Settings → Security: the QR code an app scans (drawn here from the otpauth address, never
// sent anywhere), the key for typing by hand, and the one-time recovery codes with copy and
// download.
import QRCode from "qrcode";
import { h, fill, uid } from "./dom";

export interface TotpStart {
  secret: string;
  otpauthUri: string;
}

/** Fills `box` with the QR code and the key of a new app. */
export async function showSetup(box: HTMLElement, start: TotpStart): Promise<void> {
  const svg = await QRCode.toString(start.otpauthUri, { type: "svg", margin: 1, errorCorrectionLevel: "M" });
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
  const qr = document.importNode(doc.documentElement, true) as unknown as SVGElement;
  qr.setAttribute("role", "img");
  qr.setAttribute("aria-label", "QR code for your authenticator app");
  qr.classList.add("totp-qr");
  const grouped = start.secret.replace(/(.{4})/g, "$1 ").trim();
  fill(
    box,
    h("div", { class: "totp-qr-box" }, qr),
    h(
      "div",
      { class: "totp-key" },
      h("span", { class: "muted small", text: "Can't scan? Enter this key (time-based, 6 digits):" }),
      h("code", { class: "totp-secret", text: grouped, "data-secret": start.secret }),
    ),
  );
}

/** Lists recovery codes in `list` and wires copy and download buttons in `scope`. */
export function showCodes(scope: HTMLElement, list: HTMLElement, codes: string[], username: string): void {
  fill(list, ...codes.map((c) => h("li", {}, h("code", { text: c }))));
  const text = `Uma recovery codes for ${username}\nEach works once.\n\n${codes.join("\n")}\n`;
  const copy = scope.querySelector<HTMLButtonElement>("[data-copy-codes]");
  if (copy) {
    copy.onclick = async () => {
      try {
        await navigator.clipboard.writeText(text);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Copy failed: select them instead";
      }
    };
  }
  const download = scope.querySelector<HTMLButtonElement>("[data-download-codes]");
  if (download) {
    download.onclick = () => {
      const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      const a = h("a", { href: url, download: `uma-recovery-codes-${username}.txt` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    };
  }
}

/** A code as typed: digits only for app codes (spaces dropped), as is for recovery codes. */
export function cleanCode(raw: string, method: "totp" | "recovery"): string {
  return method === "totp" ? raw.replace(/\s+/g, "") : raw.trim();
}

/** A code field with a "use a recovery code instead" switch (when the person has codes left). */
export interface CodeField {
  /** The field and, under it, the switch. */
  nodes: Node[];
  input: HTMLInputElement;
  method(): "totp" | "recovery";
  /** The code as typed, cleaned for its method. */
  value(): string;
}

export function codeField(withRecovery: boolean, withApp = true): CodeField {
  let method: "totp" | "recovery" = withApp ? "totp" : "recovery";
  const id = uid("code");
  const input = h("input", {
    id,
    class: "input input-code",
    name: "code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: 16,
    required: true,
    "aria-describedby": `${id}-err`,
  });
  const label = h("label", { for: id, text: withApp ? "Code from your authenticator app" : "Recovery code" });
  if (!withApp) {
    input.inputMode = "text";
    input.autocomplete = "off";
  }
  const nodes: Node[] = [h("div", { class: "field" }, label, input, h("p", { class: "field-error", id: `${id}-err`, hidden: true }))];
  if (withRecovery && withApp) {
    const toggle = h("button", { type: "button", class: "link", text: "Use a recovery code instead" });
    toggle.addEventListener("click", () => {
      method = method === "totp" ? "recovery" : "totp";
      label.textContent = method === "totp" ? "Code from your authenticator app" : "Recovery code";
      toggle.textContent = method === "totp" ? "Use a recovery code instead" : "Use your authenticator app instead";
      input.inputMode = method === "totp" ? "numeric" : "text";
      input.autocomplete = method === "totp" ? "one-time-code" : "off";
      input.value = "";
      input.focus();
    });
    nodes.push(toggle);
  }
  return { nodes, input, method: () => method, value: () => cleanCode(input.value, method) };
}

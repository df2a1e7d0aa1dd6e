// Settings → Second factor and API tokens: passkeys (added, renamed, removed), an authenticator
// app (QR code), the ten recovery codes that come with the first of them (shown once), new
// recovery codes and removing the app (a current factor says it's you), and one's API tokens (made with a name, a scope and an expiry, shown once; revoked at
// once).
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, ApiError, get, messageOf } from "../ui/api";
import { DataTable } from "../ui/table";
import { confirmAction, openDialog } from "../ui/dialog";
import { field, setFieldError, showServerError, str, validate } from "../ui/form";
import { ago, dateTime, plural } from "../ui/format";
import { addPasskey, deviceName, passkeyProblem, passkeysSupported } from "../ui/passkey";
import { factorDialog } from "../ui/stepup";
import { cleanCode, showCodes, showSetup, type TotpStart } from "../ui/totp";

interface Passkey {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

interface Factors {
  totp: boolean;
  totpSince: number | null;
  recoveryCodesLeft: number;
  methods: string[];
  required: boolean;
  stepUpMinutes: number;
  passkeys: Passkey[];
  passkeysAvailable: boolean;
}

let username = "";

function alertIn(box: Element, text: string, kind: "error" | "ok" = "error"): void {
  box.querySelector(".alert")?.remove();
  box.prepend(h("p", { class: `alert alert-${kind} card-note`, role: kind === "error" ? "alert" : "status", text }));
}

/** A dialog showing fresh recovery codes once. */
function codesDialog(codes: string[]): void {
  const list = h("ol", { class: "recovery-codes" });
  const body = h(
    "div",
    { class: "stack" },
    h("p", {}, h("strong", { text: "Save these recovery codes." }), " Each signs you in once if you lose your phone; they are shown only now."),
    list,
    h(
      "div",
      { class: "button-row" },
      h("button", { type: "button", class: "button", "data-copy-codes": true, text: "Copy" }),
      h("button", { type: "button", class: "button", "data-download-codes": true, text: "Download" }),
    ),
  );
  showCodes(body, list, codes, username);
  openDialog({ title: "Your recovery codes", body, actions: [{ label: "I saved them", primary: true }] });
}

async function setUpApp(): Promise<void> {
  let start: TotpStart;
  try {
    start = await api<TotpStart>("POST", "/api/auth/totp", {});
  } catch (e) {
    alertIn(must("[data-security]"), messageOf(e));
    return;
  }
  const qr = h("div", { class: "totp-setup" });
  const code = field({ label: "Code from the app", name: "code", required: true, autocomplete: "one-time-code", inputmode: "numeric", maxlength: 7, hint: "Six digits; a new one every 30 seconds." });
  const input = code.querySelector("input")!;
  openDialog({
    title: "Set up an authenticator app",
    body: [h("p", { class: "muted", text: "Scan the code with an authenticator app (Aegis, Google Authenticator, 1Password, Microsoft Authenticator…), then enter the code it shows." }), qr, code],
    submitLabel: "Finish setting up",
    onSubmit: async () => {
      const value = cleanCode(input.value, "totp");
      if (!/^\d{6}$/.test(value)) {
        setFieldError(input, "Enter the six digits your app shows.");
        return false;
      }
      try {
        const r = await api<{ recoveryCodes?: string[] }>("POST", "/api/auth/totp/confirm", { code: value });
        if (r.recoveryCodes) codesDialog(r.recoveryCodes);
        announce("Authenticator app set up.");
        void loadFactors();
        return true;
      } catch (e) {
        setFieldError(input, messageOf(e));
        input.select();
        return false;
      }
    },
  });
  await showSetup(qr, start);
}

/** Asks for a name, then sets up a passkey on this device (or a security key). */
function newPasskey(): void {
  const name = field({ label: "Name", name: "name", required: true, maxlength: 64, value: deviceName(), hint: "So you can tell your passkeys apart, like “Work laptop” or “YubiKey”." });
  const input = name.querySelector("input")!;
  // Asked for only when the server wants it (a first second factor, long after signing in).
  const password = field({ label: "Your password", name: "password", type: "password", autocomplete: "current-password", hint: "Your first passkey signs in on its own: confirm it's you." });
  const pwInput = password.querySelector("input")!;
  password.hidden = true;
  openDialog({
    title: "Add a passkey",
    body: [
      h("p", { class: "muted", text: "Your browser asks where to keep it: this device's screen lock, your phone, or a security key." }),
      name,
      password,
      h("p", { class: "hint", text: "Lost the device later? Sign in with another passkey, your authenticator app or a recovery code, then remove it here." }),
    ],
    submitLabel: "Create passkey",
    onSubmit: async () => {
      const value = input.value.trim();
      if (!value) {
        setFieldError(input, "Give it a name.");
        return false;
      }
      try {
        const r = await addPasskey(value, password.hidden ? undefined : pwInput.value);
        if (r.recoveryCodes) codesDialog(r.recoveryCodes);
        announce(`Passkey “${value}” added.`);
        void loadFactors();
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.field === "password") {
          password.hidden = false;
          setFieldError(pwInput, e.message);
          pwInput.focus();
          return false;
        }
        setFieldError(input, passkeyProblem(e));
        return false;
      }
    },
  });
}

function renamePasskey(k: Passkey): void {
  const name = field({ label: "Name", name: "name", required: true, maxlength: 64, value: k.name });
  const input = name.querySelector("input")!;
  openDialog({
    title: "Rename passkey",
    body: name,
    submitLabel: "Rename",
    onSubmit: async () => {
      const value = input.value.trim();
      if (!value) {
        setFieldError(input, "Give it a name.");
        return false;
      }
      try {
        await api("PATCH", `/api/auth/passkeys/${encodeURIComponent(k.id)}`, { name: value });
        void loadFactors();
        return true;
      } catch (e) {
        setFieldError(input, messageOf(e));
        return false;
      }
    },
  });
}

async function removePasskey(k: Passkey, f: Factors): Promise<void> {
  const last = f.methods.filter((m) => m !== "recovery").length === 1 && f.passkeys.length === 1;
  const ok = await confirmAction({
    title: `Remove “${k.name}”?`,
    message: last
      ? f.required
        ? "It is your only second factor: your recovery codes stop working too, and you'll set up a new one at your next sign-in."
        : "It is your only second factor: your recovery codes stop working too, and signing in will need only your password."
      : "It will no longer sign you in. Remove it from the device too, in its passkey settings.",
    confirmLabel: "Remove",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", `/api/auth/passkeys/${encodeURIComponent(k.id)}`);
    announce(`Passkey “${k.name}” removed.`);
  } catch (e) {
    alertIn(must("[data-security]"), messageOf(e));
    return;
  }
  void loadFactors();
}

function passkeysPart(f: Factors): Node[] {
  const head = h("h3", { class: "card-subhead card-note", text: "Passkeys" });
  if (!f.passkeysAvailable) {
    return [head, h("p", { class: "muted card-note", text: "Passkeys don't work at this address. Open Uma at its web address (like https://uma.example.com), or ask an administrator to turn passkeys on." })];
  }
  const list = f.passkeys.length
    ? h(
        "ul",
        { class: "passkey-list card-note" },
        ...f.passkeys.map((k) =>
          h(
            "li",
            {},
            h("div", {}, h("strong", { text: k.name }), h("p", { class: "muted small", text: `added ${dateTime(k.createdAt)} · ${k.lastUsedAt ? `last used ${ago(k.lastUsedAt)}` : "not used yet"}` })),
            h(
              "div",
              { class: "button-row" },
              h("button", { type: "button", class: "button", text: "Rename…", "aria-label": `Rename ${k.name}`, onclick: () => renamePasskey(k) }),
              h("button", { type: "button", class: "button button-danger-quiet", text: "Remove…", "aria-label": `Remove ${k.name}`, onclick: () => void removePasskey(k, f) }),
            ),
          ),
        ),
      )
    : h("p", { class: "muted card-note", text: "None yet. A passkey signs you in with this device's screen lock, your phone or a security key: no password, no code to type." });
  const add = passkeysSupported()
    ? h("div", { class: "form-actions card-note" }, h("button", { type: "button", class: f.methods.length ? "button" : "button button-primary", text: "Add a passkey", onclick: newPasskey }))
    : h("p", { class: "muted small card-note", text: "This browser can't use passkeys." });
  return [head, list, add];
}

function appPart(f: Factors): Node[] {
  const head = h("h3", { class: "card-subhead card-note", text: "Authenticator app" });
  if (!f.totp) {
    return [
      head,
      h("p", { class: "muted card-note", text: "Not set up. With an authenticator app, signing in and sensitive actions (deleting a guest or pool, granting access) can ask for a code from your phone." }),
      h("div", { class: "form-actions card-note" }, h("button", { type: "button", class: "button", text: "Set up authenticator app", onclick: () => void setUpApp() })),
    ];
  }
  return [
    head,
    h("p", { class: "card-note", text: f.totpSince ? `Set up ${dateTime(f.totpSince)}.` : "Set up." }),
    h(
      "div",
      { class: "form-actions card-note" },
      h("button", {
        type: "button",
        class: "button button-danger-quiet",
        text: "Remove…",
        "aria-label": "Remove the authenticator app",
        onclick: () =>
          void factorDialog({
            title: "Remove the authenticator app?",
            text:
              f.methods.includes("webauthn")
                ? "Your passkeys still work. Confirm it's you to remove the app."
                : f.required
                  ? "Your administrators require a second factor: you'll set up a new one at your next sign-in. Confirm it's you to remove this one."
                  : "Signing in will need only your password. Confirm it's you to remove it.",
            submit: "Remove",
            danger: true,
            methods: f.methods,
            then: async (proof) => {
              await api("DELETE", "/api/auth/totp", proof);
              announce("Authenticator app removed.");
              void loadFactors();
            },
          }),
      }),
    ),
  ];
}

function recoveryPart(f: Factors): Node[] {
  if (f.methods.length === 0) return [];
  const left = f.recoveryCodesLeft;
  return [
    h("h3", { class: "card-subhead card-note", text: "Recovery codes" }),
    h("p", { class: "muted card-note" }, h("span", { text: `${plural(left, "code")} left; each signs you in once if you lose your passkey or phone. ` }), left <= 3 ? h("span", { class: "pill pill-warn", text: "make new ones" }) : null),
    h(
      "div",
      { class: "form-actions card-note" },
      h("button", {
        type: "button",
        class: "button",
        text: "New recovery codes…",
        onclick: () =>
          void factorDialog({
            title: "New recovery codes",
            text: "Your old recovery codes stop working. Confirm it's you to go on.",
            submit: "Make new codes",
            methods: f.methods,
            then: async (proof) => {
              const r = await api<{ recoveryCodes: string[] }>("POST", "/api/auth/recovery-codes", proof);
              codesDialog(r.recoveryCodes);
              void loadFactors();
            },
          }),
      }),
    ),
  ];
}

function renderFactors(f: Factors): void {
  fill(
    must("[data-security]"),
    f.required && f.methods.length === 0
      ? h("p", { class: "alert alert-info card-note", text: "Your administrators require a second factor: set one up now, or you'll be walked through it at your next sign-in." })
      : null,
    ...passkeysPart(f),
    ...appPart(f),
    ...recoveryPart(f),
  );
}

async function loadFactors(): Promise<void> {
  try {
    renderFactors(await get<Factors>("/api/auth/factors"));
  } catch (e) {
    fill(must("[data-security]"), h("p", { class: "alert alert-error card-note", text: `Your second factor could not be loaded: ${messageOf(e)}` }));
  }
}

// ---- API tokens ----
interface Token {
  id: string;
  name: string;
  scope: "read" | "full";
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

const tokens = new DataTable<Token>({
  caption: "Your API tokens",
  key: (t) => t.id,
  empty: () => "No tokens. Make one for a script or a CI job.",
  columns: [
    { id: "name", label: "Name", class: "col-name", render: (td, t) => fill(td, h("strong", { text: t.name })) },
    { id: "scope", label: "Scope", render: (td, t) => fill(td, h("span", { class: `pill ${t.scope === "full" ? "pill-warn" : "pill-info"}`, text: t.scope === "full" ? "full" : "read-only" })) },
    { id: "made", label: "Made", render: (td, t) => setText(td, dateTime(t.createdAt)) },
    { id: "expires", label: "Expires", render: (td, t) => setText(td, t.expiresAt ? dateTime(t.expiresAt) : "never") },
    { id: "used", label: "Last used", render: (td, t) => setText(td, t.lastUsedAt ? ago(t.lastUsedAt) : "never") },
    {
      id: "act",
      label: "Actions",
      hideLabel: true,
      class: "actions",
      render: (td, t) =>
        fill(td, h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Revoke", "aria-label": `Revoke ${t.name}`, onclick: () => void revokeToken(t) })),
    },
  ],
});

async function loadTokens(): Promise<void> {
  try {
    tokens.set((await get<{ tokens: Token[] }>("/api/tokens")).tokens);
  } catch (e) {
    alertIn(must("[data-tokens]"), `Your tokens could not be loaded: ${messageOf(e)}`);
  }
}

async function revokeToken(t: Token): Promise<void> {
  const ok = await confirmAction({
    title: `Revoke ${t.name}?`,
    message: "Scripts using it are refused at once, and its live connections end.",
    confirmLabel: "Revoke",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", `/api/tokens/${encodeURIComponent(t.id)}`);
    announce(`${t.name} revoked.`);
  } catch (e) {
    alertIn(must("[data-tokens]"), messageOf(e));
  }
  void loadTokens();
}

const DAY = 86_400_000;

function newToken(): void {
  const body = h(
    "div",
    { class: "stack" },
    field({ label: "Name", name: "name", required: true, maxlength: 64, placeholder: "ci-deploy", hint: "What uses it, so you know what breaks when you revoke it." }),
    field({
      label: "Scope",
      name: "scope",
      options: [
        ["read", "Read-only: look, never change"],
        ["full", "Full: everything you may do on pools and guests"],
      ],
    }),
    field({
      label: "Expires",
      name: "expires",
      options: [
        ["30", "in 30 days"],
        ["90", "in 90 days"],
        ["365", "in a year"],
        ["never", "never"],
      ],
    }),
    h("p", { class: "muted small", text: "A token never reaches administration, settings or your account, even an administrator's." }),
  );
  openDialog({
    title: "New API token",
    body,
    submitLabel: "Make token",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const days = str(form, "expires");
      try {
        const r = await api<Token & { token: string }>("POST", "/api/tokens", {
          name: str(form, "name"),
          scope: str(form, "scope"),
          ...(days === "never" ? {} : { expiresAt: Date.now() + Number(days) * DAY }),
        });
        showToken(r);
        void loadTokens();
        return true;
      } catch (e) {
        showServerError(form, e as ApiError);
        return false;
      }
    },
  });
}

function showToken(t: Token & { token: string }): void {
  const code = h("code", { class: "token-secret", text: t.token });
  const copy = h("button", { type: "button", class: "button", text: "Copy" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(t.token);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed: select it instead";
    }
  });
  openDialog({
    title: `${t.name} is ready`,
    body: [
      h("p", {}, h("strong", { text: "Copy it now:" }), " it is shown only this once."),
      h("div", { class: "token-box" }, code, copy),
      h("p", { class: "muted small", text: "Send it as a header:" }),
      h("pre", { class: "code-sample", text: `curl -H "Authorization: Bearer ${t.token}" ${location.origin}/api/proxmox/resources` }),
    ],
    actions: [{ label: "Done", primary: true }],
    wide: true,
  });
}

/** Mounts both sections. */
export function mountSecurity(name: string): void {
  username = name;
  must("[data-tokens]").append(tokens.el);
  must("[data-new-token]").addEventListener("click", newToken);
  void loadFactors();
  void loadTokens();
}

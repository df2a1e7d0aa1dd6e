// The sign-in's second step: a passkey, a code from the authenticator app or a recovery code; or,
// when the administrators require a second factor and the person has none, setting up a passkey
// or an app and saving recovery codes before the session opens.
import { api, ApiError, messageOf } from "../ui/api";
import { h, fill, must } from "../ui/dom";
import { clearErrors, setFieldError } from "../ui/form";
import { addPasskey, deviceName, passkeyFactor, passkeyProblem, passkeysSupported } from "../ui/passkey";
import { cleanCode, showCodes, showSetup, type TotpStart } from "../ui/totp";

const card = must("[data-mfa]");
const next = card.dataset.next || "/dashboard";
const alertBox = must("[data-mfa-alert]");
const username = card.dataset.username ?? "";

function alertText(text: string | null): void {
  if (!text) {
    fill(alertBox);
    return;
  }
  fill(alertBox, h("p", { class: "alert alert-error", role: "alert", text }));
}

/** A sign-in that expired or was blocked can't go on here: say so and point to the start. */
function fatal(e: unknown): boolean {
  if (e instanceof ApiError && (e.status === 401 || e.status === 429)) {
    alertText(e.message);
    card.querySelectorAll<HTMLButtonElement>("form button[type=submit]").forEach((b) => (b.disabled = true));
    return true;
  }
  return false;
}

type Way = "webauthn" | "totp" | "recovery";

/** After a code or passkey was accepted: warn on few recovery codes left, then go on. */
function signedIn(method: Way, r: { recoveryCodesLeft?: number }): void {
  if (method === "recovery" && (r.recoveryCodesLeft ?? 10) <= 3) {
    sessionStorage.setItem("uma-recovery-low", String(r.recoveryCodesLeft ?? 0));
  }
  location.assign(next);
}

function codeStep(): void {
  const step = must("[data-code-step]");
  const form = must<HTMLFormElement>("[data-code-form]");
  const input = must<HTMLInputElement>("#mfa-code");
  const label = must("[data-code-label]");
  const hint = must("[data-code-hint]");
  const passkeyStep = step.querySelector<HTMLElement>("[data-passkey-step]");
  const passkeyButton = step.querySelector<HTMLButtonElement>("[data-use-passkey]");
  const ways = (step.dataset.methods ?? "").split(" ").filter((w): w is Way => w === "webauthn" || w === "totp" || w === "recovery");
  const usable = ways.filter((w) => w !== "webauthn" || passkeysSupported());
  let method: Way = usable[0] ?? "totp";

  function show(way: Way): void {
    method = way;
    clearErrors(form);
    alertText(null);
    const passkey = way === "webauthn";
    if (passkeyStep) passkeyStep.hidden = !passkey;
    form.hidden = passkey;
    step.querySelectorAll<HTMLButtonElement>("[data-switch]").forEach((b) => {
      b.hidden = b.dataset.switch === way || !usable.includes(b.dataset.switch as Way);
    });
    if (passkey) {
      passkeyButton?.focus();
      return;
    }
    const recovery = way === "recovery";
    label.textContent = recovery ? "Recovery code" : "Code from your authenticator app";
    hint.textContent = recovery ? "One of the codes you saved, like abcde-12345. Each works once." : "Six digits; a new one every 30 seconds.";
    input.inputMode = recovery ? "text" : "numeric";
    input.autocomplete = recovery ? "off" : "one-time-code";
    input.maxLength = recovery ? 16 : 7;
    input.value = "";
    input.focus();
  }

  step.querySelectorAll<HTMLButtonElement>("[data-switch]").forEach((b) => b.addEventListener("click", () => show(b.dataset.switch as Way)));
  passkeyButton?.addEventListener("click", async () => {
    alertText(null);
    passkeyButton.disabled = true;
    passkeyButton.textContent = "Waiting for your passkey…";
    try {
      const r = await api<{ recoveryCodesLeft?: number }>("POST", "/api/login/mfa", await passkeyFactor());
      signedIn("webauthn", r);
      return;
    } catch (e) {
      if (!fatal(e)) alertText(passkeyProblem(e));
    }
    passkeyButton.disabled = false;
    passkeyButton.textContent = "Use your passkey";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    alertText(null);
    const way = method === "recovery" ? "recovery" : "totp";
    const code = cleanCode(input.value, way);
    if (!code) {
      setFieldError(input, way === "totp" ? "Enter the six digits your app shows." : "Enter a recovery code.");
      input.focus();
      return;
    }
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    button.disabled = true;
    button.textContent = "Checking…";
    try {
      signedIn(way, await api<{ recoveryCodesLeft?: number }>("POST", "/api/login/mfa", { method: way, code }));
      return;
    } catch (e) {
      if (!fatal(e)) {
        setFieldError(input, messageOf(e));
        input.select();
      }
    }
    button.disabled = false;
    button.textContent = "Sign in";
  });
  show(method);
}

/** The recovery codes of a first second factor, then on to Uma. */
function codesStep(codes: string[] | undefined): void {
  if (!codes) {
    location.assign(next);
    return;
  }
  must("[data-enrol-step]").hidden = true;
  // The factor is set up: the only way on is past the codes (no "Start over" that loses them).
  must("#mfa-title").textContent = "Save your recovery codes";
  const subtitle = document.querySelector("[data-enrol-subtitle]");
  if (subtitle) subtitle.textContent = "Step 2 of 2: then you're in.";
  document.querySelector<HTMLElement>("[data-start-over]")?.remove();
  const codesStep = must("[data-codes-step]");
  codesStep.hidden = false;
  showCodes(codesStep, must("[data-codes]"), codes, username);
  const saved = must<HTMLInputElement>("[data-saved]");
  const go = must<HTMLButtonElement>("[data-continue]");
  saved.addEventListener("change", () => (go.disabled = !saved.checked));
  go.addEventListener("click", () => location.assign(next));
  saved.focus();
}

function passkeyEnrol(): void {
  const box = document.querySelector<HTMLElement>("[data-passkey-enrol]");
  const button = box?.querySelector<HTMLButtonElement>("[data-add-passkey]");
  if (!box || !button || !passkeysSupported()) return;
  box.hidden = false;
  button.addEventListener("click", async () => {
    alertText(null);
    button.disabled = true;
    button.textContent = "Waiting for your passkey…";
    try {
      codesStep((await addPasskey(deviceName())).recoveryCodes);
      return;
    } catch (e) {
      if (!fatal(e)) alertText(passkeyProblem(e));
    }
    button.disabled = false;
    button.textContent = "Set up a passkey";
  });
}

async function enrolStep(): Promise<void> {
  passkeyEnrol();
  const setup = must("[data-totp-setup]");
  const form = must<HTMLFormElement>("[data-enrol-form]");
  const input = must<HTMLInputElement>("#enrol-code");
  try {
    const start = await api<TotpStart>("POST", "/api/auth/totp", {});
    await showSetup(setup, start);
  } catch (e) {
    if (!fatal(e)) alertText(messageOf(e));
    return;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    alertText(null);
    const code = cleanCode(input.value, "totp");
    if (!/^\d{6}$/.test(code)) {
      setFieldError(input, "Enter the six digits your app shows.");
      input.focus();
      return;
    }
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    button.disabled = true;
    try {
      const r = await api<{ recoveryCodes?: string[] }>("POST", "/api/auth/totp/confirm", { code });
      codesStep(r.recoveryCodes);
    } catch (e) {
      if (!fatal(e)) {
        setFieldError(input, messageOf(e));
        input.select();
      }
      button.disabled = false;
    }
  });
}

if (card.dataset.enrol === "true") void enrolStep();
else codeStep();

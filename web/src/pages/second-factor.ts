// The sign-in's second step: a code from the authenticator app (or a recovery code), or, when
// the administrators require a second factor and the person has none, setting up an app and
// saving recovery codes before the session opens.
import { api, ApiError, messageOf } from "../ui/api";
import { h, fill, must } from "../ui/dom";
import { clearErrors, setFieldError } from "../ui/form";
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

function codeStep(): void {
  const form = must<HTMLFormElement>("[data-code-form]");
  const input = must<HTMLInputElement>("#mfa-code");
  const label = must("[data-code-label]");
  const hint = must("[data-code-hint]");
  let method: "totp" | "recovery" = "totp";
  const switcher = form.querySelector<HTMLButtonElement>("[data-switch-method]");
  switcher?.addEventListener("click", () => {
    method = method === "totp" ? "recovery" : "totp";
    const recovery = method === "recovery";
    label.textContent = recovery ? "Recovery code" : "Code from your authenticator app";
    hint.textContent = recovery ? "One of the codes you saved, like abcde-12345. Each works once." : "Six digits; a new one every 30 seconds.";
    input.inputMode = recovery ? "text" : "numeric";
    input.autocomplete = recovery ? "off" : "one-time-code";
    input.maxLength = recovery ? 16 : 7;
    switcher.textContent = recovery ? "Use your authenticator app instead" : "Use a recovery code instead";
    input.value = "";
    clearErrors(form);
    input.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    alertText(null);
    const code = cleanCode(input.value, method);
    if (!code) {
      setFieldError(input, method === "totp" ? "Enter the six digits your app shows." : "Enter a recovery code.");
      input.focus();
      return;
    }
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    button.disabled = true;
    button.textContent = "Checking…";
    try {
      const r = await api<{ recoveryCodesLeft?: number }>("POST", "/api/login/mfa", { method, code });
      if (method === "recovery" && (r.recoveryCodesLeft ?? 10) <= 3) {
        sessionStorage.setItem("uma-recovery-low", String(r.recoveryCodesLeft ?? 0));
      }
      location.assign(next);
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
}

async function enrolStep(): Promise<void> {
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
      const r = await api<{ recoveryCodes: string[] }>("POST", "/api/auth/totp/confirm", { code });
      must("[data-enrol-step]").hidden = true;
      const codesStep = must("[data-codes-step]");
      codesStep.hidden = false;
      showCodes(codesStep, must("[data-codes]"), r.recoveryCodes, username);
      const saved = must<HTMLInputElement>("[data-saved]");
      const go = must<HTMLButtonElement>("[data-continue]");
      saved.addEventListener("change", () => (go.disabled = !saved.checked));
      go.addEventListener("click", () => location.assign(next));
      saved.focus();
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

// Step-up: a sensitive action (deleting a guest or pool, granting access, applying SDN, exporting
// the audit log) wants a second factor given in the last minutes. The server answers
// `step_up_required`; this asks for a passkey or a code in a dialog, confirms it, and the action
// is retried. The same dialog confirms changes to one's own factors (Settings → Security).
import { api, messageOf, onStepUp } from "./api";
import { openDialog, type DialogHandle } from "./dialog";
import { h } from "./dom";
import { setFieldError } from "./form";
import { passkeyFactor, passkeyProblem, passkeysSupported } from "./passkey";
import { codeField } from "./totp";

interface Factors {
  methods: string[];
  required: boolean;
  stepUpMinutes: number;
  factorAt: number | null;
}

/** A second factor as the routes take it: a code, or a passkey's answer. */
export interface Proof {
  method: string;
  code?: string;
  ceremonyId?: string;
  credential?: object;
}

/**
 * A dialog asking for one of `methods` (a passkey first where the browser has them, else or also
 * a code); `then` runs with it and may throw to keep the dialog open with its message. Resolves
 * true once `then` succeeded.
 */
export function factorDialog(o: {
  title: string;
  text: string;
  submit: string;
  danger?: boolean;
  methods: string[];
  then: (proof: Proof) => Promise<void>;
}): Promise<boolean> {
  return new Promise((resolve) => {
    let accepted = false;
    let d: DialogHandle | null = null;
    const passkey = o.methods.includes("webauthn") && passkeysSupported();
    const app = o.methods.includes("totp");
    const recovery = o.methods.includes("recovery");
    const code = app || recovery ? codeField(recovery, app) : null;
    const parts: Node[] = [h("p", { class: "muted", text: o.text })];
    if (passkey) {
      const problem = h("p", { class: "field-error", role: "alert", hidden: true });
      const button = h("button", { type: "button", class: `button ${code ? "" : "button-primary"} button-wide`, text: "Use your passkey", autofocus: true });
      button.addEventListener("click", async () => {
        button.disabled = true;
        problem.hidden = true;
        try {
          await o.then(await passkeyFactor());
          accepted = true;
          d?.close();
        } catch (e) {
          problem.textContent = passkeyProblem(e);
          problem.hidden = false;
        } finally {
          button.disabled = false;
        }
      });
      parts.push(button, problem);
      if (code) parts.push(h("p", { class: "login-or muted small" }, h("span", { text: "or enter a code" })));
    }
    if (code) parts.push(...code.nodes);
    d = openDialog({
      title: o.title,
      body: parts,
      ...(code
        ? {
            submitLabel: o.submit,
            submitDanger: o.danger,
            onSubmit: async () => {
              if (!code.value()) {
                setFieldError(code.input, "Enter the code.");
                return false;
              }
              try {
                await o.then({ method: code.method(), code: code.value() });
                accepted = true;
                return true;
              } catch (e) {
                setFieldError(code.input, messageOf(e));
                code.input.select();
                return false;
              }
            },
          }
        : { actions: [{ label: "Cancel" }] }),
    });
    d.onClose(() => resolve(accepted));
  });
}

/** Asks for a second factor; resolves true once the server accepted one. */
export async function askSecondFactor(reason: string): Promise<boolean> {
  let factors: Factors;
  try {
    factors = await api<Factors>("GET", "/api/auth/factors");
  } catch {
    return false;
  }
  if (factors.methods.length === 0) {
    openDialog({
      title: "Set up a second factor first",
      body: [
        h("p", { text: "You need a passkey or an authenticator app before you can do this." }),
        h("p", { class: "button-row" }, h("a", { href: "/settings#security", class: "button button-primary", text: "Set up now" })),
      ],
      actions: [{ label: "Close" }],
    });
    return false;
  }
  return factorDialog({
    title: "Confirm it's you",
    text: `${reason} You won't be asked again for ${factors.stepUpMinutes} minutes.`,
    submit: "Confirm",
    methods: factors.methods,
    then: async (proof) => {
      await api("POST", "/api/auth/step-up", proof);
    },
  });
}

/** Before a plain link to a sensitive download: asks for a second factor when one is due. */
export async function recentFactor(reason: string): Promise<boolean> {
  let factors: Factors;
  try {
    factors = await api<Factors>("GET", "/api/auth/factors");
  } catch {
    return true;
  }
  if (factors.methods.length === 0) return factors.required ? askSecondFactor(reason) : true;
  const fresh = factors.factorAt !== null && Date.now() - factors.factorAt < factors.stepUpMinutes * 60_000 - 5_000;
  return fresh || askSecondFactor(reason);
}

onStepUp((message) => askSecondFactor(message));

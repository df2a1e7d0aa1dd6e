// Step-up: a sensitive action (deleting a guest or pool, granting access, applying SDN, exporting
// the audit log) wants a second factor given in the last minutes. The server answers
// `step_up_required`; this asks for a code in a dialog, confirms it, and the action is retried.
import { api, messageOf, onStepUp } from "./api";
import { openDialog } from "./dialog";
import { h, uid } from "./dom";
import { setFieldError } from "./form";
import { cleanCode } from "./totp";

interface Factors {
  methods: string[];
  required: boolean;
  stepUpMinutes: number;
  factorAt: number | null;
}

/** Asks for a code; resolves true once the server accepted one. */
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
        h("p", { text: reason }),
        h("p", {}, "Go to ", h("a", { href: "/settings#security", class: "link", text: "Settings → Security" }), " to set up an authenticator app."),
      ],
      actions: [{ label: "Close" }],
    });
    return false;
  }
  return new Promise((resolve) => {
    let accepted = false;
    let method: "totp" | "recovery" = "totp";
    const id = uid("stepup");
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
    const label = h("label", { for: id, text: "Code from your authenticator app" });
    const parts: Node[] = [
      h("p", { class: "muted", text: `${reason} You won't be asked again for ${factors.stepUpMinutes} minutes.` }),
      h("div", { class: "field" }, label, input, h("p", { class: "field-error", id: `${id}-err`, hidden: true })),
    ];
    if (factors.methods.includes("recovery")) {
      const toggle = h("button", { type: "button", class: "link", text: "Use a recovery code instead" });
      toggle.addEventListener("click", () => {
        method = method === "totp" ? "recovery" : "totp";
        label.textContent = method === "totp" ? "Code from your authenticator app" : "Recovery code";
        toggle.textContent = method === "totp" ? "Use a recovery code instead" : "Use your authenticator app instead";
        input.inputMode = method === "totp" ? "numeric" : "text";
        input.value = "";
        input.focus();
      });
      parts.push(toggle);
    }
    const d = openDialog({
      title: "Confirm it's you",
      body: parts,
      submitLabel: "Confirm",
      onSubmit: async () => {
        const code = cleanCode(input.value, method);
        if (!code) {
          setFieldError(input, "Enter the code.");
          return false;
        }
        try {
          await api("POST", "/api/auth/step-up", { method, code });
          accepted = true;
          return true;
        } catch (e) {
          setFieldError(input, messageOf(e));
          input.select();
          return false;
        }
      },
    });
    d.onClose(() => resolve(accepted));
  });
}

/** Before a plain link to a sensitive download: asks for a code when one is due. */
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

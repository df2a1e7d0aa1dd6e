// Step-up: a sensitive action (deleting a guest or pool, granting access, applying SDN, exporting
// the audit log) wants a second factor given in the last minutes. The server answers
// `step_up_required`; this asks for a code in a dialog, confirms it, and the action is retried.
import { api, messageOf, onStepUp } from "./api";
import { openDialog } from "./dialog";
import { h } from "./dom";
import { setFieldError } from "./form";
import { codeField } from "./totp";

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
    const code = codeField(factors.methods.includes("recovery"));
    const input = code.input;
    const parts: Node[] = [
      h("p", { class: "muted", text: `${reason} You won't be asked again for ${factors.stepUpMinutes} minutes.` }),
      ...code.nodes,
    ];
    const d = openDialog({
      title: "Confirm it's you",
      body: parts,
      submitLabel: "Confirm",
      onSubmit: async () => {
        if (!code.value()) {
          setFieldError(input, "Enter the code.");
          return false;
        }
        try {
          await api("POST", "/api/auth/step-up", { method: code.method(), code: code.value() });
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

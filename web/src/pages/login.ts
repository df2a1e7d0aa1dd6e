// Login page island: the form works without JavaScript; with it, empty fields are caught before
// the round trip and the button shows progress, and "Sign in with a passkey" works where the
// browser has passkeys.
import { api } from "../ui/api";
import { getPasskey, passkeyProblem, passkeysSupported, type Ceremony } from "../ui/passkey";

export function initLogin(doc: Document): void {
  const form = doc.querySelector<HTMLFormElement>("form[data-login-form]");
  if (!form) return;
  const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
  // With JavaScript the page shows its own inline message instead of the browser's bubble.
  form.noValidate = true;
  form.addEventListener("submit", (event) => {
    const username = form.elements.namedItem("username") as HTMLInputElement | null;
    const password = form.elements.namedItem("password") as HTMLInputElement | null;
    const missing = [username, password].find((input) => input && input.value.trim() === "");
    if (missing) {
      event.preventDefault();
      showError(form, "Enter your username and password.");
      missing.focus();
      return;
    }
    if (button) {
      button.disabled = true;
      button.textContent = "Signing in…";
    }
  });
}

function showError(form: HTMLFormElement, message: string): void {
  let alert = form.parentElement?.querySelector<HTMLElement>(".alert-error");
  if (!alert) {
    alert = document.createElement("p");
    alert.className = "alert alert-error";
    alert.setAttribute("role", "alert");
    form.before(alert);
  }
  alert.textContent = message;
}

export function initPasskeySignIn(doc: Document): void {
  const button = doc.querySelector<HTMLButtonElement>("[data-passkey-signin]");
  const form = doc.querySelector<HTMLFormElement>("form[data-login-form]");
  if (!button || !form || !passkeysSupported()) return;
  button.hidden = false;
  const hint = doc.querySelector<HTMLElement>("[data-passkey-hint]");
  if (hint) hint.hidden = false;
  const others = button.closest<HTMLElement>("[data-other-ways]");
  if (others) others.hidden = false;
  button.addEventListener("click", async () => {
    const label = button.textContent;
    button.disabled = true;
    button.textContent = "Waiting for your passkey…";
    try {
      const c = await api<Ceremony>("POST", "/api/login/passkey/options", {});
      const credential = await getPasskey(c.options);
      button.textContent = "Signing in…";
      await api("POST", "/api/login/passkey", { ceremonyId: c.ceremonyId, credential });
      // The server's own safe `?next=` (a path here), rendered into the button.
      location.assign(button.dataset.next || "/dashboard");
      return;
    } catch (e) {
      showError(form, passkeyProblem(e));
    }
    button.disabled = false;
    button.textContent = label;
  });
}

initLogin(document);
initPasskeySignIn(document);

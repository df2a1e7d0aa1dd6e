// Login page island: the form works without JavaScript; with it, empty fields are caught before
// the round trip and the button shows progress.

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

initLogin(document);

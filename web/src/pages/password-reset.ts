// The page a one-time password link opens. The token travels in the address's fragment (never
// sent to a server, so no log or Referer holds it); the page takes it out of the address bar,
// asks whom it is for, and sets the password the person chooses. A used, expired or replaced
// link says so and points to an administrator.
import { api, ApiError, messageOf } from "../ui/api";
import { h, fill, must, setText } from "../ui/dom";
import { clearErrors, formAlert, setFieldError, showServerError, str } from "../ui/form";
import { dateTime } from "../ui/format";

const form = must<HTMLFormElement>("[data-reset-form]");
const who = must("[data-reset-who]");
const alertBox = must("[data-reset-alert]");
const token = decodeURIComponent(location.hash.slice(1));
if (token) history.replaceState(null, "", location.pathname);

function fail(text: string): void {
  setText(who, "This link can't be used.");
  fill(alertBox, h("p", { class: "alert alert-error", role: "alert", text }));
  form.hidden = true;
}

async function start(): Promise<void> {
  if (!token) {
    fail("The link is incomplete. Open it exactly as you received it, or ask an administrator for a new one.");
    return;
  }
  try {
    const r = await api<{ username: string; expiresAt: number }>("POST", "/api/password-reset/check", { token });
    setText(who, `For ${r.username} · the link works until ${dateTime(r.expiresAt)}`);
    (form.elements.namedItem("username") as HTMLInputElement).value = r.username;
    form.hidden = false;
    (form.elements.namedItem("password") as HTMLInputElement).focus();
  } catch (e) {
    fail(messageOf(e));
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const password = str(form, "password");
  const again = form.elements.namedItem("again") as HTMLInputElement;
  const first = form.elements.namedItem("password") as HTMLInputElement;
  if ([...password].length < 8) {
    setFieldError(first, "Use at least 8 characters.");
    first.focus();
    return;
  }
  if (again.value !== password) {
    setFieldError(again, "The two passwords differ.");
    again.focus();
    return;
  }
  const button = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
  button.disabled = true;
  button.textContent = "Setting…";
  try {
    const r = await api<{ username: string }>("POST", "/api/password-reset", { token, password });
    form.hidden = true;
    setText(who, `Done, ${r.username}.`);
    fill(
      alertBox,
      h("p", { class: "alert alert-ok", role: "status" }, "Your password is set. ", h("a", { href: "/login", text: "Sign in with it" }), "."),
    );
  } catch (e) {
    button.disabled = false;
    button.textContent = "Set my password";
    if (e instanceof ApiError && e.status === 404) fail(e.message);
    else if (e instanceof ApiError) showServerError(form, e);
    else formAlert(form, messageOf(e));
  }
});

void start();

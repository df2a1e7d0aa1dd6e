// Administration → Access: who must use a second factor (nobody, administrators, everyone, or
// members of some groups) and how long a code confirms sensitive actions for.
import { h, fill, must, announce } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { clearErrors, field, formAlert, num, showServerError, str } from "../ui/form";

interface Policy {
  require: "none" | "admins" | "everyone" | "groups";
  groups: string[];
  stepUpMinutes: number;
}

const CHOICES: [Policy["require"], string, string][] = [
  ["none", "Nobody", "anyone may still set one up in their settings"],
  ["admins", "Administrators", "the people who can change everything"],
  ["everyone", "Everyone", "every local and directory account"],
  ["groups", "Members of these groups", "and administrators only if listed"],
];

export async function mountPolicy(): Promise<void> {
  const root = must("[data-mfa-policy]");
  let p: Policy;
  try {
    p = await get<Policy>("/api/settings/mfa");
  } catch (e) {
    fill(root, h("p", { class: "alert alert-error", text: `The second-factor rule could not be loaded: ${messageOf(e)}` }));
    return;
  }
  const groups = field({
    label: "Groups",
    name: "groups",
    textarea: true,
    rows: 3,
    value: p.groups.join("\n"),
    hint: "One group per line (a name or a DN), as for the sign-in groups.",
  });
  const radios = h(
    "fieldset",
    { class: "choice-col" },
    h("legend", { class: "field-label", text: "Who must use a second factor" }),
    ...CHOICES.map(([value, label, hint]) =>
      h(
        "label",
        { class: "choice" },
        h("input", { type: "radio", class: "checkbox", name: "require", value, checked: p.require === value }),
        h("span", {}, h("strong", { text: label }), " ", h("span", { class: "muted small", text: hint })),
      ),
    ),
  );
  const form = h(
    "form",
    { novalidate: true, "aria-label": "Second factor" },
    radios,
    groups,
    field({
      label: "Sensitive actions ask again after",
      name: "stepUpMinutes",
      type: "number",
      min: 1,
      max: 1440,
      value: p.stepUpMinutes,
      suffix: "minutes",
      hint: "Deleting a guest or pool, granting access, applying SDN and exporting the audit log ask for the second factor again when the last one is older than this.",
    }),
    h("p", { class: "muted small", text: "People it covers who have neither a passkey nor an authenticator app are walked through setting one up at their next sign-in. OpenID Connect sign-ins and API tokens are not asked." }),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button button-primary", text: "Save" })),
  );
  const chosen = () => form.querySelector<HTMLInputElement>("input[name=require]:checked")?.value ?? "none";
  const sync = () => {
    groups.hidden = chosen() !== "groups";
  };
  form.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const body: Policy = {
      require: chosen() as Policy["require"],
      groups: str(form, "groups")
        .split("\n")
        .map((g) => g.trim())
        .filter(Boolean),
      stepUpMinutes: num(form, "stepUpMinutes") ?? 15,
    };
    try {
      await api("PUT", "/api/settings/mfa", body);
      formAlert(form, "Saved. It applies from each person's next sign-in.", "ok");
      announce("Second-factor rule saved.");
    } catch (err) {
      showServerError(form, err as ApiError);
    }
  });
  fill(root, form);
}

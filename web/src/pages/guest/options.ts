// Guest page, Options tab: name, tags, description, start at boot and protection.
import { h, fill } from "../../ui/dom";
import { field, validate, clearErrors, str, bool, revalidateOnInput } from "../../ui/form";
import { NAME_PATTERN, NAME_MESSAGE } from "../../ui/clone";
import { caps, isCt, loading, failed, readOnlyNote, loadConfig, sendConfig, type Config } from "./context";

export async function optionsTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let cfg: Config;
  try {
    cfg = await loadConfig();
  } catch (e) {
    failed(panel, e, () => void optionsTab(panel));
    return;
  }
  const can = caps.configure;
  const nameKey = isCt ? "hostname" : "name";
  const form = h("form", { novalidate: true });
  const fs = h(
    "fieldset",
    { disabled: !can },
    h("legend", { class: "sr-only", text: "Options" }),
    h(
      "div",
      { class: "form-grid" },
      field({ label: isCt ? "Host name" : "Name", name: nameKey, required: true, value: cfg[nameKey] ?? "", pattern: NAME_PATTERN, patternMessage: NAME_MESSAGE }),
      field({ label: "Tags", name: "tags", value: String(cfg.tags ?? "").split(/[;, ]/).filter(Boolean).join("; "), placeholder: "web; prod", pattern: "[a-zA-Z0-9_+.\\-]+([;, ]+[a-zA-Z0-9_+.\\-]+)*[;, ]*", patternMessage: "Tags are letters, digits, '_', '+', '.', '-', separated by ';'.", hint: "Separate tags with ';'." }),
      field({ label: "Description", name: "description", textarea: true, rows: 3, value: cfg.description ?? "", maxlength: 8192, class: "span-all" }),
      field({ label: "Start at boot", name: "onboot", type: "checkbox", value: String(cfg.onboot ?? "0") === "1", hint: "Start when its node starts." }),
      field({ label: "Protection", name: "protection", type: "checkbox", value: String(cfg.protection ?? "0") === "1", hint: "Refuse deletion and disk removal while set." }),
    ),
  );
  const save = h("button", { type: "submit", class: "button button-primary", text: "Save options" });
  if (can) fs.append(h("div", { class: "form-actions" }, save));
  form.append(fs);
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    const set: Record<string, unknown> = {};
    const del: string[] = [];
    const name = str(form, nameKey);
    if (name !== String(cfg[nameKey] ?? "")) set[nameKey] = name;
    const tagsNew = str(form, "tags").split(/[;, ]+/).filter(Boolean).join(";");
    if (tagsNew !== String(cfg.tags ?? "").split(/[;, ]+/).filter(Boolean).join(";")) {
      if (tagsNew) set.tags = tagsNew;
      else del.push("tags");
    }
    const desc = (form.elements.namedItem("description") as HTMLTextAreaElement).value;
    if (desc !== String(cfg.description ?? "")) {
      if (desc.trim()) set.description = desc;
      else del.push("description");
    }
    for (const k of ["onboot", "protection"]) {
      const v = bool(form, k) ? 1 : 0;
      if (String(v) !== String(cfg[k] ?? "0")) set[k] = v;
    }
    save.disabled = true;
    save.classList.add("is-busy");
    if (await sendConfig(form, set, del)) cfg = await loadConfig().catch(() => cfg);
    save.disabled = false;
    save.classList.remove("is-busy");
  });
  fill(panel, can ? null : readOnlyNote("options", "VM.Config.Options"), form);
}

// Admin: the knowledge base. Every article (drafts too) with its state; New and Edit open the
// editor in the page (not a dialog, so a stray click loses nothing): title, subtitle, tags,
// cover, published and pinned, and the Markdown with Write and Preview tabs (the preview is the
// server's rendering, as readers will see it). Pictures and PDFs go in by the Attach button, by
// dropping them on the text or by pasting them (a placeholder holds their place while they
// upload, with progress); the cover is uploaded the same way. Leaving with unsaved changes asks
// first.
import { initShell, type Boot } from "../ui/shell";
import { h, fill, must, setText, announce } from "../ui/dom";
import { api, get, messageOf, type ApiError } from "../ui/api";
import { DataTable, cell } from "../ui/table";
import { confirmAction } from "../ui/dialog";
import { bool, clearErrors, field, formAlert, num, revalidateOnInput, setValue, showServerError, str, validate } from "../ui/form";
import { dateTime, plural } from "../ui/format";
import { ACCEPT_ALL, ACCEPT_IMAGES, filesOf, uploadFile, type Upload } from "../ui/upload";

initShell<Boot>();

interface Doc {
  id: string;
  title: string;
  subtitle: string | null;
  author: string;
  content?: string;
  coverImage: string | null;
  visitedBy: number;
  published: boolean;
  pinned: boolean;
  tags: string[];
  createdAt: number;
  updatedAt: number;
}

const listCard = must("[data-docs-card]");
const editorCard = must("[data-editor]");
const alertEl = must("[data-docs-alert]");
const countEl = must("[data-doc-count]");
const contentCard = must("[data-content-card]");
let items: Doc[] = [];
let dirty = false;
/** Files still uploading into the article open in the editor. */
let uploading = 0;

function say(kind: "error" | "ok", message: string): void {
  fill(alertEl, h("p", { class: `alert alert-${kind} card-note`, role: kind === "error" ? "alert" : "status", text: message }));
}

const table = new DataTable<Doc>({
  caption: "Articles",
  key: (d) => d.id,
  hash: (d) => `${d.updatedAt}`,
  sort: { id: "updated", dir: -1 },
  empty: () => "No article yet. New article… writes the first.",
  columns: [
    {
      id: "title",
      label: "Title",
      class: "col-name",
      sort: (d) => d.title.toLowerCase(),
      render: (td, d) =>
        cell(td, `${d.updatedAt}`, () => [
          d.published ? h("a", { href: `/docs/${d.id}`, class: "row-link", text: d.title }) : h("span", { class: "row-link", text: d.title }),
          h("div", { class: "muted small", text: [d.subtitle, d.tags.join(", ")].filter(Boolean).join(" · ") }),
        ]),
    },
    {
      id: "state",
      label: "State",
      sort: (d) => (d.published ? 1 : 0),
      render: (td, d) =>
        cell(td, `${d.published}|${d.pinned}`, () => [
          h("span", { class: `pill ${d.published ? "pill-ok" : ""}`, text: d.published ? "Published" : "Draft" }),
          d.pinned ? h("span", { class: "pill pill-info", text: "Pinned" }) : "",
        ]),
    },
    { id: "readers", label: "Readers", class: "num", sort: (d) => d.visitedBy, render: (td, d) => setText(td, String(d.visitedBy)) },
    { id: "updated", label: "Updated", sort: (d) => d.updatedAt, render: (td, d) => setText(td, dateTime(d.updatedAt)) },
    {
      id: "actions",
      label: "Actions",
      class: "col-actions",
      render: (td, d) =>
        cell(td, `${d.id}|${d.updatedAt}`, () =>
          h(
            "div",
            { class: "button-row" },
            h("button", { type: "button", class: "button button-small", text: "Edit…", "aria-label": `Edit “${d.title}”`, onclick: () => void edit(d.id) }),
            h("button", { type: "button", class: "button button-small button-danger-quiet", text: "Delete…", "aria-label": `Delete “${d.title}”`, onclick: () => void remove(d) }),
          ),
        ),
    },
  ],
});
must("[data-docs]").replaceChildren(table.el);
must<HTMLButtonElement>("[data-new-doc]").addEventListener("click", () => void edit(null));

async function load(): Promise<void> {
  try {
    items = await get<Doc[]>("/api/admin/docs?limit=200");
    table.set(items);
    setText(countEl, `${plural(items.length, "article")} · ${items.filter((d) => !d.published).length} drafts`);
  } catch (e) {
    say("error", `The articles could not be read: ${messageOf(e)}`);
  }
}

function showList(): void {
  dirty = false;
  editorCard.hidden = true;
  listCard.hidden = false;
  contentCard.hidden = false;
  fill(editorCard);
}

async function edit(id: string | null): Promise<void> {
  let doc: Doc | null = null;
  if (id) {
    try {
      doc = await get<Doc>(`/api/admin/docs/${encodeURIComponent(id)}`);
    } catch (e) {
      say("error", `The article could not be opened: ${messageOf(e)}`);
      return;
    }
  }
  const preview = h("div", { class: "article-body card editor-preview", hidden: true });
  const content = field({
    label: "Text (Markdown)",
    name: "content",
    textarea: true,
    rows: 18,
    required: true,
    maxlength: 200000,
    value: doc?.content ?? "",
    hint: "Headings with #, tables with |, task lists with - [ ], code in ``` fences with a language.",
  });
  const cover = coverField(doc, () => (dirty = true));
  const textarea = content.querySelector("textarea") as HTMLTextAreaElement;
  const uploads = h("ul", { class: "upload-list", "aria-label": "Uploads" });
  const pick = h("input", { type: "file", accept: ACCEPT_ALL, multiple: true, hidden: true, "data-attach-input": "" });
  const attach = (files: File[]) => {
    for (const f of files) void attachFile(textarea, uploads, f, doc?.id, () => (dirty = true));
  };
  pick.addEventListener("change", () => {
    attach([...(pick.files ?? [])]);
    pick.value = "";
  });
  const toolbar = h(
    "div",
    { class: "editor-toolbar" },
    h("button", { type: "button", class: "button button-small", text: "Attach picture or PDF…", "data-attach": "", onclick: () => pick.click() }),
    h("span", { class: "muted small", text: "or drop or paste files into the text" }),
    pick,
  );
  textarea.addEventListener("dragover", (e) => {
    if (!e.dataTransfer?.types.includes("Files")) return;
    e.preventDefault();
    textarea.classList.add("is-dropping");
  });
  textarea.addEventListener("dragleave", () => textarea.classList.remove("is-dropping"));
  textarea.addEventListener("drop", (e) => {
    const files = filesOf(e.dataTransfer);
    textarea.classList.remove("is-dropping");
    if (!files.length) return;
    e.preventDefault();
    textarea.focus();
    attach(files);
  });
  textarea.addEventListener("paste", (e) => {
    const files = filesOf(e.clipboardData);
    if (!files.length) return;
    e.preventDefault();
    attach(files);
  });
  const writeTab = h("button", { type: "button", class: "tab", role: "tab", "aria-selected": "true", text: "Write" });
  const previewTab = h("button", { type: "button", class: "tab", role: "tab", "aria-selected": "false", tabindex: "-1", text: "Preview" });
  const form = h(
    "form",
    { class: "editor-form", novalidate: true },
    h("div", { class: "form-grid" },
      field({ label: "Title", name: "title", required: true, maxlength: 191, value: doc?.title ?? "", class: "span-all" }),
      field({ label: "Subtitle", name: "subtitle", maxlength: 191, value: doc?.subtitle ?? "", class: "span-all" }),
      field({ label: "Tags", name: "tags", value: (doc?.tags ?? []).join(", "), hint: "Words separated by commas, e.g. backup, howto." }),
      cover,
      field({ label: "Published (readers see it)", name: "published", type: "checkbox", value: doc?.published ?? false }),
      field({ label: "Pinned (listed first)", name: "pinned", type: "checkbox", value: doc?.pinned ?? false }),
    ),
    h("div", { class: "tabs", role: "tablist", "aria-label": "Text" }, writeTab, previewTab),
    toolbar,
    uploads,
    content,
    preview,
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", class: "button button-primary", text: doc ? "Save" : "Create" }),
      h("button", { type: "button", class: "button", text: "Cancel", onclick: () => void leave() }),
    ),
  );
  const showPreview = async (on: boolean) => {
    writeTab.setAttribute("aria-selected", String(!on));
    previewTab.setAttribute("aria-selected", String(on));
    // One stop in the tab order for the pair; the arrow keys move between them.
    writeTab.tabIndex = on ? -1 : 0;
    previewTab.tabIndex = on ? 0 : -1;
    content.hidden = on;
    toolbar.hidden = on;
    uploads.hidden = on;
    preview.hidden = !on;
    if (!on) return;
    fill(preview, h("p", { class: "muted", text: "Rendering…" }));
    try {
      const r = await api<{ html: string }>("POST", "/api/admin/docs/preview", { content: str(form, "content") });
      // The server's sanitized rendering, as the article page shows it.
      preview.innerHTML = r.html || "<p class=\"muted\">Nothing to show yet.</p>";
    } catch (e) {
      fill(preview, h("p", { class: "alert alert-error", text: `The preview could not be made: ${messageOf(e)}` }));
    }
  };
  writeTab.addEventListener("click", () => void showPreview(false));
  previewTab.addEventListener("click", () => void showPreview(true));
  for (const tab of [writeTab, previewTab]) {
    tab.addEventListener("keydown", (e) => {
      if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
      e.preventDefault();
      const toPreview = e.key === "End" || (e.key !== "Home" && tab === writeTab);
      void showPreview(toPreview);
      (toPreview ? previewTab : writeTab).focus();
    });
  }
  form.addEventListener("input", () => (dirty = true));
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (uploading > 0) {
      formAlert(form, `Wait: ${plural(uploading, "file")} still uploading. Save when ${uploading > 1 ? "they are" : "it is"} in.`, "error");
      return;
    }
    if (!validate(form)) return;
    const tags = str(form, "tags")
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const payload = {
      title: str(form, "title"),
      subtitle: str(form, "subtitle") || null,
      tags,
      coverImage: str(form, "coverImage") || null,
      published: bool(form, "published"),
      pinned: bool(form, "pinned"),
      content: str(form, "content"),
    };
    try {
      const saved = doc
        ? await api<Doc>("PUT", `/api/admin/docs/${encodeURIComponent(doc.id)}`, payload)
        : await api<Doc>("POST", "/api/admin/docs", payload);
      say("ok", `${doc ? "Saved" : "Created"} “${saved.title}”${saved.published ? "" : " as a draft"}.`);
      announce(doc ? "Article saved." : "Article created.");
      showList();
      await load();
    } catch (err) {
      if (content.hidden) await showPreview(false);
      showServerError(form, err as ApiError);
    }
  });
  uploading = 0;
  fill(editorCard, h("h2", { text: doc ? `Edit “${doc.title}”` : "New article" }), form);
  listCard.hidden = true;
  contentCard.hidden = true;
  editorCard.hidden = false;
  dirty = false;
  setValue(form, "title", doc?.title ?? "");
  form.querySelector<HTMLInputElement>("[name=title]")?.focus();
}

/** The cover: an https address typed in, or a picture uploaded (shown as a thumbnail). */
function coverField(doc: Doc | null, changed: () => void): HTMLDivElement {
  const wrap = field({
    label: "Cover image",
    name: "coverImage",
    value: doc?.coverImage ?? "",
    placeholder: "Upload a picture →",
    hint: "A picture you upload (PNG, JPEG, GIF or WebP). Optional.",
    class: "span-all",
  });
  const input = wrap.querySelector("input") as HTMLInputElement;
  const thumb = h("img", { class: "cover-thumb", alt: "Cover preview", hidden: true });
  const status = h("p", { class: "upload-status small", role: "status" });
  const pick = h("input", { type: "file", accept: ACCEPT_IMAGES, hidden: true, "data-cover-input": "" });
  const showThumb = () => {
    const v = input.value.trim();
    thumb.hidden = !(v.startsWith("/uploads/") || v.startsWith("https://"));
    if (!thumb.hidden) thumb.src = v;
    clear.hidden = !v;
  };
  thumb.addEventListener("error", () => (thumb.hidden = true));
  input.addEventListener("input", showThumb);
  const button = h("button", { type: "button", class: "button button-small", text: "Upload picture…", "data-cover-upload": "", onclick: () => pick.click() });
  const clear = h("button", {
    type: "button",
    class: "button button-small button-quiet",
    text: "Remove",
    onclick: () => {
      input.value = "";
      showThumb();
      changed();
    },
  });
  pick.addEventListener("change", async () => {
    const file = pick.files?.[0];
    pick.value = "";
    if (!file) return;
    const bar = h("progress", { max: 1, value: 0 });
    fill(status, `Uploading ${file.name}… `, bar);
    button.disabled = true;
    uploading += 1;
    try {
      const up = await uploadFile(file, { docId: doc?.id, onProgress: (f) => (bar.value = f) });
      input.value = up.url;
      showThumb();
      changed();
      fill(status, `Uploaded ${up.name}.`);
    } catch (e) {
      fill(status, h("span", { class: "field-error", role: "alert", text: messageOf(e) }));
    } finally {
      uploading -= 1;
      button.disabled = false;
    }
  });
  wrap.append(h("div", { class: "cover-actions" }, button, clear, pick), thumb, status);
  showThumb();
  return wrap;
}

/** A picture's default description: its name without the extension, unless it says nothing. */
function describe(name: string): string {
  const stem = name.replace(/\.[^.]*$/, "").replace(/[[\]]/g, "").trim();
  return !stem || /^(image|img|screenshot|clipboard|pasted|photo|unknown)[-_ \d]*$/i.test(stem) ? "Picture" : stem;
}

/** Uploads a file into the text at the cursor, on its own paragraph: a placeholder first, then
 *  its Markdown (a picture, or a link for a PDF). */
async function attachFile(textarea: HTMLTextAreaElement, list: HTMLElement, file: File, docId: string | undefined, changed: () => void): Promise<void> {
  const label = file.name.replace(/[[\]]/g, "");
  const placeholder = `![Uploading ${label}…]()`;
  const at = textarea.selectionStart ?? textarea.value.length;
  const before = textarea.value.slice(0, at);
  const after = textarea.value.slice(textarea.selectionEnd ?? at);
  const lead = !before ? "" : before.endsWith("\n\n") ? "" : before.endsWith("\n") ? "\n" : "\n\n";
  const trail = after.startsWith("\n\n") ? "" : after.startsWith("\n") ? "\n" : "\n\n";
  const inserted = `${lead}${placeholder}${trail}`;
  textarea.setRangeText(inserted, at, textarea.selectionEnd ?? at, "end");
  changed();
  uploading += 1;
  const bar = h("progress", { max: 1, value: 0, "aria-label": `Uploading ${label}` });
  const row = h("li", { class: "upload-row" }, h("span", { text: label }), bar);
  list.append(row);
  const replace = (text: string) => {
    // A failed file takes its lines back with it.
    const whole = text ? -1 : textarea.value.indexOf(inserted);
    const [from, len] = whole >= 0 ? [whole, inserted.length] : [textarea.value.indexOf(placeholder), placeholder.length];
    if (from >= 0) textarea.setRangeText(text, from, from + len, "preserve");
    changed();
  };
  try {
    const up: Upload = await uploadFile(file, { docId, onProgress: (f) => (bar.value = f) });
    replace(up.contentType.startsWith("image/") ? `![${describe(up.name)}](${up.url})` : `[${label}](${up.url})`);
    row.remove();
    announce(`${label} uploaded.`);
  } catch (e) {
    replace("");
    fill(row, h("span", { class: "field-error", role: "alert", text: `${label}: ${messageOf(e)}` }), h("button", { type: "button", class: "button button-small button-quiet", text: "Dismiss", onclick: () => row.remove() }));
  } finally {
    uploading -= 1;
  }
}

async function leave(): Promise<void> {
  if (dirty) {
    const ok = await confirmAction({
      title: "Leave without saving?",
      message: "Your changes to this article are not saved.",
      confirmLabel: "Leave",
      danger: true,
    });
    if (!ok) return;
  }
  showList();
}

async function remove(d: Doc): Promise<void> {
  const ok = await confirmAction({
    title: `Delete “${d.title}”?`,
    message: "Readers lose it at once, and it can't be brought back. Unpublish it instead to keep it as a draft.",
    confirmLabel: "Delete article",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", `/api/admin/docs/${encodeURIComponent(d.id)}`);
    say("ok", `Deleted “${d.title}”.`);
  } catch (e) {
    say("error", `The article could not be deleted: ${messageOf(e)}`);
  }
  await load();
}

interface ContentSettings {
  publicDocs: boolean;
  maxUploadBytes: number;
  uploadQuotaBytes: number;
}

const MIB = 1024 * 1024;

/** Whether the docs are public, and the upload limits (the server keeps bytes; this shows MiB). */
async function loadContentSettings(): Promise<void> {
  const root = must("[data-content-settings]");
  let s: ContentSettings;
  try {
    s = await get<ContentSettings>("/api/settings/content");
  } catch (e) {
    fill(root, h("p", { class: "alert alert-error", text: `The settings could not be loaded: ${messageOf(e)}` }));
    return;
  }
  const submit = h("button", { type: "submit", class: "button button-primary", text: "Save" });
  const form = h(
    "form",
    { novalidate: true, "aria-label": "Readers and uploads" },
    h(
      "div",
      { class: "form-grid" },
      field({ label: "Anyone may read published docs, without signing in", name: "publicDocs", type: "checkbox", value: s.publicDocs, class: "span-all", hint: "Drafts, the editor and the rest of Uma stay for signed-in people. Pictures that published docs show become public too." }),
      field({ label: "Largest upload", name: "maxUploadBytes", type: "number", min: 1, max: 100, step: "any", required: true, suffix: "MiB", value: +(s.maxUploadBytes / MIB).toFixed(2), hint: "Per file, 1 to 100 MiB." }),
      field({ label: "Storage per person", name: "uploadQuotaBytes", type: "number", min: 0, max: 102400, step: "any", required: true, suffix: "MiB", value: +(s.uploadQuotaBytes / MIB).toFixed(2), hint: "Everything one person uploads, docs and chat; 0 means no limit." }),
    ),
    h("div", { class: "form-actions" }, submit),
  );
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    submit.disabled = true;
    try {
      await api("POST", "/api/settings/content", {
        publicDocs: bool(form, "publicDocs"),
        maxUploadBytes: Math.round((num(form, "maxUploadBytes") ?? 10) * MIB),
        uploadQuotaBytes: Math.round((num(form, "uploadQuotaBytes") ?? 0) * MIB),
      });
      formAlert(form, "Saved.", "ok");
      announce("Settings saved.");
    } catch (err) {
      showServerError(form, err as ApiError);
    } finally {
      submit.disabled = false;
    }
  });
  fill(root, form);
}

window.addEventListener("beforeunload", (e) => {
  if (dirty && !editorCard.hidden) e.preventDefault();
});
void load();
void loadContentSettings();

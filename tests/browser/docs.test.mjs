// The knowledge base as a reader meets it: an administrator's article (written through the API
// here) is found by search on /docs, opens with its table, highlighted code and contents, and a
// search for nothing says so; an article written in the editor, with an uploaded cover and a
// picture dropped into its text, is found and read with both. Screenshots of the list and the article, light and dark, 1280 and
// 390 px, go to target/screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startUma, launchBrowser, screenshots, shots } from "./harness.mjs";

const ADMIN_PW = "docs-admin-pw";
const ALICE_PW = "docs-alice-pw";

let uma;
let browser;
let alice;
let admin;
const problems = [];

async function signIn(username, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) problems.push(`${username}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${username}: ${e}`));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  return page;
}


const ARTICLE = `Backups run every night; this is how to check and restore them.

## Where backups go

| Node | Storage | Keep |
|---|---|---|
| pve1 | nas | 7 daily |
| pve2 | nas | 7 daily |

## Restore a guest

1. Open the guest and choose **Backups**.
2. Pick the backup and **Restore**.

\`\`\`bash
# or from a shell on the node
qmrestore /mnt/pve/nas/dump/vzdump-qemu-100.vma.zst 100 --storage local-lvm
\`\`\`

## Checklist

- [x] Nightly job enabled
- [ ] Test a restore each month
`;

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: ADMIN_PW }, { users: [{ name: "alice", password: ALICE_PW }] });
  browser = await launchBrowser();
  alice = await signIn("alice", ALICE_PW);
  admin = await signIn("admin", ADMIN_PW);
  const made = await admin.evaluate(async (body) => {
    const { csrfToken } = await (await fetch("/api/auth")).json();
    const post = (doc) =>
      fetch("/api/admin/docs", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrfToken }, body: JSON.stringify(doc) }).then((r) => r.status);
    return [
      await post({ title: "Backups and restores", subtitle: "What runs every night, and how to get a guest back", content: body, tags: ["backup", "howto"], pinned: true }),
      await post({ title: "Asking for a VLAN", content: "Open **Networks** and create a VNet in your pool's zone.", tags: ["network"] }),
      await post({ title: "Draft: storage migration", content: "Not ready.", published: false }),
    ];
  }, ARTICLE);
  assert.deepEqual(made, [200, 200, 200]);
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

test("a reader finds an article by search and reads it with its table and highlighted code", async () => {
  await alice.goto(`${uma.url}/docs`);
  await alice.waitForSelector('.doc-card:has-text("Backups and restores")');
  assert.equal(await alice.locator(".doc-card").count(), 2, "the draft is not listed");
  assert.match(await alice.locator(".doc-card").first().textContent(), /Backups and restores/, "pinned first");
  await shots(alice, "docs-list");

  await alice.fill("#docs-q", "qmrest");
  await alice.click('form[role=search] button[type=submit]');
  await alice.waitForURL(/\/docs\?q=qmrest/);
  assert.equal(await alice.locator(".doc-card").count(), 1);
  await alice.click('.doc-card a:has-text("Backups and restores")');
  await alice.waitForSelector(".article-body table td:has-text('pve1')");
  await alice.waitForSelector(".article-body pre code.hljs .hljs-comment");
  assert.equal(await alice.locator(".doc-toc a").count(), 3);
  assert.equal(await alice.locator('.article-body input[type=checkbox][checked]').count(), 1);
  await shots(alice, "docs-article");

  await alice.goto(`${uma.url}/docs?q=zzzzzz`);
  await alice.waitForSelector(':text("No article matches")');
  await alice.goto(`${uma.url}/docs?tag=network`);
  assert.equal(await alice.locator(".doc-card").count(), 1);
  const resp = await alice.goto(`${uma.url}/docs/0123456789abcdef`);
  assert.equal(resp.status(), 404);
  assert.deepEqual(problems, []);
});

test("an administrator writes an article in the editor, previews it, and a reader finds it", async () => {
  await admin.goto(`${uma.url}/admin/docs`);
  await admin.waitForSelector('[data-docs] tr:has-text("Draft: storage migration") :text("Draft")');
  await admin.click('button:has-text("New article…")');
  // The browser asks for a title before sending.
  await admin.click('[data-editor] button[type=submit]');
  assert.ok(await admin.locator("[data-editor] .field-error:not([hidden])").count());
  await admin.fill("[data-editor] [name=title]", "Cloud-init templates");
  await admin.fill("[data-editor] [name=tags]", "cloud-init, howto");
  await admin.check("[data-editor] [name=published]");
  await admin.fill(
    "[data-editor] [name=content]",
    "Clone a template and set its user.\n\n| Key | Meaning |\n|---|---|\n| ciuser | the login |\n\n```yaml\nciuser: alice\n```\n",
  );
  // A cover uploaded from the file picker: a real PNG (a picture of this page).
  const cover = await admin.screenshot({ clip: { x: 0, y: 0, width: 800, height: 300 } });
  await admin.setInputFiles("[data-cover-input]", { name: "cover.png", mimeType: "image/png", buffer: cover });
  await admin.waitForSelector('[data-editor] .upload-status:has-text("Uploaded cover.png")');
  const coverUrl = await admin.inputValue("[data-editor] [name=coverImage]");
  assert.match(coverUrl, /^\/uploads\/[0-9a-f]{64}\.png$/);
  await admin.waitForFunction(() => document.querySelector(".cover-thumb")?.naturalWidth > 0);
  // A picture dropped on the text goes in at the cursor as Markdown.
  const diagram = await admin.screenshot({ clip: { x: 0, y: 0, width: 320, height: 200 } });
  await admin.evaluate((bytes) => {
    const ta = document.querySelector("[data-editor] [name=content]");
    ta.setSelectionRange(ta.value.length, ta.value.length);
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], "diagram.png", { type: "image/png" }));
    ta.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [...diagram]);
  await admin.waitForFunction(() => /!\[diagram\]\(\/uploads\/[0-9a-f]{64}\.png\)/.test(document.querySelector("[data-editor] [name=content]").value));
  // A file Uma does not take says why, and leaves the text as it was.
  const before = await admin.inputValue("[data-editor] [name=content]");
  await admin.setInputFiles("[data-attach-input]", { name: "logo.svg", mimeType: "image/svg+xml", buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') });
  await admin.waitForSelector('[data-editor] .upload-row :text("SVG images are not accepted")');
  assert.equal(await admin.inputValue("[data-editor] [name=content]"), before);
  // Saving while a file is still on its way is held back, with the reason.
  await admin.route("**/api/upload", async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue();
  });
  await admin.setInputFiles("[data-attach-input]", { name: "runbook.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n") });
  await admin.click('[data-editor] button[type=submit]');
  await admin.waitForSelector('[data-editor] :text("still uploading")');
  await admin.waitForFunction(() => /\[runbook\.pdf\]\(\/uploads\/[0-9a-f]{64}\.pdf\)/.test(document.querySelector("[data-editor] [name=content]").value));
  await admin.unroute("**/api/upload");
  await admin.click('[data-editor] [role=tab]:has-text("Preview")');
  await admin.waitForSelector('[data-editor] .editor-preview td:has-text("ciuser")');
  // The tabs follow the arrow keys.
  await admin.keyboard.press("ArrowLeft");
  assert.equal(await admin.getAttribute('[data-editor] [role=tab]:has-text("Write")', "aria-selected"), "true");
  await admin.keyboard.press("ArrowRight");
  assert.equal(await admin.getAttribute('[data-editor] [role=tab]:has-text("Preview")', "aria-selected"), "true");
  await admin.waitForSelector('[data-editor] .editor-preview td:has-text("ciuser")');
  await admin.waitForFunction(() => document.querySelector("[data-editor] .editor-preview img")?.naturalWidth > 0);
  await shots(admin, "admin-docs-editor");
  await admin.click('[data-editor] button[type=submit]');
  await admin.waitForSelector('[data-docs-alert] :text("Created “Cloud-init templates”")');
  await admin.waitForSelector('[data-docs] tr:has-text("Cloud-init templates") :text("Published")');
  await shots(admin, "admin-docs");

  await alice.goto(`${uma.url}/docs?q=ciuser`);
  await alice.click('.doc-card a:has-text("Cloud-init templates")');
  await alice.waitForSelector(".article-body table td:has-text('the login')");
  await alice.waitForSelector(".article-body pre code.hljs");
  await alice.waitForFunction(() => document.querySelector(".doc-cover")?.naturalWidth > 0);
  await alice.waitForFunction(() => document.querySelector(".article-body img[alt='diagram']")?.naturalWidth > 0);
  await shots(alice, "docs-article-uploads");
  assert.deepEqual(problems, []);
});

test("published docs become public when the administrator says so", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const anon = await context.newPage();
  await anon.goto(`${uma.url}/docs`);
  await anon.waitForURL(/\/login\?next=%2Fdocs/);

  await admin.goto(`${uma.url}/admin/docs`);
  const settings = admin.locator("[data-content-settings] form");
  await settings.locator("[name=publicDocs]").check();
  await settings.locator("[name=maxUploadBytes]").fill("0");
  await settings.locator("button[type=submit]").click();
  assert.ok(await settings.locator(".field-error:not([hidden])").count(), "a bad size is refused in the page");
  await settings.locator("[name=maxUploadBytes]").fill("20");
  await settings.locator("button[type=submit]").click();
  await settings.locator(':text("Saved.")').waitFor();
  await shots(admin, "admin-docs-settings");

  await anon.goto(`${uma.url}/docs`);
  await anon.click('.doc-card a:has-text("Cloud-init templates")');
  await anon.waitForSelector(".article-body table td:has-text('the login')");
  await anon.waitForFunction(() => document.querySelector(".doc-cover")?.naturalWidth > 0);
  assert.equal(await anon.locator("[data-signin]").count(), 1);
  assert.equal(await anon.locator(".doc-card:has-text('Draft: storage migration')").count(), 0);
  await shots(anon, "docs-public-article");
  await anon.click("[data-signin]");
  await anon.waitForURL(/\/login\?next=%2Fdocs%2F/);
  await context.close();
  assert.deepEqual(problems, []);
});

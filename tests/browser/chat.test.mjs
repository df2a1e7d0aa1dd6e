// Two people in two windows: they chat in the public channel (a message, a reaction, an edit and
// a delete seen live by the other) and draw on the shared whiteboard (a stroke in A appears in B);
// a message with pictures, a PDF and a link reaches the other with the link's preview card, whose
// site is a server started here on 127.0.0.2 (allowed by METADATA_ALLOW_NETWORKS, its name given
// by METADATA_RESOLVE). A group's admin renames it, adds, promotes and removes members and
// deletes it from the Group settings dialog, while a member leaves and sees the deletion live.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServer } from "node:http";
import { startUma, launchBrowser, screenshots, shots as allShots, axeViolations } from "./harness.mjs";

const shots = (page, name) => allShots(page, name, { fullPage: false });

const ADMIN_PW = "browser-admin-pw";
const BOB_PW = "browser-bob-pw";
const CAROL_PW = "browser-carol-pw";
let uma;
let browser;
let site;
let sitePort;
let cardPng = Buffer.alloc(0);

before(async () => {
  site = createServer((req, res) => {
    if (req.url === "/release") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html><head><title>Release notes</title>
        <meta property="og:title" content="Proxmox VE 9.1 released">
        <meta property="og:description" content="Faster backups, SDN fabrics and a new mobile view.">
        <meta property="og:image" content="/card.png"><meta property="og:site_name" content="Example News">
        </head><body></body></html>`);
    } else if (req.url === "/card.png") {
      res.writeHead(200, { "content-type": "image/png" });
      res.end(cardPng);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => site.listen(0, "127.0.0.2", ok));
  sitePort = site.address().port;
  uma = await startUma(
    { UMA_ADMIN_PASSWORD: ADMIN_PW, METADATA_ALLOW_NETWORKS: "127.0.0.2/32", METADATA_RESOLVE: "news.example.test=127.0.0.2", METADATA_ALLOWED_PORTS: `80,443,${sitePort}` },
    { users: [{ name: "bob", password: BOB_PW }, { name: "carol", password: CAROL_PW }] },
  );
  browser = await launchBrowser();
  // The card's picture: a banner drawn by the browser.
  const p = await browser.newPage({ viewport: { width: 600, height: 300 } });
  await p.setContent('<div style="width:600px;height:300px;background:linear-gradient(135deg,#4f46e5,#0ea5e9);color:white;font:bold 48px sans-serif;display:grid;place-items:center">PVE 9.1</div>');
  cardPng = await p.screenshot();
  await p.close();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
  site?.close();
});

async function signIn(username, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    // A link without a card (example.com is out of reach here) is an expected refusal.
    if (m.type() === "error" && !m.location().url?.includes("/api/metadata?")) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("dialog", (d) => d.accept());
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  return { context, page, problems };
}

async function openGeneral(page) {
  await page.click("[data-chat-toggle]");
  const general = page.locator('[data-chat-panel] [data-conv^="g:"]', { hasText: "General" });
  await general.waitFor();
  await general.click();
  await page.waitForSelector("[data-chat-input]");
}

test("two people chat and draw together", async () => {
  const a = await signIn("admin", ADMIN_PW);
  const b = await signIn("bob", BOB_PW);

  await openGeneral(a.page);
  await openGeneral(b.page);

  // A message from A shows up in B's window.
  await a.page.fill("[data-chat-input]", "Hello from admin — see https://example.com");
  await a.page.keyboard.press("Enter");
  const inB = b.page.locator("[data-chat-log] .chat-msg", { hasText: "Hello from admin" });
  await inB.waitFor();
  assert.equal(await inB.locator("a").getAttribute("rel"), "noopener noreferrer nofollow");
  assert.equal(await inB.locator("a").getAttribute("target"), "_blank");

  // B reacts; A sees the reaction.
  await inB.hover();
  await inB.locator('[data-react="👍"]').click();
  const inA = a.page.locator("[data-chat-log] .chat-msg", { hasText: "Hello from admin" });
  await inA.locator('[data-reaction="👍"]', { hasText: "1" }).waitFor();

  // B answers; A sees B typing first, then the answer.
  await b.page.fill("[data-chat-input]", "Hi admin!");
  await b.page.locator("[data-chat-input]").dispatchEvent("input");
  await a.page.locator("[data-chat-typing]", { hasText: "bob is typing" }).waitFor();
  await b.page.keyboard.press("Enter");
  await a.page.locator("[data-chat-log] .chat-msg", { hasText: "Hi admin!" }).waitFor();

  // A edits its message; B sees the new text.
  await inA.hover();
  await inA.locator("[data-edit]").click();
  await a.page.fill("[data-chat-input]", "Hello from admin (edited)");
  await a.page.keyboard.press("Enter");
  await b.page.locator("[data-chat-log] .chat-msg", { hasText: "Hello from admin (edited)" }).locator("text=edited").first().waitFor();
  await a.page.screenshot({ path: join(screenshots, "chat-a.png") });
  await b.page.screenshot({ path: join(screenshots, "chat-b.png") });

  // A deletes it; B sees it deleted.
  const edited = a.page.locator("[data-chat-log] .chat-msg", { hasText: "Hello from admin (edited)" });
  await edited.hover();
  await edited.locator("[data-delete]").click();
  await b.page.locator("[data-chat-log] .chat-msg", { hasText: "This message was deleted." }).waitFor();
  await b.page.screenshot({ path: join(screenshots, "chat-b-deleted.png") });

  // A toast on A's other conversation: B writes A directly while A's panel is closed.
  await a.page.click("[data-chat-toggle]");
  await b.page.click("text=← All");
  await b.page.fill("[data-chat-search]", "adm");
  await b.page.locator(".chat-result", { hasText: "admin" }).click();
  await b.page.fill("[data-chat-input]", "A direct word");
  await b.page.keyboard.press("Enter");
  await a.page.locator("[data-chat-toast]", { hasText: "A direct word" }).waitFor();
  assert.match(await a.page.textContent(".chat-badge"), /1/);
  await a.page.screenshot({ path: join(screenshots, "chat-toast.png") });

  // The whiteboard: a stroke drawn in A appears in B.
  for (const w of [a, b]) {
    await w.page.goto(`${uma.url}/whiteboard`);
    await w.page.waitForSelector("[data-whiteboard][data-ready=true]");
  }
  await a.page.locator('[data-wb-participants] [data-wb-person="bob"]').waitFor();
  const box = await a.page.locator("[data-wb-canvas]").boundingBox();
  await a.page.click('[data-wb-color="#e11d48"]');
  await a.page.mouse.move(box.x + 100, box.y + 100);
  await a.page.mouse.down();
  for (let i = 1; i <= 30; i++) {
    await a.page.mouse.move(box.x + 100 + i * 12, box.y + 100 + Math.sin(i / 4) * 60);
  }
  await a.page.mouse.up();
  await b.page.waitForFunction(() => document.querySelector("[data-whiteboard]")?.dataset.strokes === "1");
  // The stroke is really painted in B: some pixels are red.
  const red = await b.page.evaluate(() => {
    const c = document.querySelector("[data-wb-canvas]");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 80 && d[i + 3] > 200) n++;
    return n;
  });
  assert.ok(red > 200, `B's canvas shows the stroke (${red} red pixels)`);
  await a.page.screenshot({ path: join(screenshots, "whiteboard-a.png") });
  await b.page.screenshot({ path: join(screenshots, "whiteboard-b.png") });

  // Undo in A removes it in B.
  await a.page.click("[data-wb-undo]");
  await b.page.waitForFunction(() => document.querySelector("[data-whiteboard]")?.dataset.strokes === "0");

  assert.deepEqual(a.problems, [], "no console errors in A (CSP violations show up here)");
  assert.deepEqual(b.problems, [], "no console errors in B");
  await a.context.close();
  await b.context.close();
});


test("a picture and a PDF attached in chat reach the other person", async () => {
  const a = await signIn("admin", ADMIN_PW);
  const b = await signIn("bob", BOB_PW);
  await openGeneral(a.page);
  await openGeneral(b.page);

  // A picks a picture and a PDF; pasting a second picture works too.
  const picture = await a.page.screenshot({ clip: { x: 0, y: 0, width: 480, height: 270 } });
  await a.page.setInputFiles("[data-chat-file]", [
    { name: "dashboard.png", mimeType: "image/png", buffer: picture },
    { name: "runbook.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n") },
  ]);
  await a.page.evaluate((bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
    document.querySelector("[data-chat-input]").dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  }, [...(await a.page.screenshot({ clip: { x: 0, y: 0, width: 200, height: 120 } }))]);
  await a.page.waitForFunction(() => document.querySelectorAll('[data-pending="done"]').length === 3);
  // A file Uma does not take says why in its chip, and does not go with the message.
  await a.page.setInputFiles("[data-chat-file]", { name: "notes.html", mimeType: "text/html", buffer: Buffer.from("<html><script>alert(1)</script>") });
  await a.page.locator('[data-pending="error"]', { hasText: "not accepted" }).waitFor();
  await shots(a.page, "chat-attach-pending");
  await a.page.fill("[data-chat-input]", `Here is the dashboard and the runbook; news (http://news.example.test:${sitePort}/release).`);
  await a.page.keyboard.press("Enter");

  const inB = b.page.locator("[data-chat-log] .chat-msg", { hasText: "Here is the dashboard" });
  await inB.waitFor();
  await b.page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll("[data-chat-log] .chat-msg:last-child .chat-image")];
    return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  });
  const chip = inB.locator("[data-chat-download]", { hasText: "runbook.pdf" });
  await chip.waitFor();
  assert.match(await chip.getAttribute("href"), /^\/uploads\/[0-9a-f]{64}\.pdf$/);
  assert.equal(await a.page.locator("[data-chat-pending] li").count(), 0, "the sent files left the box");
  // The link ends where the sentence does.
  assert.equal(await inB.locator(".chat-content a").getAttribute("href"), `http://news.example.test:${sitePort}/release`);
  // The link's card, its picture loaded through Uma.
  const card = inB.locator("[data-chat-card]");
  await card.locator(".chat-card-title", { hasText: "Proxmox VE 9.1 released" }).waitFor();
  assert.equal(await card.getAttribute("href"), `http://news.example.test:${sitePort}/release`);
  assert.match(await card.locator("img").getAttribute("src"), /^\/api\/metadata\/image\?url=/);
  await b.page.waitForFunction(() => document.querySelector("[data-chat-card] img")?.naturalWidth > 0);
  await shots(b.page, "chat-attachments");

  assert.deepEqual(a.problems.filter((p) => !/status of 400/.test(p)), [], "no console errors in A");
  assert.deepEqual(b.problems, [], "no console errors in B");
  await a.context.close();
  await b.context.close();
});

/** The topmost open dialog (a confirmation opens over the Group settings dialog). */
const topDialog = (page) => page.locator("dialog[open]").last();

/** Whether focus is inside the open dialogs (or nowhere: past the last stop, on the browser). */
const focusInDialog = (page) =>
  page.evaluate(() => document.activeElement === document.body || Boolean(document.activeElement?.closest("dialog[open]")));

test("a group's admin manages and deletes it; a member leaves", async () => {
  const a = await signIn("admin", ADMIN_PW);
  const b = await signIn("bob", BOB_PW);
  // Carol signs in once, so the people search knows her.
  const c = await signIn("carol", CAROL_PW);
  await c.context.close();

  // The admin makes a group with bob.
  await a.page.click("[data-chat-toggle]");
  await a.page.getByRole("button", { name: "New group" }).click();
  await a.page.getByLabel("Group name").fill("Ops room");
  await a.page.getByLabel("Add people").fill("bob");
  await a.page.locator(".chat-result", { hasText: "@bob" }).click();
  await a.page.getByRole("button", { name: "Create group" }).click();
  await a.page.waitForSelector("[data-chat-input]");
  await b.page.click("[data-chat-toggle]");
  await b.page.locator('[data-conv^="g:"]', { hasText: "Ops room" }).waitFor();

  // The public channel has no settings; the group does, named for screen readers.
  const settings = a.page.getByRole("button", { name: "Group settings" });
  await settings.click();
  const dialog = a.page.locator("dialog[open] [data-group-settings]");
  await dialog.waitFor();
  assert.equal(await a.page.evaluate(() => document.activeElement?.getAttribute("name")), "name", "focus starts on the name");
  // Keyboard: Tab stays in the dialog; Escape closes it and gives focus back to the button.
  for (let i = 0; i < 14; i++) {
    await a.page.keyboard.press("Tab");
    assert.ok(await focusInDialog(a.page), `Tab ${i + 1} stays in the dialog`);
  }
  await a.page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  assert.equal(await a.page.evaluate(() => document.activeElement?.dataset.chatGroupSettings), "", "focus is back on Group settings");
  await a.page.keyboard.press("Enter");
  await dialog.waitFor();

  // Rename: an empty or reserved name is refused by the field; a good one reaches bob live.
  const name = dialog.getByLabel("Group name");
  await name.fill("");
  await dialog.getByRole("button", { name: "Rename" }).click();
  await dialog.locator(".field-error", { hasText: "Group name is required." }).waitFor();
  await name.fill("General");
  await dialog.getByRole("button", { name: "Rename" }).click();
  await dialog.locator(".field-error", { hasText: "General is the public channel's name" }).waitFor();
  assert.equal(await name.getAttribute("aria-invalid"), "true");
  await name.fill("Ops crew");
  await dialog.getByRole("button", { name: "Rename" }).click();
  await a.page.locator(".chat-title", { hasText: "# Ops crew" }).waitFor();
  await b.page.locator('[data-conv^="g:"]', { hasText: "Ops crew" }).waitFor();

  // Add carol through the search; make bob an admin and back.
  await dialog.getByRole("searchbox").fill("car");
  await dialog.locator('[data-gs-add="carol"]').click();
  await dialog.locator('[data-gs-member="carol"]').waitFor();
  assert.equal(await dialog.locator("h3", { hasText: "Members" }).textContent(), "Members (3)");
  await dialog.getByRole("button", { name: "Make admin: bob" }).click();
  await dialog.locator('[data-gs-member="bob"] [data-role="admin"]').waitFor();
  assert.ok(await focusInDialog(a.page), "focus stays in the dialog after a change");
  await allShots(a.page, "chat-group-settings-admin", { fullPage: false });
  await dialog.getByRole("button", { name: "Remove admin: bob" }).click();
  await dialog.locator('[data-gs-member="bob"] [data-role="member"]').waitFor();
  assert.deepEqual(await axeViolations(a.page), [], "the dialog passes axe");

  // Remove carol, confirmed in a second dialog.
  await dialog.getByRole("button", { name: "Remove carol from the group" }).click();
  await topDialog(a.page).getByRole("heading", { name: "Remove carol?" }).waitFor();
  await topDialog(a.page).locator("button[type=submit]").click();
  await dialog.locator('[data-gs-member="carol"]').waitFor({ state: "detached" });

  // The only admin can't leave: the dialog says why where she clicked.
  await dialog.getByRole("button", { name: "Leave group" }).click();
  await dialog.locator(".chat-gs-end [role=alert]", { hasText: "You are this group's only admin" }).waitFor();
  await allShots(a.page, "chat-group-settings-refused", { fullPage: false });

  // Bob, a plain member, sees the members but no admin controls, and leaves.
  await b.page.locator('[data-conv^="g:"]', { hasText: "Ops crew" }).click();
  await b.page.getByRole("button", { name: "Group settings" }).click();
  const bobDialog = b.page.locator("dialog[open] [data-group-settings]");
  await bobDialog.locator('[data-gs-name]', { hasText: "Ops crew" }).waitFor();
  assert.equal(await bobDialog.locator("[data-gs-role], [data-gs-remove], [data-gs-search], [data-gs-delete]").count(), 0);
  await allShots(b.page, "chat-group-settings-member", { fullPage: false });
  await bobDialog.getByRole("button", { name: "Leave group" }).click();
  await topDialog(b.page).locator("button[type=submit]").click();
  await b.page.locator("[data-chat-notice]", { hasText: "You left “Ops crew”." }).waitFor();
  assert.equal(await b.page.locator('[data-conv^="g:"]', { hasText: "Ops crew" }).count(), 0);
  // The admin's open dialog follows: bob is gone from it.
  await dialog.locator('[data-gs-member="bob"]').waitFor({ state: "detached" });

  // She adds bob again; he opens the group, and sees it deleted under his eyes.
  await dialog.getByRole("searchbox").fill("bob");
  await dialog.locator('[data-gs-add="bob"]').click();
  await dialog.locator('[data-gs-member="bob"]').waitFor();
  await b.page.locator('[data-conv^="g:"]', { hasText: "Ops crew" }).click();
  await b.page.waitForSelector("[data-chat-input]");
  await dialog.getByRole("button", { name: "Delete group" }).click();
  const confirm = topDialog(a.page);
  await confirm.getByRole("heading", { name: "Delete Ops crew?" }).waitFor();
  await allShots(a.page, "chat-group-delete-confirm", { fullPage: false });
  await confirm.locator("button[type=submit]").click();
  await a.page.locator("[data-chat-notice]", { hasText: "You deleted the group “Ops crew”." }).waitFor();
  assert.equal(await a.page.locator("dialog[open]").count(), 0);
  await b.page.locator("[data-chat-notice]", { hasText: "admin deleted the group “Ops crew”." }).waitFor();
  assert.equal(await b.page.locator("[data-chat-input]").count(), 0, "bob's thread closed");
  await allShots(b.page, "chat-group-deleted", { fullPage: false });

  assert.deepEqual(a.problems.filter((p) => !/status of (400|409)/.test(p)), [], "no console errors in A");
  assert.deepEqual(b.problems, [], "no console errors in B");
  await a.context.close();
  await b.context.close();
});

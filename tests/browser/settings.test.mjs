// A person's settings page, reached from the account menu: the theme, chat preferences, a block
// and an unblock, and signing out another browser. Screenshots light and dark at 1280 and 390 px.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUma, launchBrowser, shots, signIn as signInAs } from "./harness.mjs";

const ADMIN_PW = "settings-admin-pw";
const ALICE_PW = "settings-alice-pw";
let uma;
let browser;

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: ADMIN_PW }, { users: [{ name: "alice", password: ALICE_PW }] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

const signIn = (username, password) => signInAs(browser, uma, username, password);

test("a user sets the theme and chat preferences, blocks someone and signs out another browser", async () => {
  // The admin signs in once so alice has someone to block.
  const admin = await signIn("admin", ADMIN_PW);
  const other = await signIn("alice", ALICE_PW);
  const { context, page, problems } = await signIn("alice", ALICE_PW);

  await page.click(".user-menu summary");
  await page.click('.user-menu a:has-text("Settings")');
  await page.waitForURL(`${uma.url}/settings`);
  await page.waitForSelector("[data-sessions] tbody tr");

  await page.click('[data-theme-form] label:has-text("Dark")');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.reload();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  assert.ok(await page.isChecked('[data-theme-form] input[value="dark"]'));
  await page.click('[data-theme-form] label:has-text("Like my system")');

  const chat = page.locator("[data-chat-settings] form");
  await chat.locator("[name=dnd]").check();
  await chat.locator("[name=allowMessagesFrom]").selectOption("none");
  await chat.locator('button[type=submit]').click();
  await chat.locator(':text("Saved.")').waitFor();
  const saved = await page.evaluate(async () => (await fetch("/api/chat/settings")).json());
  assert.equal(saved.settings.dnd, true);
  assert.equal(saved.settings.allowMessagesFrom, "none");

  await page.fill('[data-blocks] [name=username]', "nobody-here");
  await page.click('[data-blocks] button:has-text("Block")');
  await page.waitForSelector('[data-blocks] .field-error:not([hidden])');
  await page.fill('[data-blocks] [name=username]', "admin");
  await page.click('[data-blocks] button:has-text("Block")');
  await page.waitForSelector('[data-blocks] li:has-text("admin")');
  await shots(page, "settings");
  await page.click('[data-blocks] li:has-text("admin") button:has-text("Unblock")');
  await page.waitForSelector('[data-blocks] :text("You have blocked nobody.")');

  assert.equal(await page.locator("[data-sessions] tbody tr").count(), 2);
  await page.click("[data-revoke-others]");
  await page.click('dialog[open] button:has-text("Sign out the others")');
  await page.waitForSelector('[data-settings-alert] :text("Signed out of 1 other session")');
  // The list is read again after the message shows.
  await page.waitForFunction(() => document.querySelectorAll("[data-sessions] tbody tr").length === 1);
  const status = await other.page.evaluate(async () => (await fetch("/api/sessions")).status);
  assert.equal(status, 401, "the other browser is signed out");

  assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), []);
  await context.close();
  await other.context.close();
  await admin.context.close();
});

test("a person names themselves, adds a picture, changes their password, and their theme follows them", async () => {
  const { context, page, problems } = await signIn("alice", ALICE_PW);
  const other = await signIn("alice", ALICE_PW);
  await page.goto(`${uma.url}/settings`);
  const profile = page.locator("[data-profile] form");
  await profile.waitFor();
  await profile.locator("[name=displayName]").fill("Alice Liddell");
  await profile.locator("button[type=submit]").click();
  await profile.locator(':text("Profile saved")').waitFor();
  await page.reload();
  assert.match(await page.locator(".user-menu summary").textContent(), /Alice Liddell/);

  // A picture: a real PNG made by the browser's canvas.
  const png = await page.evaluate(async () => {
    const c = document.createElement("canvas");
    c.width = c.height = 64;
    const g = c.getContext("2d");
    g.fillStyle = "#2a7";
    g.fillRect(0, 0, 64, 64);
    const blob = await new Promise((r) => c.toBlob(r, "image/png"));
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  });
  await page.setInputFiles("#avatar-file", { name: "me.png", mimeType: "image/png", buffer: Buffer.from(png) });
  await page.waitForSelector("[data-profile] img.avatar");
  await page.waitForSelector('[data-profile] :text("Picture saved.")');

  // The password: a wrong current one is named; then the change ends the other browser.
  const pw = page.locator("[data-password] form");
  await pw.locator("[name=current]").fill("not-it-at-all");
  await pw.locator("[name=password]").fill("alice-new-pass-1");
  await pw.locator("[name=again]").fill("alice-new-pass-1");
  await pw.locator("button[type=submit]").click();
  await pw.locator(".field-error:not([hidden])").waitFor();
  await pw.locator("[name=current]").fill(ALICE_PW);
  await pw.locator("button[type=submit]").click();
  // The other browser here (and the one the first test left signed in, when it ran).
  await pw.locator("p.alert-ok", { hasText: /^Password changed\. [12] other sessions? ended\.$/ }).waitFor();
  const status = await other.page.evaluate(async () => (await fetch("/api/sessions")).status);
  assert.equal(status, 401, "the other browser is signed out");

  await page.click('[data-theme-form] label:has-text("Dark")');
  await page.waitForTimeout(300);
  await shots(page, "settings-profile");
  // A new browser takes the theme at sign-in.
  const fresh = await signIn("alice", "alice-new-pass-1");
  assert.equal(await fresh.page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await fresh.page.click('.user-menu summary');
  await fresh.page.click('.user-menu [data-theme-toggle]');
  const saved = await fresh.page.evaluate(async () => {
    await new Promise((r) => setTimeout(r, 300));
    return (await (await fetch("/api/profile")).json()).theme;
  });
  assert.equal(saved, "light", "the top bar's toggle is kept with the profile");

  assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
  await fresh.context.close();
  await other.context.close();
  await context.close();
});

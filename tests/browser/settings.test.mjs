// A person's settings page, reached from the account menu: the theme, chat preferences, a block
// and an unblock, and signing out another browser. Screenshots light and dark at 1280 and 390 px.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUma, launchBrowser, shots } from "./harness.mjs";

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

async function signIn(username, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  return { context, page, problems };
}

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
  assert.equal(await page.locator("[data-sessions] tbody tr").count(), 1);
  const status = await other.page.evaluate(async () => (await fetch("/api/sessions")).status);
  assert.equal(status, 401, "the other browser is signed out");

  assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), []);
  await context.close();
  await other.context.close();
  await admin.context.close();
});

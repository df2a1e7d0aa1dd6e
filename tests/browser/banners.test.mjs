// Notification banners as people meet them: the administrator writes one on the admin page (the
// preview shows it as users will), a user's open dashboard shows it without a reload, the user
// dismisses it and it stays gone, and a deleted banner leaves every page. Screenshots of the
// admin page and of a page with banners, light and dark, 1280 and 390 px, go to
// target/screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startUma, launchBrowser, screenshots } from "./harness.mjs";

const ADMIN_PW = "banners-admin-pw";
const ALICE_PW = "banners-alice-pw";

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

async function shots(page, name) {
  const vp = page.viewportSize();
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(screenshots, `${name}-${width}-${scheme}.png`) });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(vp);
}

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: ADMIN_PW }, { users: [{ name: "alice", password: ALICE_PW }] });
  browser = await launchBrowser();
  alice = await signIn("alice", ALICE_PW);
  admin = await signIn("admin", ADMIN_PW);
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

test("an administrator publishes a banner and an open page shows it without a reload", async () => {
  await alice.goto(`${uma.url}/dashboard`);
  await alice.waitForSelector("[data-live-status][data-state=live]");
  assert.equal(await alice.locator(".banner").count(), 0);

  await admin.goto(`${uma.url}/admin/notifications`);
  await admin.waitForSelector('[data-notices] :text("No banner yet")');
  await admin.click('button:has-text("New banner…")');
  // The browser refuses an empty message before sending.
  await admin.click("dialog[open] button[type=submit]");
  assert.ok(await admin.locator("dialog[open] .field-error:not([hidden])").count());
  await admin.fill("dialog[open] [name=message]", "<b>Maintenance</b> tonight from 22:00: consoles may drop for a few minutes.");
  await admin.selectOption("dialog[open] [name=type]", "warning");
  await admin.fill("dialog[open] [name=priority]", "5");
  // The preview is the banner as users will see it.
  await admin.waitForSelector('dialog[open] .notice-preview[data-kind=warning] b:has-text("Maintenance")');
  await shots(admin, "admin-notifications-new");
  await admin.click("dialog[open] button[type=submit]");
  await admin.waitForSelector("dialog[open]", { state: "detached" });
  await admin.waitForSelector('[data-notices] tr:has-text("Maintenance") :text("Showing")');

  // Alice's dashboard, open all along, shows it.
  const banner = alice.locator('.banner[data-kind=warning]:has-text("Maintenance")');
  await banner.waitFor({ timeout: 3000 });
  assert.equal(await banner.locator("b").textContent(), "Maintenance");

  // A second, informational one; both show, the higher priority first.
  await admin.click('button:has-text("New banner…")');
  await admin.fill("dialog[open] [name=message]", "Welcome to the new console. Tell us what you think in the chat.");
  await admin.click("dialog[open] button[type=submit]");
  await admin.waitForSelector("dialog[open]", { state: "detached" });
  await alice.waitForSelector('.banner[data-kind=info]:has-text("Welcome")');
  const order = await alice.locator(".banner").evaluateAll((els) => els.map((e) => e.dataset.kind));
  assert.deepEqual(order, ["warning", "info"]);
  await shots(alice, "banners-dashboard");
  await shots(admin, "admin-notifications");

  // Edited, it changes on the open page; editing again starts from the latest text.
  await admin.locator('[data-notices] tr:has-text("Maintenance") button:has-text("Edit…")').click();
  await admin.fill("dialog[open] [name=message]", "<b>Maintenance</b> tonight from 23:00.");
  await admin.click("dialog[open] button[type=submit]");
  await admin.waitForSelector("dialog[open]", { state: "detached" });
  await alice.waitForSelector('.banner[data-kind=warning]:has-text("from 23:00")');
  await admin.locator('[data-notices] tr:has-text("Maintenance") button:has-text("Edit…")').click();
  assert.equal(await admin.inputValue("dialog[open] [name=message]"), "<b>Maintenance</b> tonight from 23:00.");
  await admin.click('dialog[open] button:has-text("Cancel")');

  // The whiteboard shows them too.
  const board = await alice.context().newPage();
  await board.goto(`${uma.url}/whiteboard`);
  await board.waitForSelector('.banner[data-kind=warning]:has-text("Maintenance")');
  await board.close();
});

test("a dismissed banner stays gone for that user, and a deleted one leaves every page", async () => {
  await alice.click('.banner[data-kind=info] button[aria-label="Dismiss this notice"]');
  await alice.waitForSelector('.banner[data-kind=info]', { state: "detached" });
  await alice.reload();
  await alice.waitForSelector('.banner[data-kind=warning]');
  await alice.waitForSelector("[data-live-status][data-state=live]");
  assert.equal(await alice.locator('.banner[data-kind=info]').count(), 0);
  // A change the administrator makes later does not bring it back.
  await admin.locator('[data-notices] tr:has-text("Welcome") button:has-text("Edit…")').click();
  await admin.fill("dialog[open] [name=priority]", "3");
  await admin.click("dialog[open] button[type=submit]");
  await admin.waitForSelector("dialog[open]", { state: "detached" });
  await alice.waitForTimeout(1500);
  assert.equal(await alice.locator('.banner[data-kind=info]').count(), 0);

  await admin.locator('[data-notices] tr:has-text("Maintenance") button:has-text("Delete…")').click();
  await admin.click('dialog[open] button[type=submit]');
  await admin.waitForSelector('[data-notices] tr:has-text("Maintenance")', { state: "detached" });
  await alice.waitForSelector('.banner[data-kind=warning]', { state: "detached", timeout: 3000 });
  assert.deepEqual(problems, []);
});

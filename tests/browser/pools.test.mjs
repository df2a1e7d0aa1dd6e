// Self-service pools: a user without a pool makes one from the dashboard (Uma names it, the
// default quota shows), then deletes it while it is empty. Screenshots light and dark.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUma, launchBrowser, shots } from "./harness.mjs";

const ADMIN_PW = "pools-admin-pw";
let uma;
let browser;

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: ADMIN_PW }, { users: [{ name: "dave", password: "pools-dave-pw" }] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

test("a user makes a pool of their own from the dashboard and deletes it again", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", "dave");
  await page.fill("input[name=password]", "pools-dave-pw");
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);

  await page.waitForSelector('[data-pools] :text("You have no pools yet.")');
  await page.click('[data-pools] button:has-text("Make one")');
  await page.fill("dialog[open] [name=comment]", "Dave's experiments");
  await page.click('dialog[open] button:has-text("Create pool")');
  // (The demo cluster has no Proxmox user for dave: the pool comes with a warning about its access.)
  await page.waitForSelector('.alert:has-text("Pool DEV_dave_1 created")');
  const card = page.locator("[data-pools] .pool-item").first();
  await card.locator(':text("Dave\'s experiments")').waitFor();
  const poolid = await card.locator(".pool-name").textContent();
  assert.match(poolid, /dave/i);
  await shots(page, "dashboard-own-pool");

  await card.locator("[data-delete-pool]").click();
  await page.click('dialog[open] button:has-text("Delete pool")');
  await page.waitForSelector(`.alert-ok:has-text("Pool ${poolid} deleted")`);
  await page.waitForSelector('[data-pools] :text("You have no pools yet.")');
  assert.deepEqual(problems, []);
  await context.close();
});

// The audit log as an administrator uses it: the summary and charts, a filter by action (the
// address keeps it), the detail of a settings change with what changed, and the export of the
// filtered set. Screenshots light and dark at 1280 and 390 px.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startUma, launchBrowser, screenshots, shots } from "./harness.mjs";

const ADMIN_PW = "audit-admin-pw";
let uma;
let browser;

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: ADMIN_PW });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});


test("an administrator filters the audit log, reads a change and exports it", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  // The refused filter below answers 400 on purpose.
  page.on("console", (m) => m.type() === "error" && !/status of 400/.test(m.text()) && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", "admin");
  await page.fill("input[name=password]", ADMIN_PW);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  // A change with a before and an after.
  const status = await page.evaluate(async () => {
    const { csrfToken } = await (await fetch("/api/auth")).json();
    const r = await fetch("/api/settings/limits", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrfToken }, body: JSON.stringify({ maxVMs: 7 }) });
    return r.status;
  });
  assert.equal(status, 200);

  await page.click('.admin-nav a:has-text("Audit log")').catch(async () => {
    await page.goto(`${uma.url}/admin/pools`);
    await page.click('.admin-nav a:has-text("Audit log")');
  });
  await page.waitForURL(`${uma.url}/admin/audit`);
  await page.waitForSelector('[data-stat="total"]:not(:has-text("—"))');
  await page.waitForSelector("[data-audit-table] tbody tr td code");
  assert.ok((await page.locator(".audit-bar").count()) === 24, "24 hourly bars");
  await shots(page, "admin-audit");

  // The chain holds.
  await page.click("[data-audit-verify]");
  await page.waitForSelector('[data-audit-alert] :text("The chain holds")');

  // Filter by action: the address keeps it; a reload shows the same.
  await page.fill("#af-action", "SETTINGS_LIMITS_UPDATE");
  await page.click('[data-audit-filters] button[type=submit]');
  await page.waitForURL(/action=SETTINGS_LIMITS_UPDATE/);
  await page.waitForFunction(() => [...document.querySelectorAll("[data-audit-table] tbody tr")].every((tr) => tr.textContent.includes("SETTINGS_LIMITS_UPDATE")));
  await page.reload();
  assert.equal(await page.inputValue("#af-action"), "SETTINGS_LIMITS_UPDATE");
  await page.waitForSelector('[data-audit-count]:has-text("1 event match")');

  // Live: a change made now appears on top, without a reload.
  await page.waitForFunction(() => document.querySelector("[data-live-status]")?.dataset.state === "live");
  await page.waitForTimeout(300);
  await page.evaluate(async () => {
    const { csrfToken } = await (await fetch("/api/auth")).json();
    await fetch("/api/settings/limits", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrfToken }, body: JSON.stringify({ maxVMs: 8 }) });
  });
  await page.waitForSelector('[data-audit-count]:has-text("2 events match · 1 new event just now")');
  assert.equal(await page.locator("[data-audit-table] tbody tr").count(), 2);

  // The detail says what changed.
  await page.click("[data-audit-details] >> nth=1");
  const dialog = page.locator("dialog[open]");
  await dialog.locator(".audit-diff tr:has-text('maxVMs')").waitFor();
  assert.equal(await dialog.locator(".audit-after").first().textContent(), "7");
  await page.screenshot({ path: join(screenshots, "admin-audit-detail-1280-light.png") });
  await dialog.locator('button:has-text("Close")').click();

  // A bad filter is named.
  await page.fill("#af-from", "2030-01-02");
  await page.fill("#af-to", "2030-01-01");
  await page.click('[data-audit-filters] button[type=submit]');
  await page.waitForSelector("[data-audit-filters] .field-error:not([hidden])");

  // The export is the filtered set.
  await page.fill("#af-from", "");
  await page.fill("#af-to", "");
  await page.click('[data-audit-filters] button[type=submit]');
  await page.waitForSelector('[data-audit-count]:has-text("2 events match")');
  const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-export="csv"]')]);
  const path = await download.path();
  const { readFileSync } = await import("node:fs");
  const csv = readFileSync(path, "utf8").trim().split("\n");
  assert.equal(csv.length, 3, csv.join("\n"));
  assert.match(csv[1], /SETTINGS_LIMITS_UPDATE/);
  assert.deepEqual(problems, []);
  await context.close();
});

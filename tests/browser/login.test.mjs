// A person signs in through the login page, lands on the dashboard with a live connection, and
// signs out again; wrong passwords show a clear message; the theme toggle works.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startUma, launchBrowser, screenshots } from "./harness.mjs";

const PASSWORD = "browser-admin-pw";
let uma;
let browser;

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: PASSWORD });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

test("sign in through the login page and land on the dashboard", async () => {
  const page = await browser.newPage();
  const problems = [];
  // A refused sign-in answers 401, which Chromium logs as a failed load: that one is expected.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("status of 401")) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("response", (r) => {
    const type = r.request().resourceType();
    if (["script", "stylesheet", "image", "font"].includes(type) && r.status() >= 400) {
      problems.push(`${r.status()} ${r.url()}`);
    }
  });

  await page.goto(`${uma.url}/dashboard`);
  assert.match(page.url(), /\/login\?next=%2Fdashboard$/);
  await page.screenshot({ path: join(screenshots, "login.png") });

  await page.fill("input[name=username]", "admin");
  await page.fill("input[name=password]", "not-the-password");
  await page.click("button[type=submit]");
  await page.waitForSelector(".alert-error");
  assert.match(await page.textContent(".alert-error"), /Invalid username or password/);
  assert.equal(await page.inputValue("input[name=username]"), "admin");
  await page.screenshot({ path: join(screenshots, "login-error.png") });

  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  assert.match(await page.textContent("main"), /Welcome, admin/);
  await page.waitForSelector('[data-live-status][data-state="live"]');
  await page.screenshot({ path: join(screenshots, "dashboard.png"), fullPage: true });

  await page.click(".user-menu summary");
  await page.click("[data-logout]");
  await page.waitForURL(`${uma.url}/login`);
  assert.deepEqual(problems, [], "no console errors (CSP violations show up here)");
  await page.close();
});

test("empty fields are caught before the round trip", async () => {
  const page = await browser.newPage();
  await page.goto(`${uma.url}/login`);
  await page.click("button[type=submit]");
  assert.match(await page.textContent(".alert-error"), /Enter your username and password/);
  assert.match(page.url(), /\/login$/);
  await page.close();
});

test("the theme toggle switches and remembers dark mode", async () => {
  const context = await browser.newContext({ colorScheme: "light" });
  const page = await context.newPage();
  await page.goto(`${uma.url}/login`);
  await page.click("[data-theme-toggle]");
  assert.equal(await page.getAttribute("html", "data-theme"), "dark");
  await page.reload();
  assert.equal(await page.getAttribute("html", "data-theme"), "dark");
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, "rgb(15, 18, 32)");
  await page.screenshot({ path: join(screenshots, "login-dark.png") });
  await context.close();
});

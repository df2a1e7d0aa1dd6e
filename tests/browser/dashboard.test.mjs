// Two people in two windows: alice (a pool owner) and the administrator. They see the simulator's
// guests live; alice starts a VM and the administrator's dashboard shows it running without a
// reload; the guest page draws its charts; alice creates a VM through the wizard, then — after
// the administrator lowers her pool's memory limit in the admin pages — runs into the quota and
// reads the server's message; when the server restarts, the page says it is reconnecting and
// resyncs by itself. Screenshots (1280 and 390 px, light and dark) go to target/screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { startUma, launchBrowser, screenshots } from "./harness.mjs";

const ADMIN_PW = "browser-admin-pw";
const ALICE_PW = "alice-browser-pw";
const ENV = { UMA_ADMIN_PASSWORD: ADMIN_PW, ALLOWED_PUBLIC_STORAGES: "local,local-lvm,nas" };

let uma;
let port;
let browser;
let alice; // window A
let admin; // window B
const problems = [];

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port: p } = s.address();
      s.close(() => ok(p));
    });
  });
}

/** A signed-in window: its own browser context (cookies), on the dashboard. */
async function signIn(username, password, colorScheme = "light") {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
  const page = await context.newPage();
  page.on("console", (m) => {
    // The reconnect test stops the server on purpose: failed connections are expected then.
    if (m.type() === "error" && !/ERR_CONNECTION_REFUSED|WebSocket connection|status of 50[23]|net::ERR/.test(m.text())) {
      problems.push(`${username}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`${username}: ${e}`));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  return page;
}

/** A screenshot of the whole page with the fixed task bar at its bottom (not across content). */
async function shot(page, name) {
  const vp = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: vp.width, height: Math.max(vp.height, height) });
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(screenshots, `${name}.png`) });
  await page.setViewportSize(vp);
}

/** Screenshots in light and dark, at 1280 and 390 px. */
async function shots(page, name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
      await page.waitForTimeout(400);
      await shot(page, `${name}-${width}-${scheme}`);
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 900 });
}

const row = (page, vmid) => page.locator(`[data-guests] tr[data-key="${vmid}"]`);

before(async () => {
  port = await freePort();
  uma = await startUma({ ...ENV, PORT: String(port) }, { users: [{ name: "alice", password: ALICE_PW }] });
  browser = await launchBrowser();
  alice = await signIn("alice", ALICE_PW);
  admin = await signIn("admin", ADMIN_PW);
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

test("both windows list the simulator's guests, live", async () => {
  for (const page of [alice, admin]) {
    await page.waitForFunction(() => document.body.dataset.freshnessState === "live", null, { timeout: 15_000 });
    await page.waitForSelector('[data-live-status][data-state="live"]');
  }
  // alice sees exactly her pool's guests, the administrator all of them.
  await row(alice, 100).waitFor();
  const mine = await alice.locator("[data-guests] tbody tr[data-key]").count();
  assert.equal(mine, 5);
  assert.match(await row(alice, 101).textContent(), /alice-db/);
  await row(admin, 110).waitFor();
  assert.ok((await admin.locator("[data-guests] tbody tr[data-key]").count()) > 20);
  assert.match(await alice.textContent("[data-pools]"), /DEV_alice_1/);
  assert.match(await alice.textContent("[data-cluster-status]"), /Healthy/);
});

test("alice starts a VM in window A; the administrator sees it running in window B without a reload", async () => {
  await admin.evaluate(() => {
    window.__noReload = true;
  });
  assert.match(await row(admin, 102).locator("td.col-status").textContent(), /Stopped/);

  await row(alice, 102).locator("input[type=checkbox]").check();
  await alice.click('[data-bulk-actions] button:has-text("Start")');
  await alice.waitForSelector(".bulk-result .alert-ok");
  assert.match(await alice.textContent(".bulk-result"), /1 task started/);

  await admin.waitForFunction(
    () => document.querySelector('[data-guests] tr[data-key="102"] td.col-status')?.textContent?.includes("Running"),
    null,
    { timeout: 20_000 },
  );
  assert.equal(await admin.evaluate(() => window.__noReload), true, "window B was not reloaded");

  // The task bar of window A shows the finished task; its log opens on click.
  await alice.waitForFunction(() => document.querySelector(".taskbar-last")?.textContent?.includes("Start VM 102"), null, { timeout: 20_000 });
  await alice.click(".taskbar-toggle");
  await alice.click('.taskbar-panel button:has-text("Start VM 102")');
  await alice.waitForSelector("dialog[open] .log");
  await alice.waitForFunction(() => !document.querySelector("dialog[open] .log")?.textContent?.startsWith("Loading"));
  await alice.keyboard.press("Escape");
  await alice.click(".taskbar-toggle");

  await shots(alice, "dashboard");
  await shots(admin, "dashboard-admin");
});

test("filters narrow the list and stay in the address", async () => {
  await alice.fill("#q", "cache");
  assert.equal(await alice.locator("[data-guests] tbody tr[data-key]").count(), 1);
  assert.match(alice.url(), /q=cache/);
  await alice.selectOption("#f-state", "stopped");
  assert.equal(await alice.locator("[data-guests] tbody tr[data-key]").count(), 0);
  assert.match(await alice.textContent("[data-guests]"), /No guest matches/);
  await alice.click("[data-clear-filters]");
  assert.equal(await alice.locator("[data-guests] tbody tr[data-key]").count(), 5);
});

test("the guest page draws live charts and lists snapshots", async () => {
  await alice.goto(`${uma.url}/guests/101`);
  await alice.waitForSelector('[data-live-status][data-state="live"]');
  await alice.waitForFunction(() => document.querySelectorAll("[data-charts] canvas").length >= 4, null, { timeout: 15_000 });
  // Each chart has points: its "now" value is shown and the empty note is gone.
  const drawn = await alice.evaluate(() =>
    [...document.querySelectorAll("[data-charts] .chart")].map((c) => ({
      now: c.querySelector(".chart-now")?.textContent ?? "",
      empty: c.querySelector(".chart-empty")?.hidden,
    })),
  );
  assert.equal(drawn.length, 4);
  for (const c of drawn) {
    assert.notEqual(c.now, "");
    assert.equal(c.empty, true);
  }
  // The canvas really has pixels drawn on it.
  const inked = await alice.evaluate(() => {
    const canvas = document.querySelector("[data-charts] canvas");
    const ctx = canvas.getContext("2d");
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
    return n;
  });
  assert.ok(inked > 500, `chart canvas has ink (${inked} pixels)`);
  assert.match(await alice.textContent("[data-guest-status]"), /Running/);

  await alice.click("#tab-snapshots");
  await alice.waitForSelector('#panel-snapshots tr[data-key="before-upgrade"]');
  await alice.click("#tab-hardware");
  await alice.waitForSelector("#panel-hardware input[name=cores]");
  await shots(alice, "guest");
});

test("alice creates a VM through the wizard", async () => {
  await alice.goto(`${uma.url}/create`);
  await alice.waitForSelector("[data-wizard] [name=name]");
  // Next without a name: the client says what is missing, nothing is sent.
  await alice.click('button:has-text("Next: Hardware")');
  assert.match(await alice.textContent(".step:not([hidden]) .field-error:not([hidden])"), /Name is required/);
  await alice.fill("[data-wizard] [name=name]", "web-2");
  await alice.click('button:has-text("Next: Hardware")');
  await alice.click('label.choice:has-text("Minimal VM")');
  assert.equal(await alice.inputValue("[name=memory]"), "512");
  await alice.click('button:has-text("Next: Disk and media")');
  await alice.waitForSelector("select[name=iso] option[value*='debian']", { state: "attached" });
  const iso = await alice.locator("select[name=iso] option[value*='debian']").first().getAttribute("value");
  await alice.selectOption("select[name=iso]", iso);
  await alice.fill("[name=diskSize]", "8");
  await alice.click('button:has-text("Next: Review")');
  await alice.waitForSelector(".review");
  assert.match(await alice.textContent("[data-quota]"), /Fits the pool's quota/);
  await shots(alice, "wizard");

  await alice.click('button[type=submit]:has-text("Create VM")');
  await alice.waitForSelector(".progress-card .alert-ok", { timeout: 30_000 });
  assert.match(await alice.textContent(".progress-card"), /was created/);
  await alice.click('.progress-card a:has-text("Open web-2")');
  await alice.waitForSelector('[data-guest-name]:has-text("web-2")');
});

test("the administrator lowers alice's memory limit; the wizard warns and shows the server's refusal", async () => {
  await admin.goto(`${uma.url}/admin/limits`);
  await admin.click('button[aria-label="Edit limits of DEV_alice_1"]');
  await admin.waitForSelector("dialog[open] [name=maxMemory]");
  // A bad value is caught in the browser.
  await admin.fill("dialog[open] [name=maxMemory]", "-1");
  await admin.click('dialog[open] button[type=submit]');
  assert.match(await admin.textContent("dialog[open] .field-error:not([hidden])"), /at least 0/);
  // 16 384 MiB are in use (15 872 before + the 512 MiB VM): leave 512 MiB.
  await admin.fill("dialog[open] [name=maxMemory]", "16896");
  await admin.click('dialog[open] button[type=submit]');
  await admin.waitForSelector("dialog[open]", { state: "detached" });
  await admin.waitForFunction(() => document.querySelector('[data-pool-limits] tr[data-key="DEV_alice_1"]')?.textContent?.includes("16.5 GiB"));
  await shot(admin, "admin-limits-1280-light");

  await alice.goto(`${uma.url}/create`);
  await alice.fill("[data-wizard] [name=name]", "web-3");
  await alice.click('button:has-text("Next: Hardware")');
  await alice.fill("[name=memory]", "4096");
  await alice.waitForFunction(() => document.querySelector("[data-quota]")?.textContent?.includes("Over the quota"));
  await alice.click('button:has-text("Next: Disk and media")');
  await alice.click('button:has-text("Next: Review")');
  await alice.click('button[type=submit]:has-text("Create VM")');
  await alice.waitForSelector(".wizard-form > .form-alert.alert-error:not([hidden])");
  const message = await alice.textContent(".wizard-form > .form-alert");
  assert.match(message, /Quota of pool DEV_alice_1 reached: it allows 16896 MiB of memory, uses 16384 MiB, and this request adds 4096 MiB \(512 MiB left\)/);
  await shots(alice, "wizard-quota");
});

test("after the server restarts, the page says it is reconnecting and resyncs by itself", async () => {
  await alice.goto(`${uma.url}/dashboard`);
  await alice.waitForFunction(() => document.body.dataset.freshnessState === "live");
  await row(alice, 102).waitFor();
  assert.match(await row(alice, 102).locator("td.col-status").textContent(), /Running/);

  const dataDir = uma.dataDir;
  await uma.stop();
  await alice.waitForSelector('[data-live-status][data-state="reconnecting"]');
  await alice.waitForSelector("[data-freshness]:not([hidden])");
  assert.match(await alice.textContent("[data-freshness]"), /reconnecting/i);
  assert.equal(await alice.evaluate(() => document.body.classList.contains("is-stale")), true);
  await shot(alice, "dashboard-reconnecting-1280-light");

  // The same server comes back (same data, so the session holds); the simulator starts afresh,
  // so guest 102 is stopped again: a fresh snapshot shows it, nothing stale stays on screen.
  uma = await startUma({ ...ENV, PORT: String(port) }, { dataDir });
  await alice.waitForSelector('[data-live-status][data-state="live"]', { timeout: 30_000 });
  await alice.waitForFunction(() => document.body.dataset.freshnessState === "live", null, { timeout: 30_000 });
  await alice.waitForFunction(
    () => document.querySelector('[data-guests] tr[data-key="102"] td.col-status')?.textContent?.includes("Stopped"),
    null,
    { timeout: 30_000 },
  );
  assert.equal(await alice.evaluate(() => document.body.classList.contains("is-stale")), false);
  assert.equal(await alice.isHidden("[data-freshness]"), true);
});

test("no console errors or CSP violations in either window", () => {
  assert.deepEqual(problems, []);
});

// Browser consoles end to end: alice opens VM 100's console page; noVNC draws the simulator's
// screen, and the canvas shows the guest's name pixel for pixel (the simulator's 8×8 font at
// scale 2, white on #101820 at (16,16)); she types a word and sees it echoed in green at (16,96).
// The guest page's Console tab connects too. The administrator lists open consoles and closes
// alice's; her page says an administrator closed it. A stopped VM's console offers Start and
// connects once it runs. Screenshots go to target/screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startUma, launchBrowser, screenshots } from "./harness.mjs";

const ADMIN_PW = "console-admin-pw";
const ALICE_PW = "console-alice-pw";

// The simulator's font (sim/src/console/font.rs) for the characters used here: 8 rows, top
// first; bit 0 of a row is its leftmost pixel.
const FONT = {
  " ": [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
  "-": [0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x00],
  ">": [0x06, 0x0c, 0x18, 0x30, 0x18, 0x0c, 0x06, 0x00],
  a: [0x00, 0x00, 0x1e, 0x30, 0x3e, 0x33, 0x6e, 0x00],
  b: [0x07, 0x06, 0x06, 0x3e, 0x66, 0x66, 0x3b, 0x00],
  c: [0x00, 0x00, 0x1e, 0x33, 0x03, 0x33, 0x1e, 0x00],
  d: [0x38, 0x30, 0x30, 0x3e, 0x33, 0x33, 0x6e, 0x00],
  e: [0x00, 0x00, 0x1e, 0x33, 0x3f, 0x03, 0x1e, 0x00],
  h: [0x07, 0x06, 0x36, 0x6e, 0x66, 0x66, 0x67, 0x00],
  i: [0x0c, 0x00, 0x0e, 0x0c, 0x0c, 0x0c, 0x1e, 0x00],
  l: [0x0e, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x1e, 0x00],
  o: [0x00, 0x00, 0x1e, 0x33, 0x33, 0x33, 0x1e, 0x00],
  v: [0x00, 0x00, 0x33, 0x33, 0x33, 0x1e, 0x0c, 0x00],
  w: [0x00, 0x00, 0x63, 0x6b, 0x7f, 0x7f, 0x36, 0x00],
};
const SCALE = 2;
const BACKGROUND = [0x10, 0x18, 0x20];
const WHITE = [0xff, 0xff, 0xff];
const GREEN = [0x40, 0xff, 0x40];
const NAME_AT = [16, 16];
const ECHO_AT = [16, 96];

let uma;
let browser;
let alice; // the console page
let admin;
const problems = [];

/** Whether pixel (x, y) of `text` drawn at the origin is lit, as the simulator draws it. */
function lit(text, x, y) {
  const i = Math.floor(x / (8 * SCALE));
  const ch = text[i];
  if (ch === undefined) return false;
  const rows = FONT[ch];
  assert.ok(rows, `the test's font has no ${JSON.stringify(ch)}`);
  const col = Math.floor((x - i * 8 * SCALE) / SCALE);
  return ((rows[Math.floor(y / SCALE)] >> col) & 1) === 1;
}

/** The canvas pixels of a rectangle, RGBA, read in the page. */
async function pixels(page, x, y, w, h) {
  return page.evaluate(
    ([x, y, w, h]) => {
      const canvas = document.querySelector("[data-console-screen] canvas");
      if (!canvas || canvas.width < x + w || canvas.height < y + h) return null;
      return { width: canvas.width, height: canvas.height, data: Array.from(canvas.getContext("2d").getImageData(x, y, w, h).data) };
    },
    [x, y, w, h],
  );
}

/** How many pixels of `text` at `origin` differ from the simulator's drawing (-1: no canvas). */
async function mismatches(page, text, [ox, oy], colour) {
  const w = text.length * 8 * SCALE;
  const h = 8 * SCALE;
  const got = await pixels(page, ox, oy, w, h);
  if (!got) return { bad: -1, lit: 0 };
  let bad = 0;
  let n = 0;
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      const on = lit(text, x, y);
      if (on) n += 1;
      const want = on ? colour : BACKGROUND;
      const p = (y * w + x) * 4;
      if (got.data[p] !== want[0] || got.data[p + 1] !== want[1] || got.data[p + 2] !== want[2]) bad += 1;
    }
  }
  return { bad, lit: n, width: got.width, height: got.height };
}

/** Polls `check` until it returns a truthy value, or fails after `ms` with `what`. */
async function eventually(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until `text` shows at `origin` in `colour`, exactly as the simulator draws it. */
async function screenShows(page, text, origin, colour) {
  let last;
  try {
    await eventually(`the screen shows ${JSON.stringify(text)}`, async () => {
      last = await mismatches(page, text, origin, colour);
      return last.bad === 0;
    });
  } catch (e) {
    e.message += ` — last check: ${JSON.stringify(last)}`;
    throw e;
  }
  return last;
}

async function signIn(username, password, colorScheme = "light") {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
  const page = await context.newPage();
  page.on("console", (m) => {
    // noVNC logs a closed connection as an error; the closes here are on purpose.
    // A stopped guest (409) and a hidden one (404) are answers the test asks for.
    if (m.type() === "error" && !/^(Failed when connecting|Failed while connected|Connection closed|RFB failure)|status of (409|404)/.test(m.text())) {
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

async function shot(page, name, fullPage = false) {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage });
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

test("alice's console shows the guest's name and echoes what she types", async () => {
  await alice.goto(`${uma.url}/guests/100/console`);
  await alice.waitForSelector('.console[data-state="connected"]', { timeout: 20_000 });
  assert.match(await alice.textContent(".console-status"), /Connected to alice-web/);

  const name = await screenShows(alice, "alice-web", NAME_AT, WHITE);
  assert.equal(name.width, 800);
  assert.equal(name.height, 600);
  assert.ok(name.lit > 100, `the name lights ${name.lit} pixels`);
  // Before typing, the echo line is the prompt alone.
  await screenShows(alice, ">       ", ECHO_AT, GREEN);

  // Focus the screen as a person does (a click; far from the text, since the simulator draws
  // the pointer where it is) and type.
  const box = await alice.locator("[data-console-screen] canvas").boundingBox();
  await alice.mouse.click(box.x + box.width * 0.9, box.y + box.height * 0.9);
  assert.equal(await alice.evaluate(() => document.activeElement?.tagName), "CANVAS");
  await alice.keyboard.type("hello");
  await screenShows(alice, "> hello", ECHO_AT, GREEN);
  // Escape, then Tab leaves the screen (the guest gets the Escape, which it does not echo).
  await alice.keyboard.press("Escape");
  await alice.keyboard.press("Tab");
  assert.equal(await alice.evaluate(() => document.activeElement?.dataset.consoleConnect), "");
  await screenShows(alice, "> hello", ECHO_AT, GREEN);

  // Paste as keystrokes: typed from the text area, one key per character.
  await alice.click("[data-console-paste]");
  await alice.fill(".console-paste textarea", " world");
  await alice.click('.console-paste button:has-text("Type it")');
  await alice.waitForFunction(() => /Typed 6 characters/.test(document.querySelector(".console-status")?.textContent ?? ""));
  // " world" has no `r` in the test's font: check the first part only ("> hello wo").
  await screenShows(alice, "> hello wo", ECHO_AT, GREEN);

  // Scaling off shows the screen at its own size; on again fits it.
  await alice.click("[data-console-scale]");
  assert.equal(await alice.getAttribute("[data-console-scale]", "aria-pressed"), "false");
  await alice.waitForFunction(() => document.querySelector("[data-console-screen] canvas")?.getBoundingClientRect().width === 800);
  await alice.click("[data-console-scale]");
  assert.equal(await alice.getAttribute("[data-console-scale]", "aria-pressed"), "true");

  // The power buttons beside the screen say what applies.
  assert.equal(await alice.getAttribute('[data-power] button:has-text("Start")', "aria-disabled"), "true");
  assert.equal(await alice.getAttribute('[data-power] button:has-text("Shut down")', "aria-disabled"), null);

  await alice.click('.console-paste button:has-text("Close")');
  await alice.evaluate(() => window.scrollTo(0, 0));
  for (const scheme of ["light", "dark"]) {
    await alice.emulateMedia({ colorScheme: scheme });
    await shot(alice, `console-1280-${scheme}`);
  }
  await alice.emulateMedia({ colorScheme: "light" });
  await alice.setViewportSize({ width: 390, height: 844 });
  await shot(alice, "console-390-light", true);
  await alice.setViewportSize({ width: 1280, height: 900 });
});

test("the guest page's Console tab connects to the same screen", async () => {
  const page = await alice.context().newPage();
  page.on("pageerror", (e) => problems.push(`alice (guest page): ${e}`));
  await page.goto(`${uma.url}/guests/100#console`);
  await page.waitForSelector("#panel-console:not([hidden]) [data-console-message]");
  assert.ok(await page.isVisible('.guest-head a:has-text("Console")'), "the header links to the console page");
  await page.click('#panel-console [data-console-message] button:has-text("Connect")');
  await page.waitForSelector('#panel-console .console[data-state="connected"]', { timeout: 20_000 });
  // Two consoles of one guest are two VNC connections: this one shows the same picture.
  await screenShows(page, "alice-web", NAME_AT, WHITE);
  await page.locator("#panel-console").scrollIntoViewIfNeeded();
  await shot(page, "guest-console-panel-1280-light");
  await page.click("#panel-console [data-console-connect]");
  await page.waitForSelector('#panel-console .console[data-state="ended"]');
  assert.match(await page.textContent("#panel-console [data-console-message]"), /You closed the console/);
  await page.close();
});

test("an administrator closes alice's console and her page says so", async () => {
  await admin.goto(`${uma.url}/admin/consoles`);
  const row = admin.locator("[data-consoles] tbody tr[data-key]", { hasText: "alice" });
  await eventually("alice's one console is listed", async () => (await row.count()) === 1);
  assert.match(await row.textContent(), /alice-web/);
  assert.match(await row.textContent(), /VM 100 on pve1/);
  await shot(admin, "admin-consoles-1280-light");

  await row.locator('button:has-text("Close…")').click();
  await admin.click('dialog[open] button:has-text("Close console")');
  await admin.waitForSelector('[data-consoles-alert] .alert-ok:has-text("Closed alice\'s console")');
  await admin.waitForSelector('[data-consoles] td:has-text("No console is open")');

  await alice.waitForSelector('.console[data-state="ended"] [data-console-message][role="alert"]', { timeout: 10_000 });
  assert.match(await alice.textContent("[data-console-message]"), /An administrator \(admin\) closed this console\./);
  assert.match(await alice.textContent(".console-status"), /An administrator \(admin\) closed this console\./);
  await shot(alice, "console-closed-by-admin-1280-light");

  // Reconnect opens a new console.
  await alice.click('[data-console-message] button:has-text("Reconnect")');
  await alice.waitForSelector('.console[data-state="connected"]', { timeout: 20_000 });
  await screenShows(alice, "alice-web", NAME_AT, WHITE);
});

test("a stopped VM's console offers Start, then connects", async () => {
  await alice.goto(`${uma.url}/guests/102/console`);
  await alice.waitForSelector('.console[data-state="stopped"] [data-console-message]', { timeout: 20_000 });
  assert.match(await alice.textContent("[data-console-message]"), /alice-dev is not running/);
  await shot(alice, "console-stopped-1280-light");
  await alice.click('[data-console-message] button:has-text("Start VM")');
  await alice.waitForSelector('.console[data-state="connected"]', { timeout: 40_000 });
  await screenShows(alice, "alice-dev", NAME_AT, WHITE);
});

test("a guest alice may not see has no console page", async () => {
  const resp = await alice.goto(`${uma.url}/guests/110/console`);
  assert.equal(resp.status(), 404);
});

test("no console errors or CSP violations", () => {
  assert.deepEqual(problems, []);
});

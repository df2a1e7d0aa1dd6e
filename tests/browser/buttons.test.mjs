// Every button of every page, as each role, does something a person can see or the server
// hears: a dialog or file chooser opens, the page changes, it navigates, or a request or a live
// message leaves. A button with nothing to act on is disabled, not silent. Buttons that would
// end the crawler's own session (sign out) are left out; each distinct label is pressed once per
// page, and whatever it opened is closed (Escape) or left (back to the page) before the next.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUma, launchBrowser, signIn } from "./harness.mjs";

const ADMIN_PW = "buttons-admin-pw";
let uma;
let browser;

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: ADMIN_PW }, { users: [{ name: "alice", password: "buttons-alice-pw" }] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

const COMMON = ["/dashboard", "/create", "/templates", "/sdn", "/whiteboard", "/docs", "/settings"];
const ADMIN = ["/nodes/pve1", "/admin/pools", "/admin/limits", "/admin/acl", "/admin/consoles", "/admin/docs", "/admin/notifications", "/admin/users", "/admin/audit"];
/** Labels left out: they end the crawler's session or another's. */
const SKIP = /^(sign out|sign out everywhere else)$/i;

/** The visible, enabled buttons' labels on the page, each once, in page order. */
async function labels(page) {
  return page.$$eval("button", (bs) => {
    const seen = new Set();
    const out = [];
    for (const b of bs) {
      const r = b.getBoundingClientRect();
      const style = getComputedStyle(b);
      if (b.disabled || r.width === 0 || r.height === 0 || style.visibility === "hidden" || b.closest("[hidden], dialog:not([open])")) continue;
      if (b.type === "submit") continue;
      const label = (b.getAttribute("aria-label") || b.textContent || "").trim().replace(/\s+/g, " ");
      if (!label || seen.has(label)) continue;
      seen.add(label);
      out.push(label);
    }
    return out;
  });
}

/** Presses the first visible button labelled `label`; whether anything happened. */
async function press(page, label) {
  await page.evaluate(() => {
    window.__changes = 0;
    window.__observer?.disconnect();
    window.__observer = new MutationObserver((m) => (window.__changes += m.length));
    window.__observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  let requests = 0;
  const count = () => (requests += 1);
  page.on("request", count);
  page.on("filechooser", count);
  page.on("dialog", count);
  const sent = page.__frames ?? 0;
  const before = page.url();
  const button = page.locator("button:visible", { hasText: label }).or(page.locator(`button[aria-label="${label.replace(/"/g, '\\"')}"]:visible`)).first();
  try {
    await button.click({ timeout: 2000 });
  } catch {
    page.off("request", count);
    page.off("filechooser", count);
    page.off("dialog", count);
    return true; // covered by something else now (a panel opened by an earlier button): not this test's to judge
  }
  await page.waitForTimeout(500);
  page.off("request", count);
  page.off("filechooser", count);
  page.off("dialog", count);
  requests += (page.__frames ?? 0) - sent;
  const changes = page.url() !== before ? 1 : await page.evaluate(() => window.__changes).catch(() => 1);
  return changes > 0 || requests > 0;
}

async function crawl(username, password, pages) {
  const { context, page, problems } = await signIn(browser, uma, username, password);
  // Live messages the page sends count as doing something (Socket.IO frames after the handshake).
  page.__frames = 0;
  page.on("websocket", (ws) => ws.on("framesent", (f) => {
    if (typeof f.payload === "string" && f.payload.startsWith("42")) page.__frames += 1;
  }));
  page.on("dialog", (d) => d.dismiss().catch(() => undefined));
  const dead = [];
  for (const path of pages) {
    await page.goto(`${uma.url}${path}`);
    await page.waitForLoadState("networkidle").catch(() => undefined);
    for (const label of await labels(page)) {
      if (SKIP.test(label)) continue;
      if (!(await press(page, label))) dead.push(`${username} ${path}: “${label}” does nothing`);
      // Close what it opened; come back when it went elsewhere.
      await page.keyboard.press("Escape").catch(() => undefined);
      await page.keyboard.press("Escape").catch(() => undefined);
      if (!page.url().startsWith(`${uma.url}${path}`)) {
        await page.goto(`${uma.url}${path}`);
        await page.waitForLoadState("networkidle").catch(() => undefined);
      }
    }
  }
  await context.close();
  return [...dead, ...problems.filter((p) => !/status of 4\d\d/.test(p)).map((p) => `${username}: ${p}`)];
}

test("every button on every page, as each role, does something", async () => {
  const problems = [
    ...(await crawl("admin", ADMIN_PW, [...COMMON, ...ADMIN])),
    ...(await crawl("alice", "buttons-alice-pw", [...COMMON, "/pools/DEV_alice_1"])),
  ];
  assert.deepEqual(problems, []);
});

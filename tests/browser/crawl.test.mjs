// Every page of the signed-in app, as each role that uses it (administrator, pool owner, plain
// user), in light and dark: no serious or critical accessibility violation (axe-core), no console
// error, no page answering 404, and every link on it leads somewhere that answers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUma, launchBrowser, axeViolations } from "./harness.mjs";

const ADMIN_PW = "crawl-admin-pw";
let uma;
let browser;

before(async () => {
  uma = await startUma(
    { UMA_ADMIN_PASSWORD: ADMIN_PW },
    {
      users: [
        { name: "alice", password: "crawl-alice-pw" },
        { name: "dave", password: "crawl-dave-pw" },
      ],
    },
  );
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

const COMMON = ["/dashboard", "/create", "/templates", "/sdn", "/whiteboard", "/docs", "/settings"];
const ADMIN = ["/nodes/pve1", "/admin/pools", "/admin/limits", "/admin/acl", "/admin/consoles", "/admin/docs", "/admin/notifications", "/admin/users", "/admin/audit"];

async function crawl(username, password, pages) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  let where = "";
  page.on("console", (m) => m.type() === "error" && problems.push(`${where}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`${where}: ${e}`));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  const links = new Set();
  // A guest's page too, the first the dashboard links to.
  await page.waitForSelector("a[href^='/guests/']", { timeout: 10_000 }).catch(() => undefined);
  const guest = await page.$eval("a[href^='/guests/']", (a) => a.getAttribute("href")).catch(() => null);
  if (guest) pages = [...pages, guest];
  for (const path of pages) {
    where = `${username} ${path}`;
    const resp = await page.goto(`${uma.url}${path}`);
    assert.equal(resp.status(), 200, `${where} answers ${resp.status()}`);
    await page.waitForLoadState("networkidle").catch(() => undefined);
    await page.waitForTimeout(400);
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const v of await axeViolations(page)) problems.push(`${where} (${scheme}): ${v}`);
    }
    await page.emulateMedia({ colorScheme: "light" });
    for (const href of await page.$$eval("a[href^='/']", (as) => as.map((a) => a.getAttribute("href")))) {
      if (!href.startsWith("/api/") && !href.startsWith("/uploads/")) links.add(href.split("#")[0]);
    }
  }
  // Every link found answers (a page, or a redirect for what the role may not see).
  for (const href of links) {
    const status = await page.evaluate(async (u) => (await fetch(u, { redirect: "manual" })).status, href);
    if (status === 404 || status >= 500) problems.push(`${username}: link ${href} answers ${status}`);
  }
  await context.close();
  return problems;
}

test("every page, as each role: accessible in both themes, no console error, no dead link", async () => {
  const problems = [
    ...(await crawl("admin", ADMIN_PW, [...COMMON, ...ADMIN])),
    ...(await crawl("alice", "crawl-alice-pw", [...COMMON, "/pools/DEV_alice_1"])),
    ...(await crawl("dave", "crawl-dave-pw", COMMON)),
  ];
  assert.deepEqual(problems, []);
});

test("an administrator opens a node from the dashboard and follows it live", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", "admin");
  await page.fill("input[name=password]", ADMIN_PW);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  await page.click('.node-link:has-text("pve1")');
  await page.waitForURL(`${uma.url}/nodes/pve1`);
  await page.waitForSelector('[data-node-status] :text("Online")');
  await page.waitForSelector("[data-node-facts]:has-text('CPUs')");
  await page.waitForSelector("[data-node-guests] li a[href^='/guests/']");
  await page.waitForFunction(() => document.querySelectorAll("[data-charts] canvas").length >= 4);
  await (await import("./harness.mjs")).shots(page, "node");
  // Not for users: the same answer as a node that does not exist.
  const alice = await browser.newContext();
  const ap = await alice.newPage();
  await ap.goto(`${uma.url}/login`);
  await ap.fill("input[name=username]", "alice");
  await ap.fill("input[name=password]", "crawl-alice-pw");
  await ap.click("button[type=submit]");
  await ap.waitForURL(`${uma.url}/dashboard`);
  assert.equal((await ap.goto(`${uma.url}/nodes/pve1`)).status(), 404);
  assert.equal(await ap.locator(".node-link").count(), 0);
  await alice.close();
  await context.close();
});

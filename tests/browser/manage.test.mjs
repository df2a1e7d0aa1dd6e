// Day-to-day management through the pages, as a pool owner (alice) and the administrator: guest
// actions with their tasks (snapshot, firewall rule, options), pool access, SDN, admin pools and
// ACLs. Each form is checked both ways: the browser catches bad input before sending, and the
// server's own refusal is shown in the form. Screenshots go to target/screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startUma, launchBrowser, screenshots } from "./harness.mjs";

const ADMIN_PW = "browser-admin-pw";
const ALICE_PW = "alice-browser-pw";

let uma;
let browser;
let alice;
let admin;
const problems = [];

async function signIn(username, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("console", (m) => {
    // Refusals the test provokes answer 4xx, which Chromium logs as failed loads.
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

async function shot(page, name) {
  const vp = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: vp.width, height: Math.max(vp.height, height) });
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(screenshots, `${name}.png`) });
  await page.setViewportSize(vp);
}

before(async () => {
  uma = await startUma(
    { UMA_ADMIN_PASSWORD: ADMIN_PW, ALLOWED_PUBLIC_STORAGES: "local,local-lvm,nas" },
    { users: [{ name: "alice", password: ALICE_PW }] },
  );
  browser = await launchBrowser();
  alice = await signIn("alice", ALICE_PW);
  admin = await signIn("admin", ADMIN_PW);
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

test("a snapshot is taken from the guest page and follows its task to the list", async () => {
  await alice.goto(`${uma.url}/guests/100#snapshots`);
  await alice.click('button:has-text("Take snapshot…")');
  await alice.fill("dialog[open] [name=snapname]", "1-bad");
  await alice.click("dialog[open] button[type=submit]");
  assert.match(await alice.textContent("dialog[open] .field-error:not([hidden])"), /starting with a letter/);
  await alice.fill("dialog[open] [name=snapname]", "before-test");
  await alice.fill("dialog[open] [name=description]", "from the browser test");
  await alice.click("dialog[open] button[type=submit]");
  await alice.waitForSelector("dialog[open]", { state: "detached" });
  await alice.waitForSelector('[data-power-progress]:has-text("Snapshot taken")', { timeout: 20_000 });
  await alice.waitForSelector('#panel-snapshots tr[data-key="before-test"]');
  await alice.waitForFunction(() => document.querySelector(".taskbar-last")?.textContent?.includes("Snapshot VM 100"));
});

test("firewall rules: the browser checks ports, the rule appears, and is deleted", async () => {
  await alice.goto(`${uma.url}/guests/100#firewall`);
  await alice.waitForSelector('#panel-firewall tr[data-key="0"]');
  const before = await alice.locator("#panel-firewall tbody tr[data-key]").count();
  await alice.click('button:has-text("Add rule…")');
  await alice.fill("dialog[open] [name=dport]", "http");
  await alice.click("dialog[open] button[type=submit]");
  assert.match(await alice.textContent("dialog[open] .field-error:not([hidden])"), /Ports like/);
  await alice.fill("dialog[open] [name=dport]", "8080");
  await alice.fill("dialog[open] [name=comment]", "test app");
  await alice.click("dialog[open] button[type=submit]");
  await alice.waitForSelector("dialog[open]", { state: "detached" });
  await alice.waitForFunction((n) => document.querySelectorAll("#panel-firewall tbody tr[data-key]").length === n + 1, before);
  await shot(alice, "guest-firewall-1280-light");
  await alice.click('#panel-firewall tr:has-text("test app") button:has-text("Delete")');
  await alice.click("dialog[open] button[type=submit]");
  await alice.waitForFunction((n) => document.querySelectorAll("#panel-firewall tbody tr[data-key]").length === n, before);
});

test("options: a bad name is caught, a good one is saved and shows in the header", async () => {
  await alice.goto(`${uma.url}/guests/102#options`);
  await alice.waitForSelector("#panel-options [name=name]");
  await alice.fill("#panel-options [name=name]", "bad name!");
  await alice.click('#panel-options button:has-text("Save options")');
  assert.match(await alice.textContent("#panel-options .field-error:not([hidden])"), /letters, digits/);
  await alice.fill("#panel-options [name=name]", "alice-dev2");
  await alice.fill("#panel-options [name=tags]", "dev; test");
  await alice.click('#panel-options button:has-text("Save options")');
  await alice.waitForSelector("#panel-options .form-alert.alert-ok:not([hidden])");
  await alice.waitForSelector('[data-guest-name]:has-text("alice-dev2")', { timeout: 15_000 });
});

test("the pool owner grants and revokes access; the server refuses an unknown user in the form", async () => {
  await alice.goto(`${uma.url}/pools/DEV_alice_1`);
  await alice.waitForSelector("[data-acl] form");
  await alice.fill("[data-acl] form [name=who]", "nobody-here");
  await alice.click('[data-acl] form button:has-text("Grant")');
  await alice.waitForSelector("[data-acl] form .field-error:not([hidden]), [data-acl] form .form-alert.alert-error:not([hidden])");
  await shot(alice, "pool-acl-error-1280-light");
  await alice.fill("[data-acl] form [name=who]", "bob@pve");
  await alice.selectOption("[data-acl] form [name=role]", "PVEVMUser");
  await alice.click('[data-acl] form button:has-text("Grant")');
  await alice.waitForSelector('[data-acl] tr:has-text("bob@pve"):has-text("PVEVMUser")');
  await shot(alice, "pool-1280-light");
  await alice.click('[data-acl] button[aria-label="Revoke PVEVMUser from bob@pve"]');
  await alice.click("dialog[open] button[type=submit]");
  await alice.waitForSelector('[data-acl] tr:has-text("bob@pve")', { state: "detached" });
  // The pool's own whiteboard is one click away.
  await alice.click("[data-pool-whiteboard]");
  await alice.waitForURL(/\/whiteboard\?board=pool%3ADEV_alice_1/);
  await alice.waitForSelector("[data-whiteboard][data-ready=true]");
});

test("SDN: alice has no zone to use; the administrator creates a VNet and sees the apply button", async () => {
  await alice.goto(`${uma.url}/sdn`);
  await alice.waitForSelector('[data-vnet-actions]:has-text("No zone is open to you")');
  await admin.goto(`${uma.url}/sdn`);
  await admin.click('button:has-text("New VNet…")');
  await admin.fill("dialog[open] [name=vnet]", "x");
  await admin.click("dialog[open] button[type=submit]");
  assert.match(await admin.textContent("dialog[open] .field-error:not([hidden])"), /2 to 8 letters/);
  await admin.fill("dialog[open] [name=vnet]", "testnet");
  await admin.fill("dialog[open] [name=alias]", "Browser test");
  await admin.click("dialog[open] button[type=submit]");
  await admin.waitForSelector("dialog[open]", { state: "detached" });
  await admin.waitForSelector('[data-vnets] tr[data-key="testnet"]');
  await admin.waitForSelector('button:has-text("Apply network changes")');
  await shot(admin, "sdn-1280-light");
});

test("admin pages: create a pool for bob, see the server's refusal for an unknown owner, find its ACL", async () => {
  await admin.goto(`${uma.url}/admin/pools`);
  await admin.click('[data-create-pool] button:has-text("Create pool")');
  assert.match(await admin.textContent("[data-create-pool] .field-error:not([hidden])"), /Owner is required/);
  await admin.fill("[data-create-pool] [name=ownerName]", "no-such-person");
  await admin.click('[data-create-pool] button:has-text("Create pool")');
  await admin.waitForSelector("[data-create-pool] .field-error:not([hidden]), [data-create-pool] .form-alert.alert-error:not([hidden])");
  await admin.fill("[data-create-pool] [name=ownerName]", "bob");
  await admin.fill("[data-create-pool] [name=comment]", "Bob's second lab");
  await admin.click('[data-create-pool] button:has-text("Create pool")');
  await admin.waitForSelector('[data-create-pool] .form-alert:has-text("Created pool DEV_bob_2")');
  await admin.waitForSelector('[data-pools] tr[data-key="DEV_bob_2"]');
  await shot(admin, "admin-pools-1280-light");

  await admin.goto(`${uma.url}/admin/acl`);
  await admin.fill("[data-acl-filter] input", "DEV_bob_2");
  await admin.waitForSelector('[data-acl] tr:has-text("/pool/DEV_bob_2")');
  await admin.fill("[data-grant] [name=path]", "pool/missing-slash");
  await admin.click('[data-grant] button:has-text("Grant")');
  assert.match(await admin.textContent("[data-grant] .field-error:not([hidden])"), /\/pool\/<id>/);
  await shot(admin, "admin-acl-1280-light");
});

test("no console errors or CSP violations", () => {
  assert.deepEqual(problems, []);
});

// An administrator adds a local account on /admin/users, hands over the password Uma shows once,
// the new person signs in with it, and the administrator signs them out from the live sessions.
// Screenshots light and dark at 1280 and 390 px.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUma, launchBrowser, shots, signIn as signInAs } from "./harness.mjs";

const ADMIN_PW = "users-admin-pw";
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

const signIn = (username, password) => signInAs(browser, uma, username, password);

test("an administrator adds an account, the person signs in, and is signed out again", async () => {
  const admin = await signIn("admin", ADMIN_PW);
  await admin.page.goto(`${uma.url}/admin/users`);
  await admin.page.waitForSelector('[data-users] tr:has-text("admin")');

  await admin.page.click("[data-new-account]");
  const dialog = admin.page.locator("dialog[open]");
  await dialog.locator("[name=username]").fill("erin smith");
  await dialog.locator('button[type=submit]').click();
  await dialog.locator(".field-error:not([hidden])").first().waitFor();
  await dialog.locator("[name=username]").fill("erin");
  await dialog.locator('button[type=submit]').click();
  const password = await admin.page.locator("[data-new-password]").textContent();
  assert.ok(password && password.length >= 16);
  await admin.page.screenshot({ path: `${process.cwd()}/../../target/screenshots/admin-users-password-1280-light.png` });
  await admin.page.locator('dialog[open] button:has-text("Done")').click();
  await admin.page.waitForSelector('[data-users] tr:has-text("erin")');

  const erin = await signIn("erin", password);
  await admin.page.reload();
  await admin.page.waitForSelector('[data-live-sessions] tr:has-text("erin")');
  await shots(admin.page, "admin-users");
  await admin.page.click('[data-user-signout="erin"]');
  await admin.page.click('dialog[open] button:has-text("Sign out")');
  await admin.page.waitForSelector('[data-users-alert] :text("erin is signed out")');
  const status = await erin.page.evaluate(async () => (await fetch("/api/sessions")).status);
  assert.equal(status, 401);

  assert.deepEqual(admin.problems.filter((p) => !/status of 400/.test(p)), []);
  await erin.context.close();
  await admin.context.close();
});

test("an administrator sends a one-time link, the person chooses a password with it, and the link is spent", async () => {
  const admin = await signIn("admin", ADMIN_PW);
  await admin.page.goto(`${uma.url}/admin/users`);
  // An account to send a link to.
  await admin.page.click("[data-new-account]");
  await admin.page.locator("dialog[open] [name=username]").fill("frank");
  await admin.page.locator("dialog[open] button[type=submit]").click();
  await admin.page.locator('dialog[open] button:has-text("Done")').click();
  await admin.page.waitForSelector('[data-users] tr:has-text("frank")');

  await admin.page.click('[data-user-password="frank"]');
  await admin.page.locator('dialog[open] button:has-text("Make a link")').click();
  const link = await admin.page.locator("[data-reset-link]").textContent();
  assert.match(link, /\/password-reset#[A-Za-z0-9_-]{20,}$/);
  await shots(admin.page, "admin-users-link", { fullPage: false });
  await admin.page.locator('dialog[open] button:has-text("Done")').click();

  // Frank, not signed in, opens it.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(link);
  await page.waitForSelector("[data-reset-form]:not([hidden])");
  assert.match(await page.locator("[data-reset-who]").textContent(), /For frank/);
  assert.equal(new URL(page.url()).hash, "", "the token leaves the address bar");
  await page.fill("[name=password]", "frank-chooses-1");
  await page.fill("[name=again]", "frank-chooses-2");
  await page.click("[data-reset-form] button[type=submit]");
  await page.waitForSelector('[data-reset-form] .field-error:not([hidden])');
  await page.fill("[name=password]", "frank");
  await page.fill("[name=again]", "frank");
  await page.click("[data-reset-form] button[type=submit]");
  await page.waitForSelector('[data-reset-form] .field-error:not([hidden])');
  await shots(page, "password-reset");
  await page.fill("[name=password]", "frank-chooses-1");
  await page.fill("[name=again]", "frank-chooses-1");
  await page.click("[data-reset-form] button[type=submit]");
  await page.waitForSelector('[data-reset-alert] :text("Your password is set")');
  await page.click('[data-reset-alert] a:has-text("Sign in with it")');
  await page.fill("input[name=username]", "frank");
  await page.fill("input[name=password]", "frank-chooses-1");
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);

  // The same link again: spent, and it says so.
  const again = await context.newPage();
  await again.goto(link);
  await again.waitForSelector('[data-reset-alert] .alert-error');
  assert.match(await again.locator("[data-reset-alert]").textContent(), /can't be used/);
  assert.ok(await again.locator("[data-reset-form]").isHidden());

  assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
  assert.deepEqual(admin.problems, []);
  await context.close();
  await admin.context.close();
});

test("an administrator sets which directory groups are administrators and may sign in", async () => {
  const admin = await signIn("admin", ADMIN_PW);
  await admin.page.goto(`${uma.url}/admin/acl`);
  const form = admin.page.locator('[data-signin-groups] form[aria-label="Who may sign in"]');
  await form.locator("[name=adminGroups]").fill("uma-admins\ncn=ops,ou=groups,dc=example,dc=org");
  await form.locator("[name=allowedGroups]").fill("developers\ntesters\n");
  await form.locator('button[type=submit]').click();
  await form.locator(':text("Saved.")').waitFor();
  await admin.page.reload();
  const saved = admin.page.locator('[data-signin-groups] form[aria-label="Who may sign in"]');
  assert.equal(await saved.locator("[name=adminGroups]").inputValue(), "uma-admins\ncn=ops,ou=groups,dc=example,dc=org");
  assert.equal(await saved.locator("[name=allowedGroups]").inputValue(), "developers\ntesters");
  // Test someone: a local account outside the allowed groups is refused, and says why.
  const test = admin.page.locator('form[aria-label="Test someone"]');
  await test.locator("[name=username]").fill("frank");
  await test.locator("button[type=submit]").click();
  const refused = admin.page.locator('[data-check-result="refused"]');
  await refused.waitFor();
  assert.match(await refused.textContent(), /frank.*can't sign in.*not a member of any allowed group \(developers, testers\)/s);
  await test.locator("[name=username]").fill("admin");
  await test.locator("button[type=submit]").click();
  const allowed = admin.page.locator('[data-check-result="allowed"]');
  await allowed.waitFor();
  assert.match(await allowed.textContent(), /administrators may always sign in.*a local administrator account/s);
  await shots(admin.page, "admin-acl-signin");
  assert.deepEqual(admin.problems, []);
  await admin.context.close();
});

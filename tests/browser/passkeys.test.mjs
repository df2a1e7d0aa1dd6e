// Passkeys in the browser, with Chromium's virtual authenticator (the DevTools protocol's
// WebAuthn domain: a platform authenticator that keeps discoverable passkeys and verifies its
// user): adding one in Settings (recovery codes with the first factor), signing out and signing
// in with the passkey alone, using it as the second step of a password sign-in, and removing it.
// Passkeys need a host name, so this browser reaches Uma as `localhost`. Screenshots light and
// dark at 1280 and 390 px.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUma, launchBrowser, shots, axeViolations } from "./harness.mjs";

const ALICE_PW = "passkeys-alice-pw";
let uma;
let browser;
let base;

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: "passkeys-admin-pw" }, { users: [{ name: "alice", password: ALICE_PW }] });
  base = uma.url.replace("127.0.0.1", "localhost");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

test("someone adds a passkey, signs in with it alone and as a second step, and removes it", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  // Without a passkey yet the login page offers one all the same (the browser can).
  await page.goto(`${base}/login`);
  await page.fill("input[name=username]", "alice");
  await page.fill("input[name=password]", ALICE_PW);
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/dashboard`);

  // Settings → Second factor → Add a passkey: named, then the recovery codes shown once.
  await page.goto(`${base}/settings#security`);
  await page.click('[data-security] button:has-text("Add a passkey")');
  const add = page.locator("dialog[open]");
  const name = add.locator("input[name=name]");
  assert.match(await name.inputValue(), /Chrome on Linux|Chrome/);
  await name.fill("Work laptop");
  await shots(page, "settings-passkey-add", { fullPage: false });
  await add.locator('button:has-text("Create passkey")').click();
  const codes = page.locator('dialog[open]:has-text("Your recovery codes")');
  await codes.waitFor();
  assert.equal(await codes.locator(".recovery-codes code").count(), 10);
  await codes.locator('button:has-text("I saved them")').click();
  await page.waitForSelector('.passkey-list li:has-text("Work laptop")');
  await page.waitForSelector('[data-security] :text("10 codes left")');
  await shots(page, "settings-passkeys");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, "a passkey that can sign in on its own");

  // Sign out, then sign in with the passkey alone.
  await page.click(".user-menu summary");
  await page.click("[data-logout]");
  await page.waitForURL(/\/login/);
  await page.waitForSelector("[data-passkey-signin]:visible");
  assert.deepEqual(await axeViolations(page), []);
  await shots(page, "login-passkey");
  await page.click("[data-passkey-signin]");
  await page.waitForURL(`${base}/dashboard`);
  const me = await (await page.request.get(`${base}/api/auth`)).json();
  assert.equal(me.user.username, "alice");

  // A password sign-in now asks for the second step, and the passkey gives it.
  await page.click(".user-menu summary");
  await page.click("[data-logout]");
  await page.waitForURL(/\/login/);
  await page.fill("input[name=username]", "alice");
  await page.fill("input[name=password]", ALICE_PW);
  await page.click("form[data-login-form] button[type=submit]");
  await page.waitForURL(/\/login\/second-factor/);
  await page.waitForSelector("[data-use-passkey]:visible");
  assert.equal(await page.locator("[data-code-form]").isVisible(), false, "the passkey comes first");
  assert.equal(await page.locator('button:has-text("Use a recovery code instead")').isVisible(), true);
  assert.deepEqual(await axeViolations(page), []);
  await shots(page, "login-second-factor-passkey");
  await page.click("[data-use-passkey]");
  await page.waitForURL(`${base}/dashboard`);

  // Renamed, then removed (the last factor: the recovery codes go with it).
  await page.goto(`${base}/settings#security`);
  await page.click('.passkey-list button:has-text("Rename…")');
  await page.locator("dialog[open] input[name=name]").fill("Old laptop");
  await page.click('dialog[open] button:has-text("Rename")');
  await page.waitForSelector('.passkey-list li:has-text("Old laptop")');
  await page.click('.passkey-list button:has-text("Remove…")');
  const confirm = page.locator("dialog[open]");
  await confirm.locator(':text("only second factor")').waitFor();
  await confirm.locator('button:has-text("Remove")').click();
  await page.waitForSelector('[data-security] :text("None yet")');
  assert.equal(await page.locator('[data-security] :text("codes left")').count(), 0);

  // The device still holds it, but Uma no longer knows it: the login page says so.
  await page.click(".user-menu summary");
  await page.click("[data-logout]");
  await page.waitForURL(/\/login/);
  await page.click("[data-passkey-signin]");
  await page.waitForSelector('.alert-error:has-text("doesn\'t know this passkey")');
  assert.equal(page.url().startsWith(`${base}/login`), true);
  // The unknown passkey (401) is the only failed request.
  assert.deepEqual(problems.filter((p) => !p.includes("status of 401")), []);
  await context.close();
});

test("at an IP address the login page offers no passkey and Settings says why", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${uma.url}/login`);
  assert.equal(await page.locator("[data-passkey-signin]").count(), 0);
  await page.fill("input[name=username]", "alice");
  await page.fill("input[name=password]", ALICE_PW);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  await page.goto(`${uma.url}/settings#security`);
  await page.waitForSelector('[data-security] :text("don\'t work at this address")');
  assert.equal(await page.locator('[data-security] button:has-text("Add a passkey")').count(), 0);
  await context.close();
});

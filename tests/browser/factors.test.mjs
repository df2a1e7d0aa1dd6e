// Second factor and API tokens in the browser: setting up an authenticator app in Settings (QR
// code, first code, recovery codes shown once), signing in with a code on the second step,
// removing the app with a recovery code; an API token made, shown once and revoked; and the
// administrators' rule walking someone without an app through setting one up at sign-in. Codes
// are computed here (RFC 6238), not by Uma. Screenshots light and dark at 1280 and 390 px.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { startUma, launchBrowser, shots, signIn as signInAs, axeViolations } from "./harness.mjs";

const ADMIN_PW = "factors-admin-pw";
const ALICE_PW = "factors-alice-pw";
const BOB_PW = "factors-bob-pw";
let uma;
let browser;

before(async () => {
  uma = await startUma(
    { UMA_ADMIN_PASSWORD: ADMIN_PW },
    { users: [{ name: "alice", password: ALICE_PW }, { name: "bob", password: BOB_PW }] },
  );
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of s.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const out = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}

/** The code of `secret` for the step `steps` after now. */
function totp(secret, steps = 0) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + steps));
  const h = createHmac("sha1", base32(secret)).update(counter).digest();
  const o = h[19] & 15;
  const n = ((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1e6).padStart(6, "0");
}

/** Signs in with a password only; the page is then on the second step. */
async function passwordStep(username, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/login\/second-factor/);
  return { context, page, problems };
}

test("someone sets up an app, signs in with a code, makes and revokes a token, and removes the app", async () => {
  const { context, page, problems } = await signInAs(browser, uma, "alice", ALICE_PW);
  await page.goto(`${uma.url}/settings#security`);
  await page.click('[data-security] button:has-text("Set up authenticator app")');
  const dialog = page.locator("dialog[open]");
  await dialog.locator("svg.totp-qr").waitFor();
  const secret = await dialog.locator("code[data-secret]").getAttribute("data-secret");
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await shots(page, "settings-mfa-setup", { fullPage: false });
  await dialog.locator("input[name=code]").fill(totp(secret, 4));
  await dialog.locator('button:has-text("Finish setting up")').click();
  await dialog.locator(".field-error:not([hidden])").waitFor();
  await dialog.locator("input[name=code]").fill(totp(secret));
  await dialog.locator('button:has-text("Finish setting up")').click();
  const codesDialog = page.locator('dialog[open]:has-text("Your recovery codes")');
  await codesDialog.waitFor();
  const codes = await codesDialog.locator(".recovery-codes code").allTextContents();
  assert.equal(codes.length, 10);
  await shots(page, "settings-mfa-codes", { fullPage: false });
  await codesDialog.locator('button:has-text("I saved them")').click();
  await page.waitForSelector('[data-security] :text("10 codes left")');

  // Signing in now takes a code on a second step.
  const second = await passwordStep("alice", ALICE_PW);
  await second.page.waitForSelector("#mfa-code");
  assert.deepEqual(await axeViolations(second.page), []);
  await shots(second.page, "login-second-factor");
  await second.page.fill("#mfa-code", totp(secret, 5));
  await second.page.click('button:has-text("Sign in")');
  await second.page.waitForSelector("#mfa-code[aria-invalid=true]");
  await second.page.fill("#mfa-code", totp(secret, 1));
  await second.page.click('button:has-text("Sign in")');
  await second.page.waitForURL(`${uma.url}/dashboard`);
  assert.deepEqual(second.problems, []);
  await second.context.close();

  // A recovery code works on the second step too.
  const third = await passwordStep("alice", ALICE_PW);
  await third.page.click('button:has-text("Use a recovery code instead")');
  await third.page.fill("#mfa-code", codes[0]);
  await third.page.click('button:has-text("Sign in")');
  await third.page.waitForURL(`${uma.url}/dashboard`);
  await third.context.close();

  // An API token: made, shown once, usable, revoked.
  await page.reload();
  await page.click("[data-new-token]");
  const tokenDialog = page.locator("dialog[open]");
  await tokenDialog.locator("input[name=name]").fill("ci-deploy");
  await tokenDialog.locator("select[name=scope]").selectOption("read");
  await tokenDialog.locator('button:has-text("Make token")').click();
  const shown = page.locator('dialog[open]:has-text("ci-deploy is ready")');
  await shown.waitFor();
  const token = await shown.locator("code.token-secret").textContent();
  assert.match(token, /^uma_/);
  await shots(page, "settings-token-made", { fullPage: false });
  await shown.locator('button:has-text("Done")').click();
  const viaToken = await fetch(`${uma.url}/api/user`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal((await viaToken.json()).user.username, "alice");
  await page.waitForSelector('[data-tokens] tr:has-text("ci-deploy")');
  await shots(page, "settings-security");
  await page.click('[data-tokens] button:has-text("Revoke")');
  await page.click('dialog[open] button:has-text("Revoke")');
  await page.waitForSelector('[data-tokens] :text("No tokens.")');
  const after = await fetch(`${uma.url}/api/user`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(after.status, 401);

  // Removing the app with a recovery code.
  await page.click('[data-security] button:has-text("Remove…")');
  const remove = page.locator("dialog[open]");
  await remove.locator('button:has-text("Use a recovery code instead")').click();
  await remove.locator("input[name=code]").fill(codes[1]);
  await remove.locator('button:has-text("Remove")').click();
  await page.waitForSelector('[data-security] button:has-text("Set up authenticator app")');
  // The one wrong code on purpose is the only failed request.
  assert.deepEqual(problems.filter((p) => !p.includes("status of 400")), []);
  await context.close();
});

test("the administrators' rule walks someone without an app through setting one up at sign-in", async () => {
  const { context, page, problems } = await signInAs(browser, uma, "admin", ADMIN_PW);
  await page.goto(`${uma.url}/admin/acl`);
  const policy = page.locator("[data-mfa-policy] form");
  await policy.locator('label:has-text("Members of these groups")').click();
  await policy.locator("textarea[name=groups]").waitFor({ state: "visible" });
  await policy.locator('label:has-text("Everyone")').click();
  assert.equal(await policy.locator("textarea[name=groups]").isVisible(), false);
  await policy.locator('button:has-text("Save")').click();
  await policy.locator(':text("Saved.")').waitFor();
  await shots(page, "admin-acl-mfa");

  const bob = await passwordStep("bob", BOB_PW);
  await bob.page.waitForSelector("svg.totp-qr");
  assert.deepEqual(await axeViolations(bob.page), []);
  await shots(bob.page, "login-second-factor-setup");
  const secret = await bob.page.locator("code[data-secret]").getAttribute("data-secret");
  await bob.page.fill("#enrol-code", totp(secret));
  await bob.page.click('button:has-text("Finish setting up")');
  await bob.page.waitForSelector("[data-codes-step]:not([hidden])");
  assert.equal(await bob.page.locator("[data-codes] li").count(), 10);
  assert.ok(await bob.page.isDisabled("[data-continue]"));
  await shots(bob.page, "login-second-factor-codes");
  await bob.page.click('label:has-text("I saved these codes")');
  await bob.page.click("[data-continue]");
  await bob.page.waitForURL(`${uma.url}/dashboard`);
  assert.deepEqual(bob.problems, []);
  await bob.context.close();

  // The rule now covers the administrator, who has no app: changing it again is a sensitive
  // action that first wants one set up, and the page says where.
  await page.reload();
  await policy.locator('label:has-text("Nobody")').click();
  await policy.locator('button:has-text("Save")').click();
  const setUpFirst = page.locator('dialog[open]:has-text("Set up a second factor first")');
  await setUpFirst.waitFor();
  assert.equal(await setUpFirst.locator('a[href="/settings#security"]').count(), 1);
  await shots(page, "admin-acl-mfa-step-up", { fullPage: false });
  await setUpFirst.locator('button:has-text("Close")').click();
  // The refused save (403) is the only failed request.
  assert.deepEqual(problems.filter((p) => !p.includes("status of 403")), []);
  await context.close();
});

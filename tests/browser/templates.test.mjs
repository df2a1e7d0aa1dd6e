// Hardware templates as a user meets them: the prebuilt ones (not theirs to change), a template of
// their own made, edited (a bad setting named) and deleted. Screenshots light and dark.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startUma, launchBrowser, shots } from "./harness.mjs";

const ADMIN_PW = "tpl-admin-pw";
const ALICE_PW = "tpl-alice-pw";
let uma;
let browser;

before(async () => {
  uma = await startUma({ UMA_ADMIN_PASSWORD: ADMIN_PW }, { users: [{ name: "alice", password: ALICE_PW }] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
});

test("a user makes, edits and deletes a hardware template; prebuilt ones are only to use", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && !/status of 400/.test(m.text()) && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", "alice");
  await page.fill("input[name=password]", ALICE_PW);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);

  await page.click('.topnav a:has-text("Templates")');
  await page.waitForURL(`${uma.url}/templates`);
  const prebuilt = page.locator('[data-templates] tr:has-text("Uma (everyone)")');
  await prebuilt.first().waitFor();
  assert.equal(await prebuilt.first().locator("[data-edit-template]").count(), 0, "prebuilt ones are not hers to edit");

  await page.click("[data-new-template]");
  // The demo cluster shows her VMs: start from nothing.
  const first = page.locator("dialog[open]");
  if (await first.locator("[name=from]").count()) {
    await first.locator("[name=from]").selectOption("");
    await first.locator('button[type=submit]').click();
  }
  const dialog = page.locator("dialog[open]");
  await dialog.locator("[name=name]").fill("Small dev box");
  await dialog.locator("[name=cores]").fill("2");
  await dialog.locator("[name=memory]").fill("1024");
  await dialog.locator("[name=extra]").fill("agent=1\nnot a setting");
  await dialog.locator('button[type=submit]').click();
  await dialog.locator('.field-error:has-text("not key=value")').waitFor();
  await dialog.locator("[name=extra]").fill("agent=1\nhookscript=local:snippets/x.sh");
  await dialog.locator(':text("Not applied by the wizard (administrators only): hookscript")').waitFor();
  await dialog.locator('button[type=submit]').click();
  await page.waitForSelector('[data-templates] tr:has-text("Small dev box"):has-text("2 vCPU")');
  await shots(page, "templates");

  const row = page.locator('[data-templates] tr:has-text("Small dev box")');
  await row.locator("[data-edit-template]").click();
  const editing = page.locator("dialog[open]");
  await editing.locator("[name=memory]").fill("4096");
  await editing.locator('button[type=submit]').click();
  await page.waitForSelector('[data-templates] tr:has-text("Small dev box"):has-text("4 GiB")');
  assert.match(await row.locator("a:has-text('Use')").getAttribute("href"), /^\/create\?hw=/);

  await row.locator("[data-delete-template]").click();
  await page.click('dialog[open] button:has-text("Delete template")');
  await page.waitForSelector('[data-templates] tr:has-text("Small dev box")', { state: "detached" });
  assert.deepEqual(problems, []);
  await context.close();
});

test("a pool owner makes a stopped VM a template from its page", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", "alice");
  await page.fill("input[name=password]", ALICE_PW);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  // Her stopped VM.
  const href = await page.evaluate(async () => {
    const r = await (await fetch("/api/proxmox/resources")).json();
    const list = Array.isArray(r) ? r : (r.data ?? r.resources ?? []);
    const vm = list.find((x) => x.type === "qemu" && x.status === "stopped" && !x.template && x.pool === "DEV_alice_1");
    return vm ? `/guests/${vm.vmid}` : null;
  });
  assert.ok(href, "the demo cluster gives alice a stopped VM");
  await page.goto(`${uma.url}${href}`);
  await page.click("[data-make-template]");
  await page.click('dialog[open] button:has-text("Make template")');
  await page.waitForSelector("[data-guest-status] :text-matches('template', 'i')", { timeout: 20_000 });
  assert.equal(await page.locator("[data-make-template]").count(), 0, "no second time");
  assert.deepEqual(problems, []);
  await context.close();
});

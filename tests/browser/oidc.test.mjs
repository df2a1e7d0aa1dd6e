// Sign-in through an OpenID provider in a real browser: the login page shows the provider's
// button, it leads to the provider (the test provider of tests/oidc/provider.mjs) and back to the
// dashboard as that person, and signing out goes through the provider's sign-out back to the
// login page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { startUma, launchBrowser, screenshots } from "./harness.mjs";

const folder = resolve(import.meta.dirname, "../oidc");
let idp;
let uma;
let browser;

/** Starts the test provider; resolves with its issuer and a stop function. */
async function startProvider() {
  if (!existsSync(join(folder, "node_modules", "oidc-provider"))) {
    throw new Error("the test OpenID provider's packages are missing: run `cd tests/oidc && npm ci` (make test-browser does)");
  }
  const child = spawn(process.execPath, ["provider.mjs"], { cwd: folder, stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise((ok, fail) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      const line = out.split("\n")[0];
      if (out.includes("\n")) ok(JSON.parse(line).port);
    });
    child.on("exit", (code) => fail(new Error(`the test OpenID provider exited with ${code}`)));
  });
  return {
    issuer: `http://127.0.0.1:${port}`,
    async setup(origin, names) {
      const r = await fetch(`http://127.0.0.1:${port}/test/setup`, {
        method: "POST",
        body: JSON.stringify({ origin, names }),
      });
      assert.equal(r.status, 200);
    },
    stop() {
      child.stdin.end();
      child.kill();
    },
  };
}

before(async () => {
  idp = await startProvider();
  uma = await startUma({
    ADMIN_GROUPS: "uma-admins",
    OIDC_PROVIDERS: "company",
    OIDC_COMPANY_ISSUER: idp.issuer,
    OIDC_COMPANY_CLIENT_ID: "uma",
    OIDC_COMPANY_CLIENT_SECRET: "uma-secret",
    OIDC_COMPANY_LABEL: "Company account",
  });
  await idp.setup(uma.url, ["company"]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
  idp?.stop();
});

test("sign in with the provider's button and out through the provider", async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" && page.url().startsWith(uma.url)) problems.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(String(e)));

  await page.goto(`${uma.url}/dashboard`);
  const button = page.getByRole("link", { name: "Sign in with Company account" });
  await button.waitFor();
  await page.screenshot({ path: join(screenshots, "login-oidc.png") });

  await button.click();
  await page.waitForURL(`${idp.issuer}/interaction/**`);
  await page.fill("input[name=account]", "bob");
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  assert.match(await page.textContent("main"), /Welcome, Bob Boss/);
  await page.waitForSelector('[data-live-status][data-state="live"]');
  await page.screenshot({ path: join(screenshots, "dashboard-oidc.png"), fullPage: true });

  // Sign out: Uma's session ends, then the provider asks to sign out there too.
  await page.click(".user-menu summary");
  await page.click("[data-logout]");
  await page.waitForURL(`${idp.issuer}/session/end**`);
  await page.click("button[value=yes]");
  await page.waitForURL(`${uma.url}/login`);
  const auth = await (await page.request.get(`${uma.url}/api/auth`)).json();
  assert.equal(auth.isLoggedIn, false);

  // A callback that is not this browser's sign-in: the login page says so, with the button.
  await page.goto(`${uma.url}/api/auth/oidc/company/callback?code=x&state=forged`);
  assert.match(await page.textContent(".alert-error"), /This sign-in has expired, was used already or was started in another browser/);
  await button.waitFor();
  await page.screenshot({ path: join(screenshots, "login-oidc-refused.png") });
  assert.deepEqual(
    problems.filter((p) => !p.includes("status of 400")),
    [],
    "no console errors on Uma's pages (CSP violations show up here)",
  );
  await page.close();
});

// Test harness: starts the real `uma` binary in demo mode on a free port with a throwaway data
// folder, and Debian's Chromium through playwright-core.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
export const screenshots = join(root, "target", "screenshots");
mkdirSync(screenshots, { recursive: true });

const CHROMIUM = process.env.UMA_CHROMIUM ?? "/usr/bin/chromium";

/// Starts Uma; `users` are local accounts created first (`uma user add NAME --password-stdin`);
/// `dataDir` reuses the data folder of an earlier start (a restart of the same server).
export async function startUma(env = {}, { users = [], dataDir: reuse } = {}) {
  const bin = process.env.UMA_BIN ?? join(root, "target", "debug", "uma");
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: build it with \`cargo build --bin uma\` (make test does)`);
  }
  const dataDir = reuse ?? mkdtempSync(join(tmpdir(), "uma-browser-"));
  const childEnv = {
    PATH: process.env.PATH,
    HOSTNAME: "127.0.0.1",
    PORT: "0",
    UMA_DATA_DIR: join(dataDir, "data"),
    LOG_LEVEL: "info",
    ...env,
  };
  for (const u of users) {
    const args = ["user", "add", u.name, "--password-stdin", ...(u.admin ? ["--admin"] : [])];
    const r = spawnSync(bin, args, { cwd: dataDir, env: childEnv, input: `${u.password}\n`, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`uma user add ${u.name} failed:\n${r.stdout}${r.stderr}`);
  }
  const child = spawn(bin, ["serve"], {
    cwd: dataDir,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`uma did not start:\n${log}`)), 30_000);
    const onData = (chunk) => {
      log += chunk;
      const m = log.match(/Open (http:\/\/[^/\s]+)\/login/);
      if (m) {
        clearTimeout(timer);
        ok(m[1].replace("localhost", "127.0.0.1"));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => fail(new Error(`uma exited with ${code}:\n${log}`)));
  });
  return {
    url,
    dataDir,
    log: () => log,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.on("exit", r));
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is needed for the browser tests and was not found at ${CHROMIUM}.\n` +
        "Install it with `apt-get install chromium` (make test does this when run as root) or set UMA_CHROMIUM.",
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Screenshots of a page in light and dark at 1280 and 390 px (`name-width-scheme.png`). */
export async function shots(page, name, { fullPage = true } = {}) {
  const vp = page.viewportSize();
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width < 600 ? 844 : 900 });
      await page.waitForTimeout(250);
      await page.screenshot({ path: join(screenshots, `${name}-${width}-${scheme}.png`), fullPage });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(vp);
}

/** The serious and critical accessibility violations axe-core finds on the page as it is. */
export async function axeViolations(page) {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const source = (await import("node:fs")).readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  // Evaluated through the browser protocol: the page's CSP (rightly) refuses inline scripts.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(source);
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

/**
 * Signs `username` in through the login form in a new browser context (1280 px) and waits for
 * the dashboard; `problems` collects console errors and page errors from then on.
 */
export async function signIn(browser, uma, username, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  return { context, page, problems };
}

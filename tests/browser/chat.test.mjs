// Two people in two windows: they chat in the public channel (a message, a reaction, an edit and
// a delete seen live by the other) and draw on the shared whiteboard (a stroke in A appears in B);
// a message with pictures, a PDF and a link reaches the other with the link's preview card, whose
// site is a server started here on 127.0.0.2 (allowed by METADATA_ALLOW_NETWORKS, its name given
// by METADATA_RESOLVE).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServer } from "node:http";
import { startUma, launchBrowser, screenshots, shots as allShots } from "./harness.mjs";

const shots = (page, name) => allShots(page, name, { fullPage: false });

const ADMIN_PW = "browser-admin-pw";
const BOB_PW = "browser-bob-pw";
let uma;
let browser;
let site;
let sitePort;
let cardPng = Buffer.alloc(0);

before(async () => {
  site = createServer((req, res) => {
    if (req.url === "/release") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html><head><title>Release notes</title>
        <meta property="og:title" content="Proxmox VE 9.1 released">
        <meta property="og:description" content="Faster backups, SDN fabrics and a new mobile view.">
        <meta property="og:image" content="/card.png"><meta property="og:site_name" content="Example News">
        </head><body></body></html>`);
    } else if (req.url === "/card.png") {
      res.writeHead(200, { "content-type": "image/png" });
      res.end(cardPng);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => site.listen(0, "127.0.0.2", ok));
  sitePort = site.address().port;
  uma = await startUma(
    { UMA_ADMIN_PASSWORD: ADMIN_PW, METADATA_ALLOW_NETWORKS: "127.0.0.2/32", METADATA_RESOLVE: "news.example.test=127.0.0.2", METADATA_ALLOWED_PORTS: `80,443,${sitePort}` },
    { users: [{ name: "bob", password: BOB_PW }] },
  );
  browser = await launchBrowser();
  // The card's picture: a banner drawn by the browser.
  const p = await browser.newPage({ viewport: { width: 600, height: 300 } });
  await p.setContent('<div style="width:600px;height:300px;background:linear-gradient(135deg,#4f46e5,#0ea5e9);color:white;font:bold 48px sans-serif;display:grid;place-items:center">PVE 9.1</div>');
  cardPng = await p.screenshot();
  await p.close();
});

after(async () => {
  await browser?.close();
  await uma?.stop();
  site?.close();
});

async function signIn(username, password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    // A link without a card (example.com is out of reach here) is an expected refusal.
    if (m.type() === "error" && !m.location().url?.includes("/api/metadata?")) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("dialog", (d) => d.accept());
  await page.goto(`${uma.url}/login`);
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForURL(`${uma.url}/dashboard`);
  return { context, page, problems };
}

async function openGeneral(page) {
  await page.click("[data-chat-toggle]");
  const general = page.locator('[data-chat-panel] [data-conv^="g:"]', { hasText: "General" });
  await general.waitFor();
  await general.click();
  await page.waitForSelector("[data-chat-input]");
}

test("two people chat and draw together", async () => {
  const a = await signIn("admin", ADMIN_PW);
  const b = await signIn("bob", BOB_PW);

  await openGeneral(a.page);
  await openGeneral(b.page);

  // A message from A shows up in B's window.
  await a.page.fill("[data-chat-input]", "Hello from admin — see https://example.com");
  await a.page.keyboard.press("Enter");
  const inB = b.page.locator("[data-chat-log] .chat-msg", { hasText: "Hello from admin" });
  await inB.waitFor();
  assert.equal(await inB.locator("a").getAttribute("rel"), "noopener noreferrer nofollow");
  assert.equal(await inB.locator("a").getAttribute("target"), "_blank");

  // B reacts; A sees the reaction.
  await inB.hover();
  await inB.locator('[data-react="👍"]').click();
  const inA = a.page.locator("[data-chat-log] .chat-msg", { hasText: "Hello from admin" });
  await inA.locator('[data-reaction="👍"]', { hasText: "1" }).waitFor();

  // B answers; A sees B typing first, then the answer.
  await b.page.fill("[data-chat-input]", "Hi admin!");
  await b.page.locator("[data-chat-input]").dispatchEvent("input");
  await a.page.locator("[data-chat-typing]", { hasText: "bob is typing" }).waitFor();
  await b.page.keyboard.press("Enter");
  await a.page.locator("[data-chat-log] .chat-msg", { hasText: "Hi admin!" }).waitFor();

  // A edits its message; B sees the new text.
  await inA.hover();
  await inA.locator("[data-edit]").click();
  await a.page.fill("[data-chat-input]", "Hello from admin (edited)");
  await a.page.keyboard.press("Enter");
  await b.page.locator("[data-chat-log] .chat-msg", { hasText: "Hello from admin (edited)" }).locator("text=edited").first().waitFor();
  await a.page.screenshot({ path: join(screenshots, "chat-a.png") });
  await b.page.screenshot({ path: join(screenshots, "chat-b.png") });

  // A deletes it; B sees it deleted.
  const edited = a.page.locator("[data-chat-log] .chat-msg", { hasText: "Hello from admin (edited)" });
  await edited.hover();
  await edited.locator("[data-delete]").click();
  await b.page.locator("[data-chat-log] .chat-msg", { hasText: "This message was deleted." }).waitFor();
  await b.page.screenshot({ path: join(screenshots, "chat-b-deleted.png") });

  // A toast on A's other conversation: B writes A directly while A's panel is closed.
  await a.page.click("[data-chat-toggle]");
  await b.page.click("text=← All");
  await b.page.fill("[data-chat-search]", "adm");
  await b.page.locator(".chat-result", { hasText: "admin" }).click();
  await b.page.fill("[data-chat-input]", "A direct word");
  await b.page.keyboard.press("Enter");
  await a.page.locator("[data-chat-toast]", { hasText: "A direct word" }).waitFor();
  assert.match(await a.page.textContent(".chat-badge"), /1/);
  await a.page.screenshot({ path: join(screenshots, "chat-toast.png") });

  // The whiteboard: a stroke drawn in A appears in B.
  for (const w of [a, b]) {
    await w.page.goto(`${uma.url}/whiteboard`);
    await w.page.waitForSelector("[data-whiteboard][data-ready=true]");
  }
  await a.page.locator('[data-wb-participants] [data-wb-person="bob"]').waitFor();
  const box = await a.page.locator("[data-wb-canvas]").boundingBox();
  await a.page.click('[data-wb-color="#e11d48"]');
  await a.page.mouse.move(box.x + 100, box.y + 100);
  await a.page.mouse.down();
  for (let i = 1; i <= 30; i++) {
    await a.page.mouse.move(box.x + 100 + i * 12, box.y + 100 + Math.sin(i / 4) * 60);
  }
  await a.page.mouse.up();
  await b.page.waitForFunction(() => document.querySelector("[data-whiteboard]")?.dataset.strokes === "1");
  // The stroke is really painted in B: some pixels are red.
  const red = await b.page.evaluate(() => {
    const c = document.querySelector("[data-wb-canvas]");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 80 && d[i + 3] > 200) n++;
    return n;
  });
  assert.ok(red > 200, `B's canvas shows the stroke (${red} red pixels)`);
  await a.page.screenshot({ path: join(screenshots, "whiteboard-a.png") });
  await b.page.screenshot({ path: join(screenshots, "whiteboard-b.png") });

  // Undo in A removes it in B.
  await a.page.click("[data-wb-undo]");
  await b.page.waitForFunction(() => document.querySelector("[data-whiteboard]")?.dataset.strokes === "0");

  assert.deepEqual(a.problems, [], "no console errors in A (CSP violations show up here)");
  assert.deepEqual(b.problems, [], "no console errors in B");
  await a.context.close();
  await b.context.close();
});


test("a picture and a PDF attached in chat reach the other person", async () => {
  const a = await signIn("admin", ADMIN_PW);
  const b = await signIn("bob", BOB_PW);
  await openGeneral(a.page);
  await openGeneral(b.page);

  // A picks a picture and a PDF; pasting a second picture works too.
  const picture = await a.page.screenshot({ clip: { x: 0, y: 0, width: 480, height: 270 } });
  await a.page.setInputFiles("[data-chat-file]", [
    { name: "dashboard.png", mimeType: "image/png", buffer: picture },
    { name: "runbook.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n") },
  ]);
  await a.page.evaluate((bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
    document.querySelector("[data-chat-input]").dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  }, [...(await a.page.screenshot({ clip: { x: 0, y: 0, width: 200, height: 120 } }))]);
  await a.page.waitForFunction(() => document.querySelectorAll('[data-pending="done"]').length === 3);
  // A file Uma does not take says why in its chip, and does not go with the message.
  await a.page.setInputFiles("[data-chat-file]", { name: "notes.html", mimeType: "text/html", buffer: Buffer.from("<html><script>alert(1)</script>") });
  await a.page.locator('[data-pending="error"]', { hasText: "not accepted" }).waitFor();
  await shots(a.page, "chat-attach-pending");
  await a.page.fill("[data-chat-input]", `Here is the dashboard and the runbook; news (http://news.example.test:${sitePort}/release).`);
  await a.page.keyboard.press("Enter");

  const inB = b.page.locator("[data-chat-log] .chat-msg", { hasText: "Here is the dashboard" });
  await inB.waitFor();
  await b.page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll("[data-chat-log] .chat-msg:last-child .chat-image")];
    return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  });
  const chip = inB.locator("[data-chat-download]", { hasText: "runbook.pdf" });
  await chip.waitFor();
  assert.match(await chip.getAttribute("href"), /^\/uploads\/[0-9a-f]{64}\.pdf$/);
  assert.equal(await a.page.locator("[data-chat-pending] li").count(), 0, "the sent files left the box");
  // The link ends where the sentence does.
  assert.equal(await inB.locator(".chat-content a").getAttribute("href"), `http://news.example.test:${sitePort}/release`);
  // The link's card, its picture loaded through Uma.
  const card = inB.locator("[data-chat-card]");
  await card.locator(".chat-card-title", { hasText: "Proxmox VE 9.1 released" }).waitFor();
  assert.equal(await card.getAttribute("href"), `http://news.example.test:${sitePort}/release`);
  assert.match(await card.locator("img").getAttribute("src"), /^\/api\/metadata\/image\?url=/);
  await b.page.waitForFunction(() => document.querySelector("[data-chat-card] img")?.naturalWidth > 0);
  await shots(b.page, "chat-attachments");

  assert.deepEqual(a.problems.filter((p) => !/status of 400/.test(p)), [], "no console errors in A");
  assert.deepEqual(b.problems, [], "no console errors in B");
  await a.context.close();
  await b.context.close();
});

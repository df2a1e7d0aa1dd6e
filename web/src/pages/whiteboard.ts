// Whiteboard island: a shared canvas. Strokes are drawn with perfect-freehand and sent as the
// original's `draw_stroke`; others' strokes, undos, clears and cursors arrive live. Coordinates are
// board units (a 1600 × 1000 board scaled to the window), so every window sees the same drawing.
import { getStroke } from "perfect-freehand";
import { initLive, onConnect, request } from "../live";
import { h, fill } from "../ui/dom";
import { mountBanners } from "../ui/banners";
import { confirmAction } from "../ui/dialog";

interface Point {
  x: number;
  y: number;
  p?: number;
}

interface Stroke {
  id: string;
  by?: string;
  points: Point[];
  color: string;
  width: number;
  tool: "pen" | "eraser";
}

interface Participant {
  username: string;
  sockets: number;
}

const BOARD_W = 1600;
const BOARD_H = 1000;
const COLORS = ["#1f2937", "#e11d48", "#f59e0b", "#16a34a", "#2563eb", "#7c3aed"];
const WIDTHS = [2, 4, 8, 16];

function boot(): { board: string; isAdmin: boolean; user: { username: string } } {
  const el = document.getElementById("uma-boot");
  return JSON.parse(el?.textContent ?? "{}");
}

function outline(s: Stroke): Path2D {
  const pts = getStroke(
    s.points.map((p) => [p.x, p.y, p.p ?? 0.5]),
    { size: s.width * (s.tool === "eraser" ? 3 : 1.6), thinning: s.tool === "eraser" ? 0 : 0.55, smoothing: 0.5, streamline: 0.5, simulatePressure: s.points.every((p) => p.p === undefined) },
  );
  const path = new Path2D();
  const first = pts[0];
  if (!first) return path;
  path.moveTo(first[0], first[1]);
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1];
    const b = pts[i];
    if (!a || !b) continue;
    path.quadraticCurveTo(a[0], a[1], (a[0] + b[0]) / 2, (a[1] + b[1]) / 2);
  }
  path.closePath();
  return path;
}

function init(): void {
  const root = document.querySelector<HTMLElement>("[data-whiteboard]");
  const socket = initLive(document);
  mountBanners(socket);
  if (!root || !socket) return;
  const { board, user } = boot();
  const canvas = root.querySelector<HTMLCanvasElement>("[data-wb-canvas]")!;
  const stage = root.querySelector<HTMLElement>("[data-wb-stage]")!;
  const cursors = root.querySelector<HTMLElement>("[data-wb-cursors]")!;
  const status = root.querySelector<HTMLElement>("[data-wb-status]")!;
  const people = root.querySelector<HTMLElement>("[data-wb-participants]")!;
  const ctx = canvas.getContext("2d")!;
  let strokes: Stroke[] = [];
  let current: Stroke | null = null;
  let color: string = COLORS[0] ?? "#1f2937";
  let width: number = WIDTHS[1] ?? 4;
  let tool: Stroke["tool"] = "pen";
  let scale = 1;

  const say = (text: string) => (status.textContent = text);

  const resize = () => {
    const w = stage.clientWidth;
    scale = w / BOARD_W;
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${w}px`;
    canvas.style.height = `${BOARD_H * scale}px`;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(BOARD_H * scale * dpr);
    ctx.setTransform(dpr * scale, 0, 0, dpr * scale, 0, 0);
    redraw();
  };

  const paint = (s: Stroke) => {
    ctx.globalCompositeOperation = s.tool === "eraser" ? "destination-out" : "source-over";
    ctx.fillStyle = s.tool === "eraser" ? "#000" : s.color;
    ctx.fill(outline(s));
  };

  function redraw(): void {
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.restore();
    for (const s of strokes) paint(s);
    if (current) paint(current);
    ctx.globalCompositeOperation = "source-over";
    root!.dataset.strokes = String(strokes.length);
    // Undo takes back one's own last stroke; Clear needs something to clear.
    const undoButton = root!.querySelector<HTMLButtonElement>("[data-wb-undo]");
    if (undoButton) undoButton.disabled = !strokes.some((s) => s.by === user.username);
    const clearButton = root!.querySelector<HTMLButtonElement>("[data-wb-clear]");
    if (clearButton) clearButton.disabled = strokes.length === 0;
  }

  // Toolbar.
  const colorBox = root.querySelector<HTMLElement>("[data-wb-colors]")!;
  const widthBox = root.querySelector<HTMLElement>("[data-wb-widths]")!;
  const drawTools = () => {
    fill(colorBox, COLORS.map((c) => h("button", { type: "button", class: "wb-swatch", style: `--swatch:${c}`, "aria-label": `Colour ${c}`, "aria-pressed": String(c === color && tool === "pen"), "data-wb-color": c, onclick: () => { color = c; tool = "pen"; drawTools(); } })));
    fill(widthBox, WIDTHS.map((w) => h("button", { type: "button", class: "wb-width", "aria-label": `Width ${w}`, "aria-pressed": String(w === width), onclick: () => { width = w; drawTools(); } }, h("span", { style: `--w:${Math.min(w, 14)}px` }))));
    for (const b of root.querySelectorAll<HTMLButtonElement>("[data-wb-tool]")) b.setAttribute("aria-pressed", String(b.dataset.wbTool === tool));
  };
  for (const b of root.querySelectorAll<HTMLButtonElement>("[data-wb-tool]")) {
    b.addEventListener("click", () => { tool = b.dataset.wbTool as Stroke["tool"]; drawTools(); });
  }
  drawTools();

  const undo = async () => {
    const ack = await request<{ strokeId: string | null }>("draw_undo", { board });
    if (ack.ok && ack.strokeId) {
      strokes = strokes.filter((s) => s.id !== ack.strokeId);
      redraw();
    } else if (!ack.ok) say(ack.error.message);
  };
  root.querySelector("[data-wb-undo]")?.addEventListener("click", () => void undo());
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "z") {
      e.preventDefault();
      void undo();
    }
  });
  root.querySelector("[data-wb-clear]")?.addEventListener("click", async () => {
    const ok = await confirmAction({
      title: "Clear the board for everyone?",
      message: "Every stroke on it goes, for everyone drawing here now.",
      confirmLabel: "Clear board",
      danger: true,
    });
    if (!ok) return;
    const ack = await request("draw_clear", { board });
    if (ack.ok) {
      strokes = [];
      redraw();
    } else say(ack.error.message);
  });

  // Drawing.
  const at = (e: PointerEvent): Point => {
    const r = canvas.getBoundingClientRect();
    const x = Math.round(((e.clientX - r.left) / scale) * 10) / 10;
    const y = Math.round(((e.clientY - r.top) / scale) * 10) / 10;
    return e.pointerType === "pen" ? { x, y, p: Math.round(e.pressure * 100) / 100 } : { x, y };
  };
  let lastCursor = 0;
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    current = { id: crypto.randomUUID().replaceAll("-", ""), by: user.username, points: [at(e)], color, width, tool };
    redraw();
  });
  canvas.addEventListener("pointermove", (e) => {
    const p = at(e);
    const now = Date.now();
    if (now - lastCursor > 50) {
      lastCursor = now;
      socket.emit("draw_cursor", { board, x: p.x, y: p.y });
    }
    if (!current) return;
    const last = current.points[current.points.length - 1];
    if (last && Math.hypot(p.x - last.x, p.y - last.y) < 1.5) return;
    current.points.push(p);
    if (current.points.length >= 900) finish();
    else redraw();
  });
  const finish = () => {
    const s = current;
    current = null;
    if (!s) return;
    strokes.push(s);
    redraw();
    void request<{ id: string }>("draw_stroke", { board, id: s.id, points: s.points, color: s.color, width: s.width, tool: s.tool }).then((ack) => {
      if (!ack.ok) {
        strokes = strokes.filter((x) => x !== s);
        redraw();
        say(ack.error.message);
      }
    });
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  // Live updates from the others.
  const mine = (b?: string) => (b ?? "default") === board;
  socket.on("draw_stroke", (s: Stroke & { board?: string }) => {
    if (!mine(s.board) || strokes.some((x) => x.id === s.id)) return;
    strokes.push(s);
    redraw();
  });
  socket.on("draw_undo", (u: { board: string; strokeId: string }) => {
    if (!mine(u.board)) return;
    strokes = strokes.filter((s) => s.id !== u.strokeId);
    redraw();
  });
  socket.on("draw_clear", (c: { board?: string } | undefined) => {
    if (!mine(c?.board)) return;
    strokes = [];
    redraw();
    say("An admin cleared the board.");
  });
  socket.on("draw_sync", (d: { board?: string; strokes: Stroke[] }) => {
    if (!mine(d.board)) return;
    strokes = d.strokes;
    redraw();
  });
  socket.on("whiteboard_participants", (p: { board: string; participants: Participant[] }) => {
    if (mine(p.board)) drawPeople(p.participants);
  });
  const seen = new Map<string, { el: HTMLElement; timer: number }>();
  socket.on("draw_cursor", (c: { board: string; username: string; sid: string; x: number; y: number }) => {
    if (!mine(c.board)) return;
    let entry = seen.get(c.sid);
    if (!entry) {
      const el = h("div", { class: "wb-cursor" }, h("span", { text: c.username }));
      cursors.append(el);
      entry = { el, timer: 0 };
      seen.set(c.sid, entry);
    }
    entry.el.style.transform = `translate(${c.x * scale}px, ${c.y * scale}px)`;
    window.clearTimeout(entry.timer);
    entry.timer = window.setTimeout(() => {
      entry!.el.remove();
      seen.delete(c.sid);
    }, 3000);
  });

  function drawPeople(list: Participant[]): void {
    fill(people, list.length ? list.map((p) => h("li", { "data-wb-person": p.username }, h("span", { class: "chat-dot is-online", "aria-hidden": "true" }), ` ${p.username}${p.username === user.username ? " (you)" : ""}`)) : [h("li", { class: "muted small", text: "Nobody yet" })]);
  }

  onConnect(async () => {
    say("Joining the board…");
    const ack = await request<{ strokes: Stroke[]; participants: Participant[] }>("whiteboard_join", { board });
    if (!ack.ok) return say(ack.error.message);
    strokes = ack.strokes;
    drawPeople(ack.participants);
    redraw();
    say("Live: everyone here sees your strokes.");
    root.dataset.ready = "true";
  });
  window.addEventListener("resize", resize);
  resize();
}

init();

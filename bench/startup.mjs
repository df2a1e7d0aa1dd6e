// The start-up benchmark: how long from starting the process to ready, and how much memory it
// holds once ready and idle, for Uma (SQLite, a Proxmox cluster of its own: the `pve-sim` binary,
// not the embedded simulator) and for the Node socket.io peer of the dashboard benchmark
// (peer.mjs: an HTTP server with socket.io 4 and nothing else). Uma is ready when `GET /readyz`
// answers 200 (database, Proxmox, actor tree); the peer when it prints that it listens.
// Writes target/bench/startup.{json,md}.
//
// Settings (environment): BENCH_RUNS (starts of each, default 7; the median is reported),
// BENCH_IDLE_MS (wait after ready before reading memory, default 2000), UMA_BIN, PVE_SIM_BIN
// (default the release builds `make bench` makes), BENCH_OUT (folder of the results, default
// target/bench).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, num, rssKiB, sleep } from './common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const RUNS = num('BENCH_RUNS', 7);
const IDLE_MS = num('BENCH_IDLE_MS', 2000);
const UMA = process.env.UMA_BIN || join(root, 'target/release/uma');
const SIM = process.env.PVE_SIM_BIN || join(root, 'target/release/pve-sim');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function lines(child, onLine) {
  createInterface({ input: child.stdout }).on('line', onLine);
}

function stop(child) {
  return new Promise((ok) => {
    if (child.exitCode !== null) return ok();
    child.removeAllListeners('exit');
    child.on('exit', ok);
    child.kill('SIGTERM');
  });
}

/** Starts the simulator once for all of Uma's starts: its URL and token. */
async function startSim() {
  const port = await freePort();
  const sim = spawn(SIM, ['--listen', `127.0.0.1:${port}`, '--plain-http'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const found = await new Promise((ok, fail) => {
    const got = {};
    sim.on('exit', (c) => fail(new Error(`pve-sim ended (${c})`)));
    lines(sim, (l) => {
      const url = l.match(/listening on (\S+)/);
      if (url) got.url = url[1];
      const auth = l.match(/^Authorization: PVEAPIToken=([^=]+)=(\S+)/);
      if (auth) [got.tokenId, got.secret] = [auth[1], auth[2]];
      if (got.url && got.secret) ok(got);
    });
  });
  return { ...found, stop: () => stop(sim) };
}

/** One start of Uma: ms to /readyz 200, and RSS once idle. */
async function startUma(sim) {
  const dir = mkdtempSync(join(tmpdir(), 'uma-bench-start-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOSTNAME: '127.0.0.1',
    UMA_DATA_DIR: dir,
    UMA_ADMIN_PASSWORD: 'bench-start-Pass1',
    SECRET_COOKIE_PASSWORD: 'bench-start-cookie-secret-0123456789abcdef',
    PROXMOX_URL: sim.url,
    PROXMOX_TOKEN_ID: sim.tokenId,
    PROXMOX_TOKEN_SECRET: sim.secret,
    USE_SECURE_COOKIE: 'false',
    LOG_LEVEL: 'warn',
  };
  const t0 = performance.now();
  const uma = spawn(UMA, ['serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    let exited = null;
    uma.on('exit', (c) => (exited = c));
    for (;;) {
      if (exited !== null) throw new Error(`uma ended (${exited}) before it was ready`);
      try {
        const r = await fetch(`${url}/readyz`);
        if (r.status === 200) break;
      } catch {}
      if (performance.now() - t0 > 30000) throw new Error('uma was not ready within 30 s');
      await sleep(2);
    }
    const readyMs = performance.now() - t0;
    await sleep(IDLE_MS);
    return { readyMs, rssKiB: rssKiB(uma.pid) };
  } finally {
    await stop(uma);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One start of the Node peer: ms to listening, and RSS once idle. */
async function startPeer() {
  const dir = mkdtempSync(join(tmpdir(), 'uma-bench-peer-start-'));
  const fixture = join(dir, 'fixture.json');
  writeFileSync(fixture, JSON.stringify({ snapshot: { items: [], cluster: {} }, deltas: [{ upsert: [], remove: [] }] }));
  const port = await freePort();
  const t0 = performance.now();
  const peer = spawn(process.execPath, [join(here, 'peer.mjs'), String(port), '1000', fixture], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise((ok, fail) => {
      peer.on('exit', (c) => fail(new Error(`peer ended (${c})`)));
      lines(peer, (l) => l.includes('listening') && ok());
    });
    const readyMs = performance.now() - t0;
    await sleep(IDLE_MS);
    return { readyMs, rssKiB: rssKiB(peer.pid) };
  } finally {
    await stop(peer);
    rmSync(dir, { recursive: true, force: true });
  }
}

const sim = await startSim();
const umaRuns = [];
const peerRuns = [];
try {
  // Alternating, so that a busy moment of the machine falls on both alike.
  for (let i = 0; i < RUNS; i++) {
    umaRuns.push(await startUma(sim));
    peerRuns.push(await startPeer());
  }
} finally {
  await sim.stop();
}

const summary = (runs) => ({
  readyMs: +median(runs.map((r) => r.readyMs)).toFixed(1),
  readyMsMin: +Math.min(...runs.map((r) => r.readyMs)).toFixed(1),
  readyMsMax: +Math.max(...runs.map((r) => r.readyMs)).toFixed(1),
  idleRssMiB: +(median(runs.map((r) => r.rssKiB)) / 1024).toFixed(1),
});
const uma = summary(umaRuns);
const node = summary(peerRuns);
const machine = { cores: cpus().length, cpu: cpus()[0]?.model, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version };
const ratio = (a, b) => (b ? (a / b).toFixed(2) : '');
const report = [
  `Start-up, median of ${RUNS} starts each (${machine.cores} cores, ${machine.cpu}, Node ${machine.node})`,
  '',
  '| metric | Uma | Node socket.io peer | Uma / Node | goal |',
  '|---|---|---|---|---|',
  `| start to ready (ms) | ${uma.readyMs} | ${node.readyMs} | ${ratio(uma.readyMs, node.readyMs)} | Uma < 200 |`,
  `| start to ready, fastest–slowest (ms) | ${uma.readyMsMin}–${uma.readyMsMax} | ${node.readyMsMin}–${node.readyMsMax} | | |`,
  `| RSS idle after ready (MiB) | ${uma.idleRssMiB} | ${node.idleRssMiB} | ${ratio(uma.idleRssMiB, node.idleRssMiB)} | Uma < 40 |`,
  '',
  "Uma is ready when `/readyz` answers 200: its database migrated, Proxmox (a separate `pve-sim`) answered, the " +
    'actor tree up. The peer is ready when it listens; it opens no database and reaches no Proxmox.',
].join('\n');
const out = process.env.BENCH_OUT ? resolve(process.env.BENCH_OUT) : join(root, 'target/bench');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'startup.json'), JSON.stringify({ settings: { RUNS, IDLE_MS }, machine, uma, node, umaRuns, peerRuns }, null, 2));
writeFileSync(join(out, 'startup.md'), report + '\n');
console.log(report);
// Sane, not fast: every start got ready and holds some memory.
if (![uma, node].every((s) => s.readyMs > 0 && s.idleRssMiB > 1)) {
  console.error('startup: a measurement is not sane');
  process.exit(1);
}

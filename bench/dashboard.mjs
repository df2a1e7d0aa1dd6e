// The dashboard benchmark: N real Socket.IO clients (uma-swarm) watch the live resource stream of
// Uma in demo mode, then of the Node socket.io peer (peer.mjs) sending the same events with
// payloads recorded from Uma. Prints a side-by-side table and writes target/bench/dashboard.{json,md}.
//
// Settings (environment): BENCH_CLIENTS (default 1000), BENCH_SECONDS (measured window, 20),
// BENCH_INTERVAL_MS (poll / emit interval, 1000), UMA_BIN, UMA_SWARM (binaries, default the
// release builds `make bench` makes), BENCH_OUT (folder of the results, default target/bench).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cpuTicks, freePort, num, pct, rssKiB, sleep } from './common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const CLIENTS = num('BENCH_CLIENTS', 1000);
const SECONDS = num('BENCH_SECONDS', 20);
const INTERVAL = num('BENCH_INTERVAL_MS', 1000);
const UMA = process.env.UMA_BIN || join(root, 'target/release/uma');
const SWARM = process.env.UMA_SWARM || join(root, 'target/release/uma-swarm');
const USERS = ['admin', 'alice', 'bob', 'oscar'];
const ADMIN_CLIENT = 0; // client i belongs to USERS[i % USERS.length]
const TICKS = 100; // USER_HZ on Linux

async function waitFor(url, ms) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms`);
    await sleep(200);
  }
}

// Starts uma-swarm and routes its lines to `onLine`; resolves once every client is ready.
function startSwarm(config, dir, onLine) {
  const path = join(dir, 'swarm.json');
  writeFileSync(path, JSON.stringify(config));
  const child = spawn(SWARM, [path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const errors = [];
  let connected = 0;
  let acked = 0;
  const ready = new Promise((ok, fail) => {
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`uma-swarm ended early (${code})`)));
    createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text);
      if (line.kind === 'connected') connected += 1;
      else if (line.kind === 'ack') acked += 1;
      else if (line.kind === 'error') errors.push(line);
      else if (line.kind === 'ready') ok(line.at);
      onLine(line);
    });
  });
  const stop = () =>
    new Promise((ok) => {
      child.removeAllListeners('exit');
      child.on('exit', ok);
      child.stdin.end();
    });
  return { ready, stop, stats: () => ({ connected, acked, errors }) };
}

async function measure(name, { pid, url, cookies, during }) {
  const dir = mkdtempSync(join(tmpdir(), `uma-bench-${name}-`));
  const clients = Array.from({ length: CLIENTS }, (_, i) => ({
    label: USERS[i % USERS.length],
    cookie: cookies[USERS[i % USERS.length]] ?? '',
  }));
  const arrivals = new Map(); // version -> [at]
  const fixture = { snapshot: null, deltas: [] };
  let collecting = false;
  const watchers = [];
  const rss0 = rssKiB(pid);
  const started = Date.now();
  const swarm = startSwarm(
    {
      url: `${url}/api/socket/io/`,
      origin: url,
      clients,
      emit: [{ event: 'resources:watch', data: {} }],
      listen: ['resources:delta'],
      brief: true,
      full: [ADMIN_CLIENT],
      timeout_secs: 120,
    },
    dir,
    (line) => {
      if (line.kind === 'ack' && line.client === ADMIN_CLIENT) {
        const { items, cluster } = line.data;
        fixture.snapshot = { items, cluster };
      }
      if (line.kind !== 'event') return;
      const d = line.data;
      if (line.client === ADMIN_CLIENT && fixture.deltas.length < 50) {
        fixture.deltas.push({ upsert: d.upsert ?? [], remove: d.remove ?? [] });
      }
      for (const w of watchers) w(line);
      if (!collecting) return;
      if (!arrivals.has(d.to)) arrivals.set(d.to, []);
      arrivals.get(d.to).push(line.at);
    },
  );
  const readyAt = await swarm.ready;
  const { connected, acked, errors } = swarm.stats();
  if (errors.length) console.error(`${name}: ${errors.length} client errors, first: ${JSON.stringify(errors[0])}`);
  await sleep(2000);
  const rss1 = rssKiB(pid);
  const cpu0 = cpuTicks(pid);
  collecting = true;
  const t0 = Date.now();
  const extra = during ? during({ watch: (f) => watchers.push(f) }) : null;
  await sleep(SECONDS * 1000);
  const cpu1 = cpuTicks(pid);
  const seconds = (Date.now() - t0) / 1000;
  collecting = false;
  const extraResult = extra ? await extra : {};
  await swarm.stop();
  rmSync(dir, { recursive: true, force: true });

  const spreads = [];
  let deliveries = 0;
  for (const ats of arrivals.values()) {
    deliveries += ats.length;
    if (ats.length > 1) spreads.push(Math.max(...ats) - Math.min(...ats));
  }
  spreads.sort((a, b) => a - b);
  return {
    result: {
      clients: CLIENTS,
      connected,
      acked,
      clientErrors: errors.length,
      connectMs: Math.round(readyAt - started),
      rssIdleMiB: +(rss0 / 1024).toFixed(1),
      rssWatchingMiB: +(rss1 / 1024).toFixed(1),
      kibPerClient: +((rss1 - rss0) / CLIENTS).toFixed(1),
      cpuPercent: +((((cpu1 - cpu0) / TICKS) / seconds) * 100).toFixed(1),
      versions: arrivals.size,
      deliveriesPerSecond: Math.round(deliveries / seconds),
      fanoutSpreadMs: { p50: pct(spreads, 50), p99: pct(spreads, 99), max: spreads.at(-1) ?? NaN },
      ...extraResult,
    },
    fixture,
  };
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

async function benchUma() {
  const dir = mkdtempSync(join(tmpdir(), 'uma-bench-data-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const password = 'bench-' + Math.random().toString(36).slice(2) + '-Pass1';
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    UMA_DATA_DIR: dir,
    UMA_ADMIN_PASSWORD: password,
    RESOURCE_POLL_INTERVAL_MS: String(INTERVAL),
    USE_SECURE_COOKIE: 'false',
    LOG_LEVEL: 'warn',
  };
  for (const u of USERS.slice(1)) {
    run(UMA, ['user', 'add', u, '--password-stdin'], { env, input: password + '\n' });
  }
  const server = spawn(UMA, ['serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitFor(`${url}/healthz`, 30000);
    const cookies = {};
    const csrf = {};
    for (const u of USERS) {
      // A login CSRF token (and its cookie) first, as the login page gets them.
      const pre = await fetch(`${url}/api/auth`);
      const preCookie = pre.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const { csrfToken } = await pre.json();
      const r = await fetch(`${url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: url, cookie: preCookie, 'x-csrf-token': csrfToken },
        body: JSON.stringify({ username: u, password }),
      });
      if (!r.ok) throw new Error(`login ${u}: ${r.status} ${await r.text()}`);
      cookies[u] = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      csrf[u] = (await r.json()).csrfToken;
    }
    // Halfway through the window alice starts her stopped VM: how long until every client
    // allowed to see it (alice's and admin's) shows it running?
    const during = ({ watch }) =>
      (async () => {
        await sleep((SECONDS * 1000) / 2);
        const target = 'qemu/102';
        const allowed = new Set();
        for (let i = 0; i < CLIENTS; i++) if (['admin', 'alice'].includes(USERS[i % USERS.length])) allowed.add(i);
        const seen = new Map();
        let t;
        watch((line) => {
          if (t !== undefined && allowed.has(line.client) && !seen.has(line.client)) {
            if ((line.data.changes ?? []).includes(`${target}=running`) || line.client === ADMIN_CLIENT && (line.data.upsert ?? []).some((i) => i.id === target && i.status === 'running')) {
              seen.set(line.client, line.at - t);
            }
          }
        });
        t = Date.now();
        const r = await fetch(`${url}/api/proxmox/vm/102/power`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: url, cookie: cookies.alice, 'x-csrf-token': csrf.alice },
          body: JSON.stringify({ action: 'start' }),
        });
        if (!r.ok) throw new Error(`start VM: ${r.status} ${await r.text()}`);
        // Until every permitted client saw it, or 15 s.
        const until = Date.now() + 15000;
        while (seen.size < allowed.size && Date.now() < until) await sleep(100);
        const lat = [...seen.values()].sort((a, b) => a - b);
        return {
          actionToAllClients: {
            clients: allowed.size,
            saw: lat.length,
            p50Ms: Math.round(pct(lat, 50)),
            maxMs: Math.round(lat.at(-1) ?? NaN),
          },
        };
      })();
    return await measure('uma', { pid: server.pid, url, cookies, during });
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.on('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPeer(fixture) {
  const dir = mkdtempSync(join(tmpdir(), 'uma-bench-peer-'));
  const path = join(dir, 'fixture.json');
  writeFileSync(path, JSON.stringify(fixture));
  const port = await freePort();
  const peer = spawn(process.execPath, [join(here, 'peer.mjs'), String(port), String(INTERVAL), path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise((ok, fail) => {
      peer.on('exit', (c) => fail(new Error(`peer ended (${c})`)));
      createInterface({ input: peer.stdout }).on('line', (l) => l.includes('listening') && ok());
    });
    return (await measure('node', { pid: peer.pid, url: `http://127.0.0.1:${port}`, cookies: {} })).result;
  } finally {
    peer.removeAllListeners('exit');
    peer.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(uma, node) {
  const rows = [
    ['clients connected and watching', uma.acked, node.acked],
    ['server RSS idle (MiB)', uma.rssIdleMiB, node.rssIdleMiB],
    ['server RSS watching (MiB)', uma.rssWatchingMiB, node.rssWatchingMiB],
    ['RSS per client (KiB)', uma.kibPerClient, node.kibPerClient],
    ['server CPU while streaming (%)', uma.cpuPercent, node.cpuPercent],
    ['deltas delivered per second', uma.deliveriesPerSecond, node.deliveriesPerSecond],
    ['fan-out spread p50 (ms)', uma.fanoutSpreadMs.p50, node.fanoutSpreadMs.p50],
    ['fan-out spread p99 (ms)', uma.fanoutSpreadMs.p99, node.fanoutSpreadMs.p99],
  ];
  const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : String(v));
  const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? (a / b).toFixed(2) : '');
  const lines = [
    `Dashboard stream, ${CLIENTS} clients, ${SECONDS} s window, ${INTERVAL} ms interval`,
    '',
    '| metric | Uma | Node socket.io peer | Uma / Node |',
    '|---|---|---|---|',
    ...rows.map(([m, a, b]) => `| ${m} | ${fmt(a)} | ${fmt(b)} | ${ratio(a, b)} |`),
    '',
    `All clients connected and watching after ${uma.connectMs} ms (Uma) and ${node.connectMs} ms (Node); the swarm's own ` +
      `connection set-up sets that pace.`,
    `Uma only: a VM started by one user showed as running in ${uma.actionToAllClients?.saw}/${uma.actionToAllClients?.clients} ` +
      `permitted clients; p50 ${uma.actionToAllClients?.p50Ms} ms, slowest ${uma.actionToAllClients?.maxMs} ms after the click ` +
      `(includes the wait for the next poll).`,
  ];
  return lines.join('\n');
}

const { result: uma, fixture } = await benchUma();
if (!fixture.snapshot || fixture.deltas.length === 0) throw new Error('no payloads recorded from Uma for the peer');
const node = await benchPeer(fixture);
const out = process.env.BENCH_OUT ? resolve(process.env.BENCH_OUT) : join(root, 'target/bench');
mkdirSync(out, { recursive: true });
const report = table(uma, node);
writeFileSync(join(out, 'dashboard.json'), JSON.stringify({ settings: { CLIENTS, SECONDS, INTERVAL }, uma, node }, null, 2));
writeFileSync(join(out, 'dashboard.md'), report + '\n');
console.log(report);
const failed = uma.acked !== CLIENTS || node.acked !== CLIENTS;
if (failed) {
  console.error(`not every client was watching (Uma ${uma.acked}, Node ${node.acked} of ${CLIENTS})`);
  process.exit(1);
}

// The Node socket.io peer of the dashboard benchmark: the same events as Uma's resource stream
// (`resources:watch` answered with a snapshot, then `resources:delta` to every watcher once per
// interval), with payloads recorded from Uma, and nothing else: no sessions, no permissions, no
// Proxmox. Usage: node peer.mjs PORT INTERVAL_MS FIXTURE.json
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const [port, intervalMs, fixturePath] = process.argv.slice(2);
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8'));
if (!fixture.snapshot || !Array.isArray(fixture.deltas) || fixture.deltas.length === 0) {
  console.error('peer: the fixture needs a snapshot and at least one delta');
  process.exit(2);
}

const http = createServer();
const io = new Server(http, { path: '/api/socket/io/', serveClient: false });
let version = 1;

io.on('connection', (socket) => {
  socket.on('resources:watch', (_data, ack) => {
    socket.join('watchers');
    if (typeof ack === 'function') ack({ ...fixture.snapshot, ok: true, version });
  });
});

let next = 0;
setInterval(() => {
  const delta = fixture.deltas[next++ % fixture.deltas.length];
  const from = version;
  version += 1;
  io.to('watchers').emit('resources:delta', { ...delta, from, to: version });
}, Number(intervalMs));

http.listen(Number(port), '127.0.0.1', () => console.log('peer: listening'));

#!/usr/bin/env node
// Benchmark: one bridge call over browser mode's WebSocket, round trip, beside a peer measured in
// the same run on the same machine: a bare `ws` echo server in its own Node process (the floor
// any WebSocket transport pays: framing, JSON text, two context switches).
//
//   node scripts/build.mjs --node && node bench/bridge-roundtrip.mjs [--calls N] [--runs N]
//
// `vireo serve` runs as the real built CLI on a fresh empty library; the client sends calls one at
// a time, so each figure is a latency: `vm.list` (reads the empty library folder, answers []) and
// `os.catalog` (no disk, a few KB of answer). Token, Origin and Host are checked once at the
// upgrade; every call is then parsed, validated by zod, routed, run and JSON-encoded.
// The peer answers with the same value vireo returned (same bytes on the wire), parsed and
// encoded per call as vireo does, but without validation, routing or the handler. Rounds
// alternate, so the shared machine's load hits both.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
if (!existsSync(path.join(root, 'out', 'cli', 'vireo.js'))) {
  console.error('bench: build the CLI first: node scripts/build.mjs --node');
  process.exit(2);
}
const { values } = parseArgs({
  options: { calls: { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' } },
});
const calls = Number(values.calls);
const runs = Number(values.runs);

/** Starts a child and resolves with the first line it prints (a URL). */
function start(args, env = {}) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, url: out.split('\n')[0].trim() });
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
}

const ECHO = `
const { WebSocketServer } = require(${JSON.stringify(path.join(root, 'node_modules', 'ws'))});
const value = JSON.parse(process.env.VALUE);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () =>
  console.log('http://127.0.0.1:' + wss.address().port + '/?token=none'));
wss.on('connection', (ws) => ws.on('message', (d) => {
  const m = JSON.parse(d.toString());
  const answer = m.name === 'os.catalog' ? value : [];
  ws.send(JSON.stringify({ type: 'result', id: m.id, result: { ok: true, value: answer } }));
}));`;

async function open(url) {
  const u = new URL(url);
  const ws = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`, {
    headers: { Origin: u.origin },
  });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  return ws;
}

/** Microseconds per sequential call. */
async function measure(ws, name) {
  let id = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const mine = ++id;
    await new Promise((resolve) => {
      const onMessage = (d) => {
        const m = JSON.parse(d.toString());
        if (m.type === 'result' && m.id === mine) {
          ws.off('message', onMessage);
          if (!m.result.ok) throw new Error(JSON.stringify(m.result));
          resolve();
        }
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ type: 'call', id: mine, name, args: {} }));
    });
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / calls;
}

const home = mkdtempSync(path.join(os.tmpdir(), 'vireo-bench-bridge-'));
const vireo = await start(['bin/vireo.js', 'serve', '--port', '0', '--home', home]);
const a = await open(vireo.url);
const catalog = await new Promise((resolve) => {
  a.once('message', (d) => resolve(JSON.parse(d.toString()).result.value));
  a.send(JSON.stringify({ type: 'call', id: 0, name: 'os.catalog', args: {} }));
});
const echo = await start(['-e', ECHO], { VALUE: JSON.stringify(catalog) });
try {
  const b = await open(echo.url);
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  console.log(`bridge round trip, ${calls} sequential calls x ${runs} rounds (median us/call)`);
  for (const name of ['vm.list', 'os.catalog']) {
    await measure(a, name); // warm-up: JIT, zod schemas, page cache
    await measure(b, name);
    const ours = [];
    const peer = [];
    for (let r = 0; r < runs; r++) {
      ours.push(await measure(a, name));
      peer.push(await measure(b, name));
    }
    const m1 = median(ours);
    const m2 = median(peer);
    console.log(
      `  ${name.padEnd(10)}  vireo serve ${m1.toFixed(1).padStart(7)} us   bare ws peer ${m2.toFixed(1).padStart(7)} us   ratio ${(m1 / m2).toFixed(2)}x`,
    );
  }
  a.close();
  b.close();
} finally {
  vireo.child.kill('SIGTERM');
  echo.child.kill('SIGTERM');
  rmSync(home, { recursive: true, force: true });
}

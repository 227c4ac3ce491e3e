#!/usr/bin/env node
// Benchmark: the console's screen path, from a guest framebuffer write to the canvas paint, and
// a key press from the browser to the guest's i8042.
//
//   node bench/console-frames.mjs [--seconds N]
//
// Ours: a real StdVga in a Bochs VBE mode (1024x768x32, then 1920x1080x32) whose VRAM a driver
// writes as the guest would through the LFB, the real VgaRenderer, DisplayHub, the VM host's
// control socket in display mode, browser mode's WebSocket relay, and the real console client
// (renderer/src/features/console/display-client.ts) in Debian's Chromium painting a canvas.
// No KVM is needed: the device model is driven directly, as a guest's stores would drive it.
//
// Peer, same run: the transport floor. The same picture bytes, already RGBA, pushed by a plain
// `ws` server to a page that only does putImageData, with the same pull (one frame in flight).
// The ratio says what our render, compare, convert and relay cost on top of moving the bytes.
//
// Two loads: "full" (every pixel changes every frame, a video or a full redraw) and "small"
// (a 64x16 region changes, a cursor or a clock). For each: frames per second painted, and
// milliseconds from the VRAM write to the paint (median and p95; wall clock, same machine),
// CPU milliseconds per frame in the VM host side (this process: render + encode + relay) and
// the page's paint time per frame. Then key latency: from the page's `keydown` event (a real
// key press through Playwright, sent by the console client) to the i8042 holding the scan code
// in its output buffer (the real I8042 model), median and p95 of 50 presses; no peer.
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
const SECONDS = Number(values.seconds);
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const outDir = path.join(root, '.cache', 'bench');
mkdirSync(outDir, { recursive: true });
const engineFile = path.join(outDir, 'console-engine.js');
await build({
  stdin: {
    contents:
      "export { StdVga } from './main/engine/devices/vga/index.ts';\n" +
      "export { VgaRenderer } from './main/engine/display/vga-renderer.ts';\n" +
      "export { DisplayHub } from './main/engine/host/display-stream.ts';\n" +
      "export { serveControlSocket } from './main/engine/host/control-socket.ts';\n" +
      "export { relayDisplay } from './main/serve/display-relay.ts';\n" +
      "export { I8042 } from './main/engine/devices/i8042/index.ts';\n",
    resolveDir: root,
    loader: 'ts',
  },
  outfile: engineFile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['ws', 'zod', 'koffi'],
  logLevel: 'warning',
});
const clientFile = path.join(outDir, 'console-client.js');
await build({
  stdin: {
    contents:
      "import { connectDisplay } from './renderer/src/features/console/display-client.ts';\n" +
      'window.connectDisplay = connectDisplay;\n',
    resolveDir: root,
    loader: 'ts',
  },
  outfile: clientFile,
  bundle: true,
  platform: 'browser',
  format: 'iife',
  logLevel: 'warning',
});
const E = await import(pathToFileURL(engineFile).href);
const { WebSocketServer } = await import('ws');

/** The page: the real client (ours) or a bare putImageData loop (peer). Paint times kept. */
const PAGE = `<!doctype html><canvas id=c></canvas><script src="/client.js"></script><script>
window.paints = [];
// The frame number is in the first pixel's red and green (the driver writes it).
function record() {
  const p = document.getElementById('c').getContext('2d').getImageData(0, 0, 1, 1).data;
  window.paints.push({ n: p[0] | (p[1] << 8), t: Date.now() });
}
window.startOurs = (vm) => {
  window.conn = connectDisplay(vm, document.getElementById('c'), {
    onOpen() {}, onError(m) { window.failure = m; }, onClosed() {}, onResize() {},
    onPaint(s) { window.paintMs = (window.paintMs || 0) + s.paintMs; record(); },
  });
};
window.keyTimes = [];
document.addEventListener('keydown', (e) => {
  window.keyTimes.push(Date.now());
  window.conn && window.conn.key(e.code, true);
});
document.addEventListener('keyup', (e) => window.conn && window.conn.key(e.code, false));
window.startPeer = () => {
  const ws = new WebSocket('ws://' + location.host + '/peer');
  ws.binaryType = 'arraybuffer';
  const ctx = document.getElementById('c').getContext('2d');
  ws.onopen = () => ws.send('next');
  ws.onmessage = (ev) => {
    const t0 = performance.now();
    const v = new DataView(ev.data);
    const w = v.getUint16(0, true), h = v.getUint16(2, true);
    const canvas = ctx.canvas;
    if (canvas.width !== w) { canvas.width = w; canvas.height = h; }
    ctx.putImageData(new ImageData(new Uint8ClampedArray(ev.data, 4), w, h), 0, 0);
    window.paintMs = (window.paintMs || 0) + performance.now() - t0;
    record();
    requestAnimationFrame(() => ws.send('next'));
  };
};
</script>`;

function dispi(vga, index, value) {
  vga.dispiPorts.write(0, Uint8Array.of(index & 0xff, index >> 8));
  vga.dispiPorts.write(1, Uint8Array.of(value & 0xff, value >> 8));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}
function p95(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] : NaN;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vireo-bench-console-'));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
const results = [];
let keyLatency = null;
try {
  for (const [W, H] of [
    [1024, 768],
    [1920, 1080],
  ]) {
    const vga = new E.StdVga({ romPath: null, vramWritesTracked: false });
    dispi(vga, 4, 0);
    dispi(vga, 1, W);
    dispi(vga, 2, H);
    dispi(vga, 3, 32);
    dispi(vga, 4, 0x41);
    const words = new Uint32Array(vga.vram.bytes.buffer, vga.vram.bytes.byteOffset, W * H);
    const renderer = new E.VgaRenderer(vga);
    const i8042 = new E.I8042({
      keyboardIrq: { set() {}, pulse() {} },
      auxIrq: { set() {}, pulse() {} },
      onReset() {},
    });
    const readStatus = () => {
      const b = new Uint8Array(1);
      i8042.commandPort.read(0, b);
      return b[0];
    };
    const readData = () => {
      const b = new Uint8Array(1);
      i8042.dataPort.read(0, b);
      return b[0];
    };
    const keySeen = [];
    const hub = new E.DisplayHub(() => renderer);
    const socketPath = path.join(tmp, `vm-${W}.sock`);
    const closeSocket = await E.serveControlSocket(socketPath, {
      screenshot: () => null,
      sendKeys: async () => {},
      changeMedium: () => {},
      openDisplay: (send) => {
        const viewer = { send };
        const detach = hub.attach(viewer);
        return {
          input: (m) => {
            if (m.t === 'next') hub.request(viewer);
            else if (m.t === 'key') {
              i8042.keyEvent(m.code, m.down);
              // The guest's keyboard interrupt handler would read it now: note when, and drain.
              if (m.down) keySeen.push(Date.now());
              while (i8042.commandPort && readStatus() & 1) readData();
            }
          },
          close: detach,
        };
      },
    });
    // Peer: the bytes already RGBA, one frame in flight, nothing else.
    const peerFrame = new Uint8Array(4 + W * H * 4);
    new DataView(peerFrame.buffer).setUint16(0, W, true);
    new DataView(peerFrame.buffer).setUint16(2, H, true);
    const peerWords = new Uint32Array(peerFrame.buffer, 4, W * H);

    const http = createServer((req, res) => {
      if (req.url === '/client.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript' });
        res.end(readFileSync(clientFile));
      } else {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(PAGE);
      }
    });
    const wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (req.url.startsWith('/display')) E.relayDisplay(ws, socketPath);
        else ws.on('message', () => ws.send(peerFrame));
      }),
    );
    await new Promise((r) => http.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${http.address().port}/`;

    for (const load of ['full', 'small']) {
      for (const who of ['ours', 'peer']) {
        const page = await browser.newPage({ viewport: { width: W + 40, height: H + 40 } });
        await page.goto(url);
        // The "guest": a new frame every 16 ms, its number in the first pixel, written time kept.
        const written = new Map();
        let n = 0;
        const target = who === 'ours' ? words : peerWords;
        const writer = setInterval(() => {
          n = (n + 1) & 0xffff;
          const stamp =
            who === 'ours' ? ((n & 0xff) << 16) | ((n >> 8) << 8) : (n & 0xff) | ((n >> 8) << 8);
          if (load === 'full') {
            // bgrx (ours, in VRAM) or RGBA (peer) fill with a colour that changes every frame.
            target.fill(0xff000000 | ((n * 2654435761) >>> 8));
            target[0] = (0xff000000 | stamp) >>> 0;
          } else {
            for (let y = 0; y < 16; y++)
              target.fill(0xff000000 | (n * 977), y * W + 64, y * W + 128);
            target[0] = (0xff000000 | stamp) >>> 0;
          }
          written.set(n, Date.now());
        }, 16);
        const cpu0 = process.cpuUsage();
        await page.evaluate(who === 'ours' ? `startOurs('bench')` : 'startPeer()');
        await new Promise((r) => setTimeout(r, SECONDS * 1000));
        const cpu = process.cpuUsage(cpu0);
        clearInterval(writer);
        const { paints, paintMs, failure } = await page.evaluate(
          '({ paints: window.paints, paintMs: window.paintMs || 0, failure: window.failure })',
        );
        if (failure) throw new Error(failure);
        const latencies = paints.filter((p) => written.has(p.n)).map((p) => p.t - written.get(p.n));
        results.push({
          size: `${W}x${H}`,
          load,
          who,
          fps: paints.length / SECONDS,
          latencyMs: median(latencies),
          latencyP95Ms: p95(latencies),
          hostCpuMsPerFrame: (cpu.user + cpu.system) / 1000 / Math.max(1, paints.length),
          paintMsPerFrame: paintMs / Math.max(1, paints.length),
        });
        await page.close();
      }
    }
    if (W === 1024) {
      // Key latency: a console connected, a still screen, 50 presses.
      const page = await browser.newPage({ viewport: { width: W + 40, height: H + 40 } });
      await page.goto(url);
      await page.evaluate(`window.conn = null; startOurs('bench')`);
      await page.waitForFunction('window.paints.length > 0');
      keySeen.length = 0;
      for (let k = 0; k < 50; k++) {
        await page.keyboard.press('KeyA');
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 200));
      const pressed = await page.evaluate('window.keyTimes');
      const lat = pressed.map((t, i) => (keySeen[i] ?? NaN) - t).filter((x) => Number.isFinite(x));
      keyLatency = { median: median(lat), p95: p95(lat), n: lat.length };
      await page.close();
    }
    closeSocket();
    hub.stop();
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => http.close(r));
  }
} finally {
  await browser.close();
  rmSync(tmp, { recursive: true, force: true });
}

console.log(
  'console frames (fps; ms from VRAM write to canvas paint, median / p95; CPU ms per frame)',
);
for (const size of ['1024x768', '1920x1080'])
  for (const load of ['full', 'small']) {
    const ours = results.find((r) => r.size === size && r.load === load && r.who === 'ours');
    const peer = results.find((r) => r.size === size && r.load === load && r.who === 'peer');
    const f = (r) =>
      `${r.fps.toFixed(1)} fps, ${r.latencyMs.toFixed(0)}/${r.latencyP95Ms.toFixed(0)} ms, host ${r.hostCpuMsPerFrame.toFixed(1)} ms, page ${r.paintMsPerFrame.toFixed(1)} ms`;
    console.log(`${size} ${load.padEnd(5)} ours: ${f(ours)}`);
    console.log(`${size} ${load.padEnd(5)} peer: ${f(peer)}`);
    console.log(
      `${size} ${load.padEnd(5)} ratio ours/peer: fps ${(ours.fps / peer.fps).toFixed(2)}, latency ${(ours.latencyMs / peer.latencyMs).toFixed(2)}`,
    );
  }
if (keyLatency)
  console.log(
    `key press, page keydown to i8042 output buffer: ${keyLatency.median} ms median, ${keyLatency.p95} ms p95 (${keyLatency.n} presses)`,
  );

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
// The ratio says what our render, compare, convert, compress and relay cost (or save) against
// moving the raw bytes.
//
// Four loads:
//   "full"   every pixel changes every frame to one flat colour (a full redraw of a plain
//            screen; deflate makes it almost free: the best case for ours),
//   "scroll" a terminal-like screen (8x16 glyph cells, lines of text in a few colours on a flat
//            field) scrolled up one text line per frame: every pixel moves, content realistic,
//   "noise"  every pixel random every frame (video-like; deflate saves little: the worst case),
//   "small"  a 64x16 region changes, a cursor or a clock.
// Ours deflates large rectangles (main/engine/host/display-stream.ts); the peer always sends raw
// RGBA. For each: frames per second painted, milliseconds from the VRAM write to the paint
// (median and p95; wall clock, same machine), CPU milliseconds per frame in the VM host side
// (this process: render + encode + deflate in the pool + relay), the page's decode-and-paint
// time per frame, and "wire", the average update size per painted frame. Then key latency: from the page's `keydown` event (a real
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
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    loads: { type: 'string', default: 'full,scroll,noise,small' },
  },
});
const SECONDS = Number(values.seconds);
const LOADS = values.loads.split(',');
for (const load of LOADS)
  if (!['full', 'scroll', 'noise', 'small'].includes(load)) throw new Error(`unknown load ${load}`);
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

/**
 * A terminal-like picture `rows` pixels tall, as bgrx words (ours) or RGBA words (peer; the same
 * colours): 96 pseudo-glyphs of 8x16 (random strokes, 30 % ink, fixed seed), lines of random
 * length, three ink colours on a dark field.
 */
function terminalPicture(W, rows, rgba) {
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const glyphs = Array.from({ length: 96 }, () =>
    Array.from({ length: 16 * 8 }, (_, i) => i >> 3 >= 2 && i >> 3 < 13 && rand() < 0.3),
  );
  const colour = (r, g, b) =>
    (rgba ? 0xff000000 | (b << 16) | (g << 8) | r : (r << 16) | (g << 8) | b) >>> 0;
  const field = colour(0x1e, 0x1e, 0x2e);
  const inks = [colour(0xcd, 0xd6, 0xf4), colour(0xa6, 0xe3, 0xa1), colour(0xf9, 0xe2, 0xaf)];
  const words = new Uint32Array(W * rows).fill(field);
  for (let line = 0; line < rows / 16; line++) {
    const length = Math.floor(rand() * (W / 8));
    const ink = inks[Math.floor(rand() * 3)];
    for (let c = 0; c < length; c++) {
      const glyph = glyphs[Math.floor(rand() * 96)];
      for (let i = 0; i < 128; i++)
        if (glyph[i]) words[(line * 16 + (i >> 3)) * W + c * 8 + (i & 7)] = ink;
    }
  }
  return words;
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
        const viewer = {
          send: (update) => {
            wireBytes += update.length;
            send(update);
          },
        };
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
    // Scroll: a picture twice the screen's height, shown one text line further down each frame.
    const pictures = LOADS.includes('scroll')
      ? { ours: terminalPicture(W, 2 * H, false), peer: terminalPicture(W, 2 * H, true) }
      : null;
    // Noise: four random frames, cycled (making one per frame would load this process).
    const noise = LOADS.includes('noise')
      ? Array.from({ length: 4 }, (_, k) => {
          const words = new Uint32Array(W * H);
          let seed = 0x1234567 + k;
          for (let i = 0; i < words.length; i++) {
            seed ^= seed << 13;
            seed ^= seed >>> 17;
            seed ^= seed << 5;
            words[i] = (seed | 0xff000000) >>> 0;
          }
          return words;
        })
      : null;
    let wireBytes = 0;

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

    for (const load of LOADS) {
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
          } else if (load === 'scroll') {
            const picture = who === 'ours' ? pictures.ours : pictures.peer;
            const top = ((n * 16) % H) * W;
            target.set(picture.subarray(top, top + W * H));
            target[0] = (0xff000000 | stamp) >>> 0;
          } else if (load === 'noise') {
            target.set(noise[n & 3]);
            target[0] = (0xff000000 | stamp) >>> 0;
          } else {
            for (let y = 0; y < 16; y++)
              target.fill(0xff000000 | (n * 977), y * W + 64, y * W + 128);
            target[0] = (0xff000000 | stamp) >>> 0;
          }
          written.set(n, Date.now());
        }, 16);
        const cpu0 = process.cpuUsage();
        wireBytes = 0;
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
          wireKbPerFrame:
            (who === 'ours' ? wireBytes : paints.length * W * H * 4) /
            1024 /
            Math.max(1, paints.length),
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
  for (const load of LOADS) {
    const ours = results.find((r) => r.size === size && r.load === load && r.who === 'ours');
    const peer = results.find((r) => r.size === size && r.load === load && r.who === 'peer');
    const f = (r) =>
      `${r.fps.toFixed(1)} fps, ${r.latencyMs.toFixed(0)}/${r.latencyP95Ms.toFixed(0)} ms, host ${r.hostCpuMsPerFrame.toFixed(1)} ms, page ${r.paintMsPerFrame.toFixed(1)} ms, wire ${r.wireKbPerFrame.toFixed(0)} KiB`;
    console.log(`${size} ${load.padEnd(6)} ours: ${f(ours)}`);
    console.log(`${size} ${load.padEnd(6)} peer: ${f(peer)}`);
    console.log(
      `${size} ${load.padEnd(6)} ratio ours/peer: fps ${(ours.fps / peer.fps).toFixed(2)}, latency ${(ours.latencyMs / peer.latencyMs).toFixed(2)}`,
    );
  }
if (keyLatency)
  console.log(
    `key press, page keydown to i8042 output buffer: ${keyLatency.median} ms median, ${keyLatency.p95} ms p95 (${keyLatency.n} presses)`,
  );

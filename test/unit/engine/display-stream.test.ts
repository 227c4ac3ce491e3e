/**
 * The console's screen stream without KVM: a real StdVga in a Bochs VBE mode, the real VGA
 * renderer, the DisplayHub (main/engine/host/display-stream.ts), the VM host's control socket in
 * display mode and browser mode's WebSocket relay (main/serve/display-relay.ts). The guest's
 * framebuffer writes are made the way the guest makes them through the LFB: into VRAM.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { StdVga } from '../../../main/engine/devices/vga/index.js';
import { VgaRenderer } from '../../../main/engine/display/vga-renderer.js';
import { deflateRawSync } from 'node:zlib';
import {
  decodeUpdate,
  DEFLATE_BAND_PIXELS,
  DisplayHub,
  encodeUpdate,
  encodeUpdateCompressed,
  RECT_ENCODING_DEFLATE,
  RECT_ENCODING_RAW,
  type DisplayViewer,
} from '../../../main/engine/host/display-stream.js';
import { serveControlSocket } from '../../../main/engine/host/control-socket.js';
import { relayDisplay } from '../../../main/serve/display-relay.js';

const W = 1024;
const H = 768;

function vbeVga(): StdVga {
  const vga = new StdVga({ romPath: null, vramWritesTracked: false });
  const dispi = (index: number, value: number): void => {
    vga.dispiPorts.write(0, Uint8Array.of(index & 0xff, index >> 8));
    vga.dispiPorts.write(1, Uint8Array.of(value & 0xff, value >> 8));
  };
  dispi(4, 0);
  dispi(1, W);
  dispi(2, H);
  dispi(3, 32);
  dispi(4, 0x41);
  return vga;
}

/** The guest paints a w x h block of 0x00RRGGBB at (x, y) through the LFB. */
function paint(vga: StdVga, x: number, y: number, w: number, h: number, rgb: number): void {
  const words = new Uint32Array(vga.vram.bytes.buffer, vga.vram.bytes.byteOffset, W * H);
  for (let row = y; row < y + h; row++) words.fill(rgb, row * W + x, row * W + x + w);
}

function collector(): DisplayViewer & { updates: Uint8Array[] } {
  const updates: Uint8Array[] = [];
  return { updates, send: (u) => void updates.push(u) };
}

const body = (u: Uint8Array) => decodeUpdate(u.subarray(4));
/** No pacing, every update raw and sent within the tick: tests can count them synchronously. */
const RAW = { maxShareFactor: 0, compression: false };

let cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe('DisplayHub', () => {
  it('sends a new viewer the whole screen in RGBA, then only what changed', () => {
    const vga = vbeVga();
    paint(vga, 0, 0, W, H, 0x00336699);
    const renderer = new VgaRenderer(vga);
    const hub = new DisplayHub(() => renderer, RAW);
    cleanups.push(() => hub.stop());
    const a = collector();
    hub.attach(a);
    hub.request(a);
    expect(a.updates).toHaveLength(1);
    const first = body(a.updates[0]!);
    expect(first).toMatchObject({ width: W, height: H, mode: 2, sequence: 1 });
    expect(first.rects).toHaveLength(1);
    expect(first.rects[0]).toMatchObject({ x: 0, y: 0, w: W, h: H });
    // 0x336699 is R 0x33, G 0x66, B 0x99: RGBA bytes 33 66 99 ff.
    expect([...first.rects[0]!.rgba.subarray(0, 4)]).toEqual([0x33, 0x66, 0x99, 0xff]);

    // Nothing changed: the request waits (no update) until something does.
    hub.request(a);
    expect(a.updates).toHaveLength(1);
    paint(vga, 100, 200, 10, 10, 0x00ff0000);
    hub.request(a); // a second request while waiting is the same request
    const second = body(a.updates[1]!);
    expect(second.sequence).toBe(2);
    const area = second.rects.reduce((s, r) => s + r.w * r.h, 0);
    // The renderer reports changes in 64x16 tiles at most: the 10x10 block, not the screen.
    expect(area).toBeGreaterThanOrEqual(100);
    expect(area).toBeLessThanOrEqual(2 * 64 * 16);
    const hit = second.rects.find((r) => r.x <= 100 && r.y <= 200 && r.x + r.w >= 110)!;
    const o = ((200 - hit.y) * hit.w + (100 - hit.x)) * 4;
    expect([...hit.rgba.subarray(o, o + 4)]).toEqual([0xff, 0, 0, 0xff]);
  });

  it('tells viewers when the guest starts or stops taking absolute pointer events', () => {
    const vga = vbeVga();
    const renderer = new VgaRenderer(vga);
    let tabletActive = false;
    const hub = new DisplayHub(() => renderer, { ...RAW, absolutePointer: () => tabletActive });
    cleanups.push(() => hub.stop());
    const a = collector();
    hub.attach(a);
    hub.request(a);
    expect(body(a.updates[0]!)).toMatchObject({ mode: 2, absolutePointer: false });
    // The screen did not change, the pointer mode did: an update without rectangles.
    hub.request(a);
    expect(a.updates).toHaveLength(1);
    tabletActive = true;
    hub.request(a);
    expect(a.updates).toHaveLength(2);
    expect(body(a.updates[1]!)).toMatchObject({ mode: 2, absolutePointer: true, rects: [] });
    hub.request(a);
    expect(a.updates).toHaveLength(2);
    tabletActive = false;
    hub.request(a);
    expect(body(a.updates[2]!)).toMatchObject({ absolutePointer: false, rects: [] });
  });

  it('keeps every viewer’s changes: a screenshot or another viewer does not take them', () => {
    const vga = vbeVga();
    const renderer = new VgaRenderer(vga);
    const hub = new DisplayHub(() => renderer, RAW);
    cleanups.push(() => hub.stop());
    const a = collector();
    const b = collector();
    hub.attach(a);
    hub.attach(b);
    hub.request(a);
    hub.request(b);
    paint(vga, 0, 0, 8, 8, 0x0000ff00);
    hub.frame(); // a screenshot in between
    paint(vga, 500, 500, 8, 8, 0x000000ff);
    hub.request(a);
    hub.request(b);
    for (const v of [a, b]) {
      const u = body(v.updates.at(-1)!);
      const covers = (x: number, y: number) =>
        u.rects.some((r) => r.x <= x && r.y <= y && r.x + r.w > x && r.y + r.h > y);
      expect(covers(0, 0) && covers(500, 500)).toBe(true);
    }
  });

  it('paces looks by their cost: a slow renderer gets at most a fifth of the device thread', async () => {
    const vga = vbeVga();
    const renderer = new VgaRenderer(vga);
    let renders = 0;
    // A source whose every look takes 20 ms (as an 800x600 look did on nested KVM under TCG).
    const slow = {
      renderFrame: () => {
        renders++;
        const until = performance.now() + 20;
        while (performance.now() < until);
        return renderer.renderFrame();
      },
    } as unknown as VgaRenderer;
    const hub = new DisplayHub(() => slow, { compression: false });
    cleanups.push(() => hub.stop());
    const a = collector();
    hub.attach(a);
    hub.request(a);
    expect(a.updates).toHaveLength(1);
    // The viewer asks again at once and the screen changes: no look right away (the last one
    // took >= 20 ms, so the next waits >= 80 ms) ...
    paint(vga, 0, 0, 10, 10, 0x00ff0000);
    hub.request(a);
    expect(renders).toBe(1);
    // ... but it comes, with the change.
    const started = performance.now();
    while (a.updates.length < 2 && performance.now() - started < 2000)
      await new Promise((r) => setTimeout(r, 5));
    expect(a.updates).toHaveLength(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    // Over half a second of constant changes and requests, at most one look per ~100 ms.
    const before = renders;
    const window = performance.now();
    while (performance.now() - window < 500) {
      paint(vga, 0, 0, 10, 10, renders & 1 ? 0x00ff0000 : 0x0000ff00);
      hub.request(a);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(renders - before).toBeLessThanOrEqual(6);
    expect(renders - before).toBeGreaterThanOrEqual(2);
  });

  it('refuses malformed updates when decoding', () => {
    const vga = vbeVga();
    const hub = new DisplayHub(() => new VgaRenderer(vga), RAW);
    cleanups.push(() => hub.stop());
    const a = collector();
    hub.attach(a);
    hub.request(a);
    const good = a.updates[0]!.subarray(4);
    expect(() => decodeUpdate(good.subarray(0, 30))).toThrow(/truncated/);
    const offscreen = Uint8Array.from(good.subarray(0, 12 + 16));
    new DataView(offscreen.buffer).setUint16(12, W, true); // x = width
    expect(() => decodeUpdate(offscreen)).toThrow(/off screen/);
  });
});

describe('deflated rectangles', () => {
  /** A screen like a terminal's: rows of glyph-like strokes in a few colours on a flat field. */
  function terminalScreen(vga: StdVga): void {
    const words = new Uint32Array(vga.vram.bytes.buffer, vga.vram.bytes.byteOffset, W * H);
    words.fill(0x00202020);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        if ((y % 16 < 12 && (x * 7 + (y >> 4) * 13) % 9 < 3) || x % 8 === 0)
          words[y * W + x] = [0x00c0c0c0, 0x0055ff55, 0x00ffff55][(x >> 6) % 3]!;
  }

  it('deflates large rectangles in bands that inflate to exactly the raw pixels', async () => {
    const vga = vbeVga();
    terminalScreen(vga);
    const frame = new VgaRenderer(vga).renderFrame();
    const whole = [{ x: 0, y: 0, w: W, h: H }];
    const raw = encodeUpdate(frame, whole, 1);
    const deflated = await encodeUpdateCompressed(frame, whole, 1);
    expect(deflated.length).toBeLessThan(raw.length / 10);
    const a = body(raw);
    const b = body(deflated);
    expect(a.rects).toHaveLength(1);
    expect(a.rects[0]!.encoding).toBe(RECT_ENCODING_RAW);
    // Bands of whole rows, top to bottom, covering the screen once.
    const rows = Math.floor(DEFLATE_BAND_PIXELS / W);
    expect(b.rects).toHaveLength(Math.ceil(H / rows));
    let y = 0;
    for (const r of b.rects) {
      expect(r).toMatchObject({ x: 0, y, w: W, encoding: RECT_ENCODING_DEFLATE });
      const pixels = a.rects[0]!.rgba.subarray(y * W * 4, (y + r.h) * W * 4);
      expect(Buffer.compare(r.rgba, pixels)).toBe(0);
      y += r.h;
    }
    expect(y).toBe(H);
  });

  it('sends small rectangles raw, and never a rectangle larger than its raw pixels', async () => {
    const vga = vbeVga();
    const words = new Uint32Array(vga.vram.bytes.buffer, vga.vram.bytes.byteOffset, W * H);
    // Noise: xorshift32, so every pixel differs from its neighbours (only alpha repeats).
    let seed = 0x12345678;
    for (let i = 0; i < words.length; i++) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      words[i] = seed >>> 0;
    }
    const frame = new VgaRenderer(vga).renderFrame();
    const rects = [
      { x: 0, y: 0, w: 64, h: 16 }, // a cursor's worth
      { x: 0, y: 100, w: W, h: 200 }, // noise barely shrinks
    ];
    const compressed = await encodeUpdateCompressed(frame, rects, 1);
    const update = body(compressed);
    expect(update.rects[0]).toMatchObject({
      x: 0,
      y: 0,
      w: 64,
      h: 16,
      encoding: RECT_ENCODING_RAW,
    });
    expect(compressed.length).toBeLessThanOrEqual(encodeUpdate(frame, rects, 1).length + 16 * 8);
    // Whatever the encoding, the pixels are the guest's.
    const raw = body(encodeUpdate(frame, rects, 1));
    const big = Buffer.concat(update.rects.slice(1).map((r) => r.rgba));
    expect(Buffer.compare(big, raw.rects[1]!.rgba)).toBe(0);
  });

  it('refuses deflated rectangles that inflate to more or less than their size, and unknown encodings', () => {
    const update = (w: number, h: number, encoding: number, payload: Uint8Array): Uint8Array => {
      const out = new Uint8Array(12 + 16 + payload.length);
      const v = new DataView(out.buffer);
      v.setUint8(0, 1);
      v.setUint8(1, 2);
      v.setUint16(2, W, true);
      v.setUint16(4, H, true);
      v.setUint16(6, 1, true);
      v.setUint16(16, w, true);
      v.setUint16(18, h, true);
      v.setUint16(20, encoding, true);
      v.setUint32(24, payload.length, true);
      out.set(payload, 28);
      return out;
    };
    const pixels = new Uint8Array(64 * 64 * 4).fill(7);
    expect([...decodeUpdate(update(64, 64, 1, deflateRawSync(pixels))).rects[0]!.rgba]).toEqual([
      ...pixels,
    ]);
    // A bomb: 64 MiB of zeros claimed as a 64x64 rectangle stops at the rectangle's size.
    const bomb = deflateRawSync(new Uint8Array(64 << 20));
    expect(() => decodeUpdate(update(64, 64, 1, bomb))).toThrow(/inflate/);
    expect(() => decodeUpdate(update(64, 65, 1, deflateRawSync(pixels)))).toThrow(/wrong size/);
    expect(() => decodeUpdate(update(64, 64, 1, Uint8Array.of(1, 2, 3)))).toThrow(/inflate/);
    expect(() => decodeUpdate(update(64, 64, 9, pixels))).toThrow(/unknown rectangle encoding/);
  });

  it('stops deflating a screen that does not shrink, for a while', async () => {
    const vga = vbeVga();
    const words = new Uint32Array(vga.vram.bytes.buffer, vga.vram.bytes.byteOffset, W * H);
    let seed = 0x2468ace;
    const noise = () => {
      for (let i = 0; i < words.length; i++) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        words[i] = seed >>> 0;
      }
    };
    noise();
    const renderer = new VgaRenderer(vga);
    const hub = new DisplayHub(() => renderer, { maxShareFactor: 0 });
    cleanups.push(() => hub.stop());
    const a = collector();
    hub.attach(a);
    const next = async () => {
      const n = a.updates.length;
      hub.request(a);
      const started = Date.now();
      while (a.updates.length === n && Date.now() - started < 5000)
        await new Promise((r) => setTimeout(r, 5));
      return body(a.updates.at(-1)!);
    };
    // The first noisy screen is deflated (it shrinks a little: alpha repeats) ...
    expect((await next()).rects.some((r) => r.encoding === RECT_ENCODING_DEFLATE)).toBe(true);
    // ... not enough to pay, so the next one goes raw without trying.
    noise();
    const second = await next();
    expect(second.rects.every((r) => r.encoding === RECT_ENCODING_RAW)).toBe(true);
    expect(second.rects.reduce((n, r) => n + r.w * r.h, 0)).toBe(W * H);
  });

  it('sends a viewer that waited through several changes of the same area its pixels once', () => {
    const vga = vbeVga();
    const renderer = new VgaRenderer(vga);
    const hub = new DisplayHub(() => renderer, RAW);
    cleanups.push(() => hub.stop());
    const a = collector();
    hub.attach(a);
    hub.request(a);
    paint(vga, 0, 0, W, H, 0x00111111);
    hub.frame(); // a look (a screenshot) while the viewer paints
    paint(vga, 0, 0, W, H, 0x00222222);
    hub.request(a);
    const update = body(a.updates.at(-1)!);
    expect(update.rects.reduce((n, r) => n + r.w * r.h, 0)).toBe(W * H);
    expect([...update.rects[0]!.rgba.subarray(0, 4)]).toEqual([0x22, 0x22, 0x22, 0xff]);
  });

  it('hands a viewer its compressed update when the pool is done, and none after it left', async () => {
    const vga = vbeVga();
    terminalScreen(vga);
    const renderer = new VgaRenderer(vga);
    const hub = new DisplayHub(() => renderer, { maxShareFactor: 0 });
    cleanups.push(() => hub.stop());
    const a = collector();
    const b = collector();
    hub.attach(a);
    const detachB = hub.attach(b);
    hub.request(a);
    hub.request(b);
    detachB();
    expect(a.updates).toHaveLength(0); // deflating in the pool
    const started = Date.now();
    while (a.updates.length === 0 && Date.now() - started < 5000)
      await new Promise((r) => setTimeout(r, 5));
    const update = body(a.updates[0]!);
    expect(update.rects.some((r) => r.encoding === RECT_ENCODING_DEFLATE)).toBe(true);
    expect(update.rects.reduce((n, r) => n + r.w * r.h, 0)).toBe(W * H);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.updates).toHaveLength(0);
  });
});

describe('display stream over the control socket and the browser relay', () => {
  async function start() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-display-'));
    const vga = vbeVga();
    paint(vga, 0, 0, W, H, 0x00102030);
    const renderer = new VgaRenderer(vga);
    // As the VM host runs it: large rectangles deflated.
    const hub = new DisplayHub(() => renderer, { maxShareFactor: 0 });
    const keys: [string, boolean][] = [];
    const socketPath = path.join(dir, 'vm.sock');
    const close = await serveControlSocket(socketPath, {
      screenshot: () => null,
      sendKeys: () => Promise.resolve(),
      changeMedium: () => {},
      openDisplay: (send) => {
        const viewer = { send };
        const detach = hub.attach(viewer);
        return {
          input: (m) => {
            if (m.t === 'next') hub.request(viewer);
            else if (m.t === 'key') keys.push([m.code, m.down]);
          },
          close: detach,
        };
      },
    });
    cleanups.push(() => {
      close();
      hub.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    return { socketPath, keys, hub, vga };
  }

  it('streams updates to a WebSocket and takes keys back; hostile messages close only that viewer', async () => {
    const { socketPath, keys, hub } = await start();
    const http = createServer();
    const wss = new WebSocketServer({ server: http, maxPayload: 4096 });
    wss.on('connection', (ws) => relayDisplay(ws, socketPath));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          http.close(() => r());
        }),
    );
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`;

    const ws = new WebSocket(url);
    const messages: (string | Buffer)[] = [];
    const arrived = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (messages.length >= n) {
            clearInterval(t);
            resolve();
          }
        }, 5);
        setTimeout(() => {
          clearInterval(t);
          reject(new Error(`only ${messages.length} messages`));
        }, 5000);
      });
    ws.on('message', (data: Buffer, isBinary) =>
      messages.push(isBinary ? data : data.toString('utf8')),
    );
    await new Promise((r) => ws.once('open', r));
    await arrived(1);
    expect(JSON.parse(messages[0] as string)).toEqual({ ok: true });
    ws.send(JSON.stringify({ t: 'next' }));
    await arrived(2);
    const update = decodeUpdate(messages[1] as Buffer);
    expect(update).toMatchObject({ width: W, height: H });
    expect(update.rects.every((r) => r.encoding === RECT_ENCODING_DEFLATE)).toBe(true);
    expect((messages[1] as Buffer).length).toBeLessThan(W * H);
    expect([...update.rects[0]!.rgba.subarray(0, 4)]).toEqual([0x10, 0x20, 0x30, 0xff]);
    ws.send(JSON.stringify({ t: 'key', code: 'KeyA', down: true }));
    ws.send(JSON.stringify({ t: 'key', code: 'KeyA', down: false }));
    await new Promise((r) => setTimeout(r, 100));
    expect(keys).toEqual([
      ['KeyA', true],
      ['KeyA', false],
    ]);
    expect(hub.viewerCount).toBe(1);

    // A hostile message: the relay closes this console (policy violation) and tells the host.
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(JSON.stringify({ t: 'key', code: 'KeyA'.repeat(50), down: true }));
    expect(await closed).toBe(1008);
    await new Promise((r) => setTimeout(r, 100));
    expect(hub.viewerCount).toBe(0);

    // A second viewer is served as before.
    const again = new WebSocket(url);
    const hello = await new Promise<string>((r) =>
      again.once('message', (d: Buffer) => r(d.toString())),
    );
    expect(JSON.parse(hello)).toEqual({ ok: true });
    again.close();
  });

  it('cuts off a raw control-socket viewer that sends nonsense, and keeps serving', async () => {
    const { socketPath, hub } = await start();
    const exchange = (lines: string[]) =>
      new Promise<string>((resolve) => {
        const s = net.createConnection(socketPath);
        let got = '';
        s.on('connect', () => s.write(lines.join('')));
        s.on('data', (b) => (got += b.toString('latin1')));
        s.on('close', () => resolve(got));
        setTimeout(() => s.end(), 500);
      });
    const got = await exchange(['{"command":"display"}\n', '{"t":"format-disk"}\n']);
    expect(got.startsWith('{"ok":true}\n')).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(hub.viewerCount).toBe(0);
    const again = await exchange(['{"command":"display"}\n']);
    expect(again.startsWith('{"ok":true}\n')).toBe(true);
  });
});

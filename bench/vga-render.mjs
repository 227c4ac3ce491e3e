#!/usr/bin/env node
// Benchmark: VGA scan-out (main/engine/display/vga-renderer.ts) of Bochs VBE 32 bpp frames,
// beside the peer every frame conversion is bounded by: a plain copy of the same bytes
// (TypedArray.set of the visible VRAM into another buffer, i.e. memcpy).
//
//   node bench/vga-render.mjs [--frames N] [--qemu]
//
// The renderer and device are bundled from TypeScript with esbuild into .cache/bench/ (as
// scripts/build.mjs bundles the engine), then imported. For 1024x768 and 1920x1080 it prints:
//   full   - every pixel changed since the last frame (the guest redrew the whole screen)
//   small  - a 64x16 region changed and was reported dirty (a cursor, a clock)
//   static - nothing changed (what a desktop idles at)
//   untracked - nothing changed but the LFB is unreported (vramWritesTracked = false):
//               the full compare pass runs
// each as median milliseconds per frame, and the ratio to memcpy of a full frame; then the
// same for 8 bpp (palette) and 16 bpp frames, which need a per-pixel conversion, and for an
// 80x25 text screen (one cell changing per frame, then none).
//
// --qemu: correctness beside the peer instead of speed. For each of a few modes, QEMU's
// `-vga std` (TCG, no KVM needed) boots SeaBIOS and a 512-byte floppy boot sector that sets the
// mode with int 10h and fills the window with a pattern; its VGA register writes are traced
// (vga_std_write_io / vga_std_read_io / vga_vbe_write), its VRAM saved through BAR0 (pmemsave)
// and its picture saved (screendump). The register writes and every access to the legacy
// window (memory_region_ops on 'vga-lowmem') are replayed into our StdVga in order, our VRAM
// compared with QEMU's byte for byte (in chain-4 modes QEMU maps the window as RAM, untraced:
// there its VRAM is copied in), and our frame compared with its picture pixel by pixel (QEMU
// doubles some modes; colours within 3 because QEMU widens 6-bit DAC values differently).
import { build } from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: { frames: { type: 'string', default: '40' }, qemu: { type: 'boolean', default: false } },
});
const frames = Number(values.frames);

const outDir = path.join(root, '.cache', 'bench');
mkdirSync(outDir, { recursive: true });
const outfile = path.join(outDir, 'vga-render.js');
await build({
  stdin: {
    contents:
      "export { StdVga } from './main/engine/devices/vga/index.ts';\n" +
      "export { VgaRenderer, textSnapshotLines } from './main/engine/display/vga-renderer.ts';\n",
    resolveDir: root,
    loader: 'ts',
  },
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
});
const { StdVga, VgaRenderer, textSnapshotLines } = await import(pathToFileURL(outfile).href);
if (values.qemu) {
  await compareWithQemu();
  process.exit(0);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
/** Median ms of `fn(i)`; when fn returns a number, that is its own measurement. */
function time(fn) {
  const t = [];
  for (let i = 0; i < frames; i++) {
    const t0 = performance.now();
    const own = fn(i);
    t.push(typeof own === 'number' ? own : performance.now() - t0);
  }
  return median(t);
}

function dispi(vga, index, value) {
  vga.dispiPorts.write(0, Uint8Array.of(index & 0xff, index >> 8));
  vga.dispiPorts.write(1, Uint8Array.of(value & 0xff, value >> 8));
}

console.log(`vga-render: median of ${frames} frames, Node ${process.version}`);
console.log(
  'mode'.padEnd(16) +
    'memcpy ms'.padStart(10) +
    'full ms'.padStart(10) +
    'ratio'.padStart(8) +
    'small ms'.padStart(10) +
    'static ms'.padStart(11) +
    'untracked ms'.padStart(14),
);
// The first pass warms the JIT up (its figures are not printed).
for (const [w, h, print] of [
  [1024, 768, false],
  [1024, 768, true],
  [1920, 1080, true],
]) {
  const vga = new StdVga({ romPath: null });
  const renderer = new VgaRenderer(vga);
  dispi(vga, 1, w);
  dispi(vga, 2, h);
  dispi(vga, 3, 32);
  dispi(vga, 4, 0x41);
  const bytes = w * h * 4;
  const words = new Uint32Array(vga.vram.bytes.buffer, 0, w * h);
  renderer.renderFrame();

  // Peer: copying the visible frame once.
  const copy = new Uint8Array(bytes);
  const memcpy = time(() => copy.set(vga.vram.bytes.subarray(0, bytes)));

  // Full-frame change: the guest rewrote every pixel (and the dirty log says so).
  const full = time((i) => {
    words.fill(0x00010101 * ((i % 200) + 1));
    vga.markDirty(0, bytes);
    const t0 = performance.now();
    renderer.renderFrame();
    return performance.now() - t0;
  });
  renderer.renderFrame();

  const small = time((i) => {
    const y0 = 100;
    for (let y = y0; y < y0 + 16; y++) words.fill(0x00ff00ff ^ i, y * w + 64, y * w + 128);
    vga.markDirty(y0 * w * 4, 16 * w * 4);
    renderer.renderFrame();
  });
  const still = time(() => renderer.renderFrame());
  vga.vramWritesTracked = false;
  const untracked = time(() => renderer.renderFrame());

  if (print)
    console.log(
      `${w}x${h}x32`.padEnd(16) +
        memcpy.toFixed(2).padStart(10) +
        full.toFixed(2).padStart(10) +
        (full / memcpy).toFixed(1).padStart(8) +
        small.toFixed(3).padStart(10) +
        still.toFixed(3).padStart(11) +
        untracked.toFixed(2).padStart(14),
    );
}

for (const [w, h, bpp] of [
  [1024, 768, 8],
  [1920, 1080, 8],
  [1920, 1080, 16],
]) {
  const vga = new StdVga({ romPath: null });
  const renderer = new VgaRenderer(vga);
  dispi(vga, 1, w);
  dispi(vga, 2, h);
  dispi(vga, 3, bpp);
  dispi(vga, 4, 0x41);
  renderer.renderFrame();
  const bytes = (w * h * bpp) / 8;
  const copy = new Uint8Array(bytes);
  const memcpy = time(() => copy.set(vga.vram.bytes.subarray(0, bytes)));
  const full = time((i) => {
    vga.vram.bytes.fill((i % 200) + 1, 0, bytes);
    vga.markDirty(0, bytes);
    const t0 = performance.now();
    renderer.renderFrame();
    return performance.now() - t0;
  });
  const still = time(() => renderer.renderFrame());
  console.log(
    `${w}x${h}x${bpp}`.padEnd(16) +
      memcpy.toFixed(2).padStart(10) +
      full.toFixed(2).padStart(10) +
      (full / memcpy).toFixed(1).padStart(8) +
      '-'.padStart(10) +
      still.toFixed(3).padStart(11),
  );
}

// Text mode 80x25 (9x16 cells, 720x400): a character changing, and nothing changing. The
// registers are those of mode 03h; the font is a solid block so every glyph pixel is drawn.
{
  const vga = new StdVga({ romPath: null });
  const port = (p, v) => vga.ioPorts.write(p - 0x3b0, Uint8Array.of(v));
  const reg = (index, data, i, v) => (port(index, i), port(data, v));
  port(0x3c2, 0x67);
  for (const [i, v] of [
    [1, 0],
    [2, 3],
    [3, 0],
    [4, 2],
  ])
    reg(0x3c4, 0x3c5, i, v);
  for (const [i, v] of [
    [5, 0x10],
    [6, 0x0e],
    [8, 0xff],
  ])
    reg(0x3ce, 0x3cf, i, v);
  for (const [i, v] of [
    [1, 0x4f],
    [7, 0x1f],
    [9, 0x4f],
    [0x12, 0x8f],
    [0x13, 0x28],
  ]) {
    reg(0x3d4, 0x3d5, i, v);
  }
  for (let ch = 0; ch < 256; ch++) {
    for (let line = 0; line < 16; line++) vga.vram.bytes[(ch * 32 + line) * 4 + 2] = 0xff;
  }
  for (let i = 0; i < 80 * 25; i++) vga.vram.bytes.set([0x41, i & 0x7f], i * 4);
  const renderer = new VgaRenderer(vga, { now: () => 0 });
  renderer.renderFrame();
  const change = time((i) => {
    vga.legacyWindow.write(0x18000 + 2 * (i % 2000) + 1, Uint8Array.of(i & 0x7f));
    renderer.renderFrame();
  });
  const still = time(() => renderer.renderFrame());
  console.log(
    'text 80x25'.padEnd(16) +
      '-'.padStart(10) +
      '-'.padStart(10) +
      '-'.padStart(8) +
      change.toFixed(3).padStart(10) +
      still.toFixed(3).padStart(11),
  );
}

/** The boot sector: int 10h with AX/BX, then a pattern into the window at SEG (see --qemu). */
function bootSector(ax, bx, segment) {
  const code = [
    0xfa,
    0x31,
    0xc0,
    0x8e,
    0xd8,
    0x8e,
    0xd0,
    0xbc,
    0x00,
    0x7c, // cli; ds = ss = 0; sp = 7C00
    0xb8,
    ax & 0xff,
    ax >> 8,
    0xbb,
    bx & 0xff,
    bx >> 8,
    0xcd,
    0x10, // mov ax; mov bx; int 10h
    0xb8,
    segment & 0xff,
    segment >> 8,
    0x8e,
    0xc0,
    0x31,
    0xff, // es = segment; di = 0
    0xb9,
    0x00,
    0x80,
    0x89,
    0xf8,
    0x30,
    0xe0,
    0xc1,
    0xc0,
    0x03,
    0xab,
    0xe2,
    0xf6, // 32K words
    0xb8,
    0x05,
    0x0c,
    0x31,
    0xdb,
    0xb9,
    0x64,
    0x00,
    0xba,
    0x32,
    0x00,
    0xcd,
    0x10, // pixel (100,50)
    0xf4,
    0xeb,
    0xfd, // hlt loop
  ];
  const image = new Uint8Array(1474560);
  image.set(code);
  image[510] = 0x55;
  image[511] = 0xaa;
  return image;
}

async function compareWithQemu() {
  if (spawnSync('qemu-system-x86_64', ['--version']).error) {
    console.error('bench --qemu: qemu-system-x86_64 not found (apt install qemu-system-x86)');
    process.exit(2);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-vga-qemu-'));
  const cases = [
    ['SeaBIOS text screen', null],
    ['mode 03h, all attributes', [0x0003, 0, 0xb800]],
    ['mode 04h (CGA)', [0x0004, 0, 0xb800]],
    ['mode 0Dh', [0x000d, 0, 0xa000]],
    ['mode 12h', [0x0012, 0, 0xa000]],
    ['mode 13h', [0x0013, 0, 0xa000]],
    ['VBE 0x105 1024x768x8', [0x4f02, 0x0105, 0xa000]],
    ['VBE 0x117 1024x768x16', [0x4f02, 0x0117, 0xa000]],
    ['VBE 0x118 1024x768x32', [0x4f02, 0x0118, 0xa000]],
  ];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let failures = 0;
  try {
    for (const [name, boot] of cases) {
      const events = path.join(dir, 'events');
      writeFileSync(
        events,
        'vga_std_write_io\nvga_std_read_io\nvga_vbe_write\nmemory_region_ops_read\nmemory_region_ops_write\n',
      );
      const trace = path.join(dir, 'trace.log');
      const monitor = path.join(dir, 'monitor.sock');
      rmSync(trace, { force: true });
      rmSync(monitor, { force: true });
      const args = ['-nodefaults', '-machine', 'pc', '-accel', 'tcg', '-m', '64', '-vga', 'std'];
      args.push('-display', 'none', '-monitor', `unix:${monitor},server,nowait`);
      args.push('-trace', `events=${events}`, '-D', trace);
      if (boot) {
        const floppy = path.join(dir, 'boot.img');
        writeFileSync(floppy, bootSector(...boot));
        args.push('-drive', `file=${floppy},if=floppy,format=raw`);
      }
      const qemu = spawn('qemu-system-x86_64', args, { stdio: 'ignore' });
      await sleep(6000);
      const socket = net.connect(monitor);
      await new Promise((r) => socket.once('connect', r));
      socket.on('data', () => {});
      const hmp = async (command, ms) => {
        socket.write(command + '\n');
        await sleep(ms);
      };
      await hmp('stop', 500);
      await hmp(`pmemsave 0xfd000000 0x1000000 "${path.join(dir, 'vram.bin')}"`, 3000);
      await hmp(`screendump "${path.join(dir, 'screen.ppm')}"`, 2000);
      await hmp('quit', 500);
      socket.destroy();
      await new Promise((r) => (qemu.exitCode !== null ? r() : qemu.once('exit', r)));

      const vga = new StdVga({ romPath: null });
      for (const line of readFileSync(trace, 'utf8').split('\n')) {
        let m;
        if ((m = /vga_std_write_io addr 0x([0-9a-f]+), val 0x([0-9a-f]+)/.exec(line))) {
          vga.ioPorts.write(parseInt(m[1], 16) - 0x3b0, Uint8Array.of(parseInt(m[2], 16)));
        } else if ((m = /vga_std_read_io addr 0x([0-9a-f]+)/.exec(line))) {
          vga.ioPorts.read(parseInt(m[1], 16) - 0x3b0, new Uint8Array(1));
        } else if ((m = /vga_vbe_write index 0x([0-9a-f]+), val 0x([0-9a-f]+)/.exec(line))) {
          dispi(vga, parseInt(m[1], 16), parseInt(m[2], 16));
        } else if (
          (m =
            /memory_region_ops_(read|write) .* addr 0x([0-9a-f]+) value 0x([0-9a-f]+) size 1 name 'vga-lowmem'/.exec(
              line,
            ))
        ) {
          const offset = parseInt(m[2], 16) - 0xa0000;
          if (m[1] === 'write') vga.legacyWindow.write(offset, Uint8Array.of(parseInt(m[3], 16)));
          else vga.legacyWindow.read(offset, new Uint8Array(1)); // loads the latches
        }
      }
      // QEMU maps chain-4 windows as RAM (no trace): then take its VRAM; else compare ours.
      const theirs = readFileSync(path.join(dir, 'vram.bin')).subarray(0, vga.vram.size);
      let vramNote;
      if (vga.legacyWindowAlias() !== null) {
        vga.vram.bytes.set(theirs);
        vramNote = 'VRAM copied (chain-4 alias)';
      } else {
        let bytes = 0;
        for (let i = 0; i < theirs.length; i++) if (theirs[i] !== vga.vram.bytes[i]) bytes++;
        vramNote = `VRAM differing bytes ${bytes}`;
        if (bytes !== 0) failures++;
      }
      vga.markDirty(0, vga.vram.size);
      const renderer = new VgaRenderer(vga, { now: () => 0 });
      const frame = renderer.renderFrame();
      const ppm = readFileSync(path.join(dir, 'screen.ppm'));
      const [, qw, qh] = ppm.subarray(0, 32).toString('latin1').split(/\s+/).map(Number);
      const data = ppm.indexOf('255\n') + 4;
      const sx = qw / frame.width;
      const sy = qh / frame.height;
      let differing = 0;
      let known = 0;
      let lit = 0;
      const text = renderer.textSnapshot();
      if (Number.isInteger(sx) && Number.isInteger(sy)) {
        for (let y = 0; y < frame.height; y++) {
          for (let x = 0; x < frame.width; x++) {
            const q = data + (y * sy * qw + x * sx) * 3;
            const o = y * frame.stride + x * 4;
            if (ppm[q] || ppm[q + 1] || ppm[q + 2]) lit++;
            const far = (a, b) => Math.abs(a - b) > 3;
            if (
              far(ppm[q], frame.pixels[o + 2]) ||
              far(ppm[q + 1], frame.pixels[o + 1]) ||
              far(ppm[q + 2], frame.pixels[o])
            ) {
              // Known: QEMU repeats the 8th column for B0h-BFh too; the IBM VGA only for C0h-DFh.
              const ch = text
                ? text.cells[Math.floor(y / 16) * text.cols + Math.floor(x / 9)] & 0xff
                : 0;
              if (text && x % 9 === 8 && ch >= 0xb0 && ch <= 0xbf) known++;
              else differing++;
            }
          }
        }
      } else {
        differing = -1;
      }
      if (differing !== 0) failures++;
      console.log(
        `${name.padEnd(28)} ours ${frame.width}x${frame.height} qemu ${qw}x${qh} ` +
          `${vramNote}; lit ${lit} differing ${differing < 0 ? 'n/a (size)' : differing}` +
          (known ? ` (+${known} known: 9th column of B0h-BFh)` : ''),
      );
      if (!boot) {
        if (text)
          console.log(
            '  ' +
              textSnapshotLines(text)
                .map((l) => l.trimEnd())
                .filter(Boolean)
                .join('\n  '),
          );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(failures === 0 ? 'all modes match QEMU' : `${failures} mode(s) differ from QEMU`);
}

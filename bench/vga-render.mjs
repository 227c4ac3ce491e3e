#!/usr/bin/env node
// Benchmark: VGA scan-out (main/engine/display/vga-renderer.ts) of Bochs VBE 32 bpp frames,
// beside the peer every frame conversion is bounded by: a plain copy of the same bytes
// (TypedArray.set of the visible VRAM into another buffer, i.e. memcpy).
//
//   node bench/vga-render.mjs [--frames N]
//
// The renderer and device are bundled from TypeScript with esbuild into .cache/bench/ (as
// scripts/build.mjs bundles the engine), then imported. For 1024x768 and 1920x1080 it prints:
//   full   - every pixel changed since the last frame (the guest redrew the whole screen)
//   small  - a 64x16 region changed and was reported dirty (a cursor, a clock)
//   static - nothing changed (what a desktop idles at)
//   untracked - nothing changed but the LFB is unreported (vramWritesTracked = false):
//               the full compare pass runs
// each as median milliseconds per frame, and the ratio to memcpy of a full frame.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { frames: { type: 'string', default: '40' } } });
const frames = Number(values.frames);

const outDir = path.join(root, '.cache', 'bench');
mkdirSync(outDir, { recursive: true });
const outfile = path.join(outDir, 'vga-render.js');
await build({
  stdin: {
    contents:
      "export { StdVga } from './main/engine/devices/vga/index.ts';\n" +
      "export { VgaRenderer } from './main/engine/display/vga-renderer.ts';\n",
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
const { StdVga, VgaRenderer } = await import(pathToFileURL(outfile).href);

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
for (const [w, h] of [
  [1024, 768],
  [1920, 1080],
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

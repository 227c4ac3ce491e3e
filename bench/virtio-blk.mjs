#!/usr/bin/env node
// Benchmark: random reads and writes through Vireo's virtio-blk device model (the split
// virtqueue walk, request parsing, status and used ring; main/engine/devices/virtio-blk) driven
// by a JavaScript driver playing the guest (test/fixtures/virtio-driver.ts), no KVM needed,
// beside the same file read and written by plain Node at the same offsets and queue depth with
// the fastest file API Node has (callback fs.read/fs.write on the descriptor): the ratio is the
// overhead of our device path over the host's own file I/O from Node. A third column gives the
// same plain I/O through fs.promises' FileHandle, which costs far more per call (the storage
// layer used it until 2026-12-06; main/engine/storage/file.ts says why it does not now).
// Sizes: 4 KiB in one guest buffer at depth 1 and 32, and 64 KiB as sixteen 4 KiB buffers at
// depth 8 (the scatter-gather path; the peer reads or writes the 64 KiB as one buffer).
//
//   node bench/virtio-blk.mjs [--size-mib 256] [--seconds 1] [--rounds 3] [--dir /tmp]
//
// Images are preallocated and written in full first (so the page cache holds them and qcow2
// has every cluster allocated): the figures measure per-request cost, not the disk. Each
// figure is the median of `rounds` alternating runs (ours, then the peer's).
import { build } from 'esbuild';
import { read as fsRead, write as fsWrite, promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '256' },
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    dir: { type: 'string', default: os.tmpdir() },
  },
});
const size = Number(values['size-mib']) * 1024 * 1024;
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const BLOCK = 4096;

const entry = path.join(root, '.cache', 'bench', 'virtio-blk-entry.ts');
const bundle = path.join(root, '.cache', 'bench', 'virtio-blk.mjs');
await fsp.mkdir(path.dirname(entry), { recursive: true });
await fsp.writeFile(
  entry,
  `export * from '../../main/engine/storage/index.js';
export * from '../../main/engine/devices/virtio-blk/index.js';
export { VirtioBlkDriver } from '../../test/fixtures/virtio-driver.js';
`,
);
await build({
  entryPoints: [entry],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['koffi'],
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __vireoCreateRequire } from 'node:module'; const require = __vireoCreateRequire(import.meta.url);",
  },
});
const m = await import(pathToFileURL(bundle).href);

const work = mkdtempSync(path.join(values.dir, 'vireo-vblk-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Random 4 KiB-aligned offsets (mulberry32, seed 1), shared by every run. */
const offsets = (() => {
  let a = 1;
  const out = new Float64Array(1 << 16);
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (size / BLOCK)) * BLOCK;
  }
  return out;
})();

/** `depth` loops of `op(offset)` for `seconds`; operations per second. */
async function measure(op, depth) {
  let next = 0;
  let count = 0;
  const deadline = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      await op(offsets[next++ & 0xffff]);
      count++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: depth }, loop));
  return count / ((performance.now() - start) / 1000);
}

async function prepare(format) {
  const file = path.join(work, `disk.${format}`);
  await m.createImage({ path: file, format, size, preallocate: true });
  const image = await m.openImage(file);
  const chunk = new Uint8Array(1 << 20).fill(0x5a);
  for (let at = 0; at < size; at += chunk.length) await image.write(at, chunk);
  await image.flush();
  return { file, image };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
const raw = await prepare('raw');
const peer = await fsp.open(raw.file, 'r+');
const peerBuffers = Array.from({ length: 32 }, () => new Uint8Array(64 * 1024).fill(0x33));
/** 4 KiB random at depth 1 and 32, then 64 KiB (16 pages) at depth 8. */
const CASES = [
  { kind: 'read', depth: 1, bytes: BLOCK },
  { kind: 'read', depth: 32, bytes: BLOCK },
  { kind: 'write', depth: 1, bytes: BLOCK },
  { kind: 'write', depth: 32, bytes: BLOCK },
  { kind: 'read', depth: 8, bytes: 64 * 1024 },
  { kind: 'write', depth: 8, bytes: 64 * 1024 },
];

for (const format of ['raw', 'qcow2']) {
  const { image } = format === 'raw' ? raw : await prepare(format);
  const driver = new m.VirtioBlkDriver(() => device);
  const device = new m.VirtioBlk({
    image,
    memory: driver.memory,
    onInterrupt: () => driver.reap(),
    onNeedsReset: (r) => {
      throw new Error(`device needs reset: ${r}`);
    },
  });
  device.activate([driver.layout]);
  for (const { kind, depth, bytes } of CASES) {
    const payload = new Uint8Array(bytes).fill(0x33);
    // 4 KiB requests are one guest buffer; larger ones come as one buffer per 4 KiB page, as
    // Linux's page cache sends them (the device's scatter-gather path).
    const segment = bytes > BLOCK ? BLOCK : undefined;
    const at = (offset) => offset - (offset % bytes);
    const ours = [];
    const theirs = [];
    const promised = [];
    for (let r = 0; r < rounds; r++) {
      ours.push(
        await measure(async (offset) => {
          const sector = BigInt(at(offset) / 512);
          const c = await driver.request(
            kind === 'read'
              ? { type: m.VIRTIO_BLK_T_IN, sector, readBytes: bytes, segment, leaveData: true }
              : { type: m.VIRTIO_BLK_T_OUT, sector, data: payload, segment },
          );
          if (c.status !== 0) throw new Error(`request failed with status ${c.status}`);
        }, depth),
      );
      let slot = 0;
      const op = kind === 'read' ? fsRead : fsWrite;
      theirs.push(
        await measure(
          (offset) =>
            new Promise((resolve, reject) =>
              op(peer.fd, peerBuffers[slot++ & 31], 0, bytes, at(offset), (e) =>
                e ? reject(e) : resolve(),
              ),
            ),
          depth,
        ),
      );
      promised.push(
        await measure(async (offset) => {
          const b = peerBuffers[slot++ & 31];
          if (kind === 'read') await peer.read(b, 0, bytes, at(offset));
          else await peer.write(b, 0, bytes, at(offset));
        }, depth),
      );
    }
    rows.push({
      format,
      kind,
      depth,
      bytes,
      ours: median(ours),
      theirs: median(theirs),
      promised: median(promised),
    });
    process.stderr.write('.');
  }
  if (format !== 'raw') await image.close();
}
await peer.close();
await raw.image.close();
process.stderr.write('\n');

console.log(
  `node bench/virtio-blk.mjs --size-mib ${values['size-mib']} --seconds ${seconds} --rounds ${rounds}`,
);
console.log(
  '| image | random | size | QD | virtio-blk device model (IOPS) | Node fs.read/fs.write on the raw file (IOPS) | ratio | Node fs.promises FileHandle (IOPS) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.format} | ${r.kind} | ${r.bytes / 1024} KiB${r.bytes > BLOCK ? ' in 4 KiB pages' : ''} | ${r.depth} | ${Math.round(r.ours)} | ${Math.round(r.theirs)} | ${(r.ours / r.theirs).toFixed(2)} | ${Math.round(r.promised)} |`,
  );

#!/usr/bin/env node
// Benchmark: Vireo's disk image layer (main/engine/storage), 4 KiB requests at queue depth 1 and
// 32, beside two peers measured in the same run on the same file:
//   - plain Node fs.promises pread/pwrite on a raw file of the same size and contents, at the
//     same offsets and depth (the floor any JavaScript disk layer pays: libuv thread pool round
//     trips), and
//   - `qemu-img bench` on the same qcow2/raw image (QEMU's block layer, C, its own thread pool).
// qemu-img bench can only step sequentially, so that comparison runs Vireo with the same
// sequential pattern; the fs comparison uses random offsets.
//
//   node bench/disk-format.mjs [--size-mib 1024] [--seconds 1] [--rounds 3] [--dir /tmp]
//
// Each figure is the median of `rounds` runs of `seconds`, ours and the peer's alternating, so
// load from other processes on a shared machine hits both sides alike.
// Images are created preallocated and then written in full (so every cluster is allocated and
// in the page cache): the figures measure per-request overhead, not the disk. qemu-img runs with
// -t writeback (page cache, as Node uses) and its default thread-pool AIO.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { promises as fsp, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    dir: { type: 'string', default: os.tmpdir() },
  },
});
const size = Number(values['size-mib']) * 1024 * 1024;
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const BLOCK = 4096;

const bundle = path.join(root, '.cache', 'bench', 'storage.mjs');
await build({
  entryPoints: [path.join(root, 'main/engine/storage/index.ts')],
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
const storage = await import(pathToFileURL(bundle).href);

const work = mkdtempSync(path.join(values.dir, 'vireo-disk-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Random 4 KiB-aligned offsets, drawn once (mulberry32, seed 1) and shared by every run. */
const offsets = (() => {
  let a = 1;
  const out = new Float64Array(1 << 16);
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = Math.floor(r * (size / BLOCK)) * BLOCK;
  }
  return out;
})();

/** Runs `depth` loops of `op(buffer, offset)` for `seconds`; returns operations per second. */
async function measure(op, depth, pattern) {
  let next = 0;
  let count = 0;
  const deadline = performance.now() + seconds * 1000;
  const sequential = pattern === 'seq';
  const worker = async () => {
    const buffer = new Uint8Array(BLOCK).fill(0x5a);
    while (performance.now() < deadline) {
      const i = next++;
      const offset = sequential ? (i * BLOCK) % size : offsets[i & 0xffff];
      await op(buffer, offset);
      count++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: depth }, worker));
  return count / ((performance.now() - start) / 1000);
}

async function vireo(file, format, write, depth, pattern) {
  const image = await storage.openImage(file, { format });
  try {
    return await measure(
      write ? (b, o) => image.write(o, b) : (b, o) => image.read(o, b),
      depth,
      pattern,
    );
  } finally {
    await image.close();
  }
}

async function nodeFs(file, write, depth) {
  const handle = await fsp.open(file, 'r+');
  try {
    return await measure(
      write ? (b, o) => handle.write(b, 0, BLOCK, o) : (b, o) => handle.read(b, 0, BLOCK, o),
      depth,
      'random',
    );
  } finally {
    await handle.close();
  }
}

function qemuBench(file, format, write, depth, count) {
  const args = [
    'bench',
    '-f',
    format,
    '-t',
    'writeback',
    '-c',
    String(count),
    '-d',
    String(depth),
    '-s',
    String(BLOCK),
  ];
  if (write) args.push('-w');
  args.push(file);
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  const m = /Run completed in ([\d.]+) seconds/.exec(r.stdout);
  if (!m) throw new Error(`qemu-img bench failed: ${r.stdout}${r.stderr}`);
  return { iops: count / Number(m[1]), command: `qemu-img ${args.join(' ')}` };
}

async function prepare(format, name) {
  const file = path.join(work, `${name}.${format}`);
  await storage.createImage({ path: file, format, size, preallocate: true });
  const image = await storage.openImage(file, { format });
  const chunk = new Uint8Array(1 << 20).fill(0xa5);
  for (let at = 0; at < size; at += chunk.length) await image.write(at, chunk);
  await image.flush();
  await image.close();
  return file;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));
const rows = [];
const commands = [];
console.log(
  `disk-format bench: ${size / 1048576} MiB images in ${work}, median of ${rounds} x ${seconds} s per figure, node ${process.version}, ${os.cpus().length} CPUs`,
);
// The fs peer gets its own raw file of the same size and contents: writing at random offsets
// of the qcow2 file itself would overwrite its metadata.
const peerFile = await prepare('raw', 'peer');
for (const format of ['raw', 'qcow2']) {
  const file = await prepare(format, 'bench');
  for (const write of [false, true]) {
    for (const depth of [1, 32]) {
      const op = write ? 'write' : 'read';
      const ours = [];
      const peer = [];
      const oursSeq = [];
      const qemu = [];
      for (let r = 0; r < rounds; r++) {
        ours.push(await vireo(file, format, write, depth, 'random'));
        peer.push(await nodeFs(peerFile, write, depth));
        oursSeq.push(await vireo(file, format, write, depth, 'seq'));
        const count = Math.max(20000, Math.round(oursSeq.at(-1) * seconds));
        const q = qemuBench(file, format, write, depth, count);
        commands.push(q.command);
        qemu.push(q.iops);
      }
      const [o, p, os, q] = [ours, peer, oursSeq, qemu].map(median);
      rows.push([format, `rand ${op}`, depth, fmt(o), 'node fs', fmt(p), (o / p).toFixed(2)]);
      rows.push([
        format,
        `seq ${op}`,
        depth,
        fmt(os),
        'qemu-img bench',
        fmt(q),
        (os / q).toFixed(2),
      ]);
      console.log(rows.at(-2).join('\t'));
      console.log(rows.at(-1).join('\t'));
    }
  }
  const check = await storage.checkImage(file);
  if (check.corruptions > 0)
    throw new Error(`bench: ${file} is corrupt after the run: ${check.messages.join('; ')}`);
  await fsp.rm(file);
}

// Allocating writes: a fresh (empty) qcow2, one 4 KiB write into each new 64 KiB cluster, so every
// request allocates (and copies on write the rest of its cluster). qemu-img bench -S 65536 makes
// the same pattern; both write through the page cache and sync metadata only at their end.
for (const depth of [1, 32]) {
  const ours = [];
  const qemu = [];
  for (let r = 0; r < rounds; r++) {
    const file = path.join(work, 'alloc.qcow2');
    await storage.createImage({ path: file, format: 'qcow2', size });
    const image = await storage.openImage(file);
    let next = 0;
    let count = 0;
    const deadline = performance.now() + seconds * 1000;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: depth }, async () => {
        const buffer = new Uint8Array(BLOCK).fill(0x5a);
        while (performance.now() < deadline && next < size / 65536) {
          await image.write(next++ * 65536, buffer);
          count++;
        }
      }),
    );
    await image.close(); // includes the metadata sync
    ours.push(count / ((performance.now() - start) / 1000));
    await fsp.rm(file);
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, String(size)]);
    const n = Math.min(size / 65536, Math.max(5000, Math.round(ours.at(-1) * seconds)));
    const args = [
      'bench',
      '-f',
      'qcow2',
      '-t',
      'writeback',
      '-w',
      '-c',
      String(n),
      '-d',
      String(depth),
      '-s',
      '4096',
      '-S',
      '65536',
      file,
    ];
    const out = spawnSync('qemu-img', args, { encoding: 'utf8' }).stdout;
    commands.push(`qemu-img ${args.join(' ')}`);
    qemu.push(n / Number(/Run completed in ([\d.]+) seconds/.exec(out)?.[1] ?? NaN));
    await fsp.rm(file);
  }
  const [o, q] = [ours, qemu].map(median);
  rows.push(['qcow2', 'alloc write', depth, fmt(o), 'qemu-img bench', fmt(q), (o / q).toFixed(2)]);
  console.log(rows.at(-1).join('\t'));
}

const header = ['format', 'pattern', 'QD', 'Vireo IOPS', 'peer', 'peer IOPS', 'Vireo/peer'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log();
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log('\npeer commands (count chosen to run about as long as ours):');
for (const c of new Set(commands.map((c) => c.replace(/-c \d+/, '-c N').replace(work, '<dir>'))))
  console.log(`  ${c}`);

/**
 * Crash ordering: a qcow2 workload (allocating writes, copy-on-write, discards, zeroes, L1 and
 * refcount table growth) runs on a file layer that remembers which writes are synced. At random
 * writes we take "power cut" images (synced bytes plus a random subset of the unsynced writes)
 * and require every one to pass `qemu-img check` with no corruption (leaks are allowed), to open
 * in Vireo, and to be repairable to a clean image.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImage, createImage, openImage } from '../../../main/engine/storage/index.js';
import { Qcow2Image } from '../../../main/engine/storage/qcow2/image.js';
import { prng, qemuCheck, randomBytes, randomInt, tempDir } from './helpers.js';
import { MemoryFile } from './memory-file.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

async function crashRun(
  clusterSize: number,
  seed: number,
  snapshots: number,
  bulk = 0,
  discardShare = 0.2,
): Promise<void> {
  const tag = `seed ${seed}, cluster ${clusterSize}`;
  const rand = prng(seed);
  const created = path.join(dir, `base-${clusterSize}-${seed}.qcow2`);
  await createImage({ path: created, format: 'qcow2', size: 1 << 20, clusterSize });
  const file = new MemoryFile(readFileSync(created));
  const crashes: Uint8Array[] = [];
  const crashRand = prng(seed ^ 0x5eed);
  let armed = bulk === 0;
  file.onWrite = () => {
    if (armed && crashes.length < snapshots && crashRand() < 0.08)
      crashes.push(file.crashImage(crashRand));
  };
  const image = await Qcow2Image.open(created, file, { readOnly: false });
  let size = image.virtualSize;
  if (bulk > 0) {
    // Enough data to outgrow the first refcount table (512-byte clusters: 8 MiB).
    size = bulk + (1 << 20);
    await image.resize(size);
    const data = randomBytes(rand, 1 << 20);
    for (let at = 0; at < bulk; at += 1 << 20) {
      armed = at >= 7 << 20; // power cuts around the refcount table move
      await image.write(at, data);
    }
  }
  for (let round = 0; round < 60 && crashes.length < snapshots; round++) {
    const ops: Promise<void>[] = [];
    for (let k = 0; k < 4; k++) {
      const len = (1 + randomInt(rand, (clusterSize * 3) / 512)) * 512;
      const off = randomInt(rand, (size - len) / 512) * 512;
      const pick = rand();
      if (pick < 0.8 - discardShare) ops.push(image.write(off, randomBytes(rand, len)));
      else if (pick < 0.8) ops.push(image.discard(off, len));
      else ops.push(image.writeZeroes(off, len, { unmap: rand() < 0.5 }));
    }
    // Overlapping requests are allowed here: only consistency is checked, not contents.
    await Promise.all(ops);
    if (rand() < 0.1) {
      size += 4 << 20; // grows the L1 table with small clusters
      await image.resize(size);
    }
    if (rand() < 0.2) await image.flush();
  }
  await image.close();
  crashes.push(file.bytes());
  expect(crashes.length, tag).toBeGreaterThan(3);
  for (const [i, bytes] of crashes.entries()) {
    const name = path.join(dir, `crash-${clusterSize}-${seed}-${i}.qcow2`);
    writeFileSync(name, bytes);
    const check = qemuCheck(name);
    expect(check.corruptions, `${tag}, crash image ${i}: ${check.output}`).toBe(0);
    expect([0, 3], `${tag}, crash image ${i}: ${check.output}`).toContain(check.status);
    const ours = await checkImage(name);
    expect(ours.corruptions, `${tag}, crash image ${i}: ${ours.messages.join('; ')}`).toBe(0);
    // qemu-img ignores refcounts of clusters past the end of the file; Vireo counts them too
    // (they are allocated space nothing uses), so it may find more leaks, never fewer.
    expect(
      ours.leaks,
      `${tag}, crash image ${i}: ${ours.messages.join('; ')}`,
    ).toBeGreaterThanOrEqual(check.leaks);
    if (i % 4 === 0) {
      const reopened = await openImage(name);
      await reopened.read(0, new Uint8Array(Math.min(reopened.virtualSize, 1 << 20)));
      await reopened.write(0, new Uint8Array(4096).fill(9));
      await reopened.close();
      const repaired = await checkImage(name, { repair: true });
      expect(repaired.corruptions, tag).toBe(0);
      expect(qemuCheck(name).status, `${tag}, crash image ${i} after repair`).toBe(0);
    }
  }
}

describe('a crash at any write leaves a consistent image', () => {
  it('512-byte clusters (table growth)', () => crashRun(512, 101, 24));
  it('512-byte clusters, 10 MiB written (refcount table growth)', () =>
    crashRun(512, 104, 12, 10 << 20));
  it('4 KiB clusters', () => crashRun(4096, 102, 24));
  it('4 KiB clusters, discard-heavy with flushes (free ordering)', () =>
    crashRun(4096, 105, 40, 0, 0.5));
  it('64 KiB clusters', () => crashRun(65536, 103, 16));
});

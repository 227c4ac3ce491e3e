/**
 * Seeded random workloads (write, read, discard, write-zeroes, grow, flush, reopen) against an
 * in-memory reference disk, byte for byte, for raw and qcow2 (several cluster sizes, with and
 * without a backing file). Operations are issued in concurrent batches of non-overlapping
 * ranges, as a guest with a deep queue would. Each failure message starts with the seed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkImage,
  createImage,
  openImage,
  type DiskImage,
} from '../../../main/engine/storage/index.js';
import { prng, qemuCheck, qemuImg, randomBytes, randomInt, tempDir } from './helpers.js';
import { NodeStorageFile } from '../../../main/engine/storage/file.js';
import { Qcow2Image } from '../../../main/engine/storage/qcow2/image.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

interface Config {
  name: string;
  format: 'raw' | 'qcow2';
  clusterSize?: number;
  backing?: 'raw' | 'qcow2';
  seed: number;
}

const configs: Config[] = [
  { name: 'raw', format: 'raw', seed: 11 },
  { name: 'qcow2 64k', format: 'qcow2', clusterSize: 65536, seed: 12 },
  { name: 'qcow2 4k', format: 'qcow2', clusterSize: 4096, seed: 13 },
  { name: 'qcow2 512 (refcount table growth)', format: 'qcow2', clusterSize: 512, seed: 14 },
  { name: 'qcow2 over raw backing', format: 'qcow2', clusterSize: 65536, backing: 'raw', seed: 15 },
  {
    name: 'qcow2 4k over qcow2 backing',
    format: 'qcow2',
    clusterSize: 4096,
    backing: 'qcow2',
    seed: 16,
  },
];

async function runWorkload(c: Config): Promise<void> {
  const seed = Number(process.env.VIREO_STORAGE_SEED ?? c.seed);
  const rand = prng(seed);
  const tag = `seed ${seed} (${c.name}; rerun with VIREO_STORAGE_SEED=${seed})`;
  const file = path.join(dir, `${c.name.replace(/\W+/g, '-')}.${c.format}`);
  let size = 3 << 20;
  let reference = new Uint8Array(size);
  if (c.backing) {
    const backingData = randomBytes(rand, size - 512 * 1024); // smaller than the overlay
    const rawBase = `${file}.base.raw`;
    writeFileSync(rawBase, backingData);
    let base = rawBase;
    if (c.backing === 'qcow2') {
      base = `${file}.base.qcow2`;
      qemuImg('convert', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=65536', rawBase, base);
    }
    reference.set(backingData);
    await createImage({
      path: file,
      format: 'qcow2',
      size,
      clusterSize: c.clusterSize,
      backingFile: path.basename(base),
      backingFormat: c.backing,
    });
  } else {
    await createImage({ path: file, format: c.format, size, clusterSize: c.clusterSize });
  }
  let image: DiskImage = await openImage(file, { format: c.format });
  const unit = c.clusterSize ?? 4096;
  const pickRange = (taken: Array<[number, number]>): [number, number] | undefined => {
    for (let tries = 0; tries < 10; tries++) {
      const sectors = 1 + randomInt(rand, (unit * 3) / 512 + 8);
      const len = sectors * 512;
      const off = randomInt(rand, (size - len) / 512 + 1) * 512;
      if (taken.every(([a, b]) => off + len <= a || off >= b)) {
        taken.push([off, off + len]);
        return [off, len];
      }
    }
    return undefined;
  };
  for (let round = 0; round < 120; round++) {
    const taken: Array<[number, number]> = [];
    const ops: Promise<void>[] = [];
    const batch = 1 + randomInt(rand, 8);
    for (let k = 0; k < batch; k++) {
      const range = pickRange(taken);
      if (!range) continue;
      const [off, len] = range;
      const pick = rand();
      if (pick < 0.45) {
        const data = randomBytes(rand, len);
        reference.set(data, off);
        const fua = rand() < 0.05;
        // Half the writes come as a guest's gather list (odd pieces, some empty).
        ops.push(
          rand() < 0.5
            ? image.writev(off, randomSplit(rand, data), { fua })
            : image.write(off, data, { fua }),
        );
      } else if (pick < 0.7) {
        const into = new Uint8Array(len);
        const expected = reference.slice(off, off + len);
        // Half the reads go into a scatter list (preadv straight into the pieces).
        const read =
          rand() < 0.5 ? image.readv(off, randomSplit(rand, into)) : image.read(off, into);
        ops.push(
          read.then(() => {
            if (Buffer.compare(into, expected) !== 0)
              expect.fail(`${tag}: round ${round} read at ${off}+${len} differs`);
          }),
        );
      } else if (pick < 0.85) {
        reference.fill(0, off, off + len);
        ops.push(image.discard(off, len));
      } else {
        reference.fill(0, off, off + len);
        ops.push(image.writeZeroes(off, len, { unmap: rand() < 0.5 }));
      }
    }
    await Promise.all(ops);
    const event = rand();
    if (event < 0.03) {
      const grown = size + (1 + randomInt(rand, 8)) * 65536 * 4;
      await image.resize(grown);
      const next = new Uint8Array(grown);
      next.set(reference);
      reference = next;
      size = grown;
    } else if (event < 0.06) {
      await image.close();
      image = await openImage(file, { format: c.format });
    } else if (event < 0.1) {
      await image.flush();
    }
  }
  const all = new Uint8Array(size);
  await image.read(0, all);
  // The whole disk again as page-sized pieces out of order in memory, the way Linux lists them.
  const pages = new Uint8Array(size);
  const count = Math.ceil(size / 4096);
  const pieces = Array.from({ length: count }, (_, i) => {
    const at = (count - 1 - i) * 4096;
    return pages.subarray(at, Math.min(size, at + 4096));
  });
  await image.readv(0, pieces);
  const gathered = Buffer.concat(pieces);
  await image.close();
  if (Buffer.compare(gathered, reference) !== 0)
    expect.fail(`${tag}: the disk read as a scatter list differs from the reference`);
  if (Buffer.compare(all, reference) !== 0) {
    let i = 0;
    while (all[i] === reference[i]) i++;
    expect.fail(`${tag}: final image differs from the reference at byte ${i}`);
  }
  if (c.format === 'qcow2') {
    const check = qemuCheck(file);
    expect(check.status, `${tag}: ${check.output}`).toBe(0);
    expect(await checkImage(file), tag).toMatchObject({ corruptions: 0, leaks: 0 });
    qemuImg('convert', '-O', 'raw', file, `${file}.out.raw`);
    expect(
      Buffer.compare(readFileSync(`${file}.out.raw`), reference),
      `${tag}: qemu-img convert`,
    ).toBe(0);
  }
}

describe('random workloads match a reference disk', () => {
  for (const c of configs) it(c.name, () => runWorkload(c));
});

describe('a tiny table cache (eviction under concurrent load)', () => {
  it('qcow2 512-byte clusters with 2 cached L2 tables and refcount blocks', async () => {
    const seed = Number(process.env.VIREO_STORAGE_SEED ?? 17);
    const rand = prng(seed);
    const file = path.join(dir, 'tiny-cache.qcow2');
    const size = 2 << 20; // 64 L2 tables of 32 KiB each
    await createImage({ path: file, format: 'qcow2', size, clusterSize: 512 });
    const reference = new Uint8Array(size);
    const open = async (): Promise<DiskImage> =>
      Qcow2Image.open(file, await NodeStorageFile.open(file, false), {
        readOnly: false,
        cacheTables: 2,
      });
    let image = await open();
    for (let round = 0; round < 80; round++) {
      const ops: Promise<void>[] = [];
      // Disjoint ranges spread over the disk, so each batch touches many tables at once.
      const slot = size / 8;
      for (let k = 0; k < 8; k++) {
        const len = (1 + randomInt(rand, 16)) * 512;
        const off = k * slot + randomInt(rand, (slot - len) / 512) * 512;
        const pick = rand();
        if (pick < 0.5) {
          const data = randomBytes(rand, len);
          reference.set(data, off);
          ops.push(image.write(off, data));
        } else if (pick < 0.8) {
          const into = new Uint8Array(len);
          const expected = reference.slice(off, off + len);
          ops.push(
            image.read(off, into).then(() => {
              if (Buffer.compare(into, expected) !== 0)
                expect.fail(`seed ${seed}: round ${round} read at ${off}+${len}`);
            }),
          );
        } else {
          reference.fill(0, off, off + len);
          ops.push(image.discard(off, len));
        }
      }
      await Promise.all(ops);
      if (rand() < 0.05) {
        await image.close();
        image = await open();
      }
    }
    const all = new Uint8Array(size);
    await image.read(0, all);
    await image.close();
    expect(Buffer.compare(all, reference), `seed ${seed}: final contents`).toBe(0);
    const check = qemuCheck(file);
    expect(check.status, `seed ${seed}: ${check.output}`).toBe(0);
  });
});

/** Cuts `buffer` into consecutive pieces of random sizes (some empty, most not sector-sized). */
function randomSplit(rand: () => number, buffer: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < buffer.length) {
    const n = Math.min(buffer.length - at, randomInt(rand, 5000));
    out.push(buffer.subarray(at, at + n));
    at += n;
  }
  return out;
}

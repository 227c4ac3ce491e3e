/**
 * Damaged and hostile qcow2 images: each is refused at open with ImageFormatError (never another
 * exception, a hang or a huge allocation), and a seeded fuzzer mutates a valid image's header
 * and tables: every open either fails with ImageFormatError or succeeds, and then reads fail
 * with nothing but ImageFormatError.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkImage,
  createImage,
  ImageFormatError,
  ImageRequestError,
  openImage,
} from '../../../main/engine/storage/index.js';
import { prng, qemuCheck, randomBytes, randomInt, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

let valid: Uint8Array;
const CLUSTER = 4096;

beforeAll(async () => {
  // 8 MiB with 4 KiB clusters: 4 L1 entries (2 MiB per L2 table), data in several tables.
  const file = path.join(dir, 'valid.qcow2');
  await createImage({ path: file, format: 'qcow2', size: 8 << 20, clusterSize: CLUSTER });
  const image = await openImage(file);
  const rand = prng(5);
  for (let k = 0; k < 24; k++)
    await image.write(randomInt(rand, 2048) * 4096, randomBytes(rand, 4096));
  await image.close();
  valid = new Uint8Array(readFileSync(file));
});

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
const l1Offset = (b: Uint8Array): number => Number(view(b).getBigUint64(40));
const refcountTableOffset = (b: Uint8Array): number => Number(view(b).getBigUint64(48));

async function expectRefused(
  name: string,
  mutate: (b: Uint8Array) => Uint8Array | void,
  pattern?: RegExp,
): Promise<void> {
  const bytes = valid.slice();
  const result = mutate(bytes) ?? bytes;
  const file = path.join(dir, `${name}.qcow2`);
  writeFileSync(file, result);
  const error = await openImage(file, { format: 'qcow2' }).then(
    async (image) => {
      await image.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error, name).toBeInstanceOf(ImageFormatError);
  if (pattern) expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).toContain(file);
}

describe('malformed images are refused at open', () => {
  it('truncated', async () => {
    await expectRefused('trunc-40', (b) => b.subarray(0, 40), /too short|truncated/);
    await expectRefused('trunc-100', (b) => b.subarray(0, 100), /truncated/);
    await expectRefused('trunc-tables', (b) => b.subarray(0, CLUSTER + 16), /past the end/);
  });
  it('bad magic', () => expectRefused('magic', (b) => void (b[3] = 0), /magic/));
  it('absurd l1_size', () =>
    expectRefused('l1', (b) => view(b).setUint32(36, 0x7fffffff), /l1_size/));
  it('cluster_bits 30', () =>
    expectRefused('cbits', (b) => view(b).setUint32(20, 30), /cluster_bits/));
  it('refcount table beyond EOF', () =>
    expectRefused('rt', (b) => view(b).setBigUint64(48, BigInt(1 << 30)), /refcount table/));
  it('L1 table beyond EOF', () =>
    expectRefused('l1off', (b) => view(b).setBigUint64(40, 1n << 40n), /L1 table/));
  it('header_length lies', async () => {
    await expectRefused('hl-small', (b) => view(b).setUint32(100, 8), /header_length/);
    await expectRefused('hl-big', (b) => view(b).setUint32(100, 1 << 30), /header_length/);
    await expectRefused('hl-odd', (b) => view(b).setUint32(100, 107), /header_length/);
  });
  it('L2 loops and overlaps', async () => {
    await expectRefused(
      'l2-dup',
      (b) => {
        const at = l1Offset(b);
        view(b).setBigUint64(at + 8, view(b).getBigUint64(at)); // two L1 entries, one L2 table
      },
      /overlaps/,
    );
    await expectRefused(
      'l2-on-l1',
      (b) => {
        const at = l1Offset(b);
        view(b).setBigUint64(at, (1n << 63n) | BigInt(at)); // the L2 table is the L1 table
      },
      /overlaps/,
    );
    await expectRefused(
      'l2-on-refcounts',
      (b) => {
        view(b).setBigUint64(l1Offset(b), BigInt(refcountTableOffset(b)));
      },
      /overlaps/,
    );
    await expectRefused(
      'l2-unaligned',
      (b) => view(b).setBigUint64(l1Offset(b), BigInt(CLUSTER + 512)),
      /cluster/,
    );
  });
  it('features Vireo does not support', async () => {
    await expectRefused('encrypted', (b) => view(b).setUint32(32, 2), /encrypted/);
    await expectRefused(
      'unknown-incompat',
      (b) => view(b).setBigUint64(72, 1n << 40n),
      /unknown incompatible/,
    );
    await expectRefused(
      'external-data',
      (b) => view(b).setBigUint64(72, 1n << 2n),
      /external data/,
    );
    await expectRefused('extended-l2', (b) => view(b).setBigUint64(72, 1n << 4n), /extended L2/);
    await expectRefused('refcount-order', (b) => view(b).setUint32(96, 3), /refcount_order/);
    await expectRefused('version-2', (b) => view(b).setUint32(4, 2), /compat=1.1/);
    await expectRefused(
      'zstd',
      (b) => {
        view(b).setBigUint64(72, 1n << 3n);
        b[104] = 1;
      },
      /zstd/,
    );
  });
  it('a backing file that is missing', () =>
    expectRefused(
      'backing',
      (b) => {
        const name = new TextEncoder().encode('does-not-exist.qcow2');
        view(b).setBigUint64(8, 512n);
        view(b).setUint32(16, name.length);
        b.set(name, 512);
      },
      /backing file/,
    ));
  it('a backing file that is the image itself', () =>
    expectRefused(
      'self',
      (b) => {
        const name = new TextEncoder().encode('self.qcow2');
        view(b).setBigUint64(8, 512n);
        view(b).setUint32(16, name.length);
        b.set(name, 512);
      },
      /deeper than/,
    ));
});

describe('checkImage', () => {
  const write = (name: string, mutate: (b: Uint8Array) => void): string => {
    const bytes = valid.slice();
    mutate(bytes);
    const file = path.join(dir, `${name}.qcow2`);
    writeFileSync(file, bytes);
    return file;
  };
  const firstBlock = (b: Uint8Array): number =>
    Number(view(b).getBigUint64(refcountTableOffset(b)));
  const firstL2 = (b: Uint8Array): number =>
    Number(view(b).getBigUint64(l1Offset(b)) & 0x00fffffffffffe00n);

  it('finds a refcount that is too low', async () => {
    const file = write('rc-low', (b) => view(b).setUint16(firstBlock(b), 0)); // the header's
    const result = await checkImage(file);
    expect(result.corruptions).toBeGreaterThan(0);
    expect(qemuCheck(file).corruptions).toBeGreaterThan(0);
  });

  it('finds L2 entries that overlap metadata, are unaligned or point past the end', async () => {
    const overlap = write('l2-overlap', (b) =>
      view(b).setBigUint64(firstL2(b), (1n << 63n) | BigInt(l1Offset(b))),
    );
    expect((await checkImage(overlap)).messages.join('\n')).toMatch(/overlaps/);
    const unaligned = write('l2-unaligned-entry', (b) =>
      view(b).setBigUint64(firstL2(b), (1n << 63n) | 4608n),
    );
    expect((await checkImage(unaligned)).messages.join('\n')).toMatch(/not cluster aligned/);
    const beyond = write('l2-beyond', (b) =>
      view(b).setBigUint64(firstL2(b), (1n << 63n) | (1n << 40n)),
    );
    expect((await checkImage(beyond)).messages.join('\n')).toMatch(/beyond the end/);
    // and reads of such a cluster fail with ImageFormatError rather than anything else
    const image = await openImage(unaligned, { readOnly: true });
    await expect(image.read(0, new Uint8Array(512))).rejects.toBeInstanceOf(ImageFormatError);
    await image.close();
  });

  it('counts and repairs leaks', async () => {
    const file = write('leak', (b) => {
      const size = b.length / CLUSTER;
      view(b).setUint16(firstBlock(b) + size * 2, 1); // a cluster past the end, counted
      view(b).setUint16(firstBlock(b) + (size + 3) * 2, 1);
    });
    expect(await checkImage(file)).toMatchObject({ corruptions: 0, leaks: 2, repairedLeaks: 0 });
    expect(await checkImage(file, { repair: true })).toMatchObject({
      corruptions: 0,
      leaks: 2,
      repairedLeaks: 2,
    });
    expect(await checkImage(file)).toMatchObject({ corruptions: 0, leaks: 0 });
    expect(qemuCheck(file).status).toBe(0);
  });
});

describe('fuzzing the header and tables', () => {
  it('2000 mutated images: ImageFormatError or a working image, nothing else', async () => {
    const seed = Number(process.env.VIREO_STORAGE_SEED ?? 20261124);
    const rand = prng(seed);
    const file = path.join(dir, 'fuzz.qcow2');
    const l1 = l1Offset(valid);
    const rt = refcountTableOffset(valid);
    const l2 = Number(view(valid).getBigUint64(l1) & 0x00fffffffffffe00n);
    // Regions worth mutating: header, L1 table, refcount table, first refcount block, an L2 table.
    const regions: Array<[number, number]> = [
      [0, 128],
      [l1, 64],
      [rt, 64],
      [Number(view(valid).getBigUint64(rt)), 256],
      [l2, CLUSTER],
    ];
    const interesting = [
      0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 512, 4096, 0x200, 9, 21, 22, 104, 112,
    ];
    let ran = 0;
    let opened = 0;
    const buffer = new Uint8Array(1 << 16);
    const deadline = Date.now() + 25_000;
    for (let i = 0; i < 2000 && Date.now() < deadline; i++) {
      const bytes = valid.slice();
      const v = view(bytes);
      const mutations = 1 + randomInt(rand, 4);
      for (let m = 0; m < mutations; m++) {
        const [start, length] = regions[randomInt(rand, regions.length)]!;
        const at = start + (randomInt(rand, length) & ~3);
        const how = rand();
        if (how < 0.4) v.setUint8(at, v.getUint8(at) ^ (1 << randomInt(rand, 8)));
        else if (how < 0.8) v.setUint32(at, interesting[randomInt(rand, interesting.length)]!);
        else v.setUint32(at, (rand() * 2 ** 32) >>> 0);
      }
      writeFileSync(file, rand() < 0.05 ? bytes.subarray(0, randomInt(rand, bytes.length)) : bytes);
      ran++;
      let image;
      try {
        image = await openImage(file, { readOnly: true, format: 'qcow2' });
      } catch (error) {
        if (!(error instanceof ImageFormatError)) {
          expect.fail(`seed ${seed} input ${i}: open threw ${String(error)}`);
        }
        continue;
      }
      opened++;
      try {
        const size = image.virtualSize;
        for (let r = 0; r < 8 && size >= 512; r++) {
          const len = Math.min(buffer.length, Math.floor(size / 512) * 512);
          const off = randomInt(rand, Math.floor((size - len) / 512) + 1) * 512;
          await image.read(off, buffer.subarray(0, len));
        }
      } catch (error) {
        if (!(error instanceof ImageFormatError)) {
          expect.fail(`seed ${seed} input ${i}: read threw ${String(error)}`);
        }
      } finally {
        await image.close();
      }
      // Every fourth image that opens is also written: allocation on damaged refcounts must end
      // in ImageFormatError (or a request error), never another exception or a hang.
      if (opened % 4 !== 0) continue;
      try {
        image = await openImage(file, { format: 'qcow2' });
      } catch (error) {
        if (!(error instanceof ImageFormatError))
          expect.fail(`seed ${seed} input ${i}: writable open threw ${String(error)}`);
        continue;
      }
      try {
        const size = image.virtualSize;
        for (let w = 0; w < 4 && size >= 4096; w++) {
          const off = randomInt(rand, Math.floor(size / 512) - 7) * 512;
          if (w === 3) await image.discard(off, 4096);
          else await image.write(off, buffer.subarray(0, 4096));
        }
      } catch (error) {
        if (!(error instanceof ImageFormatError) && !(error instanceof ImageRequestError)) {
          expect.fail(`seed ${seed} input ${i}: write threw ${String(error)}`);
        }
      } finally {
        await image.close().catch((error: unknown) => {
          if (!(error instanceof ImageFormatError))
            expect.fail(`seed ${seed} input ${i}: close threw ${String(error)}`);
        });
      }
    }
    console.log(
      `qcow2 fuzz: ${ran} inputs (seed ${seed}), ${opened} opened, ${ran - opened} refused`,
    );
    expect(ran).toBeGreaterThan(500);
  }, 60_000);
});

/**
 * qemu-img interoperability both ways: images Vireo creates and writes pass `qemu-img check` and
 * convert to the same bytes as our reference; images qemu-img makes (cluster sizes, backing
 * files raw and qcow2, compressed) read identically in Vireo.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkImage,
  createImage,
  imageInfo,
  openImage,
} from '../../../main/engine/storage/index.js';
import { prng, qemuCheck, qemuImg, qemuIo, randomBytes, randomInt, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);
const at = (name: string): string => path.join(dir, name);

/** Reads a whole image through Vireo. */
async function readAll(file: string): Promise<Uint8Array> {
  const image = await openImage(file, { readOnly: true });
  const out = new Uint8Array(image.virtualSize);
  // Odd-sized chunks so requests straddle clusters and L2 tables.
  for (let pos = 0; pos < out.length;) {
    const n = Math.min(out.length - pos, 512 * 37);
    await image.read(pos, out.subarray(pos, pos + n));
    pos += n;
  }
  await image.close();
  return out;
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  if (Buffer.compare(actual, expected) !== 0) {
    let i = 0;
    while (actual[i] === expected[i]) i++;
    expect.fail(`${what}: first difference at byte ${i}`);
  }
}

/** A raw file with scattered random data: the reference both sides are compared with. */
function makeReference(name: string, size: number, seed: number): Uint8Array {
  const rand = prng(seed);
  const data = new Uint8Array(size);
  for (let k = 0; k < 40; k++) {
    const len = (1 + randomInt(rand, 64)) * 512;
    const off = randomInt(rand, (size - len) / 512) * 512;
    data.set(randomBytes(rand, len), off);
  }
  writeFileSync(at(name), data);
  return data;
}

describe('qemu-img reads what Vireo writes', () => {
  for (const clusterSize of [512, 4096, 65536, 2 << 20]) {
    it(`cluster size ${clusterSize}`, async () => {
      const size = 8 << 20;
      const seed = 1000 + clusterSize;
      const reference = makeReference(`ref-${clusterSize}.raw`, size, seed);
      const file = at(`vireo-${clusterSize}.qcow2`);
      await createImage({ path: file, format: 'qcow2', size, clusterSize });
      expect(qemuCheck(file).status).toBe(0);
      const image = await openImage(file);
      const rand = prng(seed);
      for (let k = 0; k < 40; k++) {
        const len = (1 + randomInt(rand, 64)) * 512;
        const off = randomInt(rand, (size - len) / 512) * 512;
        await image.write(off, randomBytes(rand, len));
      }
      await image.close();
      const check = qemuCheck(file);
      expect(check.status, check.output).toBe(0);
      qemuImg('convert', '-O', 'raw', file, at(`conv-${clusterSize}.raw`));
      expectSameBytes(readFileSync(at(`conv-${clusterSize}.raw`)), reference, 'qemu-img convert');
      const info = await imageInfo(file);
      expect(info).toMatchObject({ format: 'qcow2', virtualSize: size, clusterSize, dirty: false });
      expect(await checkImage(file)).toMatchObject({ corruptions: 0, leaks: 0 });
    });
  }

  it('preallocated image, backing file, discard, zeroes and growth', async () => {
    const size = 4 << 20;
    const baseData = makeReference('pre-base.raw', size, 7);
    const file = at('overlay.qcow2');
    await createImage({
      path: file,
      format: 'qcow2',
      size: 0,
      backingFile: 'pre-base.raw',
      backingFormat: 'raw',
    });
    const image = await openImage(file);
    expect(image.virtualSize).toBe(size);
    const expected = new Uint8Array(8 << 20);
    expected.set(baseData);
    const data = randomBytes(prng(8), 3 * 65536);
    await image.write(65536 + 1024, data.subarray(0, 5120));
    expected.set(data.subarray(0, 5120), 65536 + 1024);
    await image.discard(3 * 65536, 2 * 65536);
    expected.fill(0, 3 * 65536, 5 * 65536);
    await image.writeZeroes(7 * 65536 + 512, 65536);
    expected.fill(0, 7 * 65536 + 512, 8 * 65536 + 512);
    await image.resize(8 << 20);
    await image.write(6 << 20, data);
    expected.set(data, 6 << 20);
    await image.close();
    const check = qemuCheck(file);
    expect(check.status, check.output).toBe(0);
    qemuImg('convert', '-O', 'raw', file, at('overlay.raw'));
    expectSameBytes(readFileSync(at('overlay.raw')), expected, 'overlay');
    expectSameBytes(await readAll(file), expected, 'vireo overlay');

    const pre = at('pre.qcow2');
    await createImage({ path: pre, format: 'qcow2', size: 16 << 20, preallocate: true });
    expect(qemuCheck(pre).status).toBe(0);
    const map = JSON.parse(qemuImg('map', '--output=json', pre)) as Array<{ data: boolean }>;
    expect(map.every((m) => m.data)).toBe(true);
  });

  it('grows the refcount table and the L1 table (512-byte clusters)', async () => {
    // One refcount block counts 256 clusters of 512 bytes and the first refcount table cluster
    // holds 64 blocks: 16384 clusters (8 MiB). Writing 12 MiB needs a bigger table.
    const file = at('grow.qcow2');
    await createImage({ path: file, format: 'qcow2', size: 4 << 20, clusterSize: 512 });
    const image = await openImage(file);
    await image.resize(16 << 20);
    const data = randomBytes(prng(77), 1 << 20);
    for (let mib = 0; mib < 12; mib++) await image.write(mib << 20, data);
    await image.close();
    const header = readFileSync(file);
    expect(header.readUInt32BE(56), 'refcount_table_clusters').toBeGreaterThan(1);
    const check = qemuCheck(file);
    expect(check.status, check.output).toBe(0);
    expect(await checkImage(file)).toMatchObject({ corruptions: 0, leaks: 0 });
    const got = qemuIo('-r', '-f', 'qcow2', '-c', 'read -v 11M 512', file);
    expect(got).toContain(Buffer.from(data.subarray(0, 16)).toString('hex').slice(0, 2));
    qemuImg('convert', '-O', 'raw', file, at('grow.raw'));
    const raw = readFileSync(at('grow.raw'));
    expect(Buffer.compare(raw.subarray(11 << 20, 12 << 20), data)).toBe(0);
  });

  it('refuses to overwrite', async () => {
    await createImage({ path: at('once.qcow2'), format: 'qcow2', size: 1 << 20 });
    await expect(
      createImage({ path: at('once.qcow2'), format: 'raw', size: 1 << 20 }),
    ).rejects.toThrow(/already exists/);
  });
});

describe('Vireo reads what qemu-img writes', () => {
  const size = 6 << 20;
  const reference = makeReference('q-src.raw', size, 42);

  for (const clusterSize of [512, 65536, 1 << 20]) {
    it(`qemu-img convert, cluster size ${clusterSize}`, async () => {
      const file = at(`q-${clusterSize}.qcow2`);
      qemuImg(
        'convert',
        '-f',
        'raw',
        '-O',
        'qcow2',
        '-o',
        `cluster_size=${clusterSize}`,
        at('q-src.raw'),
        file,
      );
      expectSameBytes(await readAll(file), reference, `cluster ${clusterSize}`);
    });
  }

  it('compressed clusters (qemu-img convert -c)', async () => {
    // Compressible data too: runs of text, so deflate has something to do.
    const text = new TextEncoder()
      .encode('Vireo compressed cluster test. '.repeat(40000))
      .subarray(0, 1 << 20);
    const mixed = new Uint8Array(reference);
    mixed.set(text, 2 << 20);
    writeFileSync(at('q-mixed.raw'), mixed);
    const file = at('q-comp.qcow2');
    qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', at('q-mixed.raw'), file);
    expectSameBytes(await readAll(file), mixed, 'compressed');
    // Writing over compressed clusters copies them out; qemu-img still agrees.
    const image = await openImage(file);
    const data = randomBytes(prng(3), 4096);
    await image.write((2 << 20) + 8192, data);
    mixed.set(data, (2 << 20) + 8192);
    await image.discard(3 << 20, 1 << 20);
    mixed.fill(0, 3 << 20, 4 << 20);
    await image.close();
    const check = qemuCheck(file);
    expect(check.status, check.output).toBe(0);
    expectSameBytes(await readAll(file), mixed, 'compressed after write');
  });

  for (const backingFormat of ['raw', 'qcow2'] as const) {
    it(`backing file -F ${backingFormat}`, async () => {
      const base = at(`qb-base.${backingFormat}`);
      qemuImg('convert', '-f', 'raw', '-O', backingFormat, at('q-src.raw'), base);
      const overlay = at(`qb-over-${backingFormat}.qcow2`);
      qemuImg('create', '-f', 'qcow2', '-b', path.basename(base), '-F', backingFormat, overlay);
      qemuIo('-f', 'qcow2', '-c', 'write -P 0x5a 1M 64k', '-c', 'write -z 2M 128k', overlay);
      const expected = new Uint8Array(reference);
      expected.fill(0x5a, 1 << 20, (1 << 20) + 65536);
      expected.fill(0, 2 << 20, (2 << 20) + 131072);
      expectSameBytes(await readAll(overlay), expected, 'overlay');
      // Partial write into a cluster that still shows the backing file: copy-on-write.
      const image = await openImage(overlay);
      await image.write(4096, new Uint8Array(512).fill(7));
      expected.fill(7, 4096, 4608);
      await image.close();
      expect(qemuCheck(overlay).status).toBe(0);
      qemuImg('convert', '-O', 'raw', overlay, at(`qb-${backingFormat}.raw`));
      expectSameBytes(readFileSync(at(`qb-${backingFormat}.raw`)), expected, 'qemu view');
    });
  }

  it('qemu-img create with a small cluster size and resize', async () => {
    const file = at('q-small.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', 'cluster_size=4096', file, '1M');
    qemuImg('resize', file, '64M');
    const image = await openImage(file);
    expect(image.virtualSize).toBe(64 << 20);
    await image.write(60 << 20, new Uint8Array(4096).fill(1));
    await image.resize(256 << 20);
    await image.write(200 << 20, new Uint8Array(4096).fill(2));
    await image.close();
    expect(qemuCheck(file).status).toBe(0);
    const got = qemuIo(
      '-r',
      '-f',
      'qcow2',
      '-c',
      'read -P 2 200M 4k',
      '-c',
      'read -P 1 60M 4k',
      '-c',
      'read -P 0 100M 4k',
      file,
    );
    expect(got).not.toMatch(/Pattern verification failed/);
  });
});

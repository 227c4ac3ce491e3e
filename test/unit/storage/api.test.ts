/**
 * The DiskImage contract both formats share: request checks (sectors, bounds, read-only),
 * grow-only resize, raw sparseness / preallocation / hole punching, probing, imageInfo, and
 * createImage's atomic, no-overwrite creation.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createImage,
  ImageExistsError,
  ImageFormatError,
  imageInfo,
  ImageRequestError,
  openImage,
} from '../../../main/engine/storage/index.js';
import { NodeStorageFile } from '../../../main/engine/storage/file.js';
import { tempDir } from './helpers.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);
const at = (name: string): string => path.join(dir, name);

describe.each(['raw', 'qcow2'] as const)('%s requests', (format) => {
  it('refuses unaligned, out-of-range and read-only requests with ImageRequestError', async () => {
    const file = at(`req.${format}`);
    await createImage({ path: file, format, size: 1 << 20 });
    const image = await openImage(file);
    expect(image.format).toBe(format);
    expect(image.virtualSize).toBe(1 << 20);
    await expect(image.read(100, new Uint8Array(512))).rejects.toBeInstanceOf(ImageRequestError);
    await expect(image.read(0, new Uint8Array(100))).rejects.toBeInstanceOf(ImageRequestError);
    await expect(image.write(1 << 20, new Uint8Array(512))).rejects.toThrow(/beyond the disk/);
    await expect(image.discard(-512, 512)).rejects.toBeInstanceOf(ImageRequestError);
    await expect(image.resize(512 * 1024)).rejects.toThrow(/shrink/);
    await image.resize(2 << 20);
    expect(image.virtualSize).toBe(2 << 20);
    await image.write((2 << 20) - 512, new Uint8Array(512).fill(3));
    await image.close();
    const readOnly = await openImage(file, { readOnly: true });
    expect(readOnly.readOnly).toBe(true);
    await expect(readOnly.write(0, new Uint8Array(512))).rejects.toThrow(/read-only/);
    const tail = new Uint8Array(512);
    await readOnly.read((2 << 20) - 512, tail);
    expect(tail.every((b) => b === 3)).toBe(true);
    await readOnly.close();
    expect(await imageInfo(file)).toMatchObject({ format, virtualSize: 2 << 20 });
  });
});

describe('raw images', () => {
  it('are sparse by default, allocated when preallocated, and discard punches holes', async () => {
    await createImage({ path: at('sparse.raw'), format: 'raw', size: 16 << 20 });
    expect((await imageInfo(at('sparse.raw'))).actualSize).toBeLessThan(1 << 20);
    await createImage({ path: at('full.raw'), format: 'raw', size: 16 << 20, preallocate: true });
    expect((await imageInfo(at('full.raw'))).actualSize).toBeGreaterThanOrEqual(16 << 20);
    const image = await openImage(at('full.raw'), { format: 'raw' });
    await image.write(0, new Uint8Array(1 << 20).fill(1));
    await image.discard(0, 8 << 20);
    await image.writeZeroes(8 << 20, 4 << 20, { unmap: true });
    const back = new Uint8Array(1 << 20);
    await image.read(0, back);
    expect(back.every((b) => b === 0)).toBe(true);
    await image.flush();
    await image.close();
    expect((await imageInfo(at('full.raw'))).actualSize).toBeLessThanOrEqual(5 << 20);
  });
});

describe('probing and creation', () => {
  it('refuses other formats with a conversion hint and probes raw and qcow2', async () => {
    const vmdk = at('disk.vmdk');
    writeFileSync(vmdk, Buffer.concat([Buffer.from('KDMV'), Buffer.alloc(4092)]));
    await expect(openImage(vmdk)).rejects.toThrow(/VMDK image; convert it with qemu-img convert/);
    await expect(openImage(at('missing.qcow2'))).rejects.toThrow(/does not exist/);
    await expect(openImage(at('missing.qcow2'))).rejects.toBeInstanceOf(ImageFormatError);
    await createImage({
      path: at('probe.qcow2'),
      format: 'qcow2',
      size: 1 << 20,
      clusterSize: 4096,
    });
    const image = await openImage(at('probe.qcow2'));
    expect(image.format).toBe('qcow2');
    await image.close();
    expect(await imageInfo(at('probe.qcow2'))).toMatchObject({
      format: 'qcow2',
      clusterSize: 4096,
      dirty: false,
    });
  });

  it('creates atomically and never overwrites', async () => {
    await createImage({ path: at('atomic.qcow2'), format: 'qcow2', size: 1 << 20 });
    await expect(
      createImage({ path: at('atomic.qcow2'), format: 'qcow2', size: 1 << 20 }),
    ).rejects.toBeInstanceOf(ImageExistsError);
    await expect(
      createImage({
        path: at('bad-cluster.qcow2'),
        format: 'qcow2',
        size: 1 << 20,
        clusterSize: 1000,
      }),
    ).rejects.toThrow(/power of two/);
    await expect(
      createImage({ path: at('no-base.qcow2'), format: 'qcow2', size: 0, backingFile: 'nope.raw' }),
    ).rejects.toThrow(/does not exist/);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('marks an image dirty while open for writing and clean after close', async () => {
    const file = at('dirty.qcow2');
    await createImage({ path: file, format: 'qcow2', size: 1 << 20 });
    const image = await openImage(file);
    await image.write(0, new Uint8Array(4096).fill(1));
    expect((await imageInfo(file)).dirty).toBe(true);
    await image.close();
    expect((await imageInfo(file)).dirty).toBe(false);
  });
});

describe('the file layer (NodeStorageFile)', () => {
  it('closes only after the reads and writes in flight, and refuses new ones after', async () => {
    const file = at('layer.bin');
    writeFileSync(file, new Uint8Array(1 << 20).fill(7));
    const f = await NodeStorageFile.open(file, false);
    const into = Array.from({ length: 16 }, () => new Uint8Array(4096));
    const reads = into.map((b, i) => f.read(b, 0, b.length, i * 65536));
    const write = f.write(new Uint8Array(4096).fill(9), 0, 4096, 0);
    const closed = f.close();
    // Every operation started before close completes with its data, not EBADF.
    expect(await Promise.all(reads)).toEqual(into.map(() => 4096));
    await write;
    await closed;
    expect(into.every((b) => b.every((x) => x === 7 || x === 9))).toBe(true);
    await expect(f.read(new Uint8Array(512), 0, 512, 0)).rejects.toThrow(/closed/);
    expect(
      readFileSync(file)
        .subarray(0, 4096)
        .every((x) => x === 9),
    ).toBe(true);
  });

  it('reads a position no file reaches as end of file and refuses to write there', async () => {
    const file = at('far.bin');
    writeFileSync(file, new Uint8Array(4096));
    const f = await NodeStorageFile.open(file, false);
    expect(await f.read(new Uint8Array(512), 0, 512, 2 ** 55)).toBe(0);
    await expect(f.write(new Uint8Array(512), 0, 512, 2 ** 55)).rejects.toThrow(/largest/);
    expect(await f.read(new Uint8Array(512), 0, 512, 4096 - 256)).toBe(256);
    await f.close();
  });
});

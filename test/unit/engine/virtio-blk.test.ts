/**
 * virtio-blk's device model driven by a JavaScript driver playing the guest
 * (test/fixtures/virtio-driver.ts), on real raw and qcow2 images: reads and writes compared
 * with a reference, flush, GET_ID, discard and write-zeroes, and every hostile request or
 * queue we could think of: the guest sees the error the spec prescribes, the device model
 * never throws, and a broken queue puts the device in NEEDS_RESET.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlk,
} from '../../../main/engine/devices/virtio-blk/index.js';
import { createImage, openImage, type ImageFormat } from '../../../main/engine/storage/index.js';
import { VirtioBlkDriver } from '../../fixtures/virtio-driver.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-vblk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MiB = 1024 * 1024;

async function setup(format: ImageFormat, name: string) {
  const file = path.join(dir, `${name}.${format}`);
  await createImage({ path: file, format, size: 16 * MiB });
  const image = await openImage(file);
  const resets: string[] = [];
  // The driver reaches the device lazily, so it can exist first and own guest memory.
  const driver: VirtioBlkDriver = new VirtioBlkDriver(() => device);
  const device = new VirtioBlk({
    image,
    memory: driver.memory,
    serial: 'VIREO-TEST-DISK-0001-EXTRA',
    onInterrupt: () => driver.reap(),
    onNeedsReset: (r) => resets.push(r),
  });
  device.activate([driver.layout]);
  return { file, image, device, driver, resets };
}

const sector = (n: number) => BigInt(n);
let broken = 0;

describe.each(['raw', 'qcow2'] as const)('virtio-blk on %s', (format) => {
  it('writes and reads back what a reference holds, in one and many buffers, QD 32', async () => {
    const { device, driver, image, resets } = await setup(format, 'rw');
    const reference = new Uint8Array(16 * MiB);
    const writes = [];
    for (let i = 0; i < 32; i++) {
      const data = randomBytes(4096 * (1 + (i % 4)));
      const s = (i * 7919) % (16 * 2048 - 40);
      reference.set(data, s * 512);
      writes.push(
        driver.submit({
          type: VIRTIO_BLK_T_OUT,
          sector: sector(s),
          data,
          segment: i % 2 ? 4096 : undefined,
        }),
      );
    }
    // Overlapping writes in one batch would race; these are spread, but verify by reading.
    driver.kick();
    for (const c of await Promise.all(writes))
      expect(c).toMatchObject({ status: VIRTIO_BLK_S_OK, written: 1 });
    expect((await driver.request({ type: VIRTIO_BLK_T_FLUSH, sector: 0n })).status).toBe(
      VIRTIO_BLK_S_OK,
    );
    for (let i = 0; i < 32; i++) {
      const s = (i * 7919) % (16 * 2048 - 40);
      const n = 4096 * (1 + (i % 4));
      const c = await driver.request({
        type: VIRTIO_BLK_T_IN,
        sector: sector(s),
        readBytes: n,
        segment: i % 3 ? 512 : undefined,
      });
      expect(c.status).toBe(VIRTIO_BLK_S_OK);
      expect(c.written).toBe(n + 1);
      expect(
        Buffer.from(c.data!).equals(Buffer.from(reference.subarray(s * 512, s * 512 + n))),
      ).toBe(true);
    }
    const stats = device.takeStats();
    expect(stats.writes).toBe(32);
    expect(stats.reads).toBe(32);
    expect(stats.latenciesMs.length).toBe(65);
    expect(resets).toEqual([]);
    await image.close();
  });

  it('answers GET_ID, discard and write-zeroes', async () => {
    const { driver, image } = await setup(format, 'misc');
    const id = await driver.request({ type: VIRTIO_BLK_T_GET_ID, sector: 0n, readBytes: 20 });
    expect(Buffer.from(id.data!).toString()).toBe('VIREO-TEST-DISK-0001');
    await driver.request({
      type: VIRTIO_BLK_T_OUT,
      sector: 8n,
      data: new Uint8Array(8192).fill(0xab),
    });
    const seg = (s: number, n: number, flags: number) => {
      const b = new Uint8Array(16);
      const v = new DataView(b.buffer);
      v.setBigUint64(0, BigInt(s), true);
      v.setUint32(8, n, true);
      v.setUint32(12, flags, true);
      return b;
    };
    expect(
      (await driver.request({ type: VIRTIO_BLK_T_WRITE_ZEROES, sector: 0n, payload: seg(8, 8, 1) }))
        .status,
    ).toBe(VIRTIO_BLK_S_OK);
    expect(
      (await driver.request({ type: VIRTIO_BLK_T_DISCARD, sector: 0n, payload: seg(16, 8, 0) }))
        .status,
    ).toBe(VIRTIO_BLK_S_OK);
    const back = await driver.request({ type: VIRTIO_BLK_T_IN, sector: 8n, readBytes: 8192 });
    expect(back.data!.every((b) => b === 0)).toBe(true);
    // Unmap on a discard, unknown flags, a range past the end: errors, device still fine.
    expect(
      (await driver.request({ type: VIRTIO_BLK_T_DISCARD, sector: 0n, payload: seg(0, 8, 1) }))
        .status,
    ).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(
      (await driver.request({ type: VIRTIO_BLK_T_WRITE_ZEROES, sector: 0n, payload: seg(0, 8, 6) }))
        .status,
    ).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(
      (
        await driver.request({
          type: VIRTIO_BLK_T_DISCARD,
          sector: 0n,
          payload: seg(32760, 100, 0),
        })
      ).status,
    ).toBe(VIRTIO_BLK_S_IOERR);
    await image.close();
  });
});

describe('virtio-blk against a hostile guest', () => {
  it('fails bad requests with the status the spec gives, and keeps serving', async () => {
    const { driver, image, resets, file } = await setup('raw', 'hostile');
    const last = 16 * 2048;
    const cases: [string, Parameters<VirtioBlkDriver['request']>[0], number][] = [
      [
        'read past the end',
        { type: VIRTIO_BLK_T_IN, sector: BigInt(last - 1), readBytes: 1024 },
        VIRTIO_BLK_S_IOERR,
      ],
      [
        'absurd sector',
        { type: VIRTIO_BLK_T_IN, sector: 0xffff_ffff_ffff_fff0n, readBytes: 512 },
        VIRTIO_BLK_S_IOERR,
      ],
      [
        'write past the end',
        { type: VIRTIO_BLK_T_OUT, sector: BigInt(last), data: new Uint8Array(512) },
        VIRTIO_BLK_S_IOERR,
      ],
      [
        'partial sector',
        { type: VIRTIO_BLK_T_OUT, sector: 0n, data: new Uint8Array(100) },
        VIRTIO_BLK_S_IOERR,
      ],
      ['unknown type', { type: 77, sector: 0n }, VIRTIO_BLK_S_UNSUPP],
    ];
    for (const [what, r, status] of cases)
      expect((await driver.request(r)).status, what).toBe(status);
    // A header shorter than 16 bytes: build the chain by hand.
    driver.writeDesc(200, 0x20000, 8, 1, 201);
    driver.writeDesc(201, 0x21000, 1, 2, 0);
    driver.memory.writeU8(0x21000, 0xff);
    driver.makeAvailable(200);
    driver.kick();
    await new Promise((r) => setTimeout(r, 50));
    expect(driver.memory.readU8(0x21000)).toBe(VIRTIO_BLK_S_IOERR);
    expect(driver.foreign).toEqual([{ id: 200, written: 1 }]);
    expect(resets).toEqual([]);
    expect(
      (await driver.request({ type: VIRTIO_BLK_T_IN, sector: 0n, readBytes: 512 })).status,
    ).toBe(VIRTIO_BLK_S_OK);
    await image.close();
    expect(readFileSync(file).length).toBe(16 * MiB);
  });

  it.each([
    [
      'a loop',
      (d: VirtioBlkDriver) => (
        d.writeDesc(10, 0x20000, 16, 1, 11),
        d.writeDesc(11, 0x20000, 16, 1, 10)
      ),
      /loops/,
    ],
    [
      'a next index out of range',
      (d: VirtioBlkDriver) => d.writeDesc(10, 0x20000, 16, 1, 4000),
      /out of range/,
    ],
    [
      'a buffer outside RAM',
      (d: VirtioBlkDriver) => d.writeDesc(10, 0xffff_0000_0000, 16, 0, 0),
      /outside guest RAM/,
    ],
    [
      'a readable buffer after a writable one',
      (d: VirtioBlkDriver) => (
        d.writeDesc(10, 0x20000, 16, 3, 11),
        d.writeDesc(11, 0x21000, 16, 0, 0)
      ),
      /device-readable buffer after/,
    ],
    [
      'an indirect table of 7 bytes',
      (d: VirtioBlkDriver) => d.writeDesc(10, 0x20000, 7, 4, 0),
      /indirect table length/,
    ],
  ])('puts the device in NEEDS_RESET for %s', async (_what, build, message) => {
    const { driver, image, resets } = await setup('raw', `broken-${++broken}`);
    build(driver);
    driver.makeAvailable(10);
    driver.kick();
    await new Promise((r) => setTimeout(r, 20));
    expect(resets).toHaveLength(1);
    expect(resets[0]).toMatch(message);
    // Later kicks are ignored until the driver resets the device.
    driver.kick();
    expect(resets).toHaveLength(1);
    await image.close();
  });
});

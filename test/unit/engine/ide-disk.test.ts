/**
 * The IDE hard disk on real raw and qcow2 images (main/engine/storage): IDENTIFY, PIO reads
 * and writes in LBA28, LBA48 (HOB registers) and CHS, READ/WRITE MULTIPLE blocks, FLUSH CACHE
 * reaching the image, and hostile commands (an LBA past the end, SET MULTIPLE with a bad size,
 * PACKET to a disk) ending in the error bits a real drive sets. The written image is read back
 * with qemu-img, the peer that must agree with us.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AtaDisk,
  ERROR_ABRT,
  ERROR_IDNF,
  IdeChannel,
  STATUS_BSY,
  STATUS_DRQ,
  STATUS_ERR,
} from '../../../main/engine/devices/ide/index.js';
import { createImage, openImage } from '../../../main/engine/storage/index.js';
import { IrqRecorder, readPort, writePort } from './irq-recorder.js';

const MiB = 1024 * 1024;

async function setup(format: 'raw' | 'qcow2', sizeMiB = 64) {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-ide-disk-'));
  const file = path.join(dir, `disk.${format}`);
  await createImage({ path: file, format, size: sizeMiB * MiB });
  const image = await openImage(file);
  const disk = new AtaDisk(image);
  const irq = new IrqRecorder();
  const channel = new IdeChannel({ irq, drives: [disk, undefined] });
  const cmd = channel.commandPorts;
  const status = () => readPort(cmd, 7);
  /**
   * Polls status like a driver until BSY clears (the image I/O is asynchronous). Bounded by time,
   * not by turns: on a loaded machine the file I/O can outlast 10,000 event-loop turns.
   */
  const notBusy = async () => {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const s = readPort(channel.controlPorts, 0);
      if (!(s & STATUS_BSY)) return s;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error('the disk stayed busy');
  };
  const lba28 = (command: number, lba: number, count: number) => {
    writePort(cmd, 2, count & 0xff);
    writePort(cmd, 3, lba & 0xff);
    writePort(cmd, 4, (lba >> 8) & 0xff);
    writePort(cmd, 5, (lba >> 16) & 0xff);
    writePort(cmd, 6, 0xe0 | ((lba >> 24) & 0x0f));
    writePort(cmd, 7, command);
  };
  const lba48 = (command: number, lba: number, count: number) => {
    writePort(cmd, 2, count >> 8);
    writePort(cmd, 3, Math.floor(lba / 2 ** 24) & 0xff);
    writePort(cmd, 4, Math.floor(lba / 2 ** 32) & 0xff);
    writePort(cmd, 5, Math.floor(lba / 2 ** 40) & 0xff);
    writePort(cmd, 2, count & 0xff);
    writePort(cmd, 3, lba & 0xff);
    writePort(cmd, 4, (lba >> 8) & 0xff);
    writePort(cmd, 5, (lba >> 16) & 0xff);
    writePort(cmd, 6, 0x40);
    writePort(cmd, 7, command);
  };
  const readSectors = async (sectors: number) => {
    const out: number[] = [];
    for (let blockGuard = 0; out.length < sectors * 512 && blockGuard < 1000; blockGuard++) {
      const s = await notBusy();
      if (!(s & STATUS_DRQ)) break;
      // One DRQ block: read words until DRQ drops or the block's worth is in.
      const before = out.length;
      while (readPort(channel.controlPorts, 0) & STATUS_DRQ && out.length - before < 16 * 512) {
        const d = new Uint8Array(2);
        cmd.read(0, d);
        out.push(d[0]!, d[1]!);
      }
    }
    return Uint8Array.from(out);
  };
  const writeSectors = async (data: Uint8Array) => {
    let at = 0;
    while (at < data.length) {
      const s = await notBusy();
      if (!(s & STATUS_DRQ)) break;
      while (readPort(channel.controlPorts, 0) & STATUS_DRQ && at < data.length) {
        cmd.write(0, data.subarray(at, at + 2));
        at += 2;
      }
    }
    return notBusy();
  };
  return {
    file,
    image,
    disk,
    irq,
    channel,
    cmd,
    status,
    notBusy,
    lba28,
    lba48,
    readSectors,
    writeSectors,
  };
}

const pattern = (sectors: number, seed: number) =>
  Uint8Array.from({ length: sectors * 512 }, (_, i) => (i * 7 + seed + (i >> 9)) & 0xff);

describe('IDE hard disk', () => {
  for (const format of ['raw', 'qcow2'] as const) {
    it(`writes and reads back through LBA28, LBA48 and CHS on ${format}, and qemu-img agrees`, async () => {
      const t = await setup(format);
      // IDENTIFY: ATA signature after reset, LBA28 and LBA48 capacity.
      expect([readPort(t.cmd, 4), readPort(t.cmd, 5)]).toEqual([0, 0]);
      writePort(t.cmd, 7, 0xec);
      const id = await t.readSectors(1);
      const word = (n: number) => id[n * 2]! | (id[n * 2 + 1]! << 8);
      expect(word(60) | (word(61) << 16)).toBe((64 * MiB) / 512);
      expect(word(100) + word(101) * 65536).toBe((64 * MiB) / 512);
      expect(word(83) & 0x0400).toBe(0x0400);

      const a = pattern(3, 1);
      t.lba28(0x30, 100, 3);
      expect((await t.writeSectors(a)) & STATUS_ERR).toBe(0);
      t.lba28(0x20, 100, 3);
      expect(Buffer.from(await t.readSectors(3)).equals(Buffer.from(a))).toBe(true);

      const b = pattern(40, 9);
      t.lba48(0x34, 50_000, 40);
      expect((await t.writeSectors(b)) & STATUS_ERR).toBe(0);
      t.lba48(0x24, 50_000, 40);
      expect(Buffer.from(await t.readSectors(40)).equals(Buffer.from(b))).toBe(true);

      // READ MULTIPLE: 16-sector DRQ blocks.
      writePort(t.cmd, 2, 16);
      writePort(t.cmd, 7, 0xc6);
      expect((await t.notBusy()) & STATUS_ERR).toBe(0);
      t.lba28(0xc4, 50_000, 40);
      expect(Buffer.from(await t.readSectors(40)).equals(Buffer.from(b))).toBe(true);

      // CHS with the default 16 heads x 63 sectors: C/H/S 1/2/3 = LBA (1*16+2)*63+2.
      const c = pattern(1, 77);
      writePort(t.cmd, 2, 1);
      writePort(t.cmd, 3, 3);
      writePort(t.cmd, 4, 1);
      writePort(t.cmd, 5, 0);
      writePort(t.cmd, 6, 0xa2);
      writePort(t.cmd, 7, 0x30);
      expect((await t.writeSectors(c)) & STATUS_ERR).toBe(0);

      writePort(t.cmd, 7, 0xe7); // FLUSH CACHE
      expect((await t.notBusy()) & STATUS_ERR).toBe(0);
      await t.image.close();

      const raw = path.join(path.dirname(t.file), 'check.raw');
      execFileSync('qemu-img', ['convert', '-O', 'raw', t.file, raw]);
      const bytes = readFileSync(raw);
      expect(bytes.subarray(100 * 512, 103 * 512).equals(Buffer.from(a))).toBe(true);
      expect(bytes.subarray(50_000 * 512, 50_040 * 512).equals(Buffer.from(b))).toBe(true);
      const chs = (1 * 16 + 2) * 63 + 2;
      expect(bytes.subarray(chs * 512, (chs + 1) * 512).equals(Buffer.from(c))).toBe(true);
      if (format === 'qcow2') execFileSync('qemu-img', ['check', t.file]);
    });
  }

  it('reports what the guest did as statistics for the charts, since the last sample', async () => {
    const t = await setup('raw');
    expect(t.disk.takeStats()).toMatchObject({ reads: 0, writes: 0, bytesRead: 0 });
    // MULTIPLE is 16 sectors per block: 40 sectors written = 3 image writes (16 + 16 + 8).
    writePort(t.cmd, 2, 16);
    writePort(t.cmd, 7, 0xc6);
    await t.notBusy();
    t.lba28(0xc5, 10, 40);
    await t.writeSectors(pattern(40, 3));
    t.lba28(0xc4, 10, 40);
    await t.readSectors(40);
    writePort(t.cmd, 7, 0xe7);
    await t.notBusy();
    const s = t.disk.takeStats();
    expect(s).toMatchObject({
      reads: 3,
      writes: 3,
      bytesRead: 40 * 512,
      bytesWritten: 40 * 512,
      flushes: 1,
      inFlight: 0,
    });
    expect(s.latenciesMs).toHaveLength(6);
    for (const ms of s.latenciesMs) expect(ms).toBeGreaterThanOrEqual(0);
    // The next sample starts from zero.
    expect(t.disk.takeStats()).toMatchObject({ reads: 0, writes: 0, latenciesMs: [] });
    await t.image.close();
  });

  it('refuses addresses past the end, bad multiple sizes and ATAPI commands with the right error bits', async () => {
    const t = await setup('raw', 1);
    t.lba28(0x20, 2048, 1); // one past the last sector
    let s = await t.notBusy();
    expect(s & STATUS_ERR).toBe(STATUS_ERR);
    expect(readPort(t.cmd, 1) & ERROR_IDNF).toBe(ERROR_IDNF);
    t.lba48(0x24, 2 ** 47, 0); // absurd LBA, count 0 = 65536
    s = await t.notBusy();
    expect(s & STATUS_ERR).toBe(STATUS_ERR);
    writePort(t.cmd, 2, 3);
    writePort(t.cmd, 7, 0xc6);
    expect((await t.notBusy()) & STATUS_ERR).toBe(STATUS_ERR);
    writePort(t.cmd, 7, 0xa0);
    expect((await t.notBusy()) & STATUS_ERR).toBe(STATUS_ERR);
    expect(readPort(t.cmd, 1)).toBe(ERROR_ABRT);
    // CHS sector 0 does not exist.
    writePort(t.cmd, 3, 0);
    writePort(t.cmd, 6, 0xa0);
    writePort(t.cmd, 7, 0x20);
    expect((await t.notBusy()) & STATUS_ERR).toBe(STATUS_ERR);
    // A software reset in the middle of a write drops it and leaves a usable drive.
    t.lba28(0x30, 0, 2);
    await t.notBusy();
    writePort(t.channel.controlPorts, 0, 0x04);
    writePort(t.channel.controlPorts, 0, 0x00);
    s = await t.notBusy();
    expect(s & (STATUS_DRQ | STATUS_ERR)).toBe(0);
    t.lba28(0x20, 0, 1);
    expect((await t.readSectors(1)).length).toBe(512);
    await t.image.close();
  });
});

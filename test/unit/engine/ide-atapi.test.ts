/**
 * The IDE channel and its ATAPI CD-ROM, driven through the ports exactly as SeaBIOS's
 * src/hw/ata.c and Linux's libata do: probing, software reset and the ATAPI signature,
 * IDENTIFY PACKET DEVICE, PACKET commands with DRQ blocks limited by the byte count, and the
 * hostile cases (LBAs past the end, huge transfer lengths, unknown opcodes, DMA requests, data
 * port accesses with no DRQ): each ends in the status/sense a real drive reports, never an
 * exception.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AtapiCdrom,
  CD_SECTOR_SIZE,
  IdeChannel,
  STATUS_BSY,
  STATUS_DRQ,
  STATUS_ERR,
  identifyPacketDevice,
} from '../../../main/engine/devices/ide/index.js';
import { IrqRecorder, readPort, writePort } from './irq-recorder.js';

const SECTORS = 40;
let dir: string;
let isoPath: string;

/** An image whose every sector starts with its own LBA (u32 LE) and is filled with lba & 0xff. */
function makeIso(sectors: number): string {
  const bytes = new Uint8Array(sectors * CD_SECTOR_SIZE);
  for (let lba = 0; lba < sectors; lba++) {
    bytes.fill(lba & 0xff, lba * CD_SECTOR_SIZE, (lba + 1) * CD_SECTOR_SIZE);
    new DataView(bytes.buffer).setUint32(lba * CD_SECTOR_SIZE, lba, true);
  }
  const p = path.join(dir, `disc-${sectors}.iso`);
  writeFileSync(p, bytes);
  return p;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vireo-ide-'));
  isoPath = makeIso(SECTORS);
});

function setup(withDisc = true) {
  const irq = new IrqRecorder();
  const cdrom = new AtapiCdrom();
  if (withDisc) cdrom.insert(isoPath);
  cdrom.reset();
  const channel = new IdeChannel({ irq, drives: [cdrom, undefined] });
  const cmd = channel.commandPorts;
  const status = () => readPort(cmd, 7);
  const altStatus = () => readPort(channel.controlPorts, 0);
  const readWords = (n: number) => {
    const out = new Uint8Array(n * 2);
    for (let i = 0; i < n; i++) {
      const d = new Uint8Array(2).fill(0xff);
      cmd.read(0, d);
      out.set(d, i * 2);
    }
    return out;
  };
  /** A PACKET command with byte count limit `limit`; returns every data byte and the status. */
  const packet = (cdb: number[], limit = 0xfffe) => {
    const full = new Uint8Array(12);
    full.set(cdb);
    writePort(cmd, 1, 0); // PIO
    writePort(cmd, 4, limit & 0xff);
    writePort(cmd, 5, limit >> 8);
    writePort(cmd, 7, 0xa0);
    expect(altStatus() & STATUS_DRQ).toBe(STATUS_DRQ);
    expect(readPort(cmd, 2) & 3).toBe(1); // CoD: send the command
    for (let i = 0; i < 12; i += 2) cmd.write(0, full.subarray(i, i + 2));
    const chunks: number[] = [];
    const data: number[] = [];
    for (let guard = 0; guard < 100_000; guard++) {
      const s = status();
      if (!(s & STATUS_DRQ))
        return { status: s, data: Uint8Array.from(data), chunks, error: readPort(cmd, 1) };
      expect(readPort(cmd, 2) & 3).toBe(2); // IO: data to the host
      const count = readPort(cmd, 4) | (readPort(cmd, 5) << 8);
      chunks.push(count);
      data.push(...readWords(count / 2));
    }
    throw new Error('the drive never finished');
  };
  const requestSense = () => {
    const r = packet([0x03, 0, 0, 0, 18]);
    return { key: r.data[2]! & 0xf, asc: r.data[12]!, ascq: r.data[13]! };
  };
  return { irq, cdrom, channel, cmd, status, altStatus, packet, requestSense, readWords };
}

describe('IDE channel', () => {
  it('finds the CD-ROM the way SeaBIOS probes, and nothing in the empty position', () => {
    const { cmd } = setup();
    for (const [dh, present] of [
      [0xa0, true],
      [0xb0, false],
    ] as const) {
      writePort(cmd, 6, dh);
      writePort(cmd, 2, 0x55);
      writePort(cmd, 3, 0xaa);
      expect(readPort(cmd, 6)).toBe(dh);
      expect(readPort(cmd, 2) === 0x55 && readPort(cmd, 3) === 0xaa).toBe(present);
      if (!present) expect(readPort(cmd, 7)).toBe(0);
    }
  });

  it('holds BSY during software reset and leaves the ATAPI signature after it', () => {
    const { channel, cmd, status } = setup();
    writePort(channel.controlPorts, 0, 0x0e); // SRST | nIEN
    expect(status() & STATUS_BSY).toBe(STATUS_BSY);
    writePort(channel.controlPorts, 0, 0x0a);
    expect(status() & STATUS_BSY).toBe(0);
    expect([readPort(cmd, 2), readPort(cmd, 3), readPort(cmd, 4), readPort(cmd, 5)]).toEqual([
      1, 1, 0x14, 0xeb,
    ]);
  });

  it('aborts IDENTIFY DEVICE with the signature and answers IDENTIFY PACKET DEVICE', () => {
    const { cmd, status, readWords, irq } = setup();
    writePort(cmd, 7, 0xec);
    expect(status() & STATUS_ERR).toBe(STATUS_ERR);
    expect(readPort(cmd, 1)).toBe(0x04);
    expect(readPort(cmd, 4)).toBe(0x14);
    expect(readPort(cmd, 5)).toBe(0xeb);
    const edges = irq.risingEdges;
    writePort(cmd, 7, 0xa1);
    expect(irq.risingEdges).toBe(edges + 1);
    expect(status() & STATUS_DRQ).toBe(STATUS_DRQ);
    expect(irq.level).toBe(false); // reading status acknowledged it
    const id = readWords(256);
    const word = (n: number) => id[n * 2]! | (id[n * 2 + 1]! << 8);
    expect(word(0) >> 14).toBe(2); // ATAPI
    expect((word(0) >> 8) & 0x1f).toBe(5); // CD-ROM
    // Model string: first character in the high byte of word 27 (ATA string order).
    const model = Array.from({ length: 40 }, (_, i) => id[54 + (i ^ 1)]!);
    expect(String.fromCharCode(...model).trim()).toBe('VIREO DVD-ROM');
    expect(status() & STATUS_DRQ).toBe(0);
    expect(identifyPacketDevice(new AtapiCdrom()).length).toBe(512);
  });

  it('masks the interrupt line with nIEN without losing it', () => {
    const { channel, cmd, irq } = setup();
    writePort(channel.controlPorts, 0, 0x02);
    writePort(cmd, 7, 0xa1);
    expect(irq.level).toBe(false);
    writePort(channel.controlPorts, 0, 0x00);
    expect(irq.level).toBe(true);
  });
});

describe('ATAPI CD-ROM', () => {
  afterEach(() => undefined);

  it('answers INQUIRY, TEST UNIT READY and READ CAPACITY', () => {
    const { packet } = setup();
    const inquiry = packet([0x12, 0, 0, 0, 36]);
    expect(inquiry.status & STATUS_ERR).toBe(0);
    expect(inquiry.data[0]).toBe(5);
    expect(inquiry.data[1]).toBe(0x80);
    expect(String.fromCharCode(...inquiry.data.subarray(8, 16)).trim()).toBe('VIREO');
    expect(packet([0x00]).status & STATUS_ERR).toBe(0);
    const cap = packet([0x25]);
    const v = new DataView(cap.data.buffer);
    expect(v.getUint32(0)).toBe(SECTORS - 1);
    expect(v.getUint32(4)).toBe(2048);
  });

  it('reads sectors in DRQ blocks no larger than the byte count limit (SeaBIOS reads 2048 at a time)', () => {
    const { packet } = setup();
    const r = packet([0x28, 0, 0, 0, 0, 5, 0, 0, 3], 2048);
    expect(r.status & STATUS_ERR).toBe(0);
    expect(r.chunks).toEqual([2048, 2048, 2048]);
    for (let i = 0; i < 3; i++) {
      expect(new DataView(r.data.buffer).getUint32(i * 2048, true)).toBe(5 + i);
      expect(r.data[i * 2048 + 100]).toBe(5 + i);
    }
    // READ(12) with an odd limit: blocks are whole words.
    const r12 = packet([0xa8, 0, 0, 0, 0, 39, 0, 0, 0, 1], 1001);
    expect(r12.chunks.every((c) => c === 1000 || c < 1000)).toBe(true);
    expect(r12.data.length).toBe(2048);
    expect(r12.data[2047]).toBe(39);
  });

  it('answers rep insw as one string across DRQ blocks, floating high past the data', () => {
    const { cmd, status } = setup();
    writePort(cmd, 1, 0);
    writePort(cmd, 4, 0x00);
    writePort(cmd, 5, 0x08); // 2048-byte blocks
    writePort(cmd, 7, 0xa0);
    cmd.writeString!(0, 2, Uint8Array.from([0x28, 0, 0, 0, 0, 7, 0, 0, 2, 0, 0, 0]));
    const string = new Uint8Array(4096 + 4);
    cmd.readString!(0, 2, string);
    expect(new DataView(string.buffer).getUint32(0, true)).toBe(7);
    expect(new DataView(string.buffer).getUint32(2048, true)).toBe(8);
    expect(Array.from(string.subarray(4096))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(status() & (STATUS_DRQ | STATUS_ERR)).toBe(0);
  });

  it('refuses LBAs past the end and huge lengths with ILLEGAL REQUEST / LBA OUT OF RANGE', () => {
    const { packet, requestSense } = setup();
    for (const cdb of [
      [0x28, 0, 0, 0, 0, SECTORS, 0, 0, 1],
      [0x28, 0, 0, 0, 0, 1, 0, 0xff, 0xff],
      [0xa8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ]) {
      const r = packet(cdb);
      expect(r.status & STATUS_ERR).toBe(STATUS_ERR);
      expect(r.error >> 4).toBe(5);
      expect(r.data.length).toBe(0);
      expect(requestSense()).toEqual({ key: 5, asc: 0x21, ascq: 0 });
    }
  });

  it('answers an unknown opcode with INVALID COMMAND OPERATION CODE and a bad field with INVALID FIELD', () => {
    const { packet, requestSense } = setup();
    expect(packet([0xff]).status & STATUS_ERR).toBe(STATUS_ERR);
    expect(requestSense()).toEqual({ key: 5, asc: 0x20, ascq: 0 });
    expect(packet([0x43, 0, 7, 0, 0, 0, 0, 0, 12]).status & STATUS_ERR).toBe(STATUS_ERR);
    expect(requestSense()).toEqual({ key: 5, asc: 0x24, ascq: 0 });
  });

  it('aborts a PACKET asking for DMA, and ignores data-port traffic with no DRQ', () => {
    const { cmd, status } = setup();
    writePort(cmd, 1, 1);
    writePort(cmd, 7, 0xa0);
    expect(status() & STATUS_ERR).toBe(STATUS_ERR);
    const d = new Uint8Array(2);
    cmd.read(0, d);
    expect(Array.from(d)).toEqual([0xff, 0xff]);
    cmd.write(0, d);
    expect(status() & STATUS_DRQ).toBe(0);
  });

  it('builds the TOC (LBA and MSF) with track 1 and the lead-out', () => {
    const { packet } = setup();
    const toc = packet([0x43, 0, 0, 0, 0, 0, 0, 0, 100]);
    expect(toc.data.length).toBe(20);
    expect([toc.data[2], toc.data[3]]).toEqual([1, 1]);
    expect(toc.data[6]).toBe(1);
    expect(toc.data[14]).toBe(0xaa);
    expect(new DataView(toc.data.buffer).getUint32(16)).toBe(SECTORS);
    const msf = packet([0x43, 2, 0, 0, 0, 0, 0, 0, 100]);
    // LBA 0 is 00:02:00 (MSF = LBA + 150 frames).
    expect(Array.from(msf.data.subarray(8, 12))).toEqual([0, 0, 2, 0]);
    const session = packet([0x43, 0, 1, 0, 0, 0, 0, 0, 12]);
    expect(session.data.length).toBe(12);
  });

  it('reports no medium, then a medium change once, then ready', () => {
    const { packet, requestSense, cdrom } = setup(false);
    expect(packet([0x00]).status & STATUS_ERR).toBe(STATUS_ERR);
    expect(requestSense()).toEqual({ key: 2, asc: 0x3a, ascq: 0 });
    const cfgEmpty = packet([0x46, 0, 0, 0, 0, 0, 0, 0, 64]);
    expect(cfgEmpty.data[6]! * 256 + cfgEmpty.data[7]!).toBe(0);
    cdrom.insert(isoPath);
    const events = packet([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8]);
    expect(events.data[4]).toBe(2); // new media
    expect(events.data[5]).toBe(2); // present
    expect(packet([0x00]).status & STATUS_ERR).toBe(STATUS_ERR);
    expect(requestSense()).toEqual({ key: 6, asc: 0x28, ascq: 0 });
    expect(packet([0x00]).status & STATUS_ERR).toBe(0);
    const cfg = packet([0x46, 0, 0, 0, 0, 0, 0, 0, 64]);
    expect(cfg.data[6]! * 256 + cfg.data[7]!).toBe(0x0008); // CD-ROM profile
  });

  it('keeps a locked tray closed and ejects an unlocked one', () => {
    const { packet, requestSense, cdrom } = setup();
    packet([0x1e, 0, 0, 0, 1]);
    expect(packet([0x1b, 0, 0, 0, 2]).status & STATUS_ERR).toBe(STATUS_ERR);
    expect(requestSense()).toEqual({ key: 5, asc: 0x53, ascq: 2 });
    expect(cdrom.current).toBeDefined();
    packet([0x1e, 0, 0, 0, 0]);
    expect(packet([0x1b, 0, 0, 0, 2]).status & STATUS_ERR).toBe(0);
    expect(cdrom.current).toBeUndefined();
  });

  it('answers MODE SENSE for the capabilities page and truncates to the allocation length', () => {
    const { packet } = setup();
    const all = packet([0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255]);
    expect(all.data.length).toBe(28);
    expect(all.data[8]).toBe(0x2a);
    const short = packet([0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 10]);
    expect(short.data.length).toBe(10);
    expect(packet([0x5a, 0, 0x05, 0, 0, 0, 0, 0, 255]).status & STATUS_ERR).toBe(STATUS_ERR);
  });
});

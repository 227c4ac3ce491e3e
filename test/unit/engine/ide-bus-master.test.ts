/**
 * IDE bus-master DMA (main/engine/devices/ide/bus-master.ts) with real drives: an ATA disk on a
 * qcow2 image and an ATAPI CD-ROM on an image file, the PRD table and the data in a guest-RAM
 * stand-in that refuses anything out of range as the PC machine's does. What the guest sees is
 * checked as a driver would: IDENTIFY words 49/63, SET FEATURES 03h, READ/WRITE DMA (EXT) and a
 * DMA PACKET scattering into several regions, then the bus-master status (Active, Interrupt,
 * Error) and the drive's status/error. Hostile tables (outside RAM, too short, no EOT, wrong
 * direction, bus mastering off) end in the Error bit and ABRT, and the channel works after.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AtaDisk,
  AtapiCdrom,
  CD_SECTOR_SIZE,
  ERROR_ABRT,
  IdeChannel,
  STATUS_BSY,
  STATUS_DRQ,
  STATUS_ERR,
} from '../../../main/engine/devices/ide/index.js';
import {
  BM_COMMAND_START,
  BM_COMMAND_TO_MEMORY,
  BM_STATUS_ACTIVE,
  BM_STATUS_ERROR,
  BM_STATUS_INTERRUPT,
  BusMasterChannel,
  busMasterPorts,
  type DmaMemory,
} from '../../../main/engine/devices/ide/bus-master.js';
import { createImage, openImage } from '../../../main/engine/storage/index.js';
import { IrqRecorder, readPort, writePort } from './irq-recorder.js';

const MiB = 1024 * 1024;
const RAM_BYTES = 4 * MiB;

/** Guest RAM: a byte array that refuses any access past its end, as the machine's check does. */
function guestRam(): { bytes: Uint8Array; memory: DmaMemory } {
  const bytes = new Uint8Array(RAM_BYTES);
  const check = (address: number, length: number) => {
    if (address < 0 || address + length > RAM_BYTES) throw new RangeError('not RAM');
  };
  return {
    bytes,
    memory: {
      read: (address, into) => {
        check(address, into.length);
        into.set(bytes.subarray(address, address + into.length));
      },
      write: (address, from) => {
        check(address, from.length);
        bytes.set(from, address);
      },
    },
  };
}

/** A PRD table at `at`: each region [address, bytes], EOT on the last unless `eot` is false. */
function writePrdTable(
  bytes: Uint8Array,
  at: number,
  regions: [number, number][],
  eot = true,
): void {
  const view = new DataView(bytes.buffer);
  regions.forEach(([address, count], i) => {
    view.setUint32(at + i * 8, address, true);
    const last = i === regions.length - 1;
    view.setUint32(at + i * 8 + 4, (count & 0xffff) | (last && eot ? 0x8000_0000 : 0), true);
  });
}

async function setup(drives: 'disk' | 'cdrom', options: { master?: boolean } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-bm-'));
  const ram = guestRam();
  let masterEnabled = options.master ?? true;
  const busMaster = new BusMasterChannel(ram.memory, () => masterEnabled);
  const bmPorts = busMasterPorts([busMaster, new BusMasterChannel(ram.memory, () => false)]);
  const irq = new IrqRecorder();
  let disk: AtaDisk | undefined;
  let imagePath = '';
  let isoBytes = new Uint8Array(0);
  let channel: IdeChannel;
  if (drives === 'disk') {
    imagePath = path.join(dir, 'disk.qcow2');
    await createImage({ path: imagePath, format: 'qcow2', size: 16 * MiB });
    disk = new AtaDisk(await openImage(imagePath));
    channel = new IdeChannel({ irq, drives: [disk, undefined], busMaster });
  } else {
    // Every 2 KiB sector holds its LBA in its first 4 bytes, then bytes that depend on it.
    isoBytes = new Uint8Array(64 * CD_SECTOR_SIZE);
    for (let i = 0; i < isoBytes.length; i++) isoBytes[i] = (i * 7 + (i >> 11)) & 0xff;
    for (let lba = 0; lba < 64; lba++)
      new DataView(isoBytes.buffer).setUint32(lba * CD_SECTOR_SIZE, lba, true);
    const iso = path.join(dir, 'disc.iso');
    writeFileSync(iso, isoBytes);
    const cdrom = new AtapiCdrom();
    cdrom.insert(iso);
    cdrom.reset();
    channel = new IdeChannel({ irq, drives: [cdrom, undefined], busMaster });
  }
  const cmd = channel.commandPorts;
  const bmStatus = () => readPort(bmPorts, 2);
  /** Waits, as a driver's interrupt handler would, for the drive to leave BSY. */
  const settled = async () => {
    // Bounded by time: on a loaded machine the image I/O can outlast 10,000 event-loop turns.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const s = readPort(channel.controlPorts, 0);
      if (!(s & STATUS_BSY)) return s;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error('the drive stayed busy');
  };
  /** Linux's ata_bmdma_setup + exec + start: table, direction, command, Start. */
  const startDma = (table: number, toMemory: boolean, issue: () => void) => {
    writePort(bmPorts, 4, table, 4);
    writePort(bmPorts, 0, toMemory ? BM_COMMAND_TO_MEMORY : 0);
    writePort(bmPorts, 2, BM_STATUS_INTERRUPT | BM_STATUS_ERROR); // clear both (write 1)
    issue();
    writePort(bmPorts, 0, (toMemory ? BM_COMMAND_TO_MEMORY : 0) | BM_COMMAND_START);
  };
  const lba28 = (command: number, lba: number, count: number) => {
    writePort(cmd, 2, count & 0xff);
    writePort(cmd, 3, lba & 0xff);
    writePort(cmd, 4, (lba >> 8) & 0xff);
    writePort(cmd, 5, (lba >> 16) & 0xff);
    writePort(cmd, 6, 0xe0 | ((lba >> 24) & 0x0f));
    writePort(cmd, 7, command);
  };
  const identify = async (command: number) => {
    writePort(cmd, 7, command);
    await settled();
    const words = new Uint16Array(256);
    for (let i = 0; i < 256; i++) words[i] = readPort(cmd, 0, 2);
    return words;
  };
  const setTransferMode = async (value: number) => {
    writePort(cmd, 1, 0x03);
    writePort(cmd, 2, value);
    writePort(cmd, 7, 0xef);
    return settled();
  };
  /** A READ(10) of `count` sectors from `lba` as a DMA PACKET. */
  const packetRead10 = (lba: number, count: number) => {
    writePort(cmd, 1, 0x01); // features: DMA
    writePort(cmd, 7, 0xa0);
    const cdb = new Uint8Array(12);
    cdb[0] = 0x28;
    new DataView(cdb.buffer).setUint32(2, lba);
    new DataView(cdb.buffer).setUint16(7, count);
    for (let i = 0; i < 12; i += 2) writePort(cmd, 0, cdb[i]! | (cdb[i + 1]! << 8), 2);
  };
  return {
    dir,
    ram,
    irq,
    disk,
    imagePath,
    isoBytes,
    cmd,
    bmPorts,
    bmStatus,
    settled,
    startDma,
    lba28,
    identify,
    setTransferMode,
    packetRead10,
    setMasterEnabled: (on: boolean) => {
      masterEnabled = on;
    },
    error: () => readPort(cmd, 1),
    deviceControl: (value: number) => writePort(channel.controlPorts, 0, value),
    status: () => readPort(cmd, 7),
  };
}

describe('IDE bus-master DMA', () => {
  it('offers multiword DMA 0-2 in IDENTIFY and selects a mode with SET FEATURES 03h', async () => {
    const t = await setup('disk');
    let words = await t.identify(0xec);
    expect(words[49]! & 0x0100).toBe(0x0100);
    expect(words[63]).toBe(0x0007);
    expect((await t.setTransferMode(0x22)) & STATUS_ERR).toBe(0);
    words = await t.identify(0xec);
    expect(words[63]).toBe(0x0407); // mode 2 selected (bit 10)
    // Ultra DMA 2 and multiword mode 3 do not exist here: aborted, the selection kept.
    await t.setTransferMode(0x42);
    expect(t.status() & STATUS_ERR).toBe(STATUS_ERR);
    expect(t.error() & ERROR_ABRT).toBe(ERROR_ABRT);
    await t.setTransferMode(0x23);
    expect(t.status() & STATUS_ERR).toBe(STATUS_ERR);
    expect((await t.identify(0xec))[63]).toBe(0x0407);
  });

  it('a channel without a bus master reports no DMA and aborts DMA commands', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vireo-bm-'));
    const file = path.join(dir, 'd.raw');
    await createImage({ path: file, format: 'raw', size: MiB });
    const irq = new IrqRecorder();
    const channel = new IdeChannel({
      irq,
      drives: [new AtaDisk(await openImage(file)), undefined],
    });
    writePort(channel.commandPorts, 7, 0xec);
    const words = new Uint16Array(256);
    for (let i = 0; i < 256; i++) words[i] = readPort(channel.commandPorts, 0, 2);
    expect(words[49]! & 0x0100).toBe(0);
    expect(words[63]).toBe(0);
    writePort(channel.commandPorts, 6, 0xe0);
    writePort(channel.commandPorts, 2, 1);
    writePort(channel.commandPorts, 7, 0xc8);
    expect(readPort(channel.commandPorts, 7) & STATUS_ERR).toBe(STATUS_ERR);
    expect(readPort(channel.commandPorts, 1) & ERROR_ABRT).toBe(ERROR_ABRT);
  });

  it('WRITE DMA then READ DMA move sectors through scattered regions; qemu-img agrees', async () => {
    const t = await setup('disk');
    const data = new Uint8Array(24 * 512);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13 + (i >> 9)) & 0xff;
    // Source regions out of order and not whole sectors (only even byte counts, as the PRD
    // format allows): sectors straddle regions.
    const regions: [number, number][] = [
      [0x100000, 4000],
      [0x200000, 6000],
      [0x3000, 2288],
    ];
    let at = 0;
    for (const [address, count] of regions) {
      t.ram.bytes.set(data.subarray(at, at + count), address);
      at += count;
    }
    writePrdTable(t.ram.bytes, 0x1000, regions);
    const edgesBefore = t.irq.risingEdges;
    t.startDma(0x1000, false, () => t.lba28(0xca, 100, 24));
    expect(t.status() & STATUS_BSY).toBe(STATUS_BSY);
    const s = await t.settled();
    expect(s & (STATUS_ERR | STATUS_DRQ)).toBe(0);
    // Exactly filled with EOT: Interrupt set, Active clear.
    expect(t.bmStatus() & (BM_STATUS_ACTIVE | BM_STATUS_INTERRUPT | BM_STATUS_ERROR)).toBe(
      BM_STATUS_INTERRUPT,
    );
    expect(t.irq.risingEdges).toBe(edgesBefore + 1);
    writePort(t.bmPorts, 0, 0); // the driver stops the engine

    // Read it back into two regions, the second larger than the rest of the data: Active
    // stays set until the driver stops the engine.
    writePrdTable(t.ram.bytes, 0x2000, [
      [0x300000, 1000],
      [0x300000 + 1000, 0], // 0 = 64 KiB
    ]);
    t.startDma(0x2000, true, () => t.lba28(0xc8, 100, 24));
    await t.settled();
    expect(t.status() & STATUS_ERR).toBe(0);
    expect(t.bmStatus() & (BM_STATUS_ACTIVE | BM_STATUS_INTERRUPT)).toBe(
      BM_STATUS_ACTIVE | BM_STATUS_INTERRUPT,
    );
    writePort(t.bmPorts, 0, BM_COMMAND_TO_MEMORY); // stop
    expect(t.bmStatus() & BM_STATUS_ACTIVE).toBe(0);
    expect(t.ram.bytes.subarray(0x300000, 0x300000 + data.length)).toEqual(data);
    expect(t.disk!.stats.readBytes).toBe(data.length);
    expect(t.disk!.stats.writeBytes).toBe(data.length);

    await t.disk!.image.flush();
    await t.disk!.image.close();
    const raw = path.join(t.dir, 'check.raw');
    execFileSync('qemu-img', ['convert', '-O', 'raw', t.imagePath, raw]);
    expect(readFileSync(raw).subarray(100 * 512, 124 * 512)).toEqual(Buffer.from(data));
  });

  it('a DMA PACKET READ(10) scatters disc sectors into the PRD regions', async () => {
    const t = await setup('cdrom');
    // The inserted disc reports UNIT ATTENTION once; a driver clears it with TEST UNIT READY.
    writePort(t.cmd, 1, 0);
    writePort(t.cmd, 7, 0xa0);
    for (let i = 0; i < 6; i++) writePort(t.cmd, 0, 0, 2);
    await t.settled();
    writePrdTable(t.ram.bytes, 0x1000, [
      [0x10000, 2048],
      [0x40000, 0], // 64 KiB, more than the rest
    ]);
    t.startDma(0x1000, true, () => t.packetRead10(5, 3));
    await t.settled();
    expect(t.status() & (STATUS_ERR | STATUS_DRQ)).toBe(0);
    expect(readPort(t.cmd, 2)).toBe(0x03); // interrupt reason IO|CoD: command complete
    const expected = t.isoBytes.subarray(5 * CD_SECTOR_SIZE, 8 * CD_SECTOR_SIZE);
    expect(t.ram.bytes.subarray(0x10000, 0x10000 + 2048)).toEqual(expected.subarray(0, 2048));
    expect(t.ram.bytes.subarray(0x40000, 0x40000 + 4096)).toEqual(expected.subarray(2048));
    expect(t.bmStatus() & BM_STATUS_INTERRUPT).toBe(BM_STATUS_INTERRUPT);
  });

  it('hostile tables end in the Error bit and an aborted command; the channel works after', async () => {
    const t = await setup('disk');
    const expectDmaError = async () => {
      await t.settled();
      expect(t.status() & STATUS_ERR).toBe(STATUS_ERR);
      expect(t.error() & ERROR_ABRT).toBe(ERROR_ABRT);
      expect(t.bmStatus() & (BM_STATUS_ERROR | BM_STATUS_ACTIVE)).toBe(BM_STATUS_ERROR);
      writePort(t.bmPorts, 0, 0);
    };
    // The table itself past the end of RAM.
    t.startDma(RAM_BYTES - 4, true, () => t.lba28(0xc8, 0, 1));
    await expectDmaError();
    // A region that runs past the end of RAM.
    writePrdTable(t.ram.bytes, 0x1000, [[RAM_BYTES - 256, 512]]);
    t.startDma(0x1000, true, () => t.lba28(0xc8, 0, 1));
    await expectDmaError();
    expect(t.ram.bytes.subarray(RAM_BYTES - 256).every((b) => b === 0)).toBe(true);
    // A table whose EOT comes before the data is all moved.
    writePrdTable(t.ram.bytes, 0x1000, [[0x10000, 512]]);
    t.startDma(0x1000, true, () => t.lba28(0xc8, 0, 4));
    await expectDmaError();
    // A table with no EOT at all: 8192 tiny entries, then refused, not walked forever.
    const view = new DataView(t.ram.bytes.buffer);
    for (let i = 0; i < 8192; i++) {
      view.setUint32(0x20000 + i * 8, 0x10000, true);
      view.setUint32(0x20000 + i * 8 + 4, 2, true);
    }
    t.startDma(0x20000, true, () => t.lba28(0xc8, 0, 64));
    await expectDmaError();
    // The direction bit says "from memory" for a read command.
    writePrdTable(t.ram.bytes, 0x1000, [[0x10000, 512]]);
    t.startDma(0x1000, false, () => t.lba28(0xc8, 0, 1));
    await expectDmaError();
    // Bus Master Enable off in PCI config: nothing moves.
    t.setMasterEnabled(false);
    t.startDma(0x1000, true, () => t.lba28(0xc8, 0, 1));
    await expectDmaError();
    t.setMasterEnabled(true);

    // Still a working drive: a good READ DMA moves its sector.
    t.ram.bytes.fill(0xee, 0x10000, 0x10000 + 512);
    t.startDma(0x1000, true, () => t.lba28(0xc8, 0, 1));
    await t.settled();
    expect(t.status() & STATUS_ERR).toBe(0);
    expect(t.ram.bytes.subarray(0x10000, 0x10000 + 512).every((b) => b === 0)).toBe(true);
    expect(t.bmStatus() & (BM_STATUS_ERROR | BM_STATUS_ACTIVE | BM_STATUS_INTERRUPT)).toBe(
      BM_STATUS_INTERRUPT,
    );
  });

  it('publishes the alternate status on every change, for the vCPU thread to answer', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vireo-bm-'));
    const file = path.join(dir, 'd.qcow2');
    await createImage({ path: file, format: 'qcow2', size: MiB });
    const published: number[] = [];
    const channel = new IdeChannel({
      irq: new IrqRecorder(),
      drives: [new AtaDisk(await openImage(file)), undefined],
      publishAltStatus: (v) => published.push(v),
    });
    const alt = () => readPort(channel.controlPorts, 0);
    expect(published.at(-1)).toBe(alt());
    writePort(channel.commandPorts, 6, 0xe0);
    writePort(channel.commandPorts, 2, 2);
    writePort(channel.commandPorts, 7, 0x20); // READ SECTORS: BSY while the image reads
    expect(published.at(-1)! & STATUS_BSY).toBe(STATUS_BSY);
    for (let i = 0; i < 1000 && alt() & STATUS_BSY; i++) await new Promise((r) => setImmediate(r));
    // The asynchronous completion (DRQ for the first sector) was published too.
    expect(published.at(-1)).toBe(alt());
    expect(alt() & STATUS_DRQ).toBe(STATUS_DRQ);
    const sector = new Uint8Array(512);
    channel.commandPorts.readString!(0, 2, sector);
    for (let i = 0; i < 1000 && alt() & STATUS_BSY; i++) await new Promise((r) => setImmediate(r));
    expect(published.at(-1)).toBe(alt());
    // Selecting the absent drive 1 reads 0, and that is what is published.
    writePort(channel.commandPorts, 6, 0xf0);
    expect(alt()).toBe(0);
    expect(published.at(-1)).toBe(0);
  });

  it('a command waits for Start, and a channel reset drops a transfer not yet started', async () => {
    const t = await setup('disk');
    writePrdTable(t.ram.bytes, 0x1000, [[0x10000, 512]]);
    t.ram.bytes.fill(0xaa, 0x10000, 0x10000 + 512);
    writePort(t.bmPorts, 4, 0x1000, 4);
    writePort(t.bmPorts, 0, BM_COMMAND_TO_MEMORY);
    t.lba28(0xc8, 0, 1);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(t.status() & STATUS_BSY).toBe(STATUS_BSY); // no Start yet: nothing moved
    expect(t.ram.bytes[0x10000]).toBe(0xaa);
    // SRST: the drive resets; a Start afterwards finds no transfer to run.
    t.deviceControl(0x04);
    t.deviceControl(0x00);
    writePort(t.bmPorts, 0, BM_COMMAND_TO_MEMORY | BM_COMMAND_START);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(t.ram.bytes[0x10000]).toBe(0xaa);
    expect(t.status() & STATUS_BSY).toBe(0);
  });
});

/**
 * An IDE (parallel ATA) channel in PIO mode: the command block (8 ports from 0x1F0 or 0x170)
 * and the control block (0x3F6 or 0x376), two drive positions (device 0 "master" and device 1
 * "slave"), one ISA interrupt (14 or 15). Its drives today are ATAPI CD-ROMs (./atapi-cdrom.ts);
 * an ATA hard disk on the same channel comes with the disks work.
 *
 * The protocol is ATA/ATAPI-6 (T13/1410D) and SFF-8020i:
 *   - registers (§7): data 0, error/features 1, sector count / interrupt reason 2,
 *     LBA low 3, LBA mid / byte count low 4, LBA high / byte count high 5, device 6,
 *     status/command 7; alternate status / device control in the control block;
 *   - commands to an ATAPI device (§8): DEVICE RESET 08h, IDENTIFY PACKET DEVICE A1h, PACKET
 *     A0h, EXECUTE DEVICE DIAGNOSTIC 90h, SET FEATURES EFh, CHECK POWER MODE E5h, IDLE/STANDBY
 *     IMMEDIATE E1h/E0h, NOP 00h; IDENTIFY DEVICE ECh is aborted with the ATAPI signature in
 *     the task file (§8.15.7), which is how drivers tell a CD-ROM from a disk;
 *   - PACKET (§9.9, the PIO data-in protocol of §9.10): DRQ with interrupt reason CoD for the
 *     12-byte CDB (DRQ within 50 us, no interrupt), then each data block of at most the byte
 *     count limit the host put in LBA mid/high, each announced by INTRQ with reason IO, then
 *     completion with reason IO|CoD;
 *   - software reset (SRST in device control) puts the signature (sector count 1, LBA low 1,
 *     LBA mid 14h, LBA high EBh for ATAPI) in the task file (§9.2).
 *
 * Registers the drive that is not there would answer read as 0, so probing (write 55h/AAh to
 * sector count / LBA low and read back, as SeaBIOS's ata_detect and Linux's ata_devchk do)
 * finds nothing. Only PIO is offered: IDENTIFY reports no DMA modes and a PACKET asking for
 * DMA is aborted.
 *
 * The interrupt is an edge on the ISA line: raised when the device sets INTRQ with nIEN clear,
 * dropped when the host reads the status register (not alternate status) or sets nIEN.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice, IrqLine } from '../../bus.js';
import type { AtapiCdrom} from './atapi-cdrom.js';
import { type AtapiData } from './atapi-cdrom.js';

export { AtapiCdrom, CD_SECTOR_SIZE } from './atapi-cdrom.js';

export const IDE_PRIMARY = { commandBase: 0x1f0, controlBase: 0x3f6, irq: 14 } as const;
export const IDE_SECONDARY = { commandBase: 0x170, controlBase: 0x376, irq: 15 } as const;
export const IDE_COMMAND_PORT_COUNT = 8;
export const IDE_CONTROL_PORT_COUNT = 1;

/** Status register bits (§7.15). */
export const STATUS_BSY = 0x80;
export const STATUS_DRDY = 0x40;
export const STATUS_DSC = 0x10;
export const STATUS_DRQ = 0x08;
export const STATUS_ERR = 0x01;
/** Error register: command aborted. */
export const ERROR_ABRT = 0x04;
/** Device control bits. */
const CONTROL_NIEN = 0x02;
const CONTROL_SRST = 0x04;
/** Interrupt reason bits in the sector count register during PACKET (SFF-8020i §5.3). */
const REASON_COD = 0x01;
const REASON_IO = 0x02;
const DEVICE_DEV1 = 0x10;

const CMD_NOP = 0x00;
const CMD_DEVICE_RESET = 0x08;
const CMD_EXECUTE_DIAGNOSTIC = 0x90;
const CMD_PACKET = 0xa0;
const CMD_IDENTIFY_PACKET = 0xa1;
const CMD_STANDBY_IMMEDIATE = 0xe0;
const CMD_IDLE_IMMEDIATE = 0xe1;
const CMD_CHECK_POWER_MODE = 0xe5;
const CMD_IDENTIFY = 0xec;
const CMD_SET_FEATURES = 0xef;

const CDB_SIZE = 12;
/** The largest PIO data block: a byte count limit of 0 or FFFFh means this (SFF-8020i §5.3). */
const MAX_BLOCK = 0xfffe;

type Phase =
  | { kind: 'idle' }
  /** The host reads `buffer` (IDENTIFY data, or one ATAPI block) from the data port. */
  | { kind: 'data-in'; buffer: Uint8Array; position: number; after: () => void }
  /** The host writes the CDB of a PACKET command. */
  | { kind: 'cdb'; buffer: Uint8Array; position: number };

export interface IdeChannelOptions {
  irq: IrqLine;
  drives: [AtapiCdrom | undefined, AtapiCdrom | undefined];
  /** Figures for the VM's statistics; called per completed PACKET read. */
  onRead?: (bytes: number) => void;
}

export class IdeChannel {
  // The task file is shared by both drives on the cable: a write reaches both (§7.1).
  private features = 0;
  private sectorCount = 0;
  private lbaLow = 0;
  private lbaMid = 0;
  private lbaHigh = 0;
  private device = 0xa0;
  private control = 0;
  private readonly status: [number, number] = [STATUS_DRDY | STATUS_DSC, 0];
  private readonly error: [number, number] = [0, 0];
  private phase: Phase = { kind: 'idle' };
  private interruptPending = false;
  private lineLevel = false;
  private readonly irq: IrqLine;
  readonly drives: [AtapiCdrom | undefined, AtapiCdrom | undefined];
  private readonly onRead: ((bytes: number) => void) | undefined;
  /** The device and control port blocks to put on the port bus. */
  readonly commandPorts: BusDevice;
  readonly controlPorts: BusDevice;

  constructor(options: IdeChannelOptions) {
    this.irq = options.irq;
    this.drives = options.drives;
    this.onRead = options.onRead;
    this.commandPorts = {
      read: (offset, data) => this.readCommand(offset, data),
      write: (offset, data) => this.writeCommand(offset, data),
    };
    this.controlPorts = {
      read: (_offset, data) => data.fill(this.currentStatus()),
      write: (_offset, data) => this.writeControl(data[0]!),
    };
    this.resetDrives();
  }

  private get selected(): 0 | 1 {
    return this.device & DEVICE_DEV1 ? 1 : 0;
  }

  private get drive(): AtapiCdrom | undefined {
    return this.drives[this.selected];
  }

  private currentStatus(): number {
    return this.drive ? this.status[this.selected] : 0;
  }

  private setInterrupt(pending: boolean): void {
    this.interruptPending = pending;
    const level = pending && !(this.control & CONTROL_NIEN);
    if (level !== this.lineLevel) {
      this.lineLevel = level;
      this.irq.set(level);
    }
  }

  private readCommand(offset: number, data: Uint8Array): void {
    if (offset === 0) {
      this.readData(data);
      return;
    }
    let value: number;
    if (!this.drive) {
      // Nobody answers for an absent drive but the device register the host just wrote.
      value = offset === 6 ? this.device : 0;
    } else {
      switch (offset) {
        case 1:
          value = this.error[this.selected];
          break;
        case 2:
          value = this.sectorCount;
          break;
        case 3:
          value = this.lbaLow;
          break;
        case 4:
          value = this.lbaMid;
          break;
        case 5:
          value = this.lbaHigh;
          break;
        case 6:
          value = this.device;
          break;
        default: // 7: status; reading it acknowledges the interrupt (§7.15)
          value = this.status[this.selected];
          this.setInterrupt(false);
      }
    }
    data.fill(0);
    data[0] = value;
  }

  private writeCommand(offset: number, data: Uint8Array): void {
    if (offset === 0) {
      this.writeData(data);
      return;
    }
    const value = data[0]!;
    switch (offset) {
      case 1:
        this.features = value;
        return;
      case 2:
        this.sectorCount = value;
        return;
      case 3:
        this.lbaLow = value;
        return;
      case 4:
        this.lbaMid = value;
        return;
      case 5:
        this.lbaHigh = value;
        return;
      case 6:
        this.device = value;
        return;
      default:
        this.command(value);
    }
  }

  private writeControl(value: number): void {
    const wasReset = (this.control & CONTROL_SRST) !== 0;
    this.control = value;
    if (value & CONTROL_SRST) {
      // Held in reset: both drives busy until SRST is released.
      this.status[0] = this.drives[0] ? STATUS_BSY : 0;
      this.status[1] = this.drives[1] ? STATUS_BSY : 0;
      this.phase = { kind: 'idle' };
    } else if (wasReset) {
      this.resetDrives();
    }
    // nIEN masks the line without forgetting the pending interrupt.
    this.setInterrupt(this.interruptPending);
  }

  private resetDrives(): void {
    this.phase = { kind: 'idle' };
    for (const i of [0, 1] as const) {
      this.status[i] = this.drives[i] ? STATUS_DRDY | STATUS_DSC : 0;
      this.error[i] = 0x01; // diagnostic code: no error detected
    }
    this.setSignature();
    this.device &= ~DEVICE_DEV1; // device 0 is selected after a reset (§9.2)
    this.setInterrupt(false);
  }

  /** The ATAPI signature (§9.12). */
  private setSignature(): void {
    this.sectorCount = 1;
    this.lbaLow = 1;
    this.lbaMid = 0x14;
    this.lbaHigh = 0xeb;
  }

  private complete(ok: boolean, error = 0): void {
    const i = this.selected;
    this.phase = { kind: 'idle' };
    this.status[i] = STATUS_DRDY | STATUS_DSC | (ok ? 0 : STATUS_ERR);
    this.error[i] = ok ? 0 : error;
    this.setInterrupt(true);
  }

  private command(code: number): void {
    const drive = this.drive;
    // Commands to an absent drive are ignored, as a real cable with nobody there would.
    if (!drive) return;
    const i = this.selected;
    if (this.status[i] & STATUS_BSY) return;
    switch (code) {
      case CMD_IDENTIFY_PACKET:
        this.startDataIn(identifyPacketDevice(drive), () => this.finishDataIn());
        return;
      case CMD_IDENTIFY:
        // Not an ATA disk: abort, with the signature that says what we are.
        this.setSignature();
        this.complete(false, ERROR_ABRT);
        return;
      case CMD_PACKET:
        if (this.features & 0x01) {
          // DMA requested, but this controller has no bus-master engine.
          this.complete(false, ERROR_ABRT);
          return;
        }
        this.phase = { kind: 'cdb', buffer: new Uint8Array(CDB_SIZE), position: 0 };
        this.sectorCount = REASON_COD;
        this.status[i] = STATUS_DRDY | STATUS_DSC | STATUS_DRQ;
        return;
      case CMD_DEVICE_RESET:
        drive.reset();
        this.setSignature();
        this.status[i] = 0;
        this.error[i] = 0x01;
        this.phase = { kind: 'idle' };
        return;
      case CMD_EXECUTE_DIAGNOSTIC:
        this.setSignature();
        this.error[i] = 0x01;
        this.status[i] = STATUS_DRDY | STATUS_DSC;
        this.setInterrupt(true);
        return;
      case CMD_CHECK_POWER_MODE:
        this.sectorCount = 0xff; // active or idle
        this.complete(true);
        return;
      case CMD_SET_FEATURES:
      case CMD_IDLE_IMMEDIATE:
      case CMD_STANDBY_IMMEDIATE:
      case CMD_NOP:
        // NOP always aborts (§8.22); the others have nothing to change for an image.
        this.complete(code !== CMD_NOP, ERROR_ABRT);
        return;
      default:
        this.complete(false, ERROR_ABRT);
    }
  }

  private startDataIn(buffer: Uint8Array, after: () => void): void {
    this.phase = { kind: 'data-in', buffer, position: 0, after };
    this.status[this.selected] = STATUS_DRDY | STATUS_DSC | STATUS_DRQ;
    this.setInterrupt(true);
  }

  private finishDataIn(): void {
    this.phase = { kind: 'idle' };
    this.status[this.selected] = STATUS_DRDY | STATUS_DSC;
  }

  private readData(data: Uint8Array): void {
    const phase = this.phase;
    if (phase.kind !== 'data-in') {
      data.fill(0xff); // no DRQ: the bus floats
      return;
    }
    const n = Math.min(data.length, phase.buffer.length - phase.position);
    data.set(phase.buffer.subarray(phase.position, phase.position + n));
    data.fill(0xff, n);
    phase.position += n;
    if (phase.position >= phase.buffer.length) phase.after();
  }

  private writeData(data: Uint8Array): void {
    const phase = this.phase;
    if (phase.kind !== 'cdb') return; // no DRQ for data-out: dropped
    const n = Math.min(data.length, CDB_SIZE - phase.position);
    phase.buffer.set(data.subarray(0, n), phase.position);
    phase.position += n;
    if (phase.position >= CDB_SIZE) this.runPacket(phase.buffer);
  }

  private runPacket(cdb: Uint8Array): void {
    const drive = this.drive!;
    const result = drive.execute(cdb);
    if (!result.ok) {
      // CHECK CONDITION: the sense key in error bits 7:4, ERR in status (SFF-8020i §5.4).
      this.sectorCount = REASON_IO | REASON_COD;
      this.complete(false, (result.sense.key << 4) | ERROR_ABRT);
      return;
    }
    if (!result.data || result.data.length === 0) {
      this.sectorCount = REASON_IO | REASON_COD;
      this.complete(true);
      return;
    }
    let limit = this.lbaMid | (this.lbaHigh << 8);
    if (limit === 0 || limit > MAX_BLOCK) limit = MAX_BLOCK;
    limit &= ~1; // blocks are whole words
    this.sendBlock(result.data, 0, limit);
  }

  /** One DRQ block of packet data from `offset`, then the next, then completion. */
  private sendBlock(data: AtapiData, offset: number, limit: number): void {
    const length = Math.min(limit, data.length - offset);
    const buffer = new Uint8Array(length);
    data.read(offset, buffer);
    this.lbaMid = length & 0xff;
    this.lbaHigh = length >> 8;
    this.sectorCount = REASON_IO;
    this.startDataIn(buffer, () => {
      const next = offset + length;
      this.onRead?.(length);
      if (next < data.length) {
        this.sendBlock(data, next, limit);
      } else {
        this.sectorCount = REASON_IO | REASON_COD;
        this.complete(true);
      }
    });
  }
}

/** IDENTIFY PACKET DEVICE data (ATA/ATAPI-6 §8.16), 256 words. */
export function identifyPacketDevice(drive: AtapiCdrom): Uint8Array {
  const words = new Uint16Array(256);
  // ATAPI, CD-ROM device type (5), removable, DRQ within 50 us, 12-byte packets.
  words[0] = 0x8000 | (0x05 << 8) | 0x80 | (0x2 << 5);
  putString(words, 10, 20, drive.serial);
  putString(words, 23, 8, '1.0');
  putString(words, 27, 40, drive.model);
  words[49] = 0x0200; // LBA supported; no DMA
  words[53] = 0x0002; // words 64-70 valid
  words[64] = 0x0003; // PIO modes 3 and 4
  words[65] = 120; // cycle times, ns
  words[66] = 120;
  words[67] = 120;
  words[68] = 120;
  words[80] = 0x007e; // ATA/ATAPI-1 to -6
  const bytes = new Uint8Array(512);
  for (let i = 0; i < 256; i++) {
    bytes[i * 2] = words[i]! & 0xff;
    bytes[i * 2 + 1] = words[i]! >> 8;
  }
  return bytes;
}

/** ATA strings: two characters per word, the first in the high byte, space-padded (§8.15). */
function putString(words: Uint16Array, first: number, chars: number, text: string): void {
  for (let i = 0; i < chars; i += 2) {
    const a = i < text.length ? text.charCodeAt(i) & 0x7f : 0x20;
    const b = i + 1 < text.length ? text.charCodeAt(i + 1) & 0x7f : 0x20;
    words[first + i / 2] = (a << 8) | b;
  }
}

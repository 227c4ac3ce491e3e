/**
 * An IDE (parallel ATA) channel: the command block (8 ports from 0x1F0 or 0x170)
 * and the control block (0x3F6 or 0x376), two drive positions (device 0 "master" and device 1
 * "slave"), one ISA interrupt (14 or 15). Its drives are ATAPI CD-ROMs (./atapi-cdrom.ts) and
 * ATA hard disks on disk images (./ata-disk.ts; the commands are run here, the drive holds
 * its identity, geometry and image).
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
 *     LBA mid 14h, LBA high EBh for ATAPI; 0/0 for ATA) in the task file (§9.2);
 *   - the task file registers are two deep for 48-bit commands: each write pushes the old
 *     value to the "previous" half, which reads back with HOB set in device control (§6.20).
 *
 * ATA disk commands are ../ide/ata-disk.ts's list; their LBA and count are checked against
 * the image (ID NOT FOUND past the end), their I/O runs asynchronously with BSY set, and a
 * reset while it runs makes its result be dropped.
 *
 * Registers the drive that is not there would answer read as 0, so probing (write 55h/AAh to
 * sector count / LBA low and read back, as SeaBIOS's ata_detect and Linux's ata_devchk do)
 * finds nothing.
 *
 * DMA, when the channel has a bus master (./bus-master.ts, the PIIX3's BAR4): IDENTIFY reports
 * multiword DMA modes 0-2 (word 63; the PIIX3 has no Ultra DMA) and SET FEATURES 03h selects
 * one; READ DMA (EXT) C8h/C9h/25h and WRITE DMA (EXT) CAh/CBh/35h move sectors through the
 * PRD table (the DMA protocol of §9.7: BSY while the data moves, INTRQ at the end), and a
 * PACKET with the DMA bit in features (SFF-8020i §5.3.1) moves its data that way. Without a
 * bus master these are aborted, as a PIO-only controller would.
 *
 * The interrupt is an edge on the ISA line: raised when the device sets INTRQ with nIEN clear,
 * dropped when the host reads the status register (not alternate status) or sets nIEN.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice, IrqLine } from '../../bus.js';
import type { AtapiCdrom, AtapiData } from './atapi-cdrom.js';
import { ATA_SECTOR_SIZE, putString, type AtaDisk } from './ata-disk.js';
import {
  MWDMA_MODES,
  putDmaIdentity,
  type BusMasterChannel,
  type DmaIdentity,
  type DmaOutcome,
} from './bus-master.js';

export { AtapiCdrom, CD_SECTOR_SIZE } from './atapi-cdrom.js';
export { AtaDisk, ATA_SECTOR_SIZE } from './ata-disk.js';

export type IdeDrive = AtapiCdrom | AtaDisk;

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
/** Error register: ID not found (an address past the end), uncorrectable data (I/O failure). */
export const ERROR_IDNF = 0x10;
export const ERROR_UNC = 0x40;
/** Device control bits. */
const CONTROL_NIEN = 0x02;
const CONTROL_SRST = 0x04;
const CONTROL_HOB = 0x80;
const DEVICE_LBA = 0x40;
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
/** SET FEATURES subcommand: set transfer mode from the sector count (§8.37.10). */
const FEATURE_SET_TRANSFER_MODE = 0x03;
/** Transfer mode values in the sector count: 08h+n PIO mode n, 20h+n multiword DMA mode n. */
const TRANSFER_PIO_FLOW_CONTROL = 0x08;
const TRANSFER_MWDMA = 0x20;

const CDB_SIZE = 12;
/** The largest PIO data block: a byte count limit of 0 or FFFFh means this (SFF-8020i §5.3). */
const MAX_BLOCK = 0xfffe;

type Phase =
  | { kind: 'idle' }
  /** The host reads `buffer` (IDENTIFY data, or one ATAPI block) from the data port. */
  | { kind: 'data-in'; buffer: Uint8Array; position: number; after: () => void }
  /** The host writes the CDB of a PACKET command; `dma`: its data moves by DMA. */
  | { kind: 'cdb'; buffer: Uint8Array; position: number; dma: boolean }
  /** The host writes `buffer` (sectors for a disk write). */
  | { kind: 'data-out'; buffer: Uint8Array; position: number; after: (data: Uint8Array) => void };

export interface IdeChannelOptions {
  irq: IrqLine;
  drives: [IdeDrive | undefined, IdeDrive | undefined];
  /** Figures for the VM's statistics; called per completed PACKET read. */
  onRead?: (bytes: number) => void;
  /** The channel's bus-master DMA engine (PIIX3 BAR4); without one the channel is PIO only. */
  busMaster?: BusMasterChannel;
  /**
   * Told the alternate status after every change, so a machine can let the vCPU thread answer
   * its reads from shared memory (bus.ts `sharedRead`): it has no read side effects (§7.3),
   * and firmware polls it between every 2 KiB PIO block.
   */
  publishAltStatus?: (value: number) => void;
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
  readonly drives: [IdeDrive | undefined, IdeDrive | undefined];
  /** The "previous" halves of the 48-bit task file (features, count, LBA low/mid/high). */
  private readonly hob = new Uint8Array(5);
  /** Bumped by every reset: asynchronous disk I/O started before it is dropped. */
  private generation = 0;
  private readonly onRead: ((bytes: number) => void) | undefined;
  private readonly busMaster: BusMasterChannel | undefined;
  private readonly publishAltStatus: ((value: number) => void) | undefined;
  /** The multiword DMA mode SET FEATURES selected per drive, or -1 (IDENTIFY word 63 15:8). */
  private readonly dmaMode: [number, number] = [-1, -1];
  /** The device and control port blocks to put on the port bus. */
  readonly commandPorts: BusDevice;
  readonly controlPorts: BusDevice;

  constructor(options: IdeChannelOptions) {
    this.irq = options.irq;
    this.drives = options.drives;
    this.onRead = options.onRead;
    this.busMaster = options.busMaster;
    this.publishAltStatus = options.publishAltStatus;
    // Every access may change the status or the selected drive: the published alternate status
    // follows (asynchronous completions publish through setInterrupt).
    this.commandPorts = {
      read: (offset, data) => {
        this.readCommand(offset, data);
        this.publish();
      },
      write: (offset, data) => {
        this.writeCommand(offset, data);
        this.publish();
      },
      // `rep insw`/`rep outsw` on the data register: the whole string in one call.
      readString: (offset, size, data) => {
        if (offset === 0) this.readData(data);
        else
          for (let i = 0; i < data.length; i += size)
            this.readCommand(offset, data.subarray(i, i + size));
        this.publish();
      },
      writeString: (offset, size, data) => {
        if (offset === 0) this.writeData(data);
        else
          for (let i = 0; i < data.length; i += size)
            this.writeCommand(offset, data.subarray(i, i + size));
        this.publish();
      },
    };
    this.controlPorts = {
      read: (_offset, data) => data.fill(this.currentStatus()),
      write: (_offset, data) => {
        this.writeControl(data[0]!);
        this.publish();
      },
    };
    this.resetDrives();
    this.publish();
  }

  private publish(): void {
    this.publishAltStatus?.(this.currentStatus());
  }

  private get selected(): 0 | 1 {
    return this.device & DEVICE_DEV1 ? 1 : 0;
  }

  private get drive(): IdeDrive | undefined {
    return this.drives[this.selected];
  }

  private currentStatus(): number {
    return this.drive ? this.status[this.selected] : 0;
  }

  private setInterrupt(pending: boolean): void {
    this.interruptPending = pending;
    if (pending) this.busMaster?.noteInterrupt();
    this.publish();
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
      const hob = (this.control & CONTROL_HOB) !== 0;
      switch (offset) {
        case 1:
          value = hob ? this.hob[0]! : this.error[this.selected];
          break;
        case 2:
          value = hob ? this.hob[1]! : this.sectorCount;
          break;
        case 3:
          value = hob ? this.hob[2]! : this.lbaLow;
          break;
        case 4:
          value = hob ? this.hob[3]! : this.lbaMid;
          break;
        case 5:
          value = hob ? this.hob[4]! : this.lbaHigh;
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
    // A task-file write also clears HOB (§7.9), so the next reads see the current halves.
    if (offset >= 1 && offset <= 5) this.control &= ~CONTROL_HOB;
    switch (offset) {
      case 1:
        this.hob[0] = this.features;
        this.features = value;
        return;
      case 2:
        this.hob[1] = this.sectorCount;
        this.sectorCount = value;
        return;
      case 3:
        this.hob[2] = this.lbaLow;
        this.lbaLow = value;
        return;
      case 4:
        this.hob[3] = this.lbaMid;
        this.lbaMid = value;
        return;
      case 5:
        this.hob[4] = this.lbaHigh;
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
      this.generation++;
      this.busMaster?.cancel();
    } else if (wasReset) {
      this.resetDrives();
    }
    // nIEN masks the line without forgetting the pending interrupt.
    this.setInterrupt(this.interruptPending);
  }

  private resetDrives(): void {
    this.phase = { kind: 'idle' };
    this.generation++;
    this.busMaster?.cancel();
    for (const i of [0, 1] as const) {
      this.status[i] = this.drives[i] ? STATUS_DRDY | STATUS_DSC : 0;
      this.error[i] = 0x01; // diagnostic code: no error detected
      if (this.drives[i]?.kind === 'ata') this.drives[i].reset();
    }
    this.device &= ~DEVICE_DEV1;
    this.setSignature();
    this.device &= ~DEVICE_DEV1; // device 0 is selected after a reset (§9.2)
    this.setInterrupt(false);
  }

  /** The signature of the selected drive (§9.12): 14h/EBh for ATAPI, 0/0 for ATA. */
  private setSignature(): void {
    const atapi = this.drive?.kind !== 'ata';
    this.sectorCount = 1;
    this.lbaLow = 1;
    this.lbaMid = atapi ? 0x14 : 0;
    this.lbaHigh = atapi ? 0xeb : 0;
  }

  /** Ends the command of drive `i` (the selected one unless a DMA finishes later). */
  private complete(ok: boolean, error = 0, i: 0 | 1 = this.selected): void {
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
    if (drive.kind === 'ata') {
      this.ataCommand(drive, code);
      return;
    }
    switch (code) {
      case CMD_IDENTIFY_PACKET:
        this.startDataIn(identifyPacketDevice(drive, this.dmaIdentity(i)), () =>
          this.finishDataIn(),
        );
        return;
      case CMD_IDENTIFY:
        // Not an ATA disk: abort, with the signature that says what we are.
        this.setSignature();
        this.complete(false, ERROR_ABRT);
        return;
      case CMD_PACKET: {
        const dma = (this.features & 0x01) !== 0;
        // DMA asked of a channel with no bus-master engine: abort, as a PIO-only one would.
        if (dma && !this.busMaster) return this.complete(false, ERROR_ABRT);
        this.phase = { kind: 'cdb', buffer: new Uint8Array(CDB_SIZE), position: 0, dma };
        this.sectorCount = REASON_COD;
        this.status[i] = STATUS_DRDY | STATUS_DSC | STATUS_DRQ;
        return;
      }
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
        if (this.features === FEATURE_SET_TRANSFER_MODE)
          return this.complete(this.selectTransferMode(i), ERROR_ABRT);
        return this.complete(true);
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

  private ataCommand(disk: AtaDisk, code: number): void {
    const i = this.selected;
    switch (code) {
      case CMD_IDENTIFY:
        this.startDataIn(disk.identify(this.dmaIdentity(i)), () => this.finishDataIn());
        return;
      case 0xc8: // READ DMA
      case 0xc9: // READ DMA without retries (obsolete alias)
        return this.transferDma(disk, false, false);
      case 0x25: // READ DMA EXT
        return this.transferDma(disk, false, true);
      case 0xca: // WRITE DMA
      case 0xcb: // WRITE DMA without retries
        return this.transferDma(disk, true, false);
      case 0x35: // WRITE DMA EXT
        return this.transferDma(disk, true, true);
      case 0x20:
      case 0x21:
        return this.transfer(disk, false, false, 1);
      case 0x24:
        return this.transfer(disk, false, true, 1);
      case 0xc4:
      case 0x29:
        if (!disk.multiple) return this.complete(false, ERROR_ABRT);
        return this.transfer(disk, false, code === 0x29, disk.multiple);
      case 0x30:
      case 0x31:
        return this.transfer(disk, true, false, 1);
      case 0x34:
        return this.transfer(disk, true, true, 1);
      case 0xc5:
      case 0x39:
        if (!disk.multiple) return this.complete(false, ERROR_ABRT);
        return this.transfer(disk, true, code === 0x39, disk.multiple);
      case 0x40:
      case 0x41:
      case 0x42: {
        const { lba, count } = this.address(disk, code === 0x42);
        const ok = lba >= 0 && lba + count <= disk.sectors;
        return this.complete(ok, ERROR_IDNF);
      }
      case 0xe7:
      case 0xea: {
        this.status[i] = STATUS_BSY;
        const generation = this.generation;
        disk.stats.flushes++;
        disk.image.flush().then(
          () => generation === this.generation && this.complete(true),
          () => generation === this.generation && this.complete(false, ERROR_ABRT),
        );
        return;
      }
      case 0xc6: {
        // SET MULTIPLE MODE: a power of two up to MAX_MULTIPLE, or 0 to turn it off.
        const n = this.sectorCount;
        const ok = n === 0 || (n <= 16 && (n & (n - 1)) === 0);
        if (ok) disk.multiple = n;
        return this.complete(ok, ERROR_ABRT);
      }
      case 0x91: // INITIALIZE DEVICE PARAMETERS: the CHS translation the host wants
        if (this.sectorCount === 0) return this.complete(false, ERROR_ABRT);
        disk.sectorsPerTrack = this.sectorCount;
        disk.heads = (this.device & 0x0f) + 1;
        return this.complete(true);
      case CMD_SET_FEATURES:
        if (this.features === 0x02) disk.writeCache = true;
        else if (this.features === 0x82) disk.writeCache = false;
        else if (this.features === FEATURE_SET_TRANSFER_MODE)
          return this.complete(this.selectTransferMode(i), ERROR_ABRT);
        return this.complete(true);
      case CMD_EXECUTE_DIAGNOSTIC:
        this.setSignature();
        this.error[i] = 0x01;
        this.status[i] = STATUS_DRDY | STATUS_DSC;
        this.setInterrupt(true);
        return;
      case CMD_CHECK_POWER_MODE:
        this.sectorCount = 0xff;
        return this.complete(true);
      case CMD_IDLE_IMMEDIATE:
      case CMD_STANDBY_IMMEDIATE:
      case 0xe2: // STANDBY
      case 0xe3: // IDLE
        return this.complete(true);
      default:
        // RECALIBRATE (1xh) and SEEK (7xh) are obsolete no-ops that must succeed.
        if ((code & 0xf0) === 0x10 || (code & 0xf0) === 0x70) return this.complete(true);
        // IDENTIFY PACKET, PACKET, DEVICE RESET and anything unknown: not for a disk.
        this.complete(false, ERROR_ABRT);
    }
  }

  /** LBA and sector count of the current command (LBA28/CHS or LBA48). */
  private address(disk: AtaDisk, ext: boolean): { lba: number; count: number } {
    if (ext) {
      const lba =
        this.lbaLow +
        this.lbaMid * 2 ** 8 +
        this.lbaHigh * 2 ** 16 +
        this.hob[2]! * 2 ** 24 +
        this.hob[3]! * 2 ** 32 +
        this.hob[4]! * 2 ** 40;
      const count = this.sectorCount | (this.hob[1]! << 8);
      return { lba, count: count === 0 ? 65536 : count };
    }
    const count = this.sectorCount === 0 ? 256 : this.sectorCount;
    if (this.device & DEVICE_LBA) {
      const lba =
        this.lbaLow | (this.lbaMid << 8) | (this.lbaHigh << 16) | ((this.device & 0x0f) << 24);
      return { lba, count };
    }
    // CHS: sector numbers start at 1; a sector of 0 or a head past the geometry is invalid.
    const cylinder = this.lbaMid | (this.lbaHigh << 8);
    const head = this.device & 0x0f;
    const sector = this.lbaLow;
    if (sector === 0 || sector > disk.sectorsPerTrack || head >= disk.heads)
      return { lba: -1, count };
    return { lba: (cylinder * disk.heads + head) * disk.sectorsPerTrack + sector - 1, count };
  }

  /** What IDENTIFY says of DMA for drive `i`: nothing without a bus master. */
  private dmaIdentity(i: 0 | 1): DmaIdentity | undefined {
    return this.busMaster ? { mwdmaSelected: this.dmaMode[i] } : undefined;
  }

  /**
   * SET FEATURES 03h (§8.37.10): the sector count names a PIO mode (00h/01h default, 08h+n
   * flow-control mode n up to 4) or a multiword DMA mode (20h+n, n up to 2, with a bus master).
   * Ultra DMA (40h+n) and anything else are refused. False means abort.
   */
  private selectTransferMode(i: 0 | 1): boolean {
    const value = this.sectorCount;
    if (
      value <= 0x01 ||
      (value >= TRANSFER_PIO_FLOW_CONTROL && value <= TRANSFER_PIO_FLOW_CONTROL + 4)
    )
      return true;
    const mode = value - TRANSFER_MWDMA;
    // (A range check before the shift: JavaScript shifts count modulo 32, so 1 << 34 is 4.)
    if (this.busMaster && mode >= 0 && mode < 8 && ((1 << mode) & MWDMA_MODES) !== 0) {
      this.dmaMode[i] = mode;
      return true;
    }
    return false;
  }

  /**
   * READ/WRITE DMA (EXT) (§8.23-8.24, §8.41-8.42; the DMA protocol of §9.7): BSY until the bus
   * master has moved every sector, then INTRQ. The image is read and written in the PRD
   * regions' pieces (64 KiB at most), so a 32 MiB command never holds 32 MiB. A region need not
   * hold whole sectors (only an even byte count), while the image takes whole sectors: reads
   * fetch the sectors a piece touches, writes keep a partial sector until the next piece
   * completes it.
   */
  private transferDma(disk: AtaDisk, isWrite: boolean, ext: boolean): void {
    const busMaster = this.busMaster;
    if (!busMaster) return this.complete(false, ERROR_ABRT);
    const { lba, count } = this.address(disk, ext);
    if (lba < 0 || lba + count > disk.sectors) return this.complete(false, ERROR_IDNF | ERROR_ABRT);
    if (isWrite && disk.image.readOnly) return this.complete(false, ERROR_ABRT);
    const i = this.selected;
    const generation = this.generation;
    const base = lba * ATA_SECTOR_SIZE;
    const started = performance.now();
    /** Write data not yet a whole sector, and where it starts in the transfer. */
    let partial = new Uint8Array(0);
    let partialAt = 0;
    const readPiece = async (offset: number, chunk: Uint8Array): Promise<void> => {
      const first = Math.floor(offset / ATA_SECTOR_SIZE) * ATA_SECTOR_SIZE;
      const end = Math.ceil((offset + chunk.length) / ATA_SECTOR_SIZE) * ATA_SECTOR_SIZE;
      disk.inFlight++;
      try {
        if (first === offset && end === offset + chunk.length) {
          await disk.image.read(base + offset, chunk);
        } else {
          const sectors = new Uint8Array(end - first);
          await disk.image.read(base + first, sectors);
          chunk.set(sectors.subarray(offset - first, offset - first + chunk.length));
        }
      } finally {
        disk.inFlight--;
      }
      disk.stats.readBytes += chunk.length;
    };
    const writePiece = async (offset: number, chunk: Uint8Array): Promise<void> => {
      let data = chunk;
      if (partial.length > 0) {
        data = new Uint8Array(partial.length + chunk.length);
        data.set(partial);
        data.set(chunk, partial.length);
      } else partialAt = offset;
      const whole = Math.floor(data.length / ATA_SECTOR_SIZE) * ATA_SECTOR_SIZE;
      partial = data.slice(whole);
      const at = partialAt;
      partialAt += whole;
      if (whole === 0) return;
      disk.inFlight++;
      try {
        await disk.image.write(base + at, data.subarray(0, whole), { fua: !disk.writeCache });
      } finally {
        disk.inFlight--;
      }
      disk.stats.writeBytes += whole;
    };
    this.status[i] = STATUS_BSY;
    busMaster.request({
      toMemory: !isWrite,
      length: count * ATA_SECTOR_SIZE,
      move: isWrite ? writePiece : readPiece,
      finish: (outcome) => {
        if (generation !== this.generation) return;
        if (outcome === 'done') {
          if (isWrite) disk.stats.writeOps++;
          else disk.stats.readOps++;
          disk.recordLatency(performance.now() - started);
        }
        this.dmaDone(i, outcome);
      },
    });
  }

  /** The end of a DMA command on drive `i`: completion, or the error the outcome names. */
  private dmaDone(i: 0 | 1, outcome: DmaOutcome): void {
    if (outcome === 'done') this.complete(true, 0, i);
    else this.complete(false, outcome === 'io-error' ? ERROR_UNC | ERROR_ABRT : ERROR_ABRT, i);
  }

  /** PIO READ/WRITE (MULTIPLE) (§9.10, §9.11): `blockSectors` per DRQ block. */
  private transfer(disk: AtaDisk, isWrite: boolean, ext: boolean, blockSectors: number): void {
    const { lba, count } = this.address(disk, ext);
    if (lba < 0 || lba + count > disk.sectors) return this.complete(false, ERROR_IDNF | ERROR_ABRT);
    if (isWrite && disk.image.readOnly) return this.complete(false, ERROR_ABRT);
    const i = this.selected;
    const generation = this.generation;
    let done = 0;
    const fail = (): void => {
      disk.inFlight = Math.max(0, disk.inFlight - 1);
      if (generation === this.generation) this.complete(false, ERROR_UNC | ERROR_ABRT);
    };
    const nextRead = (): void => {
      const n = Math.min(blockSectors, count - done);
      const buffer = new Uint8Array(n * ATA_SECTOR_SIZE);
      this.status[i] = STATUS_BSY;
      const started = performance.now();
      disk.inFlight++;
      disk.image.read((lba + done) * ATA_SECTOR_SIZE, buffer).then(() => {
        disk.inFlight--;
        disk.recordLatency(performance.now() - started);
        if (generation !== this.generation) return;
        disk.stats.readOps++;
        disk.stats.readBytes += buffer.length;
        done += n;
        this.startDataIn(buffer, () => {
          if (done < count) nextRead();
          else this.finishDataIn();
        });
      }, fail);
    };
    const nextWrite = (first: boolean): void => {
      const n = Math.min(blockSectors, count - done);
      this.phase = {
        kind: 'data-out',
        buffer: new Uint8Array(n * ATA_SECTOR_SIZE),
        position: 0,
        after: (data) => {
          this.status[i] = STATUS_BSY;
          const started = performance.now();
          disk.inFlight++;
          disk.image
            .write((lba + done) * ATA_SECTOR_SIZE, data, { fua: !disk.writeCache })
            .then(() => {
              disk.inFlight--;
              disk.recordLatency(performance.now() - started);
              if (generation !== this.generation) return;
              disk.stats.writeOps++;
              disk.stats.writeBytes += data.length;
              done += n;
              if (done < count) nextWrite(false);
              else this.complete(true);
            }, fail);
        },
      };
      this.status[i] = STATUS_DRDY | STATUS_DSC | STATUS_DRQ;
      // The first block is asked for without an interrupt; each later one with one (§9.11).
      if (!first) this.setInterrupt(true);
    };
    if (isWrite) nextWrite(true);
    else nextRead();
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

  /** Data-register reads of any length: across DRQ blocks, all-ones once no data is left. */
  private readData(data: Uint8Array): void {
    let at = 0;
    while (at < data.length) {
      const phase = this.phase;
      if (phase.kind !== 'data-in') {
        data.fill(0xff, at); // no DRQ: the bus floats
        return;
      }
      const n = Math.min(data.length - at, phase.buffer.length - phase.position);
      data.set(phase.buffer.subarray(phase.position, phase.position + n), at);
      at += n;
      phase.position += n;
      if (phase.position >= phase.buffer.length) phase.after();
    }
  }

  /** Data-register writes of any length (a sector block, a CDB); dropped with no DRQ. */
  private writeData(data: Uint8Array): void {
    let at = 0;
    while (at < data.length) {
      const phase = this.phase;
      if (phase.kind === 'data-out') {
        const n = Math.min(data.length - at, phase.buffer.length - phase.position);
        phase.buffer.set(data.subarray(at, at + n), phase.position);
        at += n;
        phase.position += n;
        if (phase.position >= phase.buffer.length) {
          this.phase = { kind: 'idle' };
          phase.after(phase.buffer);
        }
      } else if (phase.kind === 'cdb') {
        const n = Math.min(data.length - at, CDB_SIZE - phase.position);
        phase.buffer.set(data.subarray(at, at + n), phase.position);
        at += n;
        phase.position += n;
        if (phase.position >= CDB_SIZE) this.runPacket(phase.buffer, phase.dma);
      } else return;
    }
  }

  private runPacket(cdb: Uint8Array, dma: boolean): void {
    const drive = this.drive;
    if (drive?.kind !== 'atapi') return;
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
    if (dma && this.busMaster) {
      this.sendPacketDma(this.busMaster, result.data);
      return;
    }
    let limit = this.lbaMid | (this.lbaHigh << 8);
    if (limit === 0 || limit > MAX_BLOCK) limit = MAX_BLOCK;
    limit &= ~1; // blocks are whole words
    this.sendBlock(result.data, 0, limit);
  }

  /**
   * A PACKET's data by DMA (SFF-8020i §5.3.1): BSY while the bus master moves it, read from the
   * disc a PRD region (64 KiB at most) at a time, so even a hostile READ(12) of the whole disc
   * never holds more; then completion with reason IO|CoD.
   */
  private sendPacketDma(busMaster: BusMasterChannel, data: AtapiData): void {
    const i = this.selected;
    const generation = this.generation;
    this.status[i] = STATUS_BSY;
    busMaster.request({
      toMemory: true,
      length: data.length,
      move: (offset, chunk) => data.read(offset, chunk),
      finish: (outcome) => {
        if (generation !== this.generation) return;
        if (outcome === 'done') this.onRead?.(data.length);
        this.sectorCount = REASON_IO | REASON_COD;
        this.dmaDone(i, outcome);
      },
    });
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
export function identifyPacketDevice(drive: AtapiCdrom, dma?: DmaIdentity): Uint8Array {
  const words = new Uint16Array(256);
  // ATAPI, CD-ROM device type (5), removable, DRQ within 50 us, 12-byte packets.
  words[0] = 0x8000 | (0x05 << 8) | 0x80 | (0x2 << 5);
  putString(words, 10, 20, drive.serial);
  putString(words, 23, 8, '1.0');
  putString(words, 27, 40, drive.model);
  words[49] = 0x0200; // LBA supported
  putDmaIdentity(words, dma);
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

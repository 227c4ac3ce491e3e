/**
 * IDE bus-master DMA as the PIIX3 implements it (82371SB datasheet §2.7.1 "Bus Master IDE
 * Registers", after SFF-8038i rev 1.0 "Programming Interface for Bus Master IDE Controller").
 * The PCI function's BAR4 is a 16-byte I/O block: bytes 0-7 for the primary channel, 8-15 for
 * the secondary, each
 *
 *   +0  command: bit 0 Start/Stop Bus Master, bit 3 Read/Write Control (1 = the bus master
 *       writes memory, i.e. a device-to-memory transfer: READ DMA, an ATAPI read);
 *   +2  status: bit 0 Active (read-only), bit 1 Error and bit 2 Interrupt (write 1 to clear),
 *       bits 5/6 drive 0/1 DMA capable (read/write scratch for the BIOS), bit 7 simplex (0);
 *   +4  descriptor table pointer: the guest-physical address of the Physical Region Descriptor
 *       (PRD) table, dword aligned (bits 1:0 read as 0).
 *
 * A PRD is 8 bytes: the region's physical base (bit 0 is 0), then a byte count in bits 15:0
 * (bit 0 is 0; 0 means 64 KiB) and End Of Table in bit 31. The table may not cross a 64 KiB
 * boundary, so it has at most 8192 entries.
 *
 * How a transfer ends (SFF-8038i §3.1, the table of Interrupt/Active outcomes):
 *   - the data filled the regions exactly and the last one had EOT: Interrupt 1, Active 0;
 *   - the regions were larger than the data: Interrupt 1, Active 1 (the driver stops it);
 *   - the regions ran out (EOT) before the data: Error 1, Active 0, and the drive aborts the
 *     command (this is what QEMU's ide_dma_cb does too: a short table is a failed command).
 * The Interrupt bit mirrors the channel's interrupt line: it is set whenever the drive raises
 * INTRQ, DMA or not, as the PIIX samples IRQ14/15.
 *
 * Everything here comes from the guest and is hostile: a table or region outside RAM, a table
 * with no EOT that runs past 8192 entries, a direction that contradicts the command, a Start
 * while the function's Bus Master Enable (PCI command bit 2) is off. None of them reaches
 * anything but RAM; each ends the transfer with the Error bit and an aborted command.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';

/** Bytes of the BAR4 block: two channels of 8. */
export const BUS_MASTER_PORT_COUNT = 16;
export const BUS_MASTER_CHANNEL_STRIDE = 8;

export const BM_COMMAND_START = 0x01;
export const BM_COMMAND_TO_MEMORY = 0x08;
export const BM_STATUS_ACTIVE = 0x01;
export const BM_STATUS_ERROR = 0x02;
export const BM_STATUS_INTERRUPT = 0x04;
const BM_STATUS_DRIVE_CAPABLE = 0x60;
const PRD_SIZE = 8;
const PRD_EOT = 0x8000_0000;
/** A PRD table lies within one 64 KiB block. */
const MAX_PRD_ENTRIES = 0x10000 / PRD_SIZE;
/** Multiword DMA modes a drive behind this controller offers: 0, 1, 2 (IDENTIFY word 63 2:0). */
export const MWDMA_MODES = 0x07;

/** Guest RAM as a DMA engine may touch it: each call throws for anything outside RAM. */
export interface DmaMemory {
  read(address: number, into: Uint8Array): void;
  write(address: number, from: Uint8Array): void;
}

/** How a transfer ended, for the drive's completion. */
export type DmaOutcome =
  /** All the data moved. */
  | 'done'
  /** The bus master could not move it (bad table or region, direction, short table). */
  | 'dma-error'
  /** The drive's own side failed (an image read or write). */
  | 'io-error';

/** What a drive wants moved, handed to the bus master when the command is ready. */
export interface DmaTransfer {
  /** true: device to memory (reads). */
  toMemory: boolean;
  /** Bytes the command moves in all. */
  length: number;
  /**
   * Moves the bytes at `offset` of the transfer: fills `chunk` (to memory) or takes it (from
   * memory). A rejection is an I/O error of the drive.
   */
  move(offset: number, chunk: Uint8Array): Promise<void> | void;
  /** The drive completes the command (status, INTRQ). Not called for a cancelled transfer. */
  finish(outcome: DmaOutcome): void;
}

/** What IDENTIFY (PACKET) DEVICE says of DMA: absent without a bus master. */
export interface DmaIdentity {
  /** The multiword DMA mode SET FEATURES selected, or -1. */
  mwdmaSelected: number;
}

/** IDENTIFY words 49 and 63 for DMA (§8.15.15, §8.15.29): multiword modes 0-2, one selected. */
export function putDmaIdentity(words: Uint16Array, dma: DmaIdentity | undefined): void {
  if (!dma) return;
  words[49] = words[49]! | 0x0100; // DMA supported
  words[63] = MWDMA_MODES | (dma.mwdmaSelected >= 0 ? 0x100 << dma.mwdmaSelected : 0);
}

/** One channel's bus-master registers and engine. */
export class BusMasterChannel {
  private command = 0;
  private status = 0;
  private table = 0;
  private pending: DmaTransfer | undefined;
  private running = false;
  /** Bumped by cancel(): a transfer under way from before stops without touching anything. */
  private generation = 0;

  constructor(
    private readonly memory: DmaMemory,
    /** PCI command bit 2 of the function: without it the controller masters nothing. */
    private readonly masterEnabled: () => boolean,
  ) {}

  readByte(offset: number): number {
    switch (offset) {
      case 0:
        return this.command;
      case 2:
        return this.status;
      case 4:
      case 5:
      case 6:
      case 7:
        return (this.table >>> ((offset - 4) * 8)) & 0xff;
      default:
        return 0; // 1 and 3 are device-specific and unused on the PIIX3
    }
  }

  writeByte(offset: number, value: number): void {
    switch (offset) {
      case 0: {
        const wasStarted = (this.command & BM_COMMAND_START) !== 0;
        // Direction can only change while stopped (SFF-8038i §2.1.1).
        const direction = wasStarted
          ? this.command & BM_COMMAND_TO_MEMORY
          : value & BM_COMMAND_TO_MEMORY;
        this.command = (value & BM_COMMAND_START) | direction;
        if (!(value & BM_COMMAND_START)) {
          // Stop: a transfer under way is abandoned; what moved stays moved (§2.1.1).
          if (this.running) this.generation++;
          this.running = false;
          this.status &= ~BM_STATUS_ACTIVE;
        } else if (!wasStarted) {
          this.maybeStart();
        }
        return;
      }
      case 2:
        this.status =
          (this.status &
            ~BM_STATUS_DRIVE_CAPABLE &
            ~(value & (BM_STATUS_ERROR | BM_STATUS_INTERRUPT))) |
          (value & BM_STATUS_DRIVE_CAPABLE);
        return;
      case 4:
      case 5:
      case 6:
      case 7: {
        const shift = (offset - 4) * 8;
        const byte = offset === 4 ? value & 0xfc : value;
        this.table = ((this.table & ~(0xff << shift)) | (byte << shift)) >>> 0;
        return;
      }
      default:
    }
  }

  /** The drive raised its interrupt line (any command, DMA or PIO). */
  noteInterrupt(): void {
    this.status |= BM_STATUS_INTERRUPT;
  }

  /** A DMA command is ready to move data: it runs once Start is (or already was) set. */
  request(transfer: DmaTransfer): void {
    this.pending = transfer;
    this.maybeStart();
  }

  /** A channel reset: the command's transfer, pending or under way, is dropped. */
  cancel(): void {
    this.pending = undefined;
    this.generation++;
    this.running = false;
    this.status &= ~BM_STATUS_ACTIVE;
  }

  private maybeStart(): void {
    const transfer = this.pending;
    if (!transfer || this.running || !(this.command & BM_COMMAND_START)) return;
    this.pending = undefined;
    if (
      !this.masterEnabled() ||
      transfer.toMemory !== ((this.command & BM_COMMAND_TO_MEMORY) !== 0)
    ) {
      // No bus mastering, or the direction contradicts the command: nothing moves.
      this.status = (this.status | BM_STATUS_ERROR) & ~BM_STATUS_ACTIVE;
      transfer.finish('dma-error');
      return;
    }
    this.running = true;
    this.status |= BM_STATUS_ACTIVE;
    void this.run(transfer, this.generation);
  }

  private async run(transfer: DmaTransfer, generation: number): Promise<void> {
    let moved = 0;
    let entry = 0;
    let endOfTable = false;
    let filledExactly = false;
    const prd = new Uint8Array(PRD_SIZE);
    const prdView = new DataView(prd.buffer);
    let outcome: DmaOutcome = 'done';
    try {
      while (moved < transfer.length) {
        if (endOfTable || entry >= MAX_PRD_ENTRIES) {
          outcome = 'dma-error'; // the table ran out before the data
          break;
        }
        this.memory.read(this.table + entry * PRD_SIZE, prd);
        entry++;
        const base = prdView.getUint32(0, true) & ~1;
        const word = prdView.getUint32(4, true);
        const count = word & 0xfffe || 0x10000;
        endOfTable = (word & PRD_EOT) !== 0;
        const n = Math.min(count, transfer.length - moved);
        const chunk = new Uint8Array(n);
        if (transfer.toMemory) {
          if (!(await this.move(transfer, moved, chunk))) outcome = 'io-error';
          if (generation !== this.generation) return;
          if (outcome !== 'done') break;
          this.memory.write(base >>> 0, chunk);
        } else {
          this.memory.read(base >>> 0, chunk);
          if (!(await this.move(transfer, moved, chunk))) outcome = 'io-error';
          if (generation !== this.generation) return;
          if (outcome !== 'done') break;
        }
        moved += n;
        filledExactly = n === count;
      }
    } catch {
      if (generation !== this.generation) return;
      outcome = 'dma-error'; // a table or region outside RAM
    }
    this.running = false;
    if (outcome === 'dma-error') this.status = (this.status | BM_STATUS_ERROR) & ~BM_STATUS_ACTIVE;
    else if (outcome === 'io-error' || (endOfTable && filledExactly))
      this.status &= ~BM_STATUS_ACTIVE;
    // Otherwise the regions were larger than the data: Active stays set until the driver stops.
    transfer.finish(outcome);
  }

  private async move(transfer: DmaTransfer, offset: number, chunk: Uint8Array): Promise<boolean> {
    try {
      await transfer.move(offset, chunk);
      return true;
    } catch {
      return false;
    }
  }
}

/** The BAR4 block of both channels, to put on the port bus where the guest places it. */
export function busMasterPorts(channels: readonly [BusMasterChannel, BusMasterChannel]): BusDevice {
  return {
    read: (offset, data) => {
      for (let i = 0; i < data.length; i++) {
        const at = offset + i;
        data[i] = channels[at >= BUS_MASTER_CHANNEL_STRIDE ? 1 : 0].readByte(
          at % BUS_MASTER_CHANNEL_STRIDE,
        );
      }
    },
    write: (offset, data) => {
      for (let i = 0; i < data.length; i++) {
        const at = offset + i;
        channels[at >= BUS_MASTER_CHANNEL_STRIDE ? 1 : 0].writeByte(
          at % BUS_MASTER_CHANNEL_STRIDE,
          data[i]!,
        );
      }
    },
  };
}

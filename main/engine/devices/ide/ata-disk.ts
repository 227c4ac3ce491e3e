/**
 * An ATA hard disk on an IDE channel, backed by a disk image (raw or qcow2,
 * main/engine/storage): the PIO commands SeaBIOS's src/hw/ata.c and Linux's ata_piix/libata
 * use, per ATA/ATAPI-6 (T13/1410D) §8:
 *   IDENTIFY DEVICE ECh; READ SECTORS 20h/21h, READ SECTORS EXT 24h, READ MULTIPLE C4h,
 *   READ MULTIPLE EXT 29h; WRITE SECTORS 30h/31h, WRITE SECTORS EXT 34h, WRITE MULTIPLE C5h,
 *   WRITE MULTIPLE EXT 39h; READ VERIFY 40h/41h/42h; FLUSH CACHE E7h / EXT EAh; SET MULTIPLE
 *   MODE C6h; INITIALIZE DEVICE PARAMETERS 91h; SET FEATURES EFh (write cache on/off);
 *   RECALIBRATE 1xh, SEEK 7xh, power commands.
 * LBA28, LBA48 and CHS addressing (through the geometry INITIALIZE DEVICE PARAMETERS set).
 *
 * The image is read and written asynchronously: the drive shows BSY meanwhile, as a real disk
 * does while it seeks, and raises DRQ/INTRQ when the data is there. The write cache is on
 * (IDENTIFY words 82/85 bit 5), so a write completes when the image has it and reaches the
 * host's disk on FLUSH CACHE (fdatasync through DiskImage.flush), which Linux sends for every
 * barrier. With the write cache turned off (SET FEATURES 82h) every write is FUA.
 *
 * Runtime: engine (device thread).
 */
import type { BlockStats } from '../virtio-blk/index.js';
import type { DiskImage } from '../../storage/index.js';
import { putDmaIdentity, type DmaIdentity } from './bus-master.js';

export const ATA_SECTOR_SIZE = 512;
/** Sectors per DRQ block READ/WRITE MULTIPLE may use at most (IDENTIFY word 47). */
export const MAX_MULTIPLE = 16;
const DEFAULT_HEADS = 16;
const DEFAULT_SECTORS_PER_TRACK = 63;
const LBA28_LIMIT = 0x0fff_ffff;
/** Latency samples kept between two statistics samples (as virtio-blk keeps). */
const LATENCY_SAMPLES = 4096;

export class AtaDisk {
  readonly kind = 'ata' as const;
  /** READ/WRITE MULTIPLE block size in sectors; 0 = disabled (SET MULTIPLE MODE). */
  multiple = MAX_MULTIPLE;
  writeCache = true;
  heads = DEFAULT_HEADS;
  sectorsPerTrack = DEFAULT_SECTORS_PER_TRACK;
  readonly sectors: number;
  /** Figures for the VM's statistics, counted since power-on. */
  readonly stats = { readOps: 0, writeOps: 0, readBytes: 0, writeBytes: 0, flushes: 0 };
  /** Image operations under way (the drive is BSY meanwhile: at most one). */
  inFlight = 0;
  private taken = { ...this.stats };
  private latencies: number[] = [];

  constructor(
    readonly image: DiskImage,
    readonly model = 'VIREO HARDDISK',
    readonly serial = 'VIREO-HD0001',
  ) {
    this.sectors = Math.floor(image.virtualSize / ATA_SECTOR_SIZE);
  }

  /** One image operation took `ms` (read, write or flush); a bounded sample is kept. */
  recordLatency(ms: number): void {
    if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(ms);
    else this.latencies[Math.floor(Math.random() * LATENCY_SAMPLES)] = ms;
  }

  /** What happened since the last call, in the virtio-blk device's terms (host/stats.ts). */
  takeStats(): BlockStats {
    const now = { ...this.stats };
    const s: BlockStats = {
      reads: now.readOps - this.taken.readOps,
      writes: now.writeOps - this.taken.writeOps,
      bytesRead: now.readBytes - this.taken.readBytes,
      bytesWritten: now.writeBytes - this.taken.writeBytes,
      flushes: now.flushes - this.taken.flushes,
      latenciesMs: this.latencies,
      inFlight: this.inFlight,
    };
    this.taken = now;
    this.latencies = [];
    return s;
  }

  get cylinders(): number {
    return Math.max(
      1,
      Math.min(16383, Math.floor(this.sectors / (DEFAULT_HEADS * DEFAULT_SECTORS_PER_TRACK))),
    );
  }

  reset(): void {
    this.heads = DEFAULT_HEADS;
    this.sectorsPerTrack = DEFAULT_SECTORS_PER_TRACK;
  }

  /** IDENTIFY DEVICE data (§8.15), 256 words; `dma` when the channel has a bus master. */
  identify(dma?: DmaIdentity): Uint8Array {
    const w = new Uint16Array(256);
    const lba28 = Math.min(this.sectors, LBA28_LIMIT);
    w[0] = 0x0040; // fixed device
    w[1] = this.cylinders;
    w[3] = DEFAULT_HEADS;
    w[6] = DEFAULT_SECTORS_PER_TRACK;
    putString(w, 10, 20, this.serial);
    putString(w, 23, 8, '1.0');
    putString(w, 27, 40, this.model);
    w[47] = 0x8000 | MAX_MULTIPLE;
    w[49] = 0x0200; // LBA
    putDmaIdentity(w, dma);
    w[53] = 0x0003; // words 54-58 and 64-70 valid
    const chsSectors = Math.min(
      this.sectors,
      this.cylinders * DEFAULT_HEADS * DEFAULT_SECTORS_PER_TRACK,
    );
    w[54] = this.cylinders;
    w[55] = this.heads;
    w[56] = this.sectorsPerTrack;
    w[57] = chsSectors & 0xffff;
    w[58] = chsSectors >>> 16;
    w[59] = this.multiple ? 0x0100 | this.multiple : 0;
    w[60] = lba28 & 0xffff;
    w[61] = lba28 >>> 16;
    w[64] = 0x0003; // PIO 3 and 4
    w[65] = w[66] = w[67] = w[68] = 120;
    w[80] = 0x007e; // ATA/ATAPI-1..6
    // Supported / enabled command sets: write cache (82.5/85.5), 48-bit, FLUSH CACHE (EXT).
    w[82] = 0x4020;
    w[83] = 0x4000 | 0x2000 | 0x1000 | 0x0400;
    w[84] = 0x4000;
    w[85] = this.writeCache ? 0x0020 : 0;
    w[86] = 0x2000 | 0x1000 | 0x0400;
    w[87] = 0x4000;
    w[93] = 0x4000 | 0x0001; // hardware reset result: device 0, no device 1 detection claimed
    let total = this.sectors;
    for (let i = 100; i < 104; i++) {
      w[i] = total % 0x10000;
      total = Math.floor(total / 0x10000);
    }
    const bytes = new Uint8Array(512);
    for (let i = 0; i < 256; i++) {
      bytes[i * 2] = w[i]! & 0xff;
      bytes[i * 2 + 1] = w[i]! >> 8;
    }
    return bytes;
  }
}

/** ATA strings: two characters per word, the first in the high byte, space-padded (§8.15). */
export function putString(words: Uint16Array, first: number, chars: number, text: string): void {
  for (let i = 0; i < chars; i += 2) {
    const a = i < text.length ? text.charCodeAt(i) & 0x7f : 0x20;
    const b = i + 1 < text.length ? text.charCodeAt(i + 1) & 0x7f : 0x20;
    words[first + i / 2] = (a << 8) | b;
  }
}

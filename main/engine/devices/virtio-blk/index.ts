/**
 * virtio-blk, the device side (Virtual I/O Device (VIRTIO) Version 1.2, §5.2 "Block Device"):
 * feature bits, the configuration layout (§5.2.4), and requests (§5.2.6) taken from split
 * virtqueues (../virtio/queue.ts) and served by a disk image (../../storage: raw or qcow2).
 * Transport-neutral: virtio-pci (or a test driver) calls {@link VirtioBlk.activate} with the
 * queue addresses the driver wrote and {@link VirtioBlk.notify} when the driver kicks a queue.
 *
 * Requests are served concurrently (several in flight per queue, completed in any order, as
 * §2.7.8 allows). Guest buffers are read into and written from directly where their lengths
 * are whole sectors, with no copy. A request the guest built wrongly gets VIRTIO_BLK_S_IOERR or
 * VIRTIO_BLK_S_UNSUPP in its status byte (§5.2.6.1); a broken virtqueue (loops, buffers outside
 * RAM...) puts the device in DEVICE_NEEDS_RESET through `onNeedsReset`. Nothing throws out.
 *
 * Runtime: engine (device thread).
 */
import type { GuestMemory } from '../../memory.js';
import type { DiskImage } from '../../storage/index.js';
import {
  Virtqueue,
  VirtqueueError,
  type DescriptorChain,
  type Segment,
  type VirtqueueLayout,
} from '../virtio/queue.js';

export const VIRTIO_ID_BLOCK = 2;
export const SECTOR = 512;

// Feature bits (§5.2.3, §6).
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_MQ = 12;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_VERSION_1 = 32;

// Request types and status values (§5.2.6).
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

const HEADER_BYTES = 16;
const DISCARD_SEGMENT_BYTES = 16;
/** Limits we advertise in the configuration (QEMU uses similar ones). */
export const SEG_MAX = 254;
export const MAX_DISCARD_SECTORS = 0x3fffff;
export const MAX_DISCARD_SEG = 1;
/** The serial number GET_ID returns is at most 20 bytes (§5.2.6). */
const ID_BYTES = 20;
/** Requests larger than this are refused (a guest asking for 4 GiB of scatter-gather). */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

export interface VirtioBlkOptions {
  image: DiskImage;
  memory: GuestMemory;
  /** Number of request queues (VIRTIO_BLK_F_MQ when more than one). */
  queues?: number;
  /** Returned by GET_ID (truncated to 20 bytes). */
  serial?: string;
  /** The device used a queue's buffers and the driver wants to hear about it. */
  onInterrupt(queue: number): void;
  /** The driver broke the virtqueue rules: set DEVICE_NEEDS_RESET and tell it (§2.1.2). */
  onNeedsReset(reason: string): void;
}

/** Counters since the last {@link VirtioBlk.takeStats}. */
export interface BlockStats {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  flushes: number;
  /** Completed request latencies in ms (bounded sample). */
  latenciesMs: number[];
  inFlight: number;
}

const LATENCY_SAMPLES = 4096;

export class VirtioBlk {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly queueCount: number;
  /** By queue index; undefined for queues the driver did not enable. */
  private queues: (Virtqueue | undefined)[] = [];
  private broken = false;
  private inFlight = 0;
  private stats: BlockStats = freshStats();
  private readonly readOnly: boolean;

  constructor(private readonly o: VirtioBlkOptions) {
    this.queueCount = Math.max(1, Math.min(o.queues ?? 1, 64));
    this.readOnly = o.image.readOnly;
  }

  /** Device features offered to the driver (a 64-bit mask). */
  get features(): bigint {
    const bits = [
      VIRTIO_F_VERSION_1,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_BLK_F_SEG_MAX,
      VIRTIO_BLK_F_BLK_SIZE,
      VIRTIO_BLK_F_FLUSH,
      ...(this.readOnly ? [VIRTIO_BLK_F_RO] : [VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES]),
      ...(this.queueCount > 1 ? [VIRTIO_BLK_F_MQ] : []),
    ];
    return bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);
  }

  /** `struct virtio_blk_config` (§5.2.4), little-endian, read at any offset and width. */
  configBytes(): Uint8Array {
    const c = new Uint8Array(60);
    const v = new DataView(c.buffer);
    v.setBigUint64(0, BigInt(Math.floor(this.o.image.virtualSize / SECTOR)), true); // capacity
    v.setUint32(8, 0, true); // size_max (not offered)
    v.setUint32(12, SEG_MAX, true); // seg_max
    v.setUint32(20, SECTOR, true); // blk_size
    v.setUint16(34, this.queueCount, true); // num_queues
    v.setUint32(36, MAX_DISCARD_SECTORS, true); // max_discard_sectors
    v.setUint32(40, MAX_DISCARD_SEG, true); // max_discard_seg
    v.setUint32(44, 1, true); // discard_sector_alignment
    v.setUint32(48, MAX_DISCARD_SECTORS, true); // max_write_zeroes_sectors
    v.setUint32(52, MAX_DISCARD_SEG, true); // max_write_zeroes_seg
    c[56] = 1; // write_zeroes_may_unmap
    return c;
  }

  readConfig(offset: number, data: Uint8Array): void {
    const c = this.configBytes();
    for (let i = 0; i < data.length; i++) data[i] = c[offset + i] ?? 0;
  }

  /** The driver set DRIVER_OK with these queues (`null` for queues it did not enable). */
  activate(layouts: readonly (VirtqueueLayout | null)[], indirect = true): void {
    this.broken = false;
    try {
      this.queues = layouts
        .slice(0, this.queueCount)
        .map((l) => (l ? new Virtqueue(this.o.memory, l, indirect) : undefined));
    } catch (e) {
      this.fail(e);
    }
  }

  /** Device reset (§2.4): forget the queues. Requests in flight complete into nothing. */
  reset(): void {
    this.queues = [];
    this.broken = false;
  }

  /** The driver kicked queue `index`: take every available chain and start serving it. */
  notify(index: number): void {
    const queue = this.queues[index];
    if (!queue || this.broken) return;
    try {
      for (let chain = queue.pop(); chain; chain = queue.pop()) {
        this.inFlight++;
        const started = performance.now();
        void this.serve(chain).then((written) => {
          this.inFlight--;
          this.record(performance.now() - started);
          // The queue may have been reset meanwhile: only complete on the live one.
          if (this.queues[index] !== queue) return;
          queue.push(chain.head, written);
          if (queue.wantsInterrupt()) this.o.onInterrupt(index);
        });
      }
    } catch (e) {
      this.fail(e);
    }
  }

  takeStats(): BlockStats {
    const s = { ...this.stats, inFlight: this.inFlight };
    this.stats = freshStats();
    return s;
  }

  private record(ms: number): void {
    const l = this.stats.latenciesMs;
    if (l.length < LATENCY_SAMPLES) l.push(ms);
    else l[Math.floor(Math.random() * LATENCY_SAMPLES)] = ms;
  }

  private fail(e: unknown): void {
    if (!(e instanceof VirtqueueError)) throw e;
    this.broken = true;
    this.o.onNeedsReset(e.message);
  }

  /** Serves one request; resolves with the bytes written into the guest's buffers. */
  private async serve(chain: DescriptorChain): Promise<number> {
    const m = this.o.memory;
    // The status byte is the chain's last writable byte (§5.2.6).
    if (chain.writableBytes < 1) return 0;
    const last = chain.writable[chain.writable.length - 1]!;
    const statusAddress = last.address + last.length - 1;
    const dataOut = trimLastByte(chain.writable);
    let status = VIRTIO_BLK_S_OK;
    let written = 1;
    try {
      if (chain.readableBytes < HEADER_BYTES) {
        status = VIRTIO_BLK_S_IOERR;
      } else {
        const header = gather(m, chain.readable, 0, HEADER_BYTES);
        const hv = new DataView(header.buffer);
        const type = hv.getUint32(0, true);
        const sector = hv.getBigUint64(8, true);
        const dataIn = skipBytes(chain.readable, HEADER_BYTES);
        switch (type) {
          case VIRTIO_BLK_T_IN: {
            const bytes = total(dataOut);
            status = await this.transfer(sector, bytes, async (offset) => {
              await this.readInto(offset, dataOut, bytes);
            });
            if (status === VIRTIO_BLK_S_OK) {
              written += bytes;
              this.stats.reads++;
              this.stats.bytesRead += bytes;
            }
            break;
          }
          case VIRTIO_BLK_T_OUT: {
            if (this.readOnly) {
              status = VIRTIO_BLK_S_IOERR;
              break;
            }
            const bytes = total(dataIn);
            status = await this.transfer(sector, bytes, async (offset) => {
              await this.writeFrom(offset, dataIn, bytes);
            });
            if (status === VIRTIO_BLK_S_OK) {
              this.stats.writes++;
              this.stats.bytesWritten += bytes;
            }
            break;
          }
          case VIRTIO_BLK_T_FLUSH:
            await this.o.image.flush();
            this.stats.flushes++;
            break;
          case VIRTIO_BLK_T_GET_ID: {
            const id = new TextEncoder().encode(this.o.serial ?? '').subarray(0, ID_BYTES);
            const out = new Uint8Array(Math.min(ID_BYTES, total(dataOut)));
            out.set(id.subarray(0, out.length));
            scatter(m, dataOut, out);
            written += out.length;
            break;
          }
          case VIRTIO_BLK_T_DISCARD:
          case VIRTIO_BLK_T_WRITE_ZEROES:
            status = this.readOnly ? VIRTIO_BLK_S_IOERR : await this.discardOrZero(type, dataIn);
            break;
          default:
            status = VIRTIO_BLK_S_UNSUPP;
        }
      }
    } catch {
      // An I/O error of the image (disk full, EIO) is the guest's I/O error, not ours.
      status = VIRTIO_BLK_S_IOERR;
      written = 1;
    }
    m.writeU8(statusAddress, status);
    return written;
  }

  /** Checks a sector range and runs `io` at its byte offset; IOERR when out of range. */
  private async transfer(
    sector: bigint,
    bytes: number,
    io: (offset: number) => Promise<void>,
  ): Promise<number> {
    if (bytes % SECTOR !== 0) return VIRTIO_BLK_S_IOERR;
    const capacity = BigInt(Math.floor(this.o.image.virtualSize / SECTOR));
    if (sector > capacity || BigInt(bytes / SECTOR) > capacity - sector) return VIRTIO_BLK_S_IOERR;
    if (bytes === 0) return VIRTIO_BLK_S_OK;
    await io(Number(sector) * SECTOR);
    return VIRTIO_BLK_S_OK;
  }

  /**
   * Reads straight into the guest's buffers: one buffer is one pread, several (Linux sends one
   * per page) one preadv over all of them, so no byte is copied twice. The file does the
   * scatter, not a bounce buffer (measured in bench/virtio-blk.mjs: a 4 KiB copy costs ~5 us).
   */
  private async readInto(offset: number, segments: Segment[], bytes: number): Promise<void> {
    if (bytes > MAX_REQUEST_BYTES) throw new Error('request too large');
    const m = this.o.memory;
    const views = segments.map((s) => m.slice(s.address, s.length));
    await (views.length === 1
      ? this.o.image.read(offset, views[0]!)
      : this.o.image.readv(offset, views));
  }

  private async writeFrom(offset: number, segments: Segment[], bytes: number): Promise<void> {
    if (bytes > MAX_REQUEST_BYTES) throw new Error('request too large');
    const m = this.o.memory;
    // A hostile guest changing a buffer while it is written only hurts its own data.
    const views = segments.map((s) => m.slice(s.address, s.length));
    await (views.length === 1
      ? this.o.image.write(offset, views[0]!)
      : this.o.image.writev(offset, views));
  }

  private async discardOrZero(type: number, dataIn: Segment[]): Promise<number> {
    const bytes = total(dataIn);
    if (bytes === 0 || bytes % DISCARD_SEGMENT_BYTES !== 0) return VIRTIO_BLK_S_IOERR;
    const count = bytes / DISCARD_SEGMENT_BYTES;
    if (count > MAX_DISCARD_SEG) return VIRTIO_BLK_S_UNSUPP;
    const raw = gather(this.o.memory, dataIn, 0, bytes);
    const v = new DataView(raw.buffer);
    const capacity = BigInt(Math.floor(this.o.image.virtualSize / SECTOR));
    for (let i = 0; i < count; i++) {
      const sector = v.getBigUint64(i * 16, true);
      const sectors = v.getUint32(i * 16 + 8, true);
      const flags = v.getUint32(i * 16 + 12, true);
      // §5.2.6.2: unknown flags, or unmap on a discard, are errors (UNSUPP).
      if (flags & ~1 || (type === VIRTIO_BLK_T_DISCARD && flags !== 0)) return VIRTIO_BLK_S_UNSUPP;
      if (sectors > MAX_DISCARD_SECTORS) return VIRTIO_BLK_S_IOERR;
      if (sector > capacity || BigInt(sectors) > capacity - sector) return VIRTIO_BLK_S_IOERR;
      const offset = Number(sector) * SECTOR;
      const length = sectors * SECTOR;
      if (length === 0) continue;
      if (type === VIRTIO_BLK_T_DISCARD) await this.o.image.discard(offset, length);
      else await this.o.image.writeZeroes(offset, length, { unmap: (flags & 1) !== 0 });
    }
    return VIRTIO_BLK_S_OK;
  }
}

function freshStats(): BlockStats {
  return {
    reads: 0,
    writes: 0,
    bytesRead: 0,
    bytesWritten: 0,
    flushes: 0,
    latenciesMs: [],
    inFlight: 0,
  };
}

function total(segments: readonly Segment[]): number {
  return segments.reduce((n, s) => n + s.length, 0);
}

/** The writable buffers without the final status byte. */
function trimLastByte(segments: readonly Segment[]): Segment[] {
  const out = segments.map((s) => ({ ...s }));
  const last = out[out.length - 1]!;
  if (last.length === 1) out.pop();
  else last.length -= 1;
  return out;
}

/** The buffers from byte `skip` on. */
function skipBytes(segments: readonly Segment[], skip: number): Segment[] {
  const out: Segment[] = [];
  let left = skip;
  for (const s of segments) {
    if (left >= s.length) {
      left -= s.length;
      continue;
    }
    out.push({ address: s.address + left, length: s.length - left, writable: s.writable });
    left = 0;
  }
  return out;
}

/** Copies `length` bytes out of guest buffers starting at byte `from`. */
function gather(
  m: GuestMemory,
  segments: readonly Segment[],
  from: number,
  length: number,
): Uint8Array {
  const out = new Uint8Array(length);
  let skip = from;
  let at = 0;
  for (const s of segments) {
    if (at >= length) break;
    if (skip >= s.length) {
      skip -= s.length;
      continue;
    }
    const n = Math.min(s.length - skip, length - at);
    out.set(m.slice(s.address + skip, n), at);
    at += n;
    skip = 0;
  }
  return out;
}

/** Copies `bytes` into guest buffers in order (as far as they reach). */
function scatter(m: GuestMemory, segments: readonly Segment[], bytes: Uint8Array): void {
  let at = 0;
  for (const s of segments) {
    if (at >= bytes.length) return;
    const n = Math.min(s.length, bytes.length - at);
    m.write(s.address, bytes.subarray(at, at + n));
    at += n;
  }
}

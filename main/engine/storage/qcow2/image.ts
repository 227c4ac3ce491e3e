/**
 * A qcow2 version 3 disk image (QEMU docs/interop/qcow2.txt): guest clusters map through a
 * two-level table (L1 in memory, L2 tables in a bounded LRU cache) to host clusters allocated on
 * first write; 16-bit refcounts (refcount table -> refcount blocks) say which host clusters are
 * in use. Zero clusters (L2 bit 0), compressed clusters (read only: deflate), backing files
 * (read-through, copy-on-write of whole clusters) and growing are supported.
 *
 * Crash safety: no lazy refcounts, so a crash anywhere leaves an image whose only possible damage
 * is leaked clusters (refcount higher than the references), never a reference to a cluster whose
 * refcount is too low or whose contents are not yet on disk. The order, for every allocation:
 *   1. refcounts of the new clusters (and any new refcount block, itself synced first),
 *   2. the new data clusters and zeroed new L2 tables,
 *   3. the L1/L2 entries that point at them, changed in memory at once but written only at the
 *      next metadata sync (guest flush, FUA, close, resize, or 16 tables waiting), which is
 *      fdatasync first, then the entries; so many allocations share one fdatasync.
 * Freeing runs the other way: entries cleared, fdatasync, then refcounts lowered. Allocations
 * and writes that would land on metadata are refused (overlap check). The dirty bit
 * (incompatible feature bit 0) is set and synced before the first change after open, and cleared
 * by a clean close, so other tools know when to look for leaks.
 *
 * Concurrency: reads and writes to clusters already allocated go straight to the file (several
 * in flight at once); anything that changes metadata runs under one lock, and allocating writes
 * that queue for it go in batches. Tables being changed
 * are pinned in the cache so a concurrent reader never reloads a stale copy from disk.
 *
 * Runtime: engine (device thread) and control plane.
 */
import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import type { DiskImage } from '../index.js';
import { ImageFormatError, ImageRequestError } from '../errors.js';
import { readFully, readVector, type StorageFile, totalBytes } from '../file.js';
import { ScatterList } from '../scatter.js';
import { checkNewSize, checkRange, checkWritable, Mutex } from '../request.js';
import {
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  l1EntriesFor,
  MAX_L1_BYTES,
  MAX_REFTABLE_BYTES,
  OFF_INCOMPATIBLE,
  OFF_REFCOUNT_TABLE,
  OFF_SIZE,
  parseHeader,
  type Qcow2Header,
} from './header.js';
import {
  entryOffset,
  HI_COMPRESSED,
  HI_COPIED,
  LO_ZERO,
  markDirty,
  newTable,
  offsetHi,
  offsetLo,
  setEntry,
  TableCache,
  writeDirty,
  compressedExtent,
  type Table,
} from './tables.js';
import { checkQcow2 } from './check.js';

/** Bytes of L2 tables cached per image (QEMU's default is 1 MiB; more costs little here). */
const L2_CACHE_BYTES = 4 << 20;
const REFCOUNT_CACHE_BYTES = 2 << 20;
/** Metadata syncs happen at the guest's flush, or sooner once this many L2 tables wait. */
const MAX_UNLINKED_TABLES = 16;
const MAX_PENDING_FREES = 8192;

export interface Qcow2OpenOptions {
  readOnly: boolean;
  /** Opens the backing file (read-only); given by the factory so chains use the same probing. */
  openBacking?: (path: string, format: string | undefined) => Promise<DiskImage>;
  /** L2 tables (and refcount blocks) to cache; tests make it tiny to exercise eviction. */
  cacheTables?: number;
}

/** Kinds of L2 entries (qcow2.txt "Standard Cluster Descriptor", "Compressed Clusters Descriptor"). */
const enum Kind {
  Unallocated,
  Zero,
  Normal,
  Compressed,
}

/** A guest cluster the current write needs a new host cluster (or a reused zero cluster) for. */
interface CowCluster {
  /** The request's bytes (requests of one batch each bring their own). */
  from: Uint8Array;
  table: Table;
  l2Index: number;
  guestStart: number;
  inCluster: number;
  pos: number;
  length: number;
  kind: Kind;
  hi: number;
  lo: number;
  host: number;
}

/** An allocating write waiting for the next batch (see queueAllocatingWrite). */
interface QueuedWrite {
  offset: number;
  from: Uint8Array;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class Qcow2Image implements DiskImage {
  readonly format = 'qcow2' as const;
  virtualSize: number;

  private readonly clusterSize: number;
  private readonly clusterBits: number;
  private readonly l2Entries: number;
  /** Refcount entries per refcount block (16-bit refcounts). */
  private readonly refcountsPerBlock: number;
  private l1: Table;
  private refcountTable: Float64Array;
  private readonly l2Cache: TableCache;
  private readonly refcountCache: TableCache;
  private readonly lock = new Mutex();
  private dirtyMarked = false;
  /** Lowest cluster index that may be free. */
  private freeHint = 0;
  /** One past the highest cluster index in use (or the file's end). */
  private highWater: number;
  private readonly dirtyRefcountBlocks = new Set<Table>();
  private lastCompressed: { hi: number; lo: number; data: Uint8Array } | undefined;
  private zeroCluster: Uint8Array | undefined;
  /** In-place runs found by the write fast path: [pos, length, host] triples; reused. */
  private readonly runScratch: number[] = [];
  private closed = false;
  private readonly allocQueue: QueuedWrite[] = [];
  private draining = false;
  /**
   * Every byte at or past this offset is known to be zero: the file ended there at open and no
   * cluster at or past it has been allocated since (each allocation moves it past the cluster).
   */
  private fileEnd: number;
  /** Fresh clusters from past `fileEnd` (still all zeros): a partial write need not fill them. */
  private readonly virginClusters = new Set<number>();
  /** L2 tables whose changed entries wait for the next metadata sync (see syncMetadata). */
  private readonly unlinked = new Set<Table>();
  /** Entries unlinked since the last sync: their clusters are freed after it. */
  private pendingFrees: Array<{ hi: number; lo: number }> = [];
  /**
   * Host offsets of every L2 table and refcount block, so an allocation or a write that would
   * land on metadata (a damaged refcount or L2 entry) is refused instead of destroying the image
   * (QEMU's "overlap check"). The header, L1 and refcount tables are checked by range.
   */
  private readonly metadata = new Set<number>();

  private constructor(
    readonly path: string,
    private readonly file: StorageFile,
    private readonly header: Qcow2Header,
    readonly readOnly: boolean,
    l1: Table,
    refcountTable: Float64Array,
    fileSize: number,
    private readonly backing: DiskImage | undefined,
    cacheTables: number | undefined,
  ) {
    this.clusterBits = header.clusterBits;
    this.clusterSize = header.clusterSize;
    this.l2Entries = this.clusterSize / 8;
    this.refcountsPerBlock = this.clusterSize / 2;
    this.virtualSize = header.size;
    this.l1 = l1;
    this.refcountTable = refcountTable;
    this.highWater = Math.ceil(fileSize / this.clusterSize);
    this.fileEnd = fileSize;
    this.l2Cache = new TableCache(
      file,
      this.clusterSize,
      cacheTables ?? Math.max(16, L2_CACHE_BYTES / this.clusterSize),
    );
    this.refcountCache = new TableCache(
      file,
      this.clusterSize,
      cacheTables ?? Math.max(16, REFCOUNT_CACHE_BYTES / this.clusterSize),
    );
  }

  get clusterSizeBytes(): number {
    return this.clusterSize;
  }

  /**
   * Opens an image on an already open file. Validates the header, the L1 table and the refcount
   * table (every entry aligned, inside the file, not overlapping other metadata) before use.
   */
  static async open(path: string, file: StorageFile, o: Qcow2OpenOptions): Promise<Qcow2Image> {
    const bad = (problem: string): never => {
      throw new ImageFormatError(path, problem);
    };
    const fileSize = await file.size();
    const head = new Uint8Array(Math.min(fileSize, 1 << 21));
    await readFully(file, head, 0, head.length, 0);
    let h = parseHeader(path, head, fileSize);
    if (!o.readOnly && h.incompatible & INCOMPAT_DIRTY) {
      // Not closed cleanly (a crash, or another tool with lazy refcounts): recompute refcounts
      // before allocating anything, so no cluster in use can look free.
      const check = await checkQcow2(path, file, true);
      if (check.corruptions > 0) {
        bad(
          `the image was not closed cleanly and is corrupt (${check.messages[0] ?? ''}); repair it with qemu-img check -r all`,
        );
      }
      await readFully(file, head, 0, head.length, 0);
      h = parseHeader(path, head, fileSize);
    }
    const cs = h.clusterSize;
    if (!o.readOnly && h.incompatible & INCOMPAT_CORRUPT) {
      bad(
        'the image is marked corrupt; repair it with qemu-img check -r all, or open it read-only',
      );
    }
    if (!o.readOnly && h.nbSnapshots > 0) {
      bad(
        `the image has ${h.nbSnapshots} internal snapshots, which Vireo cannot write around yet; open it read-only or remove them with qemu-img snapshot -d`,
      );
    }
    const metadata = new Map<number, string>([[0, 'the header']]);
    const claim = (offset: number, what: string): void => {
      const other = metadata.get(offset);
      if (other !== undefined) bad(`${what} at ${offset} overlaps ${other}`);
      metadata.set(offset, what);
    };
    const l1Bytes = new Uint8Array(h.l1Size * 8);
    await readFully(file, l1Bytes, 0, l1Bytes.length, h.l1TableOffset);
    for (let c = 0; c < Math.ceil(l1Bytes.length / cs); c++)
      claim(h.l1TableOffset + c * cs, 'the L1 table');
    const rtEntries = (h.refcountTableClusters * cs) / 8;
    for (let c = 0; c < h.refcountTableClusters; c++) {
      claim(h.refcountTableOffset + c * cs, 'the refcount table');
    }
    const rtBytes = new Uint8Array(rtEntries * 8);
    await readFully(file, rtBytes, 0, rtBytes.length, h.refcountTableOffset);
    const rtView = new DataView(rtBytes.buffer);
    const refcountTable = new Float64Array(rtEntries);
    for (let i = 0; i < rtEntries; i++) {
      const hi = rtView.getUint32(i * 8);
      const lo = rtView.getUint32(i * 8 + 4);
      if (hi === 0 && lo === 0) continue;
      const offset = hi * 0x1_0000_0000 + lo;
      if (offset % cs !== 0 || offset + cs > fileSize) {
        bad(`refcount table entry ${i} points to ${offset}, not a cluster inside the file`);
      }
      claim(offset, `refcount block ${i}`);
      refcountTable[i] = offset;
    }
    const l1 = newTable(h.l1TableOffset, l1Bytes);
    for (let i = 0; i < h.l1Size; i++) {
      const offset = entryOffset(l1, i);
      if (offset === 0) continue;
      if (offset % cs !== 0 || offset + cs > fileSize) {
        bad(`L1 entry ${i} points to ${offset}, not a cluster inside the file`);
      }
      claim(offset, `the L2 table of L1 entry ${i}`);
    }

    let backing: DiskImage | undefined;
    if (h.backingFile !== undefined) {
      if (!o.openBacking) bad('the image has a backing file, but no way to open it was given');
      const format = h.backingFormat;
      if (format !== undefined && format !== 'raw' && format !== 'qcow2') {
        bad(`the backing file format "${format}" is not supported (raw or qcow2)`);
      }
      backing = await o.openBacking!(h.backingFile, format);
    }
    const image = new Qcow2Image(
      path,
      file,
      h,
      o.readOnly,
      l1,
      refcountTable,
      fileSize,
      backing,
      o.cacheTables,
    );
    for (const [offset, what] of metadata) {
      if (what.startsWith('the L2') || what.startsWith('refcount block'))
        image.metadata.add(offset);
    }
    if (!o.readOnly) {
      // Every cluster the metadata occupies must be counted by some refcount block, or the
      // allocator would hand it out again.
      for (const [offset, what] of metadata) {
        if (!refcountTable[Math.floor(offset / cs / (cs / 2))]) {
          await image.close();
          bad(
            `${what} at ${offset} has no refcount block (the image is corrupt; repair it with qemu-img check -r all)`,
          );
        }
      }
    }
    return image;
  }

  // ---- reading ----------------------------------------------------------------------------

  async read(offset: number, into: Uint8Array): Promise<void> {
    return this.readv(offset, [into]);
  }

  /**
   * Reads the range cluster by cluster into the scatter list: a run of clusters that follow
   * each other in the file is one preadv(2) straight into the buffers under it.
   */
  async readv(offset: number, views: readonly Uint8Array[]): Promise<void> {
    const into = new ScatterList(views);
    checkRange(this.path, this.virtualSize, offset, into.length);
    const cs = this.clusterSize;
    const length = into.length;
    let pending: Promise<unknown>[] | undefined;
    let pos = 0;
    while (pos < length) {
      const guest = offset + pos;
      const cluster = Math.floor(guest / cs);
      const inCluster = guest - cluster * cs;
      const l1Index = Math.floor(cluster / this.l2Entries);
      const l2Index = cluster - l1Index * this.l2Entries;
      let n = Math.min(cs - inCluster, length - pos);
      const l2Offset = entryOffset(this.l1, l1Index);
      if (l2Offset === 0) {
        // No L2 table: the rest of this table's span is unallocated.
        n = Math.min(length - pos, (this.l2Entries - l2Index) * cs - inCluster);
        (pending ??= []).push(this.readUnallocated(guest, into, pos, n));
        pos += n;
        continue;
      }
      const table = this.l2Cache.peek(l2Offset) ?? (await this.l2Cache.get(l2Offset));
      const hi = table.view.getUint32(l2Index * 8);
      const lo = table.view.getUint32(l2Index * 8 + 4);
      const kind = this.kindOf(hi, lo);
      if (kind === Kind.Normal) {
        const host = this.dataOffset(table, l2Index);
        // Merge following clusters that sit right after this one in the file: one pread.
        let next = l2Index + 1;
        while (pos + n < length && next < this.l2Entries) {
          const nhi = table.view.getUint32(next * 8);
          const nlo = table.view.getUint32(next * 8 + 4);
          if (this.kindOf(nhi, nlo) !== Kind.Normal) break;
          if (this.dataOffset(table, next) !== host + (next - l2Index) * cs) break;
          n += Math.min(cs, length - pos - n);
          next++;
        }
        const run = readVector(this.file, into.slice(pos, n), host + inCluster);
        if (n === length) return run; // one preadv, nothing else to wait for
        (pending ??= []).push(run);
      } else if (kind === Kind.Zero) {
        into.fillZero(pos, n);
      } else if (kind === Kind.Unallocated) {
        (pending ??= []).push(this.readUnallocated(guest, into, pos, n));
      } else {
        const data = await this.readCompressed(hi, lo);
        into.set(data.subarray(inCluster, inCluster + n), pos);
      }
      pos += n;
    }
    if (pending) await Promise.all(pending);
  }

  private kindOf(hi: number, lo: number): Kind {
    if (hi & HI_COMPRESSED) return Kind.Compressed;
    if (lo & LO_ZERO) return Kind.Zero;
    if ((hi & 0x00ffffff) === 0 && (lo & 0xfffffe00) === 0) return Kind.Unallocated;
    return Kind.Normal;
  }

  /** The data cluster a standard L2 entry points at, checked to be cluster-aligned. */
  private dataOffset(table: Table, l2Index: number): number {
    const host = entryOffset(table, l2Index);
    if (host % this.clusterSize !== 0) {
      throw new ImageFormatError(
        this.path,
        `L2 table at ${table.offset} entry ${l2Index} points to ${host}, which is not a cluster boundary (the image is corrupt; qemu-img check -r all may repair it)`,
      );
    }
    return host;
  }

  /** What metadata lives in the cluster at `host`, if any. */
  private metadataAt(host: number): string | undefined {
    const cs = this.clusterSize;
    if (host < cs) return 'the header';
    const l1 = this.header.l1TableOffset;
    if (host >= l1 && host < l1 + Math.ceil((this.header.l1Size * 8) / cs) * cs)
      return 'the L1 table';
    const rt = this.header.refcountTableOffset;
    if (host >= rt && host < rt + this.header.refcountTableClusters * cs)
      return 'the refcount table';
    if (this.metadata.has(host)) return 'an L2 table or refcount block';
    return undefined;
  }

  /** Refuses to put data (or a new table) on top of metadata: the image is damaged. */
  private checkNotMetadata(host: number, why: string): void {
    const what = this.metadataAt(host);
    if (what !== undefined) {
      throw new ImageFormatError(
        this.path,
        `${why} the cluster at ${host}, which holds ${what} (the image is corrupt; repair it with qemu-img check -r all)`,
      );
    }
  }

  /** Unallocated guest range: the backing file's bytes where it has them, zeros elsewhere. */
  private async readUnallocated(
    guest: number,
    into: ScatterList,
    pos: number,
    n: number,
  ): Promise<void> {
    const backingSize = this.backing ? this.backing.virtualSize : 0;
    const fromBacking = Math.max(0, Math.min(n, backingSize - guest));
    if (fromBacking > 0) await this.backing!.readv(guest, into.slice(pos, fromBacking));
    if (fromBacking < n) into.fillZero(pos + fromBacking, n - fromBacking);
  }

  /**
   * Inflates a compressed cluster (raw deflate, QEMU's -12 window). Its descriptor holds the host
   * offset in the low 62-(cluster_bits-8) bits and the count of additional 512-byte sectors above.
   */
  private async readCompressed(hi: number, lo: number): Promise<Uint8Array> {
    const last = this.lastCompressed;
    if (last && last.hi === hi && last.lo === lo) return last.data;
    const { offset, sectorStart, sectors } = this.compressedExtent(hi, lo);
    const stored = sectors * 512 - (offset - sectorStart);
    const input = new Uint8Array(stored);
    await readFully(this.file, input, 0, stored, offset);
    let data: Uint8Array;
    try {
      data = inflateRawSync(input, {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: this.clusterSize,
      });
    } catch {
      throw new ImageFormatError(
        this.path,
        `the compressed cluster at ${offset} does not inflate (the image is corrupt)`,
      );
    }
    if (data.length !== this.clusterSize) {
      throw new ImageFormatError(
        this.path,
        `the compressed cluster at ${offset} inflates to ${data.length} bytes, not one cluster`,
      );
    }
    this.lastCompressed = { hi, lo, data };
    return data;
  }

  /** Host byte range of a compressed cluster: [sectorStart, sectorStart + sectors * 512). */
  compressedExtent(
    hi: number,
    lo: number,
  ): { offset: number; sectorStart: number; sectors: number } {
    return compressedExtent(this.clusterBits, hi, lo);
  }

  // ---- writing ----------------------------------------------------------------------------

  /**
   * Gathers the buffers and writes them as one (a write may allocate clusters and fill their
   * edges, which the write path does on one buffer; the copy is the price).
   */
  async writev(
    offset: number,
    from: readonly Uint8Array[],
    opts?: { fua?: boolean },
  ): Promise<void> {
    if (from.length === 1) return this.write(offset, from[0]!, opts);
    const gathered = new Uint8Array(totalBytes(from));
    let at = 0;
    for (const v of from) {
      gathered.set(v, at);
      at += v.length;
    }
    return this.write(offset, gathered, opts);
  }

  async write(offset: number, from: Uint8Array, opts?: { fua?: boolean }): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkRange(this.path, this.virtualSize, offset, from.length);
    if (!this.dirtyMarked) await this.lock.run(() => this.markDirty());
    let done = this.writeInPlace(offset, from);
    if (done === undefined) {
      // An L2 table is not cached: load it outside the lock, then try the fast path again.
      await this.loadTablesFor(offset, from.length);
      done = this.writeInPlace(offset, from);
    }
    if (done === undefined || done === false) {
      await this.queueAllocatingWrite(offset, from);
    } else {
      await done;
    }
    if (opts?.fua) await this.flush();
  }

  /**
   * Fast path: every cluster of the range is already allocated (a normal cluster), so the write
   * goes straight to the file without the lock. Returns undefined if an L2 table is not cached,
   * false if some cluster needs allocation, else the write in flight.
   */
  private writeInPlace(offset: number, from: Uint8Array): Promise<unknown> | false | undefined {
    const cs = this.clusterSize;
    const runs = this.runScratch;
    runs.length = 0;
    const length = from.length;
    let pos = 0;
    while (pos < length) {
      const guest = offset + pos;
      const cluster = Math.floor(guest / cs);
      const inCluster = guest - cluster * cs;
      const l1Index = Math.floor(cluster / this.l2Entries);
      const l2Index = cluster - l1Index * this.l2Entries;
      const n = Math.min(cs - inCluster, length - pos);
      const l2Offset = entryOffset(this.l1, l1Index);
      if (l2Offset === 0) return false;
      const table = this.l2Cache.peek(l2Offset);
      if (!table) return undefined;
      const hi = table.view.getUint32(l2Index * 8);
      const lo = table.view.getUint32(l2Index * 8 + 4);
      if (this.kindOf(hi, lo) !== Kind.Normal) return false;
      const start = this.dataOffset(table, l2Index);
      if (this.metadataAt(start) !== undefined) return false; // the slow path refuses it
      const host = start + inCluster;
      const last = runs.length - 3;
      if (last >= 0 && runs[last + 2]! + runs[last + 1]! === host) runs[last + 1]! += n;
      else runs.push(pos, n, host);
      pos += n;
    }
    if (runs.length === 3) return this.file.write(from, runs[0]!, runs[1]!, runs[2]!);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < runs.length; i += 3)
      writes.push(this.file.write(from, runs[i]!, runs[i + 1]!, runs[i + 2]!));
    return Promise.all(writes);
  }

  private async loadTablesFor(offset: number, length: number): Promise<void> {
    const span = this.l2Entries * this.clusterSize;
    for (let l1Index = Math.floor(offset / span); l1Index * span < offset + length; l1Index++) {
      const l2Offset = entryOffset(this.l1, l1Index);
      if (l2Offset !== 0) await this.l2Cache.get(l2Offset);
    }
  }

  /** The L2 table for an L1 index, pinned; a new zeroed one (written, not yet linked) if none. */
  private async l2ForWrite(l1Index: number, created: { any: boolean }): Promise<Table> {
    const l2Offset = entryOffset(this.l1, l1Index);
    let table: Table;
    if (l2Offset !== 0) {
      table = await this.l2Cache.get(l2Offset);
    } else {
      const [host] = await this.allocClusters(1);
      this.virginClusters.delete(host!); // written in full just below
      table = newTable(host!, new Uint8Array(this.clusterSize));
      this.metadata.add(host!);
      this.l2Cache.insert(table);
      await this.file.write(table.bytes, 0, this.clusterSize, host!);
      // Linked in memory now (readers see an empty table, which reads as unallocated); the L1
      // entry reaches the disk only after the caller's fdatasync.
      setEntry(this.l1, l1Index, HI_COPIED | offsetHi(host!), offsetLo(host!));
      created.any = true;
    }
    table.pins++;
    this.l2Cache.insert(table); // in case a load finishing meanwhile evicted it
    return table;
  }

  /** Writes under the lock: allocates what the range needs, copy-on-write of partial clusters. */
  private async writeLocked(offset: number, from: Uint8Array): Promise<void> {
    const pinned: Table[] = [];
    const created = { any: false };
    try {
      const inPlace: Promise<void>[] = [];
      const cows: CowCluster[] = [];
      await this.planWrite(offset, from, created, pinned, inPlace, cows);
      await this.allocateAndWrite(cows, inPlace, created.any);
    } finally {
      for (const t of pinned) t.pins--;
    }
  }

  /**
   * Allocating writes that arrive while another holds the lock wait here and then go together:
   * one allocation, one round of writes (one libuv round trip), one linking, for the batch.
   * A request that touches a cluster an earlier request of the batch touches waits for the next
   * batch, so two copy-on-writes of one cluster never race.
   */
  private queueAllocatingWrite(offset: number, from: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.allocQueue.push({ offset, from, resolve, reject });
      if (!this.draining) void this.drainAllocQueue();
    });
  }

  private async drainAllocQueue(): Promise<void> {
    this.draining = true;
    try {
      while (this.allocQueue.length > 0) {
        const batch = this.allocQueue.splice(0);
        await this.lock.run(() => this.writeBatch(batch)).catch(() => undefined);
      }
    } finally {
      this.draining = false;
    }
  }

  private async writeBatch(batch: QueuedWrite[]): Promise<void> {
    const cs = this.clusterSize;
    const claimed = new Set<number>();
    const taken: QueuedWrite[] = [];
    const deferred: QueuedWrite[] = [];
    for (const r of batch) {
      const first = Math.floor(r.offset / cs);
      const last = Math.floor((r.offset + r.from.length - 1) / cs);
      let clash = false;
      for (let c = first; c <= last && !clash; c++) clash = claimed.has(c);
      for (let c = first; c <= last; c++) claimed.add(c);
      (clash ? deferred : taken).push(r);
    }
    this.allocQueue.unshift(...deferred);
    const pinned: Table[] = [];
    const created = { any: false };
    const inPlace: Promise<void>[] = [];
    try {
      const cows: CowCluster[] = [];
      for (const r of taken) await this.planWrite(r.offset, r.from, created, pinned, inPlace, cows);
      await this.allocateAndWrite(cows, inPlace, created.any);
      for (const r of taken) r.resolve();
    } catch (error) {
      await Promise.allSettled(inPlace);
      for (const r of taken) r.reject(error);
    } finally {
      for (const t of pinned) t.pins--;
    }
  }

  /** Classifies a write's clusters: in-place writes start now, the rest become `cows`. */
  private async planWrite(
    offset: number,
    from: Uint8Array,
    created: { any: boolean },
    pinned: Table[],
    inPlace: Promise<void>[],
    cows: CowCluster[],
  ): Promise<void> {
    const cs = this.clusterSize;
    {
      let pos = 0;
      while (pos < from.length) {
        const guest = offset + pos;
        const cluster = Math.floor(guest / cs);
        const inCluster = guest - cluster * cs;
        const l1Index = Math.floor(cluster / this.l2Entries);
        const l2Index = cluster - l1Index * this.l2Entries;
        const n = Math.min(cs - inCluster, from.length - pos);
        const table = await this.l2ForWrite(l1Index, created);
        pinned.push(table);
        const hi = table.view.getUint32(l2Index * 8);
        const lo = table.view.getUint32(l2Index * 8 + 4);
        const kind = this.kindOf(hi, lo);
        const host = kind === Kind.Compressed ? 0 : this.dataOffset(table, l2Index);
        if (host !== 0) this.checkNotMetadata(host, `guest cluster ${cluster} would be written to`);
        if (kind === Kind.Normal) {
          inPlace.push(this.file.write(from, pos, n, host + inCluster));
        } else {
          cows.push({
            from,
            table,
            l2Index,
            guestStart: cluster * cs,
            inCluster,
            pos,
            length: n,
            kind,
            hi,
            lo,
            host,
          });
        }
        pos += n;
      }
    }
  }

  /**
   * Gives each cluster in `cows` a host cluster (a zero cluster keeps its own), writes the whole
   * cluster (old contents merged under the new bytes), syncs, then links the L2 entries.
   */
  private async allocateAndWrite(
    cows: CowCluster[],
    writes: Promise<void>[],
    tablesCreated: boolean,
  ): Promise<void> {
    const needNew = cows.filter((c) => c.host === 0 || c.kind !== Kind.Zero);
    const fresh = needNew.length > 0 ? await this.allocClusters(needNew.length, writes) : [];
    const freed: Array<{ hi: number; lo: number }> = [];
    try {
      await this.fillClusters(cows, fresh, writes, freed);
    } catch (error) {
      await Promise.allSettled(writes); // nothing left running against tables we are leaving
      throw error;
    }
    await Promise.all(writes);
    if (cows.length === 0 && !tablesCreated) return;
    // Linked in memory now (reads see the new data); on disk at the next metadata sync, after
    // an fdatasync has made the data and refcounts durable.
    for (const c of cows) {
      setEntry(c.table, c.l2Index, HI_COPIED | offsetHi(c.host), offsetLo(c.host));
      this.unlinked.add(c.table);
    }
    for (const f of freed) this.pendingFrees.push(f);
    await this.syncMetadataIfMany();
  }

  /** Builds and writes each new cluster's contents (whole-cluster runs in one write). */
  private async fillClusters(
    cows: CowCluster[],
    fresh: number[],
    writes: Promise<void>[],
    freed: Array<{ hi: number; lo: number }>,
  ): Promise<void> {
    const cs = this.clusterSize;
    let k = 0;
    // Whole clusters that are next to each other both in the request and in the file go out as
    // one write (fresh clusters are usually contiguous: the allocator hands out the lowest free).
    let runFrom: Uint8Array | undefined;
    let runPos = 0;
    let runLength = 0;
    let runHost = 0;
    const endRun = (): void => {
      if (runFrom && runLength > 0)
        writes.push(this.file.write(runFrom, runPos, runLength, runHost));
      runLength = 0;
    };
    for (const c of cows) {
      const reuse = c.kind === Kind.Zero && c.host !== 0;
      if (!reuse) c.host = fresh[k++]!;
      const virgin = !reuse && this.virginClusters.delete(c.host);
      if (c.kind === Kind.Compressed) freed.push({ hi: c.hi, lo: c.lo });
      if (c.length === cs) {
        if (
          runLength > 0 &&
          runFrom === c.from &&
          runPos + runLength === c.pos &&
          runHost + runLength === c.host
        ) {
          runLength += cs;
        } else {
          endRun();
          runFrom = c.from;
          runPos = c.pos;
          runHost = c.host;
          runLength = cs;
        }
        continue;
      }
      const oldIsZero =
        c.kind === Kind.Zero ||
        (c.kind === Kind.Unallocated &&
          (this.backing === undefined || c.guestStart >= this.backing.virtualSize));
      if (virgin && oldIsZero) {
        // The cluster has never been written and its old contents are zeros: write only the
        // guest's bytes; the rest reads as zeros (a hole, or past the end of the file).
        writes.push(this.file.write(c.from, c.pos, c.length, c.host + c.inCluster));
        continue;
      }
      const buffer = new Uint8Array(cs);
      if (c.kind === Kind.Unallocated)
        await this.readUnallocated(c.guestStart, new ScatterList([buffer]), 0, cs);
      else if (c.kind === Kind.Compressed) buffer.set(await this.readCompressed(c.hi, c.lo));
      buffer.set(c.from.subarray(c.pos, c.pos + c.length), c.inCluster);
      writes.push(this.file.write(buffer, 0, cs, c.host));
    }
    endRun();
  }

  /**
   * Writes the L1/L2 entries changed since the last sync, in the crash-safe order: fdatasync
   * (the data clusters, new tables and raised refcounts they point at are durable), then the
   * entries; then, if clusters were unlinked, fdatasync again and lower their refcounts.
   * Deferring this to the guest's flush is what lets many allocating writes share one
   * fdatasync (QEMU's qcow2 cache does the same with its flush dependencies).
   */
  private async syncMetadata(): Promise<void> {
    if (
      this.unlinked.size === 0 &&
      this.l1.dirtyLo === Infinity &&
      this.pendingFrees.length === 0
    ) {
      return;
    }
    await this.file.datasync();
    const tables = [...this.unlinked];
    this.unlinked.clear();
    await this.writeTables(tables);
    const frees = this.pendingFrees;
    this.pendingFrees = [];
    if (frees.length > 0) await this.freeEntries(frees);
  }

  /** Bounds what a sync must write (and the pinned tables) when the guest rarely flushes. */
  private async syncMetadataIfMany(): Promise<void> {
    if (
      this.unlinked.size >= MAX_UNLINKED_TABLES ||
      this.pendingFrees.length >= MAX_PENDING_FREES
    ) {
      await this.syncMetadata();
    }
  }

  /** Writes the L1 table's and the given L2 tables' changed entries. */
  private async writeTables(tables: Iterable<Table>): Promise<void> {
    const writes = [writeDirty(this.file, this.l1)];
    for (const t of tables) writes.push(writeDirty(this.file, t));
    await Promise.all(writes);
  }

  /** Lowers the refcounts of clusters whose entries were just unlinked (after a sync). */
  private async freeEntries(entries: Array<{ hi: number; lo: number }>): Promise<void> {
    await this.file.datasync();
    for (const { hi, lo } of entries) {
      if (hi & HI_COMPRESSED) {
        const { sectorStart, sectors } = this.compressedExtent(hi, lo);
        const first = Math.floor(sectorStart / this.clusterSize);
        const last = Math.floor((sectorStart + sectors * 512 - 1) / this.clusterSize);
        for (let c = first; c <= last; c++) await this.changeRefcount(c, -1);
        this.lastCompressed = undefined;
      } else {
        const host = (hi & 0x00ffffff) * 0x1_0000_0000 + ((lo & 0xfffffe00) >>> 0);
        await this.changeRefcount(host / this.clusterSize, -1);
      }
    }
    await this.writeRefcounts();
  }

  // ---- discard and zeroes ----------------------------------------------------------------

  async discard(offset: number, length: number): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkRange(this.path, this.virtualSize, offset, length);
    await this.lock.run(() => this.zeroLocked(offset, length, true));
  }

  async writeZeroes(offset: number, length: number, opts?: { unmap?: boolean }): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkRange(this.path, this.virtualSize, offset, length);
    await this.lock.run(() => this.zeroLocked(offset, length, opts?.unmap ?? false));
  }

  /**
   * Makes the range read as zeros. Whole clusters change only their L2 entry: unmapped (entry 0
   * without a backing file, the zero flag with one, so the backing file does not show through)
   * or, without unmap, keep their host cluster and gain the zero flag. Partial clusters at the
   * ends are written with zeros. Discard is the same with unmap: Vireo's discarded sectors read
   * as zeros, as a raw file's punched holes do.
   */
  private async zeroLocked(offset: number, length: number, unmap: boolean): Promise<void> {
    await this.markDirty();
    const cs = this.clusterSize;
    const end = offset + length;
    const firstWhole = Math.ceil(offset / cs) * cs;
    const lastWhole = Math.floor(end / cs) * cs;
    if (firstWhole > lastWhole) {
      await this.zeroPartial(offset, end); // inside one cluster
      return;
    }
    if (offset < firstWhole) await this.zeroPartial(offset, firstWhole);
    if (lastWhole < end) await this.zeroPartial(lastWhole, end);
    if (firstWhole === lastWhole) return;

    const created = { any: false };
    const pinned: Table[] = [];
    const changed = new Set<Table>();
    const freed: Array<{ hi: number; lo: number }> = [];
    const backingEnd = this.backing ? this.backing.virtualSize : 0;
    try {
      for (let cluster = firstWhole / cs; cluster < lastWhole / cs;) {
        const l1Index = Math.floor(cluster / this.l2Entries);
        const spanEnd = Math.min((l1Index + 1) * this.l2Entries, lastWhole / cs);
        const needsZeroFlag = cluster * cs < backingEnd;
        if (entryOffset(this.l1, l1Index) === 0 && !needsZeroFlag) {
          cluster = spanEnd;
          continue;
        }
        const table = await this.l2ForWrite(l1Index, created);
        pinned.push(table);
        for (; cluster < spanEnd; cluster++) {
          const l2Index = cluster - l1Index * this.l2Entries;
          const hi = table.view.getUint32(l2Index * 8);
          const lo = table.view.getUint32(l2Index * 8 + 4);
          const kind = this.kindOf(hi, lo);
          const showsBacking = cluster * cs < backingEnd;
          const empty = showsBacking ? LO_ZERO : 0;
          if (kind === Kind.Compressed) {
            freed.push({ hi, lo });
            setEntry(table, l2Index, 0, empty);
          } else if (
            kind === Kind.Normal ||
            (kind === Kind.Zero && entryOffset(table, l2Index) !== 0)
          ) {
            if (unmap) {
              this.dataOffset(table, l2Index);
              freed.push({ hi, lo });
              setEntry(table, l2Index, 0, empty);
            } else if (kind === Kind.Normal) {
              setEntry(table, l2Index, hi, lo | LO_ZERO);
            } else continue;
          } else if (kind === Kind.Unallocated && showsBacking) {
            setEntry(table, l2Index, 0, LO_ZERO);
          } else continue;
          changed.add(table);
        }
      }
      for (const t of changed) this.unlinked.add(t);
      for (const f of freed) this.pendingFrees.push(f);
      await this.syncMetadataIfMany();
    } finally {
      for (const t of pinned) t.pins--;
    }
  }

  /** Zeros part of one cluster through the write path, unless it already reads as zeros. */
  private async zeroPartial(start: number, end: number): Promise<void> {
    const cs = this.clusterSize;
    const cluster = Math.floor(start / cs);
    const l1Index = Math.floor(cluster / this.l2Entries);
    const l2Offset = entryOffset(this.l1, l1Index);
    const showsBacking = this.backing !== undefined && start < this.backing.virtualSize;
    if (l2Offset === 0 && !showsBacking) return;
    if (l2Offset !== 0) {
      const table = await this.l2Cache.get(l2Offset);
      const l2Index = cluster - l1Index * this.l2Entries;
      const kind = this.kindOf(
        table.view.getUint32(l2Index * 8),
        table.view.getUint32(l2Index * 8 + 4),
      );
      if (kind === Kind.Zero || (kind === Kind.Unallocated && !showsBacking)) return;
    }
    this.zeroCluster ??= new Uint8Array(cs);
    await this.writeLocked(start, this.zeroCluster.subarray(0, end - start));
  }

  // ---- refcounts and allocation ----------------------------------------------------------

  private async refcountBlock(blockIndex: number): Promise<Table | undefined> {
    if (blockIndex >= this.refcountTable.length) return undefined;
    const offset = this.refcountTable[blockIndex]!;
    if (offset === 0) return undefined;
    return this.refcountCache.peek(offset) ?? (await this.refcountCache.get(offset));
  }

  private setRefcountIn(block: Table, index: number, value: number): void {
    block.view.setUint16(index * 2, value);
    if (block.dirtyLo === Infinity) this.dirtyRefcountBlocks.add(block);
    markDirty(block, index * 2, 2);
  }

  private async changeRefcount(cluster: number, delta: number): Promise<void> {
    const blockIndex = Math.floor(cluster / this.refcountsPerBlock);
    const block = await this.refcountBlock(blockIndex);
    const index = cluster - blockIndex * this.refcountsPerBlock;
    const value = block ? block.view.getUint16(index * 2) + delta : delta;
    if (!block || value < 0 || value > 0xffff) {
      throw new ImageFormatError(
        this.path,
        `refcount of cluster ${cluster} would become ${value} (the image is corrupt; run qemu-img check -r all)`,
      );
    }
    this.setRefcountIn(block, index, value);
    if (value === 0) {
      if (cluster < this.freeHint) this.freeHint = cluster;
      this.l2Cache.forget(cluster * this.clusterSize);
    }
  }

  /** Moves `fileEnd` past a cluster just allocated (see fileEnd). */
  private noteAllocated(cluster: number): void {
    const end = (cluster + 1) * this.clusterSize;
    if (end > this.fileEnd) this.fileEnd = end;
  }

  /** Writes every refcount block with changes (they are pinned until written). */
  private async writeRefcounts(): Promise<void> {
    const blocks = [...this.dirtyRefcountBlocks];
    this.dirtyRefcountBlocks.clear();
    await Promise.all(blocks.map((b) => writeDirty(this.file, b)));
  }

  /**
   * Allocates `count` clusters (lowest free first, so holes left by discards are reused), sets
   * their refcounts to 1 and writes the refcount blocks. Returns host offsets.
   */
  private async allocClusters(count: number, refcountWrites?: Promise<void>[]): Promise<number[]> {
    const out: number[] = [];
    let cluster = this.freeHint;
    while (out.length < count) {
      const blockIndex = Math.floor(cluster / this.refcountsPerBlock);
      const block = await this.refcountBlock(blockIndex);
      if (!block) {
        await this.ensureRefcountBlock(blockIndex, cluster);
        continue;
      }
      const end = (blockIndex + 1) * this.refcountsPerBlock;
      for (; cluster < end && out.length < count; cluster++) {
        const index = cluster - blockIndex * this.refcountsPerBlock;
        if (block.view.getUint16(index * 2) !== 0) continue;
        this.checkNotMetadata(cluster * this.clusterSize, 'a refcount of 0 would hand out');
        this.setRefcountIn(block, index, 1);
        const host = cluster * this.clusterSize;
        if (host >= this.fileEnd) this.virginClusters.add(host);
        this.noteAllocated(cluster);
        out.push(host);
        // Kept current at every step: a refcount table growth below starts at highWater.
        if (cluster >= this.highWater) this.highWater = cluster + 1;
      }
    }
    this.freeHint = cluster;
    if (cluster > this.highWater) this.highWater = cluster;
    // The caller may take the refcount write along with its data writes (one round trip for
    // both): either way it completes before the fdatasync that precedes any link to these.
    if (refcountWrites) refcountWrites.push(this.writeRefcounts());
    else await this.writeRefcounts();
    return out;
  }

  /** Allocates `count` contiguous clusters past the end of everything in use (for tables). */
  private async allocContiguous(count: number): Promise<number> {
    let start = this.highWater;
    retry: for (;;) {
      for (let cluster = start; cluster < start + count; cluster++) {
        const blockIndex = Math.floor(cluster / this.refcountsPerBlock);
        const block = await this.refcountBlock(blockIndex);
        if (!block) {
          await this.ensureRefcountBlock(blockIndex, cluster);
          start = Math.max(start, this.highWater);
          continue retry;
        }
        if (block.view.getUint16((cluster - blockIndex * this.refcountsPerBlock) * 2) !== 0) {
          start = cluster + 1;
          continue retry;
        }
      }
      break;
    }
    for (let cluster = start; cluster < start + count; cluster++) {
      this.checkNotMetadata(cluster * this.clusterSize, 'a new table would overwrite');
      const blockIndex = Math.floor(cluster / this.refcountsPerBlock);
      const block = (await this.refcountBlock(blockIndex))!;
      this.setRefcountIn(block, cluster - blockIndex * this.refcountsPerBlock, 1);
      this.noteAllocated(cluster);
    }
    this.highWater = Math.max(this.highWater, start + count);
    await this.writeRefcounts();
    return start * this.clusterSize;
  }

  /**
   * Creates refcount block `blockIndex` at `cluster` (a cluster inside the range the block
   * covers, so it counts itself), synced before the refcount table points at it. If the refcount
   * table is full, grows the table instead (which creates the blocks it needs).
   */
  private async ensureRefcountBlock(blockIndex: number, cluster: number): Promise<void> {
    if (blockIndex >= this.refcountTable.length) {
      await this.growRefcountTable(blockIndex);
      return;
    }
    const cs = this.clusterSize;
    this.checkNotMetadata(cluster * cs, 'a new refcount block would overwrite');
    const block = newTable(cluster * cs, new Uint8Array(cs));
    this.metadata.add(block.offset);
    block.view.setUint16((cluster - blockIndex * this.refcountsPerBlock) * 2, 1);
    await this.file.write(block.bytes, 0, cs, block.offset);
    await this.file.datasync();
    this.refcountTable[blockIndex] = block.offset;
    this.refcountCache.insert(block);
    const entry = new Uint8Array(8);
    new DataView(entry.buffer).setBigUint64(0, BigInt(block.offset));
    await this.file.write(entry, 0, 8, this.header.refcountTableOffset + blockIndex * 8);
    if (cluster + 1 > this.highWater) this.highWater = cluster + 1;
    this.noteAllocated(cluster);
  }

  /**
   * Moves the refcount table to a bigger one past the end of the image, with new refcount blocks
   * for its own clusters (qcow2.txt: the table must be contiguous). New table and blocks are
   * written and synced, then the header switches to them (one 12-byte write), then the old
   * table's clusters are freed.
   */
  private async growRefcountTable(minBlockIndex: number): Promise<void> {
    const cs = this.clusterSize;
    const perCluster = cs / 8;
    const perBlock = this.refcountsPerBlock;
    const old = this.refcountTable;
    const start = this.highWater;
    let tableClusters = Math.ceil(Math.max(minBlockIndex + 1, old.length * 2) / perCluster);
    let newBlocks: number[] = [];
    const tooBig = (): never => {
      throw new ImageRequestError(
        this.path,
        'the image has grown beyond the largest refcount table qcow2 allows',
      );
    };
    for (;;) {
      if (tableClusters * cs > MAX_REFTABLE_BYTES) tooBig();
      const end = start + tableClusters + newBlocks.length;
      const missing: number[] = [];
      for (let b = Math.floor(start / perBlock); b <= Math.floor((end - 1) / perBlock); b++) {
        if (b >= old.length || old[b] === 0) missing.push(b);
      }
      const maxBlock = Math.max(minBlockIndex, Math.floor((end - 1) / perBlock));
      const enough = tableClusters * perCluster > maxBlock;
      if (missing.length === newBlocks.length && enough) {
        newBlocks = missing;
        break;
      }
      newBlocks = missing;
      if (!enough) tableClusters = Math.ceil((maxBlock + 1) / perCluster);
    }
    for (let cluster = start; cluster < start + tableClusters + newBlocks.length; cluster++) {
      this.checkNotMetadata(cluster * cs, 'a new refcount table would overwrite');
    }
    const table = new Float64Array(tableClusters * perCluster);
    table.set(old);
    const blocks = new Map<number, Table>();
    newBlocks.forEach((b, i) => {
      const offset = (start + tableClusters + i) * cs;
      blocks.set(b, newTable(offset, new Uint8Array(cs)));
      table[b] = offset;
    });
    const end = start + tableClusters + newBlocks.length;
    for (let cluster = start; cluster < end; cluster++) {
      const b = Math.floor(cluster / perBlock);
      const fresh = blocks.get(b);
      if (fresh) fresh.view.setUint16((cluster - b * perBlock) * 2, 1);
      else this.setRefcountIn((await this.refcountBlock(b))!, cluster - b * perBlock, 1);
    }
    const tableBytes = new Uint8Array(tableClusters * cs);
    const tableView = new DataView(tableBytes.buffer);
    table.forEach((offset, i) => {
      if (offset !== 0) tableView.setBigUint64(i * 8, BigInt(offset));
    });
    const writes = [this.file.write(tableBytes, 0, tableBytes.length, start * cs)];
    for (const block of blocks.values())
      writes.push(this.file.write(block.bytes, 0, cs, block.offset));
    await Promise.all(writes);
    await this.writeRefcounts();
    await this.file.datasync();
    const field = new Uint8Array(12);
    const fieldView = new DataView(field.buffer);
    fieldView.setBigUint64(0, BigInt(start * cs));
    fieldView.setUint32(8, tableClusters);
    await this.file.write(field, 0, 12, OFF_REFCOUNT_TABLE);
    await this.file.datasync();
    const oldOffset = this.header.refcountTableOffset;
    const oldClusters = this.header.refcountTableClusters;
    this.header.refcountTableOffset = start * cs;
    this.header.refcountTableClusters = tableClusters;
    this.refcountTable = table;
    for (const block of blocks.values()) {
      this.refcountCache.insert(block);
      this.metadata.add(block.offset);
    }
    this.highWater = Math.max(this.highWater, end);
    this.noteAllocated(end - 1);
    for (let c = 0; c < oldClusters; c++) await this.changeRefcount(oldOffset / cs + c, -1);
    await this.writeRefcounts();
  }

  // ---- header, flush, resize, close -------------------------------------------------------

  /** Sets the dirty bit (and drops autoclear features we do not maintain), synced, once. */
  private async markDirty(): Promise<void> {
    if (this.dirtyMarked) return;
    this.header.incompatible |= INCOMPAT_DIRTY;
    this.header.autoclear = 0n;
    await this.writeFeatureBits();
    this.dirtyMarked = true;
  }

  private async writeFeatureBits(): Promise<void> {
    const bytes = new Uint8Array(24);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, this.header.incompatible);
    view.setBigUint64(8, this.header.compatible);
    view.setBigUint64(16, this.header.autoclear);
    await this.file.write(bytes, 0, 24, OFF_INCOMPATIBLE);
    await this.file.datasync();
  }

  async flush(): Promise<void> {
    if (this.readOnly) return;
    await this.lock.run(async () => {
      await this.syncMetadata();
      await this.file.datasync();
    });
  }

  async resize(newSize: number): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkNewSize(this.path, this.virtualSize, newSize);
    await this.lock.run(async () => {
      await this.markDirty();
      await this.syncMetadata(); // the L1 table is copied below: write what it points at first
      const needed = l1EntriesFor(newSize, this.clusterBits);
      // Growing the L1 table writes the new size in the same header write as the new table.
      if (needed > this.header.l1Size) await this.growL1(needed, newSize);
      const field = new Uint8Array(8);
      new DataView(field.buffer).setBigUint64(0, BigInt(newSize));
      await this.file.write(field, 0, 8, OFF_SIZE);
      await this.file.datasync();
      this.header.size = newSize;
      this.virtualSize = newSize;
    });
  }

  /** Moves the L1 table to a bigger copy (half again as big, whole clusters), then frees the old. */
  private async growL1(needed: number, newSize: number): Promise<void> {
    const cs = this.clusterSize;
    const want = Math.max(needed, Math.ceil(this.header.l1Size * 1.5));
    const clusters = Math.ceil((want * 8) / cs);
    const entries = Math.min((clusters * cs) / 8, Math.max(needed, Math.floor(MAX_L1_BYTES / 8)));
    if (entries * 8 > MAX_L1_BYTES) {
      throw new ImageRequestError(
        this.path,
        'the new size needs an L1 table larger than qcow2 allows',
      );
    }
    const offset = await this.allocContiguous(clusters);
    const bytes = new Uint8Array(entries * 8);
    bytes.set(this.l1.bytes);
    await this.file.write(bytes, 0, bytes.length, offset);
    await this.file.datasync();
    // size (24), crypt_method (32), l1_size (36), l1_table_offset (40): one write inside the
    // first sector, so a crash leaves either the old size and table or the new ones.
    const field = new Uint8Array(24);
    const view = new DataView(field.buffer);
    view.setBigUint64(0, BigInt(newSize));
    view.setUint32(12, entries);
    view.setBigUint64(16, BigInt(offset));
    await this.file.write(field, 0, 24, OFF_SIZE);
    await this.file.datasync();
    const oldOffset = this.l1.offset;
    const oldClusters = Math.ceil((this.header.l1Size * 8) / cs);
    this.l1 = newTable(offset, bytes);
    this.header.l1Size = entries;
    this.header.l1TableOffset = offset;
    if (oldClusters > 0 && oldOffset !== 0) {
      for (let c = 0; c < oldClusters; c++) await this.changeRefcount(oldOffset / cs + c, -1);
      await this.writeRefcounts();
    }
  }

  /**
   * Allocates every cluster of the disk (for `createImage({ preallocate: true })`): L2 tables and
   * data clusters, contiguous per table, then reserves the file's blocks with fallocate.
   */
  async preallocate(): Promise<void> {
    await this.lock.run(async () => {
      const cs = this.clusterSize;
      const clusters = Math.ceil(this.virtualSize / cs);
      const tables: Table[] = [];
      const created = { any: false };
      for (let l1Index = 0; l1Index * this.l2Entries < clusters; l1Index++) {
        const table = await this.l2ForWrite(l1Index, created);
        tables.push(table);
        const count = Math.min(this.l2Entries, clusters - l1Index * this.l2Entries);
        const first = await this.allocContiguous(count);
        for (let i = 0; i < count; i++) {
          const host = first + i * cs;
          setEntry(table, i, HI_COPIED | offsetHi(host), offsetLo(host));
        }
      }
      const size = this.highWater * cs;
      if (!(await this.file.allocate(0, size))) await this.file.truncate(size);
      await this.file.datasync();
      await this.writeTables(tables);
      for (const t of tables) t.pins--;
      await this.file.datasync();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.lock.run(async () => {
        if (this.readOnly) return;
        await this.syncMetadata();
        await this.file.datasync();
        if (this.dirtyMarked) {
          this.header.incompatible &= ~INCOMPAT_DIRTY;
          await this.writeFeatureBits();
        }
      });
    } finally {
      await this.file.close();
      await this.backing?.close();
    }
  }
}

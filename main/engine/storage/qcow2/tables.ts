/**
 * Cluster-sized metadata tables (L1, L2 tables, refcount blocks) held in memory, and the bounded
 * LRU cache the L2 tables and refcount blocks live in. Tables are write-through: a change marks
 * a dirty byte range that the caller writes at the point the crash-safety order allows (after
 * the data it points to is durable), so eviction never loses anything; a table that has changes
 * not yet written is pinned and cannot be evicted.
 *
 * Entries are 64-bit big-endian (qcow2.txt "Cluster mapping"); they are read as two 32-bit
 * halves so the hot path never touches BigInt: host offsets live in bits 9-55.
 *
 * Runtime: engine (device thread) and control plane.
 */
import type { StorageFile } from '../file.js';
import { readFully } from '../file.js';

/** Entry flags in the high half. */
export const HI_COPIED = 0x80000000;
export const HI_COMPRESSED = 0x40000000;
/** Bits 32-55 of the offset (24 bits). */
export const HI_OFFSET_MASK = 0x00ffffff;
/** Bits 9-31 of the offset. */
export const LO_OFFSET_MASK = 0xfffffe00;
/** L2 "all zeros" flag (version 3). */
export const LO_ZERO = 1;

export interface Table {
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pins: number;
  dirtyLo: number;
  dirtyHi: number;
}

export function newTable(offset: number, bytes: Uint8Array): Table {
  return {
    offset,
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    pins: 0,
    dirtyLo: Infinity,
    dirtyHi: 0,
  };
}

/** The host offset an L1 or L2 entry holds (bits 9-55). */
export function entryOffset(t: Table, index: number): number {
  const at = index * 8;
  return (
    (t.view.getUint32(at) & HI_OFFSET_MASK) * 0x1_0000_0000 +
    ((t.view.getUint32(at + 4) & LO_OFFSET_MASK) >>> 0)
  );
}

/** Sets a 64-bit entry from its halves and marks it for writing. */
export function setEntry(t: Table, index: number, hi: number, lo: number): void {
  const at = index * 8;
  t.view.setUint32(at, hi >>> 0);
  t.view.setUint32(at + 4, lo >>> 0);
  markDirty(t, at, 8);
}

/** The halves of an entry that points at `offset` with the given flags. */
export function offsetHi(offset: number): number {
  return Math.floor(offset / 0x1_0000_0000) & HI_OFFSET_MASK;
}
export function offsetLo(offset: number): number {
  return (offset % 0x1_0000_0000) & LO_OFFSET_MASK;
}

export function markDirty(t: Table, at: number, length: number): void {
  if (t.dirtyHi === 0 && t.dirtyLo === Infinity) t.pins++;
  if (at < t.dirtyLo) t.dirtyLo = at;
  if (at + length > t.dirtyHi) t.dirtyHi = at + length;
}

/** Writes the table's changed byte range, then unpins it. */
export async function writeDirty(file: StorageFile, t: Table): Promise<void> {
  if (t.dirtyLo === Infinity) return;
  const lo = t.dirtyLo;
  const hi = t.dirtyHi;
  t.dirtyLo = Infinity;
  t.dirtyHi = 0;
  try {
    await file.write(t.bytes, lo, hi - lo, t.offset + lo);
  } finally {
    t.pins--;
  }
}

/** Bounded LRU of tables keyed by host offset; concurrent loads of one table share one read. */
export class TableCache {
  private readonly tables = new Map<number, Table>();
  private readonly loading = new Map<number, Promise<Table>>();

  constructor(
    private readonly file: StorageFile,
    private readonly tableSize: number,
    private readonly capacity: number,
  ) {}

  /** The table if cached (and marks it most recently used). */
  peek(offset: number): Table | undefined {
    // The hot path hits the same table again and again: skip the LRU shuffle for it.
    if (this.last !== undefined && this.last.offset === offset) return this.last;
    const t = this.tables.get(offset);
    if (t !== undefined) {
      this.tables.delete(offset);
      this.tables.set(offset, t);
      this.last = t;
    }
    return t;
  }

  private last: Table | undefined;

  get(offset: number): Promise<Table> {
    const cached = this.peek(offset);
    if (cached) return Promise.resolve(cached);
    let pending = this.loading.get(offset);
    if (!pending) {
      pending = (async () => {
        const bytes = new Uint8Array(this.tableSize);
        try {
          await readFully(this.file, bytes, 0, this.tableSize, offset);
        } finally {
          this.loading.delete(offset);
        }
        // A write may have created the table while the read was in flight (it cannot here:
        // only clusters nobody references are made into tables), but prefer memory if so.
        const raced = this.tables.get(offset);
        if (raced) return raced;
        const t = newTable(offset, bytes);
        this.insert(t);
        return t;
      })();
      this.loading.set(offset, pending);
    }
    return pending;
  }

  insert(t: Table): void {
    this.tables.set(t.offset, t);
    this.last = t;
    if (this.tables.size <= this.capacity) return;
    for (const [offset, old] of this.tables) {
      if (this.tables.size <= this.capacity) break;
      if (old.pins === 0 && old !== t) {
        this.tables.delete(offset);
        if (this.last === old) this.last = undefined;
      }
    }
  }

  forget(offset: number): void {
    if (this.last?.offset === offset) this.last = undefined;
    this.tables.delete(offset);
  }
}

/** Host byte range of a compressed cluster descriptor (qcow2.txt "Compressed Clusters Descriptor"). */
export function compressedExtent(
  clusterBits: number,
  hi: number,
  lo: number,
): { offset: number; sectorStart: number; sectors: number } {
  const x = 62 - (clusterBits - 8);
  const value = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo >>> 0);
  const offset = Number(value & ((1n << BigInt(x)) - 1n));
  const sectors = Number((value >> BigInt(x)) & BigInt((1 << (clusterBits - 8)) - 1)) + 1;
  const sectorStart = offset - (offset % 512);
  return { offset, sectorStart, sectors };
}

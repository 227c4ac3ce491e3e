/**
 * The qcow2 header (QEMU docs/interop/qcow2.txt, "Header" and "Header extensions"), version 3
 * only, parsed defensively: every field that sizes a table or points into the file is checked
 * against the file's size and the virtual size before anything is allocated, so a damaged or
 * hostile image is refused with ImageFormatError at open and never causes a huge allocation.
 *
 * Runtime: engine (device thread) and control plane.
 */
import { ImageFormatError } from '../errors.js';

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const HEADER_V3_LENGTH = 104;
/** header_length we write: version 3 plus the compression_type byte and its padding. */
export const HEADER_WRITTEN_LENGTH = 112;

// Header field offsets (qcow2.txt "Header").
export const OFF_SIZE = 24;
export const OFF_L1_SIZE = 36;
export const OFF_L1_TABLE = 40;
export const OFF_REFCOUNT_TABLE = 48;
export const OFF_INCOMPATIBLE = 72;

export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_EXTERNAL_DATA = 1n << 2n;
export const INCOMPAT_COMPRESSION_TYPE = 1n << 3n;
export const INCOMPAT_EXTENDED_L2 = 1n << 4n;
const INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION_TYPE;

export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_NAMES = 0x6803f857;
export const EXT_ENCRYPTION = 0x0537be77;
export const EXT_EXTERNAL_DATA = 0x44415441;
export const EXT_BITMAPS = 0x23852875;

/** Refcount order Vireo supports: 16-bit refcounts, QEMU's default. */
export const REFCOUNT_ORDER = 4;
/** QEMU's own limits (block/qcow2.h QCOW_MAX_L1_SIZE, QCOW_MAX_REFTABLE_SIZE). */
export const MAX_L1_BYTES = 32 << 20;
export const MAX_REFTABLE_BYTES = 8 << 20;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
/** Largest virtual size: 2^53 - 1 is the last byte offset a JavaScript number holds exactly. */
export const MAX_VIRTUAL_SIZE = 2 ** 53 - 2 ** 21;

export interface Qcow2Header {
  clusterBits: number;
  clusterSize: number;
  size: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  headerLength: number;
  backingFile?: string;
  backingFormat?: string;
  /** Persistent dirty bitmaps are present and valid (extension plus autoclear bit 0). */
  bitmaps?: boolean;
}

/** L1 entries needed to map `size` bytes. */
export function l1EntriesFor(size: number, clusterBits: number): number {
  const l2Span = 2 ** (clusterBits * 2 - 3); // cluster_size * (cluster_size / 8)
  return Math.ceil(size / l2Span);
}

function u64(dv: DataView, at: number): number {
  // Fields above 2^53 cannot be real offsets or sizes; return Infinity so range checks refuse them.
  const hi = dv.getUint32(at);
  const lo = dv.getUint32(at + 4);
  return hi >= 0x200000 ? Infinity : hi * 0x1_0000_0000 + lo;
}

/**
 * Parses and validates the header cluster. `head` holds at least the first min(cluster, file)
 * bytes of the file (the caller reads 2 MiB at most).
 */
export function parseHeader(path: string, head: Uint8Array, fileSize: number): Qcow2Header {
  const bad = (problem: string): never => {
    throw new ImageFormatError(path, problem);
  };
  if (head.length < 72)
    bad(`the file is only ${fileSize} bytes, too short for a qcow2 header (truncated?)`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (dv.getUint32(0) !== QCOW2_MAGIC) bad('not a qcow2 image (bad magic)');
  const version = dv.getUint32(4);
  if (version === 2) {
    bad(
      'qcow2 version 2 (compat=0.10) is not supported; upgrade it with qemu-img amend -f qcow2 -o compat=1.1',
    );
  }
  if (version !== 3) bad(`unknown qcow2 version ${version}`);
  if (head.length < HEADER_V3_LENGTH) bad('the file ends inside the qcow2 header (truncated?)');
  const clusterBits = dv.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    bad(`cluster_bits ${clusterBits} is outside 9..21 (512 bytes to 2 MiB clusters)`);
  }
  const clusterSize = 2 ** clusterBits;
  const headerLength = dv.getUint32(100);
  if (headerLength < HEADER_V3_LENGTH || headerLength % 8 !== 0 || headerLength > clusterSize) {
    bad(`header_length ${headerLength} is not a multiple of 8 between 104 and the cluster size`);
  }
  if (headerLength > head.length)
    bad(`header_length ${headerLength} reaches past the end of the file`);
  if (dv.getUint32(32) !== 0) {
    bad(
      'the image is encrypted; Vireo does not support encrypted qcow2 (convert it with qemu-img convert)',
    );
  }
  const incompatible = dv.getBigUint64(OFF_INCOMPATIBLE);
  const compatible = dv.getBigUint64(80);
  const autoclear = dv.getBigUint64(88);
  if (incompatible & INCOMPAT_EXTERNAL_DATA) {
    bad('the image keeps its data in an external data file, which Vireo does not support');
  }
  if (incompatible & INCOMPAT_EXTENDED_L2) {
    bad('the image uses extended L2 entries (subclusters), which Vireo does not support');
  }
  const unknown = incompatible & ~(INCOMPAT_KNOWN | INCOMPAT_EXTERNAL_DATA | INCOMPAT_EXTENDED_L2);
  if (unknown) {
    bad(
      `the image uses unknown incompatible features (bits 0x${unknown.toString(16)}); a newer tool made it`,
    );
  }
  if (incompatible & INCOMPAT_COMPRESSION_TYPE) {
    const type = headerLength > HEADER_V3_LENGTH ? head[104] : 0;
    if (type !== 0) bad(`compression type ${type} (zstd) is not supported; only zlib is`);
  }
  const refcountOrder = dv.getUint32(96);
  if (refcountOrder !== REFCOUNT_ORDER) {
    bad(
      `refcount_order ${refcountOrder} (${2 ** Math.min(refcountOrder, 31)}-bit refcounts) is not supported; Vireo needs 16-bit refcounts (qemu-img amend -o refcount_bits=16)`,
    );
  }

  const size = u64(dv, OFF_SIZE);
  if (size > MAX_VIRTUAL_SIZE) bad(`virtual size ${size} is absurd`);
  const l1Size = dv.getUint32(OFF_L1_SIZE);
  const l1TableOffset = u64(dv, OFF_L1_TABLE);
  const l1Needed = l1EntriesFor(size, clusterBits);
  if (l1Size < l1Needed) bad(`l1_size ${l1Size} is too small for the ${size}-byte virtual size`);
  // A larger L1 than the size needs is legal (QEMU grows L1 tables by half again and keeps them
  // after a shrink), so the bound is QEMU's own limit; the table must also lie inside the file
  // (below), so a lying l1_size can never make us allocate more than the file holds.
  if (l1Size * 8 > MAX_L1_BYTES) {
    bad(
      `l1_size ${l1Size} is absurd (more than ${MAX_L1_BYTES / 8} entries; the ${size}-byte virtual size needs ${l1Needed})`,
    );
  }
  if (l1Size > 0) {
    if (l1TableOffset % clusterSize !== 0 || l1TableOffset === 0) {
      bad(`L1 table offset ${l1TableOffset} is not a cluster boundary inside the file`);
    }
    if (l1TableOffset + l1Size * 8 > fileSize)
      bad(`the L1 table at ${l1TableOffset} runs past the end of the file`);
  }
  const refcountTableOffset = u64(dv, OFF_REFCOUNT_TABLE);
  const refcountTableClusters = dv.getUint32(56);
  if (refcountTableClusters === 0 || refcountTableClusters * clusterSize > MAX_REFTABLE_BYTES) {
    bad(`refcount_table_clusters ${refcountTableClusters} is out of range`);
  }
  if (refcountTableOffset % clusterSize !== 0 || refcountTableOffset === 0) {
    bad(`refcount table offset ${refcountTableOffset} is not a cluster boundary inside the file`);
  }
  if (refcountTableOffset + refcountTableClusters * clusterSize > fileSize) {
    bad(`the refcount table at ${refcountTableOffset} runs past the end of the file`);
  }
  const nbSnapshots = dv.getUint32(60);

  const header: Qcow2Header = {
    clusterBits,
    clusterSize,
    size,
    l1Size,
    l1TableOffset,
    refcountTableOffset,
    refcountTableClusters,
    nbSnapshots,
    incompatible,
    compatible,
    autoclear,
    headerLength,
  };

  const headerEnd = Math.min(clusterSize, head.length);
  const backingOffset = u64(dv, 8);
  const backingSize = dv.getUint32(16);
  if (backingOffset !== 0) {
    if (
      backingSize === 0 ||
      backingSize > 1023 ||
      backingOffset + backingSize > headerEnd ||
      backingOffset < headerLength
    ) {
      bad(
        `the backing file name (offset ${backingOffset}, ${backingSize} bytes) lies outside the header cluster`,
      );
    }
    header.backingFile = new TextDecoder().decode(
      head.subarray(backingOffset, backingOffset + backingSize),
    );
  }

  // Header extensions: type, length, data padded to 8 bytes, until type 0.
  const extLimit = backingOffset !== 0 ? backingOffset : headerEnd;
  let at = headerLength;
  for (;;) {
    if (at + 8 > extLimit) {
      if (at === extLimit && backingOffset === 0 && head.length < clusterSize) break; // short file
      bad('the header extensions run past the header cluster (no end marker)');
    }
    const type = dv.getUint32(at);
    const length = dv.getUint32(at + 4);
    if (type === EXT_END) break;
    const dataEnd = at + 8 + length;
    if (dataEnd > extLimit)
      bad(`header extension 0x${type.toString(16)} claims ${length} bytes, past the header`);
    if (type === EXT_BACKING_FORMAT) {
      header.backingFormat = new TextDecoder().decode(head.subarray(at + 8, dataEnd));
    } else if (type === EXT_BITMAPS) {
      header.bitmaps = (autoclear & 1n) !== 0n;
    } else if (type === EXT_ENCRYPTION) {
      bad('the image has an encryption header; Vireo does not support encrypted qcow2');
    } else if (type === EXT_EXTERNAL_DATA) {
      bad('the image names an external data file, which Vireo does not support');
    }
    at = at + 8 + Math.ceil(length / 8) * 8;
  }
  return header;
}

export interface NewHeader {
  clusterBits: number;
  size: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  backingFile?: string;
  backingFormat?: string;
}

/** Builds a header cluster for a new image (header, backing format extension, end, name). */
export function buildHeader(h: NewHeader): Uint8Array {
  const clusterSize = 2 ** h.clusterBits;
  const out = new Uint8Array(clusterSize);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, QCOW2_MAGIC);
  dv.setUint32(4, 3);
  dv.setUint32(20, h.clusterBits);
  dv.setBigUint64(OFF_SIZE, BigInt(h.size));
  dv.setUint32(OFF_L1_SIZE, h.l1Size);
  dv.setBigUint64(OFF_L1_TABLE, BigInt(h.l1TableOffset));
  dv.setBigUint64(OFF_REFCOUNT_TABLE, BigInt(h.refcountTableOffset));
  dv.setUint32(56, h.refcountTableClusters);
  dv.setUint32(96, REFCOUNT_ORDER);
  dv.setUint32(100, HEADER_WRITTEN_LENGTH);
  let at = HEADER_WRITTEN_LENGTH;
  const enc = new TextEncoder();
  if (h.backingFormat) {
    const name = enc.encode(h.backingFormat);
    dv.setUint32(at, EXT_BACKING_FORMAT);
    dv.setUint32(at + 4, name.length);
    out.set(name, at + 8);
    at += 8 + Math.ceil(name.length / 8) * 8;
  }
  at += 8; // end-of-extensions marker: type 0, length 0
  if (h.backingFile) {
    const name = enc.encode(h.backingFile);
    if (name.length > 1023 || at + name.length > clusterSize) {
      throw new ImageFormatError(
        h.backingFile,
        'the backing file path is too long for a qcow2 header (1023 bytes at most)',
      );
    }
    dv.setBigUint64(8, BigInt(at));
    dv.setUint32(16, name.length);
    out.set(name, at);
  }
  return out;
}

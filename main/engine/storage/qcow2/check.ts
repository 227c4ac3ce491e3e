/**
 * Consistency check of a qcow2 image, like `qemu-img check`: recomputes every cluster's refcount
 * from the metadata (header, L1 table, L2 tables, data and compressed clusters, refcount table and
 * blocks) and compares it with the stored refcounts. A stored refcount lower than the references
 * (or zero) is a corruption: the cluster could be handed out twice. A higher one is a leak: space
 * lost, nothing wrong with the data. Entries pointing outside the file, unaligned, or clusters
 * used twice (overlaps) are corruptions. `repair` lowers leaked refcounts to the computed value
 * and clears the dirty bit when nothing else is wrong; corruptions are only reported.
 *
 * Runtime: control plane (vireo disk check) and engine (open of a dirty image).
 */
import { readFully, type StorageFile } from '../file.js';
import { INCOMPAT_DIRTY, OFF_INCOMPATIBLE, parseHeader } from './header.js';
import { HI_COMPRESSED, LO_ZERO, compressedExtent, entryOffset, newTable } from './tables.js';

export interface CheckResult {
  corruptions: number;
  leaks: number;
  repairedLeaks: number;
  messages: string[];
}

/** Messages beyond this many are summarised, so a wrecked image does not print megabytes. */
const MAX_MESSAGES = 50;

export async function checkQcow2(
  path: string,
  file: StorageFile,
  repair: boolean,
): Promise<CheckResult> {
  const fileSize = await file.size();
  const head = new Uint8Array(Math.min(fileSize, 1 << 21));
  await readFully(file, head, 0, head.length, 0);
  const h = parseHeader(path, head, fileSize);
  const cs = h.clusterSize;
  const result: CheckResult = { corruptions: 0, leaks: 0, repairedLeaks: 0, messages: [] };
  let dropped = 0;
  const say = (m: string): void => {
    if (result.messages.length < MAX_MESSAGES) result.messages.push(m);
    else dropped++;
  };
  const corrupt = (m: string): void => {
    result.corruptions++;
    say(`ERROR ${m}`);
  };

  const clusters = Math.ceil(fileSize / cs);
  const computed = new Uint16Array(clusters);
  /** 1 where a cluster is used by metadata or a standard data cluster (may not be shared). */
  const exclusive = new Uint8Array(clusters);
  const reference = (offset: number, length: number, what: string, alone: boolean): void => {
    const first = Math.floor(offset / cs);
    const last = Math.floor((offset + length - 1) / cs);
    for (let c = first; c <= last; c++) {
      if (c >= clusters) {
        corrupt(`${what} at ${offset} lies beyond the end of the file (${fileSize} bytes)`);
        return;
      }
      if (computed[c]! > 0 && (alone || exclusive[c])) {
        corrupt(`cluster ${c} (${what}) overlaps another use of the same cluster`);
      }
      if (computed[c]! < 0xffff) computed[c]!++;
      if (alone) exclusive[c] = 1;
    }
  };
  const aligned = (offset: number, what: string): boolean => {
    if (offset % cs === 0) return true;
    corrupt(`${what} at ${offset} is not cluster aligned`);
    return false;
  };

  reference(0, cs, 'header', true);
  if (h.l1Size > 0) reference(h.l1TableOffset, h.l1Size * 8, 'L1 table', true);
  reference(h.refcountTableOffset, h.refcountTableClusters * cs, 'refcount table', true);

  const rtEntries = (h.refcountTableClusters * cs) / 8;
  const rtBytes = new Uint8Array(rtEntries * 8);
  await readFully(file, rtBytes, 0, rtBytes.length, h.refcountTableOffset);
  const rt = newTable(h.refcountTableOffset, rtBytes);
  const blockOffsets: number[] = [];
  for (let i = 0; i < rtEntries; i++) {
    const hi = rt.view.getUint32(i * 8);
    const lo = rt.view.getUint32(i * 8 + 4);
    const offset = hi * 0x1_0000_0000 + lo;
    blockOffsets.push(0);
    if (offset === 0) continue;
    if (!aligned(offset, `refcount block ${i}`)) continue;
    if (offset + cs > fileSize) {
      corrupt(`refcount block ${i} at ${offset} lies beyond the end of the file`);
      continue;
    }
    blockOffsets[i] = offset;
    reference(offset, cs, `refcount block ${i}`, true);
  }

  const l1Bytes = new Uint8Array(h.l1Size * 8);
  await readFully(file, l1Bytes, 0, l1Bytes.length, h.l1TableOffset);
  const l1 = newTable(h.l1TableOffset, l1Bytes);
  const l2 = newTable(0, new Uint8Array(cs));
  for (let i = 0; i < h.l1Size; i++) {
    const l2Offset = entryOffset(l1, i);
    if (l2Offset === 0) continue;
    if (!aligned(l2Offset, `L2 table of L1 entry ${i}`)) continue;
    if (l2Offset + cs > fileSize) {
      corrupt(`L2 table of L1 entry ${i} at ${l2Offset} lies beyond the end of the file`);
      continue;
    }
    reference(l2Offset, cs, `L2 table of L1 entry ${i}`, true);
    await readFully(file, l2.bytes, 0, cs, l2Offset);
    for (let j = 0; j < cs / 8; j++) {
      const hi = l2.view.getUint32(j * 8);
      const lo = l2.view.getUint32(j * 8 + 4);
      if (hi & HI_COMPRESSED) {
        const { sectorStart, sectors } = compressedExtent(h.clusterBits, hi, lo);
        reference(
          sectorStart,
          sectors * 512,
          `compressed cluster (L2 ${l2Offset} entry ${j})`,
          false,
        );
        continue;
      }
      const host = entryOffset(l2, j);
      if (host === 0) continue;
      const what = `data cluster (L2 ${l2Offset} entry ${j}${lo & LO_ZERO ? ', zero' : ''})`;
      if (!aligned(host, what)) continue;
      reference(host, cs, what, true);
    }
  }

  if (h.bitmaps) {
    say(
      'the image has persistent bitmaps; Vireo does not check their clusters, so refcounts were not compared',
    );
    return result;
  }
  if (h.nbSnapshots > 0) {
    say(
      `the image has ${h.nbSnapshots} internal snapshots; Vireo does not check snapshot tables, so refcounts were not compared`,
    );
    return result;
  }

  // Compare with the stored refcounts, block by block.
  const perBlock = cs / 2;
  const block = newTable(0, new Uint8Array(cs));
  let changedAny = false;
  const covered = Math.max(clusters, 0);
  for (let b = 0; b * perBlock < Math.max(covered, rtEntries * perBlock); b++) {
    const offset = blockOffsets[b] ?? 0;
    const first = b * perBlock;
    if (offset === 0) {
      for (let c = first; c < Math.min(first + perBlock, clusters); c++) {
        if (computed[c]! > 0)
          corrupt(
            `cluster ${c} is in use but has no refcount block (refcount 0, ${computed[c]} references)`,
          );
      }
      continue;
    }
    await readFully(file, block.bytes, 0, cs, offset);
    let changed = false;
    for (let k = 0; k < perBlock; k++) {
      const c = first + k;
      const stored = block.view.getUint16(k * 2);
      const wanted = c < clusters ? computed[c]! : 0;
      if (stored === wanted) continue;
      if (stored < wanted) {
        corrupt(`cluster ${c} refcount=${stored} but ${wanted} references`);
      } else {
        result.leaks++;
        if (repair) {
          block.view.setUint16(k * 2, wanted);
          changed = true;
          result.repairedLeaks++;
        } else {
          say(`Leaked cluster ${c} refcount=${stored} references=${wanted}`);
        }
      }
    }
    if (changed) {
      await file.write(block.bytes, 0, cs, offset);
      changedAny = true;
    }
  }
  if (dropped > 0) result.messages.push(`... and ${dropped} more`);
  if (repair && changedAny) await file.datasync();
  if (repair && result.corruptions === 0 && h.incompatible & INCOMPAT_DIRTY) {
    const bits = new Uint8Array(8);
    new DataView(bits.buffer).setBigUint64(0, h.incompatible & ~INCOMPAT_DIRTY);
    await file.write(bits, 0, 8, OFF_INCOMPATIBLE);
    await file.datasync();
  }
  if (result.repairedLeaks > 0)
    result.messages.push(`Repaired ${result.repairedLeaks} leaked clusters`);
  return result;
}

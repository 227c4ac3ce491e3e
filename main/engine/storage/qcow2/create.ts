/**
 * Lays out a new, empty qcow2 version 3 image: header cluster (with the backing file name and
 * its format extension), refcount table, refcount blocks covering every cluster the layout
 * uses, and an all-zero L1 table big enough for the virtual size. Data and L2 tables are
 * allocated on first write (or all at once by `preallocate`).
 *
 * Runtime: control plane and engine.
 */
import { ImageRequestError } from '../errors.js';
import type { StorageFile } from '../file.js';
import {
  buildHeader,
  l1EntriesFor,
  MAX_CLUSTER_BITS,
  MAX_L1_BYTES,
  MIN_CLUSTER_BITS,
  MAX_VIRTUAL_SIZE,
} from './header.js';

export const DEFAULT_CLUSTER_SIZE = 65536;

export interface Qcow2CreateOptions {
  size: number;
  clusterSize?: number;
  backingFile?: string;
  backingFormat?: string;
}

export async function writeNewQcow2(
  path: string,
  file: StorageFile,
  o: Qcow2CreateOptions,
): Promise<void> {
  const cs = o.clusterSize ?? DEFAULT_CLUSTER_SIZE;
  const clusterBits = Math.log2(cs);
  if (
    !Number.isInteger(clusterBits) ||
    clusterBits < MIN_CLUSTER_BITS ||
    clusterBits > MAX_CLUSTER_BITS
  ) {
    throw new ImageRequestError(
      path,
      `cluster size ${cs} must be a power of two from 512 bytes to 2 MiB`,
    );
  }
  if (!Number.isSafeInteger(o.size) || o.size < 0 || o.size > MAX_VIRTUAL_SIZE) {
    throw new ImageRequestError(path, `disk size ${o.size} is not a usable number of bytes`);
  }
  const size = Math.ceil(o.size / 512) * 512;
  const l1Size = l1EntriesFor(size, clusterBits);
  if (l1Size * 8 > MAX_L1_BYTES) {
    throw new ImageRequestError(
      path,
      `a ${size}-byte disk needs too big an L1 table with ${cs}-byte clusters; choose bigger clusters`,
    );
  }
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const perBlock = cs / 2;
  let tableClusters = 1;
  let blocks = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const needBlocks = Math.ceil(total / perBlock);
    const needTable = Math.ceil((needBlocks * 8) / cs);
    if (needBlocks === blocks && needTable === tableClusters) break;
    blocks = needBlocks;
    tableClusters = needTable;
  }
  const total = 1 + tableClusters + blocks + l1Clusters;
  const image = new Uint8Array(total * cs);
  const view = new DataView(image.buffer);
  const tableAt = cs;
  const blocksAt = (1 + tableClusters) * cs;
  const l1At = (1 + tableClusters + blocks) * cs;
  image.set(
    buildHeader({
      clusterBits,
      size,
      l1Size,
      l1TableOffset: l1At,
      refcountTableOffset: tableAt,
      refcountTableClusters: tableClusters,
      backingFile: o.backingFile,
      backingFormat: o.backingFormat,
    }),
  );
  for (let b = 0; b < blocks; b++) view.setBigUint64(tableAt + b * 8, BigInt(blocksAt + b * cs));
  for (let c = 0; c < total; c++) view.setUint16(blocksAt + c * 2, 1);
  await file.write(image, 0, image.length, 0);
}

/**
 * Checks shared by every format: a request is whole 512-byte sectors inside the disk (the unit
 * virtio-blk and ATA address), and writes need a writable image. The last request of a disk whose
 * size is not a sector multiple may end exactly at the end of the disk.
 *
 * Runtime: engine (device thread).
 */
import { ImageRequestError } from './errors.js';

export const SECTOR_SIZE = 512;

export function checkRange(
  path: string,
  virtualSize: number,
  offset: number,
  length: number,
): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new ImageRequestError(path, `invalid request: offset ${offset}, length ${length}`);
  }
  if (
    offset % SECTOR_SIZE !== 0 ||
    (length % SECTOR_SIZE !== 0 && offset + length !== virtualSize)
  ) {
    throw new ImageRequestError(
      path,
      `request at ${offset} of ${length} bytes is not in whole 512-byte sectors`,
    );
  }
  if (offset + length > virtualSize) {
    throw new ImageRequestError(
      path,
      `request at ${offset} of ${length} bytes ends beyond the disk's ${virtualSize} bytes`,
    );
  }
}

export function checkWritable(path: string, readOnly: boolean): void {
  if (readOnly) throw new ImageRequestError(path, 'the image is open read-only');
}

export function checkNewSize(path: string, current: number, newSize: number): void {
  if (!Number.isSafeInteger(newSize) || newSize < 0 || newSize % SECTOR_SIZE !== 0) {
    throw new ImageRequestError(
      path,
      `new size ${newSize} is not a whole number of 512-byte sectors`,
    );
  }
  if (newSize < current) {
    throw new ImageRequestError(
      path,
      `shrinking from ${current} to ${newSize} bytes would discard the end of the disk; Vireo only grows disks (shrink the file system first, then use qemu-img resize --shrink)`,
    );
  }
}

/** A one-holder async lock: metadata changes run one at a time, data I/O does not wait for it. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

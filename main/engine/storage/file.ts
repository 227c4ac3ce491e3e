/**
 * The file layer under every image format: positioned reads and writes on one open file, so
 * several guest requests can be in flight at once on libuv's thread pool (fs.promises FileHandle,
 * pread/pwrite underneath). It is an interface so tests can put a file that "crashes" after a
 * chosen write, or forgets unsynced writes, under the qcow2 code.
 *
 * Runtime: engine (device thread) and control plane.
 */
import { promises as fsp } from 'node:fs';
import { fallocateRange, punchHole } from './fallocate.js';

export interface StorageFile {
  /** Reads up to `length` bytes at `position`; returns how many were read (fewer at end of file). */
  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Writes all `length` bytes at `position`. */
  write(from: Uint8Array, offset: number, length: number, position: number): Promise<void>;
  /** fdatasync(2): data and the metadata needed to read it back are durable. */
  datasync(): Promise<void>;
  size(): Promise<number>;
  truncate(length: number): Promise<void>;
  /** Reserves blocks for the range (fallocate mode 0); false when the file system cannot. */
  allocate(position: number, length: number): Promise<boolean>;
  /** Deallocates the range, which then reads as zeros; false when the file system cannot. */
  punchHole(position: number, length: number): Promise<boolean>;
  /** Bytes the file occupies on disk (st_blocks * 512). */
  allocatedBytes(): Promise<number>;
  close(): Promise<void>;
}

/** A StorageFile over a Node FileHandle. */
export class NodeStorageFile implements StorageFile {
  private constructor(private readonly handle: fsp.FileHandle) {}

  static async open(path: string, readOnly: boolean): Promise<NodeStorageFile> {
    return new NodeStorageFile(await fsp.open(path, readOnly ? 'r' : 'r+'));
  }

  async read(into: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(
        into,
        offset + done,
        length - done,
        position + done,
      );
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async write(from: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesWritten } = await this.handle.write(
        from,
        offset + done,
        length - done,
        position + done,
      );
      done += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  allocate(position: number, length: number): Promise<boolean> {
    return Promise.resolve(fallocateRange(this.handle.fd, position, length));
  }

  punchHole(position: number, length: number): Promise<boolean> {
    return Promise.resolve(punchHole(this.handle.fd, position, length));
  }

  async allocatedBytes(): Promise<number> {
    return (await this.handle.stat()).blocks * 512;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Reads exactly `length` bytes; the part beyond end of file reads as zeros (a sparse tail). */
export async function readFully(
  file: StorageFile,
  into: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  const got = await file.read(into, offset, length, position);
  if (got < length) into.fill(0, offset + got, offset + length);
}

/**
 * The file layer under every image format: positioned reads and writes on one open file, so
 * several guest requests can be in flight at once on libuv's thread pool (fs.promises FileHandle,
 * pread/pwrite underneath). It is an interface so tests can put a file that "crashes" after a
 * chosen write, or forgets unsynced writes, under the qcow2 code.
 *
 * Runtime: engine (device thread) and control plane.
 */
import { read as fsRead, write as fsWrite, promises as fsp } from 'node:fs';
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

/**
 * A StorageFile over a Node FileHandle. Reads and writes go through the callback `fs.read` and
 * `fs.write` on the handle's descriptor rather than `FileHandle.read/write`: measured here
 * (docs/devices.md, virtio-blk benchmark) the promise API costs about 18 us of main-thread time
 * per call and caps 4 KiB random reads near 50 000 IOPS, where the callback API reaches 100 000
 * and more on the same file. What FileHandle gave for free, that it is not closed under an
 * operation in flight, is kept by counting operations: {@link close} waits for them.
 */
export class NodeStorageFile implements StorageFile {
  private inFlight = 0;
  private drained: (() => void) | null = null;
  private closing: Promise<void> | null = null;

  private constructor(private readonly handle: fsp.FileHandle) {}

  static async open(path: string, readOnly: boolean): Promise<NodeStorageFile> {
    return new NodeStorageFile(await fsp.open(path, readOnly ? 'r' : 'r+'));
  }

  async read(into: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    // Past 2^53 bytes no file reaches: end of file, as pread(2) would answer (a corrupt qcow2
    // table can point there; fs.read refuses such a position outright).
    if (!Number.isSafeInteger(position + length)) return 0;
    let done = 0;
    while (done < length) {
      const bytesRead = await this.io(fsRead, into, offset + done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async write(from: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    if (!Number.isSafeInteger(position + length))
      throw new RangeError(`write at ${position} is past the largest file offset`);
    let done = 0;
    while (done < length)
      done += await this.io(fsWrite, from, offset + done, length - done, position + done);
  }

  /** One pread(2) or pwrite(2) in libuv's pool, counted so that close waits for it. */
  private io(
    op: typeof fsRead | typeof fsWrite,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    if (this.closing) return Promise.reject(new Error('the image file is closed'));
    return new Promise<number>((resolve, reject) => {
      // fs.read throws at once on arguments it refuses (a position past 2^53 from a hostile
      // image's table): that operation never started, so it is not counted.
      (op as typeof fsRead)(this.handle.fd, buffer, offset, length, position, (err, bytes) => {
        if (--this.inFlight === 0) this.drained?.();
        if (err) reject(err);
        else resolve(bytes);
      });
      this.inFlight++;
    });
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

  /** Closes the file once the reads and writes in flight have finished (new ones are refused). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      await this.handle.close();
    })();
    return this.closing;
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

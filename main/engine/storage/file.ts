/**
 * The file layer under every image format: positioned reads and writes on one open file, so
 * several guest requests can be in flight at once on libuv's thread pool (fs.promises FileHandle,
 * pread/pwrite underneath). It is an interface so tests can put a file that "crashes" after a
 * chosen write, or forgets unsynced writes, under the qcow2 code.
 *
 * Runtime: engine (device thread) and control plane.
 */
import {
  read as fsRead,
  readv as fsReadv,
  write as fsWrite,
  writev as fsWritev,
  promises as fsp,
} from 'node:fs';
import { fallocateRange, punchHole } from './fallocate.js';

export interface StorageFile {
  /** Reads up to `length` bytes at `position`; returns how many were read (fewer at end of file). */
  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Writes all `length` bytes at `position`. */
  write(from: Uint8Array, offset: number, length: number, position: number): Promise<void>;
  /**
   * preadv(2): fills the buffers in order from `position`; returns how many bytes were read
   * (fewer at end of file). Optional: {@link readVector} reads buffer by buffer without it.
   */
  readv?(into: readonly Uint8Array[], position: number): Promise<number>;
  /** pwritev(2): writes the buffers in order from `position`, all of them. Optional too. */
  writev?(from: readonly Uint8Array[], position: number): Promise<void>;
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

  async readv(into: readonly Uint8Array[], position: number): Promise<number> {
    if (!Number.isSafeInteger(position + totalBytes(into))) return 0; // as read() above
    let views = into.filter((v) => v.length > 0);
    let done = 0;
    while (views.length > 0) {
      const group = views.slice(0, IOV_MAX);
      const bytesRead = await this.io(fsReadv, group, 0, 0, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
      views = advance(views, bytesRead);
    }
    return done;
  }

  async writev(from: readonly Uint8Array[], position: number): Promise<void> {
    if (!Number.isSafeInteger(position + totalBytes(from)))
      throw new RangeError(`write at ${position} is past the largest file offset`);
    let views = from.filter((v) => v.length > 0);
    let done = 0;
    while (views.length > 0) {
      const bytesWritten = await this.io(fsWritev, views.slice(0, IOV_MAX), 0, 0, position + done);
      done += bytesWritten;
      views = advance(views, bytesWritten);
    }
  }

  /** One pread, pwrite, preadv or pwritev in libuv's pool, counted so that close waits for it. */
  private io(
    op: typeof fsRead | typeof fsWrite | typeof fsReadv | typeof fsWritev,
    buffer: Uint8Array | readonly Uint8Array[],
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    if (this.closing) return Promise.reject(new Error('the image file is closed'));
    return new Promise<number>((resolve, reject) => {
      const done = (err: NodeJS.ErrnoException | null, bytes: number): void => {
        if (--this.inFlight === 0) this.drained?.();
        if (err) reject(err);
        else resolve(bytes);
      };
      // fs.read throws at once on arguments it refuses (a position past 2^53 from a hostile
      // image's table): that operation never started, so it is not counted.
      const fd = this.handle.fd;
      if (op === fsRead || op === fsWrite)
        (op as typeof fsRead)(fd, buffer as Uint8Array, offset, length, position, done);
      else (op as typeof fsReadv)(fd, buffer as Uint8Array[], position, done);
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

/** Buffers one preadv(2)/pwritev(2) takes at most (Linux's UIO_MAXIOV). */
const IOV_MAX = 1024;

/** The buffers' combined length. */
export function totalBytes(views: readonly Uint8Array[]): number {
  let n = 0;
  for (const v of views) n += v.length;
  return n;
}

/** The buffers after the first `n` bytes (a short read or write continues there). */
function advance(views: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = n;
  for (const v of views) {
    if (skip >= v.length) {
      skip -= v.length;
      continue;
    }
    out.push(skip > 0 ? v.subarray(skip) : v);
    skip = 0;
  }
  return out;
}

/**
 * Fills every buffer in order from `position`, as one preadv(2) where the file has it (no copy
 * through a bounce buffer); the part beyond end of file reads as zeros, as in {@link readFully}.
 */
export async function readVector(
  file: StorageFile,
  into: readonly Uint8Array[],
  position: number,
): Promise<void> {
  if (into.length === 1) return readFully(file, into[0]!, 0, into[0]!.length, position);
  let got: number;
  if (file.readv) got = await file.readv(into, position);
  else {
    got = 0;
    for (const v of into) {
      const n = await file.read(v, 0, v.length, position + got);
      got += n;
      if (n < v.length) break;
    }
  }
  for (const v of advance(into, got)) v.fill(0);
}

/** Writes every buffer in order from `position` (one pwritev(2) where the file has it). */
export async function writeVector(
  file: StorageFile,
  from: readonly Uint8Array[],
  position: number,
): Promise<void> {
  if (from.length === 1) return file.write(from[0]!, 0, from[0]!.length, position);
  if (file.writev) return file.writev(from, position);
  let at = position;
  for (const v of from) {
    await file.write(v, 0, v.length, at);
    at += v.length;
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

/**
 * Raw disk images: the guest's disk byte for byte, nothing else in the file. Sparse by default
 * (created with ftruncate, so untouched sectors take no space), fully allocated with fallocate(2)
 * on request. Discard and write-zeroes-with-unmap punch holes (FALLOC_FL_PUNCH_HOLE) so freed
 * space returns to the host; where the file system cannot, they write zeros, which reads the same.
 *
 * Runtime: engine (device thread) and control plane.
 */
import type { DiskImage } from '../index.js';
import { readFully, readVector, type StorageFile, totalBytes, writeVector } from '../file.js';
import { checkNewSize, checkRange, checkWritable } from '../request.js';

/** Zeros written in pieces of this size when a hole cannot be punched. */
const ZERO_CHUNK = 1 << 20;
let zeroChunk: Uint8Array | undefined;

export class RawImage implements DiskImage {
  readonly format = 'raw' as const;

  private constructor(
    private readonly path: string,
    private readonly file: StorageFile,
    public virtualSize: number,
    readonly readOnly: boolean,
  ) {}

  static async open(path: string, file: StorageFile, readOnly: boolean): Promise<RawImage> {
    return new RawImage(path, file, await file.size(), readOnly);
  }

  async read(offset: number, into: Uint8Array): Promise<void> {
    checkRange(this.path, this.virtualSize, offset, into.length); // rejects, never throws
    return readFully(this.file, into, 0, into.length, offset);
  }

  async readv(offset: number, into: readonly Uint8Array[]): Promise<void> {
    checkRange(this.path, this.virtualSize, offset, totalBytes(into));
    return readVector(this.file, into, offset);
  }

  async writev(
    offset: number,
    from: readonly Uint8Array[],
    opts?: { fua?: boolean },
  ): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkRange(this.path, this.virtualSize, offset, totalBytes(from));
    await writeVector(this.file, from, offset);
    if (opts?.fua) await this.file.datasync();
  }

  async write(offset: number, from: Uint8Array, opts?: { fua?: boolean }): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkRange(this.path, this.virtualSize, offset, from.length);
    await this.file.write(from, 0, from.length, offset);
    if (opts?.fua) await this.file.datasync();
  }

  async discard(offset: number, length: number): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkRange(this.path, this.virtualSize, offset, length);
    if (!(await this.file.punchHole(offset, length))) await this.writeZeroBytes(offset, length);
  }

  async writeZeroes(offset: number, length: number, _opts?: { unmap?: boolean }): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkRange(this.path, this.virtualSize, offset, length);
    // A punched hole reads as zeros whether or not unmap was asked; it is also the cheapest way
    // to write them, so raw always tries it first (QEMU's raw driver does the same with
    // BDRV_REQ_MAY_UNMAP; without it QEMU uses FALLOC_FL_ZERO_RANGE, which keeps the blocks).
    if (!(await this.file.punchHole(offset, length))) await this.writeZeroBytes(offset, length);
  }

  private async writeZeroBytes(offset: number, length: number): Promise<void> {
    zeroChunk ??= new Uint8Array(ZERO_CHUNK);
    for (let done = 0; done < length; done += ZERO_CHUNK) {
      const n = Math.min(ZERO_CHUNK, length - done);
      await this.file.write(zeroChunk, 0, n, offset + done);
    }
  }

  flush(): Promise<void> {
    return this.file.datasync();
  }

  async resize(newSize: number): Promise<void> {
    checkWritable(this.path, this.readOnly);
    checkNewSize(this.path, this.virtualSize, newSize);
    await this.file.truncate(newSize);
    await this.file.datasync();
    this.virtualSize = newSize;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/**
 * Vireo's disk image layer: one interface (`DiskImage`) that the disk devices (virtio-blk, IDE)
 * code against, over two formats: `raw` (raw/) and `qcow2` version 3 (qcow2/, QEMU
 * docs/interop/qcow2.txt). Requests are in bytes, in whole 512-byte sectors; several may be in
 * flight at once. See docs/storage.md for the crash-safety order and what is not supported.
 *
 * Format probing looks at the magic only; a guest can write a qcow2 header into a raw disk, so a
 * VM's configuration should always pass the format it created the disk with.
 *
 * Runtime: engine (device thread) and control plane (create, info, check).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ImageExistsError, ImageFormatError, ImageRequestError } from './errors.js';
import { NodeStorageFile, type StorageFile } from './file.js';
import { RawImage } from './raw/index.js';
import { checkQcow2 } from './qcow2/check.js';
import { writeNewQcow2 } from './qcow2/create.js';
import { parseHeader, QCOW2_MAGIC } from './qcow2/header.js';
import { Qcow2Image } from './qcow2/image.js';

export { ImageExistsError, ImageFormatError, ImageRequestError } from './errors.js';

export type ImageFormat = 'raw' | 'qcow2';

export interface DiskImage {
  readonly format: ImageFormat;
  /** Bytes the guest sees (a safe integer). */
  readonly virtualSize: number;
  readonly readOnly: boolean;
  /** Reads `into.length` bytes at `offset`; both multiples of 512. */
  read(offset: number, into: Uint8Array): Promise<void>;
  /**
   * Reads into several buffers in order from `offset` (a guest's scatter list), straight from
   * the file where the format allows (preadv), so the device needs no bounce buffer. The
   * buffers' total length is a multiple of 512; each one need not be.
   */
  readv(offset: number, into: readonly Uint8Array[]): Promise<void>;
  /** Writes `from` at `offset`; with `fua` the bytes are durable before the promise resolves. */
  write(offset: number, from: Uint8Array, opts?: { fua?: boolean }): Promise<void>;
  /** Writes several buffers in order from `offset` (a guest's gather list), as {@link write}. */
  writev(offset: number, from: readonly Uint8Array[], opts?: { fua?: boolean }): Promise<void>;
  /** The range reads as zeros afterwards; its space goes back to the host where possible. */
  discard(offset: number, length: number): Promise<void>;
  /** The range reads as zeros; with `unmap` its space may be released. */
  writeZeroes(offset: number, length: number, opts?: { unmap?: boolean }): Promise<void>;
  /** Data and metadata of completed writes are durable (fdatasync) before this resolves. */
  flush(): Promise<void>;
  /** Grows the disk; shrinking is refused with ImageRequestError. */
  resize(newSize: number): Promise<void>;
  close(): Promise<void>;
}

export interface CreateImageOptions {
  path: string;
  format: ImageFormat;
  /** Bytes; 0 with a backing file takes the backing file's size. */
  size: number;
  /** Allocate every cluster now (fallocate), for steady write performance. */
  preallocate?: boolean;
  /** qcow2 only: bytes per cluster, a power of two from 512 to 2 MiB (default 64 KiB). */
  clusterSize?: number;
  /** qcow2 only: path of the backing image, as stored (relative to the new image's folder). */
  backingFile?: string;
  backingFormat?: ImageFormat;
}

export interface ImageInfo {
  format: ImageFormat;
  virtualSize: number;
  /** Bytes the file occupies on disk (allocated blocks). */
  actualSize: number;
  clusterSize?: number;
  backingFile?: string;
  /** qcow2: the dirty bit is set (the image was not closed cleanly; leaks are possible). */
  dirty?: boolean;
}

export interface CheckResult {
  corruptions: number;
  leaks: number;
  repairedLeaks: number;
  messages: string[];
}

/** Backing chains deeper than this are refused (and loops end here rather than hang). */
const MAX_BACKING_DEPTH = 16;

/** Magics of formats Vireo recognises but does not open, for a helpful refusal. */
const FOREIGN_MAGICS: Array<[string, string]> = [
  ['KDMV', 'VMDK'],
  ['<<< ', 'VDI'],
  ['vhdxfile', 'VHDX'],
  ['conectix', 'VHD'],
];

function openFailure(file: string, error: unknown, what = 'the image'): ImageFormatError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  const hint =
    code === 'ENOENT'
      ? 'the file does not exist; choose another file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied; check the file permissions'
        : `it cannot be opened (${code})`;
  return new ImageFormatError(file, `${what}: ${hint}`);
}

async function probeFormat(file: string, handle: StorageFile): Promise<ImageFormat> {
  const magic = new Uint8Array(8);
  const got = await handle.read(magic, 0, 8, 0);
  if (got >= 4 && new DataView(magic.buffer).getUint32(0) === QCOW2_MAGIC) return 'qcow2';
  const text = new TextDecoder('latin1').decode(magic.subarray(0, got));
  for (const [prefix, name] of FOREIGN_MAGICS) {
    if (text.startsWith(prefix)) {
      throw new ImageFormatError(
        file,
        `this is a ${name} image; convert it with qemu-img convert -O qcow2`,
      );
    }
  }
  return 'raw';
}

/** Opens an image; probes the format from its magic when `format` is not given. */
export function openImage(
  file: string,
  o: { readOnly?: boolean; format?: ImageFormat } = {},
): Promise<DiskImage> {
  return openAt(file, o.readOnly ?? false, o.format, 0);
}

async function openAt(
  file: string,
  readOnly: boolean,
  format: ImageFormat | undefined,
  depth: number,
): Promise<DiskImage> {
  let handle: StorageFile;
  try {
    handle = await NodeStorageFile.open(file, readOnly);
  } catch (error) {
    throw openFailure(file, error);
  }
  try {
    const actual = format ?? (await probeFormat(file, handle));
    if (actual === 'raw') return await RawImage.open(file, handle, readOnly);
    return await Qcow2Image.open(file, handle, {
      readOnly,
      openBacking: async (name, backingFormat) => {
        if (depth + 1 >= MAX_BACKING_DEPTH) {
          throw new ImageFormatError(
            file,
            `the backing chain is deeper than ${MAX_BACKING_DEPTH} images (a loop?)`,
          );
        }
        const resolved = path.resolve(path.dirname(file), name);
        try {
          return await openAt(resolved, true, backingFormat as ImageFormat | undefined, depth + 1);
        } catch (error) {
          if (error instanceof ImageFormatError) {
            throw new ImageFormatError(file, `its backing file is unusable: ${error.message}`);
          }
          throw openFailure(file, error, `its backing file ${resolved}`);
        }
      },
    });
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Creates a new image at `o.path` atomically: written to a temporary file in the same folder,
 * synced, then linked into place (link(2) refuses an existing name, so nothing is overwritten),
 * and the folder synced.
 */
export async function createImage(o: CreateImageOptions): Promise<void> {
  const target = path.resolve(o.path);
  const dir = path.dirname(target);
  if (o.format !== 'raw' && o.format !== 'qcow2') {
    throw new ImageRequestError(
      target,
      `unknown image format "${String(o.format)}" (raw or qcow2)`,
    );
  }
  if (o.format === 'raw' && o.backingFile !== undefined) {
    throw new ImageRequestError(target, 'raw images cannot have a backing file; use qcow2');
  }
  if (
    await fsp.stat(target).then(
      () => true,
      () => false,
    )
  )
    throw new ImageExistsError(target);
  let size = o.size;
  let backingFormat = o.backingFormat;
  if (o.backingFile !== undefined) {
    if (o.preallocate)
      throw new ImageRequestError(target, 'a preallocated image cannot have a backing file');
    const backing = await openImage(path.resolve(dir, o.backingFile), {
      readOnly: true,
      format: o.backingFormat,
    });
    backingFormat = backing.format;
    if (!size) size = backing.virtualSize;
    await backing.close();
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ImageRequestError(target, `disk size ${size} is not a usable number of bytes`);
  }
  const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fsp.open(temp, 'wx');
  try {
    const file = await NodeStorageFile.open(temp, false);
    try {
      if (o.format === 'raw') {
        await file.truncate(size);
        if (o.preallocate && !(await file.allocate(0, size))) {
          const zeros = new Uint8Array(1 << 20);
          for (let at = 0; at < size; at += zeros.length)
            await file.write(zeros, 0, Math.min(zeros.length, size - at), at);
        }
      } else {
        await writeNewQcow2(target, file, {
          size,
          clusterSize: o.clusterSize,
          backingFile: o.backingFile,
          backingFormat,
        });
      }
      await file.datasync();
    } finally {
      await file.close();
    }
    if (o.format === 'qcow2' && o.preallocate) {
      const image = await Qcow2Image.open(temp, await NodeStorageFile.open(temp, false), {
        readOnly: false,
      });
      try {
        await image.preallocate();
      } finally {
        await image.close();
      }
    }
    try {
      await fsp.link(temp, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new ImageExistsError(target);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
      // File systems without hard links: check, then rename (a small window, but no overwrite
      // of anything that existed before we started).
      if (
        await fsp.stat(target).then(
          () => true,
          () => false,
        )
      )
        throw new ImageExistsError(target);
      await fsp.rename(temp, target);
    }
    const folder = await fsp.open(dir, 'r');
    await folder.sync().finally(() => folder.close());
  } finally {
    await handle.close();
    await fsp.unlink(temp).catch(() => undefined);
  }
}

/** Format, sizes and qcow2 facts of an image, without opening its backing file. */
export async function imageInfo(file: string): Promise<ImageInfo> {
  let handle: StorageFile;
  try {
    handle = await NodeStorageFile.open(file, true);
  } catch (error) {
    throw openFailure(file, error);
  }
  try {
    const format = await probeFormat(file, handle);
    const fileSize = await handle.size();
    const actualSize = await handle.allocatedBytes();
    if (format === 'raw') return { format, virtualSize: fileSize, actualSize };
    const head = new Uint8Array(Math.min(fileSize, 1 << 21));
    await handle.read(head, 0, head.length, 0);
    const h = parseHeader(file, head, fileSize);
    const info: ImageInfo = {
      format,
      virtualSize: h.size,
      actualSize,
      clusterSize: h.clusterSize,
      dirty: (h.incompatible & 1n) !== 0n,
    };
    if (h.backingFile !== undefined) info.backingFile = h.backingFile;
    return info;
  } finally {
    await handle.close();
  }
}

/**
 * Checks an image's metadata (qcow2: refcounts against references, see qcow2/check.ts). With
 * `repair`, leaked clusters are released; corruptions are reported, never "fixed" by guessing.
 */
export async function checkImage(file: string, o: { repair?: boolean } = {}): Promise<CheckResult> {
  let handle: StorageFile;
  try {
    handle = await NodeStorageFile.open(file, !o.repair);
  } catch (error) {
    throw openFailure(file, error);
  }
  try {
    if ((await probeFormat(file, handle)) === 'raw') {
      return {
        corruptions: 0,
        leaks: 0,
        repairedLeaks: 0,
        messages: ['raw images have no metadata to check'],
      };
    }
    return await checkQcow2(file, handle, o.repair ?? false);
  } finally {
    await handle.close();
  }
}

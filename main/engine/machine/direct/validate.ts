/**
 * Everything that can be wrong with a direct-boot request, found before any VM is created:
 * the kernel file is missing or not a 64-bit bzImage, the initrd is missing or unreadable, the
 * command line is too long, the memory cannot hold kernel + initrd or is more than the host has.
 * Returns the file contents and the plan so the caller reads each file once.
 *
 * Files are opened with O_NONBLOCK and checked to be regular files before reading, so a FIFO
 * or a device picked by mistake is refused instead of hanging the engine.
 *
 * Runtime: engine (VM host process, before the hypervisor is touched).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { BzImage } from './bzimage.js';
import { MAX_KERNEL_FILE_BYTES, parseBzImage } from './bzimage.js';
import { DirectBootError, formatBytes } from './errors.js';
import type { DirectBootPlan } from './plan.js';
import { planDirectBoot } from './plan.js';

export interface DirectBootRequest {
  kernelPath: string;
  initrdPath: string | null;
  cmdline: string;
  memoryBytes: number;
  cpus: number;
  /** Defaults to os.totalmem(). */
  hostMemoryBytes?: number;
}

export interface ValidatedDirectBoot {
  kernel: Uint8Array;
  image: BzImage;
  initrd: Uint8Array | null;
  plan: DirectBootPlan;
}

type Opened = { fd: number; size: number };

function openRegularFile(path: string, fail: (reason: string, code?: string) => never): Opened {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? 'no such file' : (code ?? String(error)), code);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) fail(stat.isDirectory() ? 'it is a folder' : 'it is not a regular file');
    return { fd, size: stat.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function readAll(opened: Opened, path: string, fail: (reason: string) => never): Uint8Array {
  try {
    const bytes = new Uint8Array(opened.size);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(opened.fd, bytes, done, bytes.length - done, done);
      if (n === 0) fail(`the file shrank while being read (${done} of ${bytes.length} bytes)`);
      done += n;
    }
    return bytes;
  } catch (error) {
    if (error instanceof DirectBootError) throw error;
    fail(`${(error as NodeJS.ErrnoException).code ?? String(error)} reading ${path}`);
  } finally {
    closeSync(opened.fd);
  }
}

/** Check a direct-boot request end to end; throws {@link DirectBootError} saying what to do. */
export function validateDirectBoot(request: DirectBootRequest): ValidatedDirectBoot {
  const kernelFail = (reason: string): never => {
    throw new DirectBootError(
      'kernel-unreadable',
      `cannot read the kernel ${request.kernelPath}: ${reason}; choose a readable bzImage file`,
    );
  };
  const kernelFile = openRegularFile(request.kernelPath, kernelFail);
  if (kernelFile.size > MAX_KERNEL_FILE_BYTES) {
    closeSync(kernelFile.fd);
    throw new DirectBootError(
      'kernel-not-bzimage',
      `the kernel file ${request.kernelPath} is ${formatBytes(kernelFile.size)}, far larger than ` +
        `any bzImage (limit ${formatBytes(MAX_KERNEL_FILE_BYTES)}): choose the kernel, not a disk image`,
    );
  }
  const kernel = readAll(kernelFile, request.kernelPath, kernelFail);
  const image = parseBzImage(kernel);

  let initrdFile: Opened | null = null;
  if (request.initrdPath !== null) {
    const initrdPath = request.initrdPath;
    initrdFile = openRegularFile(initrdPath, (reason, code) => {
      throw new DirectBootError(
        code === 'ENOENT' ? 'initrd-missing' : 'initrd-unreadable',
        code === 'ENOENT'
          ? `the initrd ${initrdPath} does not exist: choose an existing initrd or boot without one`
          : `cannot read the initrd ${initrdPath}: ${reason}; fix its permissions or choose another file`,
      );
    });
  }
  let plan: DirectBootPlan;
  try {
    // Plan with the initrd's size before reading it: a 40 GiB "initrd" is refused unread.
    plan = planDirectBoot(image, {
      initrdSize: initrdFile?.size ?? null,
      cmdline: request.cmdline,
      memoryBytes: request.memoryBytes,
      cpus: request.cpus,
      hostMemoryBytes: request.hostMemoryBytes ?? totalmem(),
    });
  } catch (error) {
    if (initrdFile) closeSync(initrdFile.fd);
    throw error;
  }
  const initrd =
    initrdFile === null
      ? null
      : readAll(initrdFile, request.initrdPath!, (reason) => {
          throw new DirectBootError(
            'initrd-unreadable',
            `cannot read the initrd ${request.initrdPath}: ${reason}; choose another file`,
          );
        });
  return { kernel, image, initrd, plan };
}

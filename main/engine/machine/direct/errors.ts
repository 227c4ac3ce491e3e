/**
 * Why a direct Linux boot cannot start, raised before any VM exists (Firecracker's style: one
 * documented error kind per cause, and a message that says what to do).
 *
 * Runtime: engine.
 */

export type DirectBootErrorCode =
  /** The kernel file cannot be opened or read. */
  | 'kernel-unreadable'
  /** The kernel file is not a bzImage (no "HdrS" magic, no 0xAA55 boot flag, zImage, ...). */
  | 'kernel-not-bzimage'
  /** The setup header is damaged: sizes or alignment that cannot be right. */
  | 'kernel-corrupt'
  /** The file is shorter than its own header says: a partial download or copy. */
  | 'kernel-truncated'
  /** Boot protocol older than 2.06 (Linux before 2.6.22). */
  | 'kernel-protocol-too-old'
  /** The kernel has no 64-bit entry point (32-bit kernel, or protocol before 2.12). */
  | 'kernel-not-64bit'
  /** The initrd file does not exist. */
  | 'initrd-missing'
  /** The initrd exists but cannot be read (permissions, a folder, a device). */
  | 'initrd-unreadable'
  /** The kernel command line is longer than the kernel accepts, or holds a NUL byte. */
  | 'cmdline-invalid'
  /** The VM's memory cannot hold the kernel, its decompression area and the initrd. */
  | 'memory-too-small'
  /** The VM's memory is more than this host can give it. */
  | 'memory-too-large'
  /** The vCPU count is outside what the machine can describe. */
  | 'cpus-out-of-range';

export class DirectBootError extends Error {
  constructor(
    readonly code: DirectBootErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DirectBootError';
  }
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** "12.5 MiB", for messages people read. */
export function formatBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(n % GiB === 0 ? 0 : 1)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(n % MiB === 0 ? 0 : 1)} MiB`;
  return `${n} bytes`;
}

/**
 * The bzImage format: a real-mode setup part followed by the compressed protected-mode kernel,
 * described by the setup header at offset 0x1F1 (Linux Documentation/arch/x86/boot.rst, "THE
 * REAL-MODE KERNEL HEADER" and "DETAILS OF HEADER FIELDS"). This module only reads and checks
 * it; every field is treated as hostile (the file may be anything the user picked).
 *
 * Runtime: engine.
 */
import { DirectBootError, GiB, MiB, formatBytes } from './errors.js';

/** Offsets in the image (= offsets in boot_params for the setup header, boot.rst). */
export const HDR_SETUP_SECTS = 0x1f1;
export const HDR_SYSSIZE = 0x1f4;
export const HDR_BOOT_FLAG = 0x1fe;
export const HDR_JUMP = 0x200;
export const HDR_MAGIC = 0x202;
export const HDR_VERSION = 0x206;
export const HDR_TYPE_OF_LOADER = 0x210;
export const HDR_LOADFLAGS = 0x211;
export const HDR_RAMDISK_IMAGE = 0x218;
export const HDR_RAMDISK_SIZE = 0x21c;
export const HDR_HEAP_END_PTR = 0x224;
export const HDR_CMD_LINE_PTR = 0x228;
export const HDR_INITRD_ADDR_MAX = 0x22c;
export const HDR_KERNEL_ALIGNMENT = 0x230;
export const HDR_RELOCATABLE_KERNEL = 0x234;
export const HDR_XLOADFLAGS = 0x236;
export const HDR_CMDLINE_SIZE = 0x238;
export const HDR_PREF_ADDRESS = 0x258;
export const HDR_INIT_SIZE = 0x260;

export const BOOT_FLAG = 0xaa55;
export const HDRS_MAGIC = 0x53726448; // "HdrS" little-endian
export const LOADFLAG_LOADED_HIGH = 0x01;
export const LOADFLAG_CAN_USE_HEAP = 0x80;
export const XLF_KERNEL_64 = 0x01;
/** Protocol versions as in the header: major << 8 | minor. */
export const PROTOCOL_2_06 = 0x0206;
export const PROTOCOL_2_10 = 0x020a;
export const PROTOCOL_2_12 = 0x020c;
/** Where the protected-mode kernel goes when nothing better is known (boot.rst: 0x100000). */
export const DEFAULT_KERNEL_LOAD_ADDRESS = 0x100000;
/** The biggest kernel file we read; real ones are 5-15 MiB. */
export const MAX_KERNEL_FILE_BYTES = 256 * MiB;

export interface BzImage {
  /** Boot protocol version, major << 8 | minor (e.g. 0x020f = 2.15). */
  protocol: number;
  /** Number of 512-byte setup sectors (0 in the header means 4). */
  setupSectors: number;
  /** The setup header bytes, image offset 0x1F1 up to the end the jump at 0x200 gives. */
  setupHeader: Uint8Array;
  /** The protected-mode kernel: everything after the setup sectors. */
  protectedModeKernel: Uint8Array;
  loadflags: number;
  xloadflags: number;
  /** Highest address the initrd may end at (inclusive), from initrd_addr_max. */
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  /** Longest command line, not counting the NUL (cmdline_size; 255 before protocol 2.06). */
  cmdlineSize: number;
  /** Preferred load address (pref_address), or the default 1 MiB. */
  preferredLoadAddress: number;
  /** Bytes of memory the kernel needs from its load address while it decompresses (init_size). */
  initSize: number;
}

const notBzImage = (what: string): DirectBootError =>
  new DirectBootError(
    'kernel-not-bzimage',
    `the kernel file is not a Linux bzImage (${what}): choose the kernel's bzImage ` +
      '(e.g. /boot/vmlinuz-* or arch/x86/boot/bzImage), not vmlinux, an initrd or a disk image',
  );

const corrupt = (what: string): DirectBootError =>
  new DirectBootError(
    'kernel-corrupt',
    `the kernel's setup header is damaged (${what}): rebuild or re-download the kernel`,
  );

/** Parse and check a bzImage. Throws {@link DirectBootError} with what to do. */
export function parseBzImage(image: Uint8Array): BzImage {
  if (image.length < 0x400) {
    throw notBzImage(`only ${image.length} bytes, smaller than a setup header`);
  }
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (view.getUint16(HDR_BOOT_FLAG, true) !== BOOT_FLAG) throw notBzImage('no 0xAA55 boot flag');
  if (view.getUint32(HDR_MAGIC, true) !== HDRS_MAGIC) throw notBzImage('no "HdrS" signature');
  const protocol = view.getUint16(HDR_VERSION, true);
  const versionText = `${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, '0')}`;
  if (protocol < PROTOCOL_2_06) {
    throw new DirectBootError(
      'kernel-protocol-too-old',
      `the kernel uses boot protocol ${versionText}; Vireo needs 2.06 or newer (Linux 2.6.22+): ` +
        'use a newer kernel',
    );
  }
  const loadflags = view.getUint8(HDR_LOADFLAGS);
  if ((loadflags & LOADFLAG_LOADED_HIGH) === 0) {
    throw notBzImage('a zImage, loaded low; only bzImage kernels are supported');
  }
  if (protocol < PROTOCOL_2_12 || (view.getUint16(HDR_XLOADFLAGS, true) & XLF_KERNEL_64) === 0) {
    throw new DirectBootError(
      'kernel-not-64bit',
      `the kernel (boot protocol ${versionText}) has no 64-bit entry point: ` +
        'use a 64-bit (x86_64) kernel built with boot protocol 2.12 or newer (Linux 3.8+)',
    );
  }
  const xloadflags = view.getUint16(HDR_XLOADFLAGS, true);

  const rawSetupSects = view.getUint8(HDR_SETUP_SECTS);
  const setupSectors = rawSetupSects === 0 ? 4 : rawSetupSects; // boot.rst: "If 0, the real value is 4"
  const setupBytes = (setupSectors + 1) * 512;
  // The header runs from 0x1F1 to the end of the 2-byte jump's target: 0x202 + jump offset.
  const headerEnd = 0x202 + view.getUint8(HDR_JUMP + 1);
  if (headerEnd > setupBytes || headerEnd < HDR_INIT_SIZE + 4) {
    throw corrupt(`setup header ends at 0x${headerEnd.toString(16)}`);
  }
  if (image.length <= setupBytes) {
    throw new DirectBootError(
      'kernel-truncated',
      `the kernel file has ${image.length} bytes but its ${setupSectors} setup sectors alone need ` +
        `${setupBytes}: the file is cut short, copy or download it again`,
    );
  }
  const syssize = view.getUint32(HDR_SYSSIZE, true) * 16; // boot.rst: "in 16-byte paragraphs"
  const protectedModeKernel = image.subarray(setupBytes);
  if (protectedModeKernel.length < syssize) {
    throw new DirectBootError(
      'kernel-truncated',
      `the kernel file is cut short: its header promises ${formatBytes(syssize)} of kernel after ` +
        `the setup code, the file holds ${formatBytes(protectedModeKernel.length)}; copy or download it again`,
    );
  }

  const kernelAlignment = view.getUint32(HDR_KERNEL_ALIGNMENT, true);
  const relocatable = view.getUint8(HDR_RELOCATABLE_KERNEL) !== 0;
  if (
    relocatable &&
    (kernelAlignment === 0 ||
      (kernelAlignment & (kernelAlignment - 1)) !== 0 ||
      kernelAlignment > GiB)
  ) {
    throw corrupt(`kernel_alignment 0x${kernelAlignment.toString(16)} is not a power of two`);
  }
  const initSize = protocol >= PROTOCOL_2_10 ? view.getUint32(HDR_INIT_SIZE, true) : 0;
  if (initSize !== 0 && initSize < protectedModeKernel.length) {
    throw corrupt(`init_size ${initSize} is smaller than the kernel itself`);
  }
  const pref = view.getBigUint64(HDR_PREF_ADDRESS, true);
  let preferredLoadAddress = DEFAULT_KERNEL_LOAD_ADDRESS;
  if (
    protocol >= PROTOCOL_2_10 &&
    pref >= BigInt(DEFAULT_KERNEL_LOAD_ADDRESS) &&
    pref < 2n ** 31n
  ) {
    preferredLoadAddress = Number(pref);
  }
  if (relocatable && preferredLoadAddress % kernelAlignment !== 0) {
    // A relocatable kernel must sit on a kernel_alignment boundary (boot.rst, kernel_alignment).
    preferredLoadAddress = Math.ceil(preferredLoadAddress / kernelAlignment) * kernelAlignment;
  }

  return {
    protocol,
    setupSectors,
    setupHeader: image.slice(HDR_SETUP_SECTS, headerEnd),
    protectedModeKernel,
    loadflags,
    xloadflags,
    initrdAddrMax: view.getUint32(HDR_INITRD_ADDR_MAX, true),
    kernelAlignment,
    relocatable,
    cmdlineSize: view.getUint32(HDR_CMDLINE_SIZE, true),
    preferredLoadAddress,
    initSize: initSize === 0 ? protectedModeKernel.length * 4 : initSize,
  };
}

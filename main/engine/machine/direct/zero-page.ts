/**
 * The zero page, Linux's `struct boot_params` (arch/x86/include/uapi/asm/bootparam.h; field
 * offsets in Documentation/arch/x86/zero-page.rst): 4 KiB at {@link ZERO_PAGE_ADDRESS} holding
 * the setup header copied from the image, what the boot loader filled in (boot.rst, "DETAILS OF
 * HEADER FIELDS", "write" fields) and the E820 memory map.
 *
 * Runtime: engine.
 */
import type { GuestMemory } from '../../memory.js';
import {
  HDR_CMD_LINE_PTR,
  HDR_HEAP_END_PTR,
  HDR_LOADFLAGS,
  HDR_RAMDISK_IMAGE,
  HDR_RAMDISK_SIZE,
  HDR_SETUP_SECTS,
  HDR_TYPE_OF_LOADER,
  LOADFLAG_CAN_USE_HEAP,
  LOADFLAG_LOADED_HIGH,
} from './bzimage.js';
import type { BzImage } from './bzimage.js';
import { ZERO_PAGE_ADDRESS } from './layout.js';
import type { E820Entry } from './memory-map.js';
import { E820_MAX_ENTRIES } from './memory-map.js';

export const ZERO_PAGE_SIZE = 0x1000;
export const BP_ACPI_RSDP_ADDR = 0x070;
export const BP_EXT_RAMDISK_IMAGE = 0x0c0;
export const BP_EXT_RAMDISK_SIZE = 0x0c4;
export const BP_EXT_CMD_LINE_PTR = 0x0c8;
export const BP_E820_ENTRIES = 0x1e8;
export const BP_E820_TABLE = 0x2d0;
export const E820_ENTRY_SIZE = 20;
/** type_of_loader 0xFF: "undefined" boot loader (boot.rst, type_of_loader). */
export const LOADER_TYPE_UNDEFINED = 0xff;
/**
 * heap_end_ptr: end of the setup heap relative to the real-mode code, 0xFE00 as boot.rst's
 * sample loader uses. Only the 16-bit entry runs that code; set for completeness.
 */
export const SETUP_HEAP_END = 0xfe00;

export interface ZeroPageOptions {
  image: BzImage;
  cmdlineAddress: number;
  initrd: { address: number; size: number } | null;
  rsdpAddress: number;
  e820: readonly E820Entry[];
}

export function writeZeroPage(memory: GuestMemory, o: ZeroPageOptions): void {
  if (o.e820.length > E820_MAX_ENTRIES) throw new RangeError('too many E820 entries');
  const zp = ZERO_PAGE_ADDRESS;
  memory.slice(zp, ZERO_PAGE_SIZE).fill(0);
  memory.write(zp + HDR_SETUP_SECTS, o.image.setupHeader);
  memory.writeU8(zp + HDR_TYPE_OF_LOADER, LOADER_TYPE_UNDEFINED);
  const loadflags = o.image.loadflags | LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP;
  memory.writeU8(zp + HDR_LOADFLAGS, loadflags);
  memory.writeU16(zp + HDR_HEAP_END_PTR, SETUP_HEAP_END - 0x200);
  memory.writeU32(zp + HDR_CMD_LINE_PTR, o.cmdlineAddress);
  memory.writeU32(zp + BP_EXT_CMD_LINE_PTR, 0);
  memory.writeU32(zp + HDR_RAMDISK_IMAGE, o.initrd?.address ?? 0);
  memory.writeU32(zp + HDR_RAMDISK_SIZE, o.initrd?.size ?? 0);
  memory.writeU32(zp + BP_EXT_RAMDISK_IMAGE, 0);
  memory.writeU32(zp + BP_EXT_RAMDISK_SIZE, 0);
  memory.writeU64(zp + BP_ACPI_RSDP_ADDR, BigInt(o.rsdpAddress));
  memory.writeU8(zp + BP_E820_ENTRIES, o.e820.length);
  o.e820.forEach((entry, i) => {
    const at = zp + BP_E820_TABLE + i * E820_ENTRY_SIZE;
    memory.writeU64(at, BigInt(entry.address));
    memory.writeU64(at + 8, BigInt(entry.size));
    memory.writeU32(at + 16, entry.type);
  });
}

/**
 * Guest RAM of the direct machine and the BIOS-style E820 map that describes it to Linux
 * (ACPI Specification 6.5, 15 "System Address Map Interfaces", table 15.1 address range types;
 * boot_params.e820_table in boot.rst).
 *
 * Guest RAM is one buffer ({@link GuestMemory}). Up to 3 GiB it is mapped at guest-physical 0.
 * Beyond that, the 32-bit PCI hole 0xC0000000-0xFFFFFFFF holds device MMIO (IOAPIC, LAPIC, PCI
 * BARs) and cannot be RAM, so the buffer's remainder appears at 4 GiB, as on every PC:
 *
 *   buffer [0, 3 GiB)      -> guest-physical [0, 3 GiB)
 *   buffer [3 GiB, size)   -> guest-physical [4 GiB, 4 GiB + size - 3 GiB)
 *
 * A {@link RamRegion} has the shape of the hypervisor's `MemoryRegion` (hypervisor/types.ts):
 * pass each to `Vm.mapMemory`. Everything this machine writes
 * (tables, kernel, initrd) lies below 3 GiB, where buffer offset = guest-physical address.
 *
 * Runtime: engine.
 */
import { EBDA_START, FOUR_GIB, HIGH_MEMORY_START, PCI_HOLE_START } from './layout.js';

export interface RamRegion {
  guestPhysical: number;
  size: number;
  /** Offset of the region's first byte in the guest RAM buffer. */
  memoryOffset: number;
}

/** E820 address range types (ACPI 6.5, table 15.1). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
/** boot_params.e820_table holds at most 128 entries (E820_MAX_ENTRIES_ZEROPAGE). */
export const E820_MAX_ENTRIES = 128;

export interface E820Entry {
  address: number;
  size: number;
  type: number;
}

/** The RAM regions for a machine with `ramBytes` of memory. */
export function directRamRegions(ramBytes: number): RamRegion[] {
  const low = Math.min(ramBytes, PCI_HOLE_START);
  const regions: RamRegion[] = [{ guestPhysical: 0, size: low, memoryOffset: 0 }];
  if (ramBytes > PCI_HOLE_START) {
    regions.push({ guestPhysical: FOUR_GIB, size: ramBytes - low, memoryOffset: low });
  }
  return regions;
}

/** End (exclusive) of the RAM mapped below 4 GiB. */
export function lowRamEnd(ramBytes: number): number {
  return Math.min(ramBytes, PCI_HOLE_START);
}

/**
 * The E820 map: conventional memory below the EBDA, the EBDA/VGA/BIOS area (which holds the
 * ACPI tables at 0xE0000) reserved up to 1 MiB, then RAM from 1 MiB, split around the PCI hole.
 */
export function directE820Map(ramBytes: number): E820Entry[] {
  if (ramBytes <= HIGH_MEMORY_START) {
    throw new RangeError(`direct machine: ${ramBytes} bytes of RAM is not more than 1 MiB`);
  }
  const entries: E820Entry[] = [
    { address: 0, size: EBDA_START, type: E820_RAM },
    { address: EBDA_START, size: HIGH_MEMORY_START - EBDA_START, type: E820_RESERVED },
  ];
  for (const region of directRamRegions(ramBytes)) {
    const start = Math.max(region.guestPhysical, HIGH_MEMORY_START);
    const end = region.guestPhysical + region.size;
    if (end > start) entries.push({ address: start, size: end - start, type: E820_RAM });
  }
  return entries;
}

/**
 * Where the direct machine puts things in guest-physical memory. Low structures follow
 * Firecracker's layout (src/vmm/src/arch/x86_64/layout.rs), which the kernel's boot.rst allows:
 * everything the 64-bit entry needs sits in the first MiB, identity-mapped.
 *
 *   0x0500  GDT (6 entries: null, null, code 0x10, data 0x18, TSS 0x20 as 16 bytes)
 *   0x0580  TSS (104 bytes; only loaded so VM entry has a usable TR)
 *   0x0600  IDT (empty: interrupts stay off until Linux loads its own)
 *   0x7000  zero page (struct boot_params, 4 KiB)
 *   0x8ff0  initial stack top (grows down to 0x8000)
 *   0x9000  PML4, 0xA000 PDPT, 0xB000-0xEFFF four page directories (2 MiB pages, 4 GiB)
 *   0x20000 kernel command line
 *   0x9FC00 EBDA start: reserved to 1 MiB in the e820 map
 *   0xE0000 ACPI tables (RSDP first, inside the reserved BIOS area the OS scans)
 *   kernel  pref_address (16 MiB for Debian's kernel) or 1 MiB
 *   initrd  as high as possible under min(initrd_addr_max, end of low RAM), 4 KiB aligned
 *
 * Runtime: engine.
 */

export const GDT_ADDRESS = 0x500;
export const TSS_ADDRESS = 0x580;
export const TSS_LIMIT = 0x67;
export const IDT_ADDRESS = 0x600;
export const ZERO_PAGE_ADDRESS = 0x7000;
export const BOOT_STACK_POINTER = 0x8ff0;
export const PML4_ADDRESS = 0x9000;
export const PDPT_ADDRESS = 0xa000;
export const PD_ADDRESS = 0xb000;
/** Page directories cover 4 GiB: one per GiB. */
export const PD_COUNT = 4;
export const CMDLINE_ADDRESS = 0x20000;
/** The command line must end before the EBDA; also caps a hostile cmdline_size. */
export const CMDLINE_MAX_BYTES = 0x10000 - 1;
export const EBDA_START = 0x9fc00;
export const ACPI_TABLES_ADDRESS = 0xe0000;
export const HIGH_MEMORY_START = 0x100000;
/** Start of the 32-bit PCI hole (MMIO: IOAPIC 0xFEC00000, LAPIC 0xFEE00000, future BARs). */
export const PCI_HOLE_START = 0xc0000000;
export const FOUR_GIB = 0x1_0000_0000;
/** The initrd is placed on a page boundary (boot.rst recommends page alignment). */
export const INITRD_ALIGNMENT = 0x1000;

/**
 * Where things sit in the PC machine's physical address space (an i440FX/PIIX3 PC as QEMU's
 * `-M pc` lays it out, which is what SeaBIOS's QEMU build expects):
 *
 * | range                     | what                                                        |
 * | 0 - 0x9FFFF               | conventional RAM                                           |
 * | 0xA0000 - 0xBFFFF         | legacy VGA window (MMIO to the VGA device)                 |
 * | 0xC0000 - 0xFFFFF         | RAM: option ROMs and the BIOS shadow (the BIOS's last      |
 * |                           | 256 KiB at most are copied to end at 1 MiB before reset)   |
 * | 0x100000 - lowRamEnd      | RAM                                                        |
 * | lowRamEnd - 0xFEBFFFFF    | PCI memory hole (BARs: VGA framebuffer, ...)               |
 * | 0xFEC00000                | IOAPIC (in-kernel)          0xFEE00000  LAPIC (in-kernel)   |
 * | 4 GiB - firmware size     | the BIOS image, read-only (reset vector at 0xFFFFFFF0)     |
 *
 * The whole first MiB is RAM except the VGA window: the i440FX's PAM registers (82441FX
 * datasheet §3.2.18) only choose between RAM and the ROM copy there, and since the copy is
 * already in RAM before reset, SeaBIOS's "make BIOS writable" and "make read-only" steps
 * (src/fw/shadow.c) need nothing more from us than accepting the register writes.
 *
 * RAM above 4 GiB is not built yet: the PC machine takes at most {@link PC_MAX_LOW_RAM}.
 *
 * Runtime: engine.
 */

export const MiB = 1024 * 1024;

export const VGA_WINDOW_BASE = 0xa0000;
export const VGA_WINDOW_SIZE = 0x20000;
export const OPTION_ROM_BASE = 0xc0000;
export const BIOS_SHADOW_BASE = 0xe0000;
export const BIOS_SHADOW_SIZE = 0x20000;
/** The most of the BIOS image copied below 1 MiB: 0xC0000-0xFFFFF. */
export const BIOS_SHADOW_LIMIT = 0x40000;
export const FIRST_MIB = 0x100000;

/** RAM below 4 GiB ends here at the most; the rest is the PCI hole (QEMU pc: 3 GiB too). */
export const PC_MAX_LOW_RAM = 0xc0000000;
/** Start of the PCI memory window SeaBIOS assigns BARs from (it reads it from e820's end). */
export const PCI_HOLE_END = 0xfec00000;

export const FOUR_GIB = 0x1_0000_0000;

/** Firmware sizes SeaBIOS ships in (bios.bin 128 KiB, bios-256k.bin 256 KiB). */
export const FIRMWARE_MIN_BYTES = 64 * 1024;
export const FIRMWARE_MAX_BYTES = 16 * MiB;

export interface PcMemoryRegion {
  name: string;
  guestPhysical: number;
  /** Offset in the VM's one GuestMemory buffer. */
  memoryOffset: number;
  size: number;
  readOnly: boolean;
}

export interface PcMemoryPlan {
  ramBytes: number;
  /** Bytes of the GuestMemory buffer: RAM, then the firmware image. */
  bufferBytes: number;
  firmwareOffset: number;
  firmwareBase: number;
  regions: PcMemoryRegion[];
  /** RAM ranges for the e820 map (etc/e820), type 1. */
  e820: { address: number; length: number }[];
}

/** Lays out `ramBytes` of RAM and a firmware image of `firmwareBytes`. Sizes are page multiples. */
export function planPcMemory(ramBytes: number, firmwareBytes: number): PcMemoryPlan {
  const firmwareOffset = ramBytes;
  const firmwareBase = FOUR_GIB - firmwareBytes;
  const regions: PcMemoryRegion[] = [
    {
      name: 'conventional RAM',
      guestPhysical: 0,
      memoryOffset: 0,
      size: VGA_WINDOW_BASE,
      readOnly: false,
    },
    {
      name: 'RAM (option ROMs, BIOS shadow, extended memory)',
      guestPhysical: OPTION_ROM_BASE,
      memoryOffset: OPTION_ROM_BASE,
      size: ramBytes - OPTION_ROM_BASE,
      readOnly: false,
    },
    {
      name: 'BIOS ROM',
      guestPhysical: firmwareBase,
      memoryOffset: firmwareOffset,
      size: firmwareBytes,
      readOnly: true,
    },
  ];
  return {
    ramBytes,
    bufferBytes: ramBytes + firmwareBytes,
    firmwareOffset,
    firmwareBase,
    regions,
    e820: [{ address: 0, length: ramBytes }],
  };
}

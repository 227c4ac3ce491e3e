/**
 * What the PCI bus needs to present the standard VGA as QEMU's `-vga std` does (QEMU
 * hw/display/vga-pci.c and docs/specs/standard-vga.rst): identity, BARs and option ROM.
 *
 * - 00h vendor 0x1234, device 0x1111, class 0x030000 (VGA-compatible display controller),
 *   subsystem 0x1AF4:0x1100 as QEMU reports.
 * - BAR0: prefetchable 32-bit memory, VRAM size: the linear framebuffer. Meant to be a KVM
 *   memory slot over {@link Vram.bytes} (with dirty logging), not MMIO exits; {@link LinearFramebuffer}
 *   is the slow fallback a machine may register on its MMIO bus until it maps the slot.
 * - BAR2: 4 KiB memory, the register block Linux's bochs-drm prefers to ports: 0x400-0x41F are
 *   ports 0x3C0-0x3DF, 0x500-0x515 the DISPI registers (16 bits each at `0x500 + index * 2`),
 *   0x600 QEMU's extension registers (size, framebuffer byte order) ({@link VgaMmioRegisters}).
 * - Expansion ROM: SeaBIOS's vgabios-stdvga.bin (its PCI data structure already names
 *   1234:1111), in a ROM BAR rounded up to a power of two.
 *
 * Runtime: engine.
 */
import { readFileSync } from 'node:fs';
import type { BusDevice } from '../../bus.js';
import type { BochsVbe } from './bochs-vbe.js';
import type { VgaRegisters } from './io-ports.js';
import type { Vram } from './vram.js';

export const STDVGA_PCI_VENDOR_ID = 0x1234;
export const STDVGA_PCI_DEVICE_ID = 0x1111;
export const STDVGA_PCI_CLASS_CODE = 0x030000; // base 03 display, sub 00 VGA, prog-if 00
/** Revision 2 announces the QEMU extension registers at BAR2 + 0x600 (bochs-drm checks it). */
export const STDVGA_PCI_REVISION = 0x02;
export const STDVGA_PCI_SUBSYSTEM_VENDOR_ID = 0x1af4;
export const STDVGA_PCI_SUBSYSTEM_ID = 0x1100;

/** BAR2 layout (QEMU PCI_VGA_*). */
export const MMIO_BAR_SIZE = 0x1000;
export const MMIO_VGA_PORTS_OFFSET = 0x400;
export const MMIO_VGA_PORTS_SIZE = 0x20; // ports 0x3C0-0x3DF
export const MMIO_DISPI_OFFSET = 0x500;
export const MMIO_DISPI_SIZE = 0x0b * 2;
export const MMIO_QEXT_OFFSET = 0x600;
export const MMIO_QEXT_SIZE = 8;
export const QEXT_LITTLE_ENDIAN = 0x1e1e1e1e;

export const DEFAULT_VGA_ROM_PATH = '/usr/share/seabios/vgabios-stdvga.bin';

export interface PciBarDescription {
  /** Index of the BAR (0..5), or 'rom' for the expansion ROM BAR. */
  readonly index: number | 'rom';
  readonly kind: 'memory32';
  readonly prefetchable: boolean;
  /** Size in bytes, a power of two. */
  readonly size: number;
}

/** The PCI personality of the VGA, for the PCI bus to put in configuration space. */
export interface StdVgaPciIdentity {
  readonly vendorId: number;
  readonly deviceId: number;
  readonly classCode: number;
  readonly revision: number;
  readonly subsystemVendorId: number;
  readonly subsystemId: number;
  readonly bars: readonly PciBarDescription[];
  /** The option ROM image, zero-padded to the ROM BAR size. */
  readonly rom: Uint8Array;
}

/** The VGA BIOS image is missing or unreadable. */
export class VgaRomError extends Error {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(
      `vga: cannot read the VGA BIOS ${path} (${cause instanceof Error ? cause.message : String(cause)}): ` +
        `install the seabios package (apt install seabios) or pass another vgabios-stdvga.bin path`,
    );
    this.name = 'VgaRomError';
  }
}

/** Read the option ROM and pad it to a power of two (at least 2 KiB), the ROM BAR's size. */
export function loadVgaRom(path: string = DEFAULT_VGA_ROM_PATH): Uint8Array {
  let image: Uint8Array;
  try {
    image = readFileSync(path);
  } catch (cause) {
    throw new VgaRomError(path, cause);
  }
  if (image.length < 3 || image[0] !== 0x55 || image[1] !== 0xaa) {
    throw new VgaRomError(path, new Error('not a PCI option ROM (no 55 AA signature)'));
  }
  let size = 2048;
  while (size < image.length) size *= 2;
  const rom = new Uint8Array(size);
  rom.set(image);
  return rom;
}

export function stdVgaPciIdentity(vramSize: number, rom: Uint8Array): StdVgaPciIdentity {
  return {
    vendorId: STDVGA_PCI_VENDOR_ID,
    deviceId: STDVGA_PCI_DEVICE_ID,
    classCode: STDVGA_PCI_CLASS_CODE,
    revision: STDVGA_PCI_REVISION,
    subsystemVendorId: STDVGA_PCI_SUBSYSTEM_VENDOR_ID,
    subsystemId: STDVGA_PCI_SUBSYSTEM_ID,
    bars: [
      { index: 0, kind: 'memory32', prefetchable: true, size: vramSize },
      { index: 2, kind: 'memory32', prefetchable: false, size: MMIO_BAR_SIZE },
      { index: 'rom', kind: 'memory32', prefetchable: false, size: rom.length },
    ],
    rom,
  };
}

/** BAR2: VGA ports, DISPI registers and QEMU extension registers as MMIO (offsets from the BAR). */
export class VgaMmioRegisters implements BusDevice {
  constructor(
    private readonly regs: VgaRegisters,
    private readonly vbe: BochsVbe,
  ) {}

  read(offset: number, data: Uint8Array): void {
    if (offset >= MMIO_VGA_PORTS_OFFSET && offset < MMIO_VGA_PORTS_OFFSET + MMIO_VGA_PORTS_SIZE) {
      for (let i = 0; i < data.length; i++) {
        const at = offset - MMIO_VGA_PORTS_OFFSET + i;
        data[i] = at < MMIO_VGA_PORTS_SIZE ? this.regs.readPort(0x3c0 + at) : 0;
      }
      return;
    }
    if (offset >= MMIO_DISPI_OFFSET && offset < MMIO_DISPI_OFFSET + MMIO_DISPI_SIZE) {
      this.vbe.index = (offset - MMIO_DISPI_OFFSET) >>> 1;
      const value = this.vbe.readData();
      const shifted = offset & 1 ? value >>> 8 : value;
      for (let i = 0; i < data.length; i++) data[i] = i < 2 ? (shifted >>> (i * 8)) & 0xff : 0;
      return;
    }
    if (offset >= MMIO_QEXT_OFFSET && offset < MMIO_QEXT_OFFSET + MMIO_QEXT_SIZE) {
      // bochs-drm reads the size, then the byte order; answer "little endian" always.
      const reg = (offset - MMIO_QEXT_OFFSET) & ~3;
      const value = reg === 0 ? MMIO_QEXT_SIZE : QEXT_LITTLE_ENDIAN;
      const shift = (offset & 3) * 8;
      for (let i = 0; i < data.length; i++) data[i] = ((value >>> shift) >>> (i * 8)) & 0xff;
      return;
    }
    data.fill(0); // reserved parts of the BAR read as zero, as QEMU's unassigned subregions
  }

  write(offset: number, data: Uint8Array): void {
    if (offset >= MMIO_VGA_PORTS_OFFSET && offset < MMIO_VGA_PORTS_OFFSET + MMIO_VGA_PORTS_SIZE) {
      // Byte order matters: `index | data << 8` in one 16-bit store sets index first.
      for (let i = 0; i < data.length; i++) {
        const at = offset - MMIO_VGA_PORTS_OFFSET + i;
        if (at < MMIO_VGA_PORTS_SIZE) this.regs.writePort(0x3c0 + at, data[i]!);
      }
      return;
    }
    if (offset >= MMIO_DISPI_OFFSET && offset < MMIO_DISPI_OFFSET + MMIO_DISPI_SIZE) {
      this.vbe.index = (offset - MMIO_DISPI_OFFSET) >>> 1;
      const value = data.length > 1 ? data[0]! | (data[1]! << 8) : data[0]!;
      this.vbe.writeData(value);
    }
    // QEXT byte order writes: we only do little endian; everything else is ignored.
  }
}

/**
 * BAR0 as MMIO: the fallback path for a machine that has not mapped VRAM as a memory slot
 * yet. Every access is an exit, so it is correct but slow; writes feed the dirty log.
 */
export class LinearFramebuffer implements BusDevice {
  constructor(private readonly vram: Vram) {}

  read(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      if (at < this.vram.size) data[i] = this.vram.bytes[at]!;
    }
  }

  write(offset: number, data: Uint8Array): void {
    if (offset >= this.vram.size) return;
    const n = Math.min(data.length, this.vram.size - offset);
    this.vram.bytes.set(data.subarray(0, n), offset);
    this.vram.markDirty(offset, n);
  }
}

/**
 * Standard VGA with Bochs VBE extensions: the device QEMU calls `-vga std` (PCI 1234:1111), so
 * SeaBIOS's vgabios-stdvga.bin, isolinux/vesamenu, GRUB, Linux vgacon/vesafb/bochs-drm and
 * Windows' VGA/VBE drivers find what they expect.
 *
 * Sources: IBM "VGA and XGA Technical Reference Manual" (VGA chapter: registers, memory
 * organisation, attribute/DAC pipeline), FreeVGA, Bochs VBE (vga.h VBE_DISPI_*), QEMU
 * hw/display/vga.c, vga-pci.c and docs/specs/standard-vga.rst (read for behaviour, not copied).
 *
 * The pieces, each a plain {@link BusDevice} the machine registers (the device knows nothing of
 * the PCI bus, which another module owns):
 * | piece | bus | where |
 * | --- | --- | --- |
 * | {@link StdVga.ioPorts} | I/O | 0x3B0, length 0x30 (misc, SEQ, CRTC, GC, ATC, DAC, status) |
 * | {@link StdVga.dispiPorts} | I/O | 0x1CE, length 3 (DISPI index, data, data alias) |
 * | {@link StdVga.legacyWindow} | MMIO | 0xA0000, length 0x20000 |
 * | {@link StdVga.mmioRegisters} | MMIO | wherever the PCI bus places BAR2 (4 KiB) |
 * | {@link StdVga.vram} `.bytes` | memory slot | wherever BAR0 is placed (the LFB); {@link StdVga.linearFramebuffer} is the MMIO fallback |
 * | {@link StdVga.pci} | config space | identity, BAR sizes, option ROM bytes |
 *
 * The picture is produced by `main/engine/display/vga-renderer.ts` from this device's state.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';
import { BochsVbe, DispiPorts } from './bochs-vbe.js';
import { VgaIoPorts, VgaRegisters } from './io-ports.js';
import { LegacyVgaWindow, type LegacyWindowAlias } from './memory-window.js';
import {
  DEFAULT_VGA_ROM_PATH,
  LinearFramebuffer,
  loadVgaRom,
  stdVgaPciIdentity,
  VgaMmioRegisters,
  type StdVgaPciIdentity,
} from './pci.js';
import { Vram, VRAM_DEFAULT_SIZE } from './vram.js';

export * from './bochs-vbe.js';
export * from './io-ports.js';
export * from './memory-window.js';
export type { LegacyWindowAlias } from './memory-window.js';
export * from './pci.js';
export * from './vram.js';
export * as VgaRegisterNames from './registers.js';
export { VGA_PORT_BASE, VGA_PORT_COUNT, VGA_PORT_RANGES } from './registers.js';

export interface StdVgaOptions {
  /** VRAM size in bytes, a power of two from 1 to 256 MiB (default 16 MiB). Ignored if `vram` is given. */
  vramSize?: number;
  /** VRAM the machine allocated (e.g. a SharedArrayBuffer it also maps as the LFB slot). */
  vram?: Uint8Array;
  /** Option ROM path (default /usr/share/seabios/vgabios-stdvga.bin), or `null` for no ROM (tests, direct boot). */
  romPath?: string | null;
  /**
   * True (default) when every guest write to VRAM reaches this device or is reported through
   * {@link StdVga.markDirty} / {@link StdVga.reportDirtyLog}. Set false when the LFB is a memory
   * slot without dirty logging: the renderer then re-reads all of VRAM each frame (still
   * reporting only the rectangles that changed, by comparing with the previous frame).
   */
  vramWritesTracked?: boolean;
  /**
   * Called when {@link StdVga.legacyWindowAlias} changes (mode set, chain-4 toggled, VBE bank
   * switch), so a machine that maps the alias as a memory slot can move or drop the slot.
   * Called on the device thread, from inside the guest's register write.
   */
  onLegacyAliasChange?: (alias: LegacyWindowAlias | null) => void;
}

export class StdVga {
  readonly vram: Vram;
  readonly vbe: BochsVbe;
  readonly registers: VgaRegisters;
  /** Ports 0x3B0-0x3DF (or sub-ranges: `ioPorts.at(base, length)` for VGA_PORT_RANGES). */
  readonly ioPorts: VgaIoPorts;
  /** Ports 0x1CE-0x1D0 (DISPI_PORT_COUNT). */
  readonly dispiPorts: BusDevice;
  /** Guest-physical 0xA0000-0xBFFFF. */
  readonly legacyWindow: LegacyVgaWindow;
  /** PCI BAR2 (4 KiB). */
  readonly mmioRegisters: BusDevice;
  /** PCI BAR0 as MMIO (slow fallback; the LFB should be a memory slot over `vram.bytes`). */
  readonly linearFramebuffer: BusDevice;
  /** Identity, BARs and ROM for the PCI bus. */
  readonly pci: StdVgaPciIdentity;
  vramWritesTracked: boolean;
  private readonly onLegacyAliasChange: ((alias: LegacyWindowAlias | null) => void) | undefined;
  private legacyAliasKey = 'none';

  constructor(options: StdVgaOptions = {}) {
    this.vram = new Vram(options.vramSize ?? VRAM_DEFAULT_SIZE, options.vram);
    // Read the ROM first: a missing seabios package is the likeliest setup error.
    const rom =
      options.romPath === null
        ? new Uint8Array(0)
        : loadVgaRom(options.romPath ?? DEFAULT_VGA_ROM_PATH);
    this.onLegacyAliasChange = options.onLegacyAliasChange;
    this.vbe = new BochsVbe(this.vram, () => {
      this.vram.markAllDirty();
      this.checkLegacyAlias();
    });
    this.registers = new VgaRegisters(this.vbe, () => this.checkLegacyAlias());
    this.ioPorts = new VgaIoPorts(this.registers);
    this.dispiPorts = new DispiPorts(this.vbe);
    this.legacyWindow = new LegacyVgaWindow(this.registers, this.vbe, this.vram);
    this.mmioRegisters = new VgaMmioRegisters(this.registers, this.vbe);
    this.linearFramebuffer = new LinearFramebuffer(this.vram);
    this.pci = stdVgaPciIdentity(this.vram.size, rom);
    this.vramWritesTracked = options.vramWritesTracked ?? true;
  }

  /**
   * System reset (the machine's reset line): registers and Bochs VBE back to power-on state.
   * VRAM keeps its contents, as on a real card; the next frame is redrawn in full.
   */
  reset(): void {
    this.registers.reset();
    this.vbe.reset();
    this.legacyWindow.latch = 0;
    this.vram.markAllDirty();
    this.checkLegacyAlias();
  }

  /**
   * The part of 0xA0000-0xBFFFF that is currently a plain alias of VRAM (chain-4 modes such as
   * 13h, VBE banked modes), or null. A machine may map it as a KVM memory slot over
   * `vram.bytes.subarray(vramOffset, vramOffset + length)` (dirty-logged, reported with
   * `reportDirtyLog(bitmap, vramOffset / 4096)`) instead of taking an exit per byte; when it
   * changes to null the slot must go, so planar accesses reach {@link StdVga.legacyWindow}.
   */
  legacyWindowAlias(): LegacyWindowAlias | null {
    return this.legacyWindow.linearAlias();
  }

  private checkLegacyAlias(): void {
    if (!this.onLegacyAliasChange) return;
    const alias = this.legacyWindow.linearAlias();
    const key = alias ? `${alias.guestAddress}:${alias.vramOffset}:${alias.length}` : 'none';
    if (key === this.legacyAliasKey) return;
    this.legacyAliasKey = key;
    this.onLegacyAliasChange(alias);
  }

  /** The machine (or a DMA path) changed VRAM bytes behind the device's back. */
  markDirty(offset: number, length: number): void {
    this.vram.markDirty(offset, length);
  }

  /** Merge a KVM_GET_DIRTY_LOG bitmap of the LFB slot (bit per 4 KiB page from VRAM offset 0). */
  reportDirtyLog(bitmap: Uint8Array, firstPage = 0): void {
    this.vram.reportDirtyLog(bitmap, firstPage);
  }
}

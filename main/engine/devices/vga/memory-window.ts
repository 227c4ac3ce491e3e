/**
 * The legacy VGA memory window, guest-physical 0xA0000-0xBFFFF (IBM VGA Technical Reference,
 * "Graphics Controller Registers": Memory Map Select, Read Map Select, Mode register write
 * modes 0-3 and read modes 0-1, Set/Reset, Data Rotate, Bit Mask; "Sequencer": Map Mask,
 * Memory Mode chain-4 and odd/even). FreeVGA's "VGA Memory" and "Graphics Controller" pages
 * explain the latch pipeline this file follows.
 *
 * Three addressing schemes, chosen the way QEMU's vga_mem_readb/writeb choose them:
 * - chain-4 (SR04 bit 3, mode 13h and every Bochs VBE mode except 4 bpp): CPU byte `o` is VRAM
 *   byte `o` (plane `o & 3` of planar address `o >> 2` in our interleaved layout);
 * - odd/even (GR05 bit 4, text modes): even CPU addresses hit plane 0 (characters) or 2 (font),
 *   odd ones plane 1 (attributes) or 3, at planar address `o >> 1`;
 * - planar (the 16-colour modes, and how the BIOS loads fonts into plane 2): every access
 *   goes through the 32-bit latch, with the four write modes and two read modes.
 * In VBE banked modes (map select 1) the 64 KiB window shows VRAM at the DISPI bank offset.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';
import type { BochsVbe } from './bochs-vbe.js';
import type { VgaRegisters } from './io-ports.js';
import * as R from './registers.js';
import type { Vram } from './vram.js';

export const LEGACY_WINDOW_BASE = 0xa0000;
export const LEGACY_WINDOW_SIZE = 0x20000;

/** Each of the low 4 bits of `n` spread to a whole byte: plane mask -> 32-bit lane mask. */
const PLANE_MASK = new Uint32Array(16);
for (let n = 0; n < 16; n++) {
  PLANE_MASK[n] =
    ((n & 1 ? 0xff : 0) |
      (n & 2 ? 0xff00 : 0) |
      (n & 4 ? 0xff0000 : 0) |
      (n & 8 ? 0xff000000 : 0)) >>>
    0;
}

/**
 * A part of the legacy window that is a plain alias of VRAM bytes (chain-4 with all planes
 * writable, or a VBE bank): the machine may map it as a memory slot instead of taking exits,
 * as QEMU does with its "vga.chain4" alias region.
 */
export interface LegacyWindowAlias {
  /** Guest-physical address of the alias (0xA0000, 0xB0000 or 0xB8000). */
  guestAddress: number;
  /** VRAM byte offset it shows. */
  vramOffset: number;
  length: number;
}

export class LegacyVgaWindow implements BusDevice {
  /** The four plane bytes loaded by the last planar read (plane 0 in the low byte). */
  latch = 0;
  /** Planes written since the renderer last looked (bit 2 = a font may have changed). */
  planesWritten = 0;

  constructor(
    private readonly regs: VgaRegisters,
    private readonly vbe: BochsVbe,
    private readonly vram: Vram,
  ) {}

  /** Sequencer register as the memory path sees it: VBE modes force chain-4 and all planes. */
  private seq(index: number): number {
    const v = this.regs.sequencer[index]!;
    if (this.vbe.enabled && this.vbe.depth !== 4) {
      if (index === R.SEQ_MAP_MASK) return v | 0x0f;
      if (index === R.SEQ_MEMORY_MODE) return v | R.SEQ_MEMORY_CHAIN_4;
    }
    return v;
  }

  /** VGA memory offset for a window offset, or -1 when the memory map does not decode it. */
  private decode(offset: number): number {
    // VBE modes use map 1 (A0000-AFFFF, 64 KiB) plus the bank, as QEMU's vbe_update_vgaregs sets.
    const map = this.vbe.enabled ? 1 : (this.regs.graphics[R.GC_MISC]! >> 2) & 3;
    switch (map) {
      case 0:
        return offset;
      case 1:
        return offset < 0x10000 ? offset + (this.vbe.enabled ? this.vbe.bankOffset : 0) : -1;
      case 2:
        return offset >= 0x10000 && offset < 0x18000 ? offset - 0x10000 : -1;
      default:
        return offset >= 0x18000 ? offset - 0x18000 : -1;
    }
  }

  /** The current linear alias, or null when accesses need the latch pipeline (exits). */
  linearAlias(): LegacyWindowAlias | null {
    if ((this.seq(R.SEQ_MAP_MASK) & 0x0f) !== 0x0f) return null;
    if (!(this.seq(R.SEQ_MEMORY_MODE) & R.SEQ_MEMORY_CHAIN_4)) return null;
    const map = this.vbe.enabled ? 1 : (this.regs.graphics[R.GC_MISC]! >> 2) & 3;
    const bank = this.vbe.enabled ? this.vbe.bankOffset : 0;
    const alias =
      map === 0
        ? { guestAddress: LEGACY_WINDOW_BASE, vramOffset: 0, length: 0x20000 }
        : map === 1
          ? { guestAddress: LEGACY_WINDOW_BASE, vramOffset: bank, length: 0x10000 }
          : map === 2
            ? { guestAddress: 0xb0000, vramOffset: 0, length: 0x8000 }
            : { guestAddress: 0xb8000, vramOffset: 0, length: 0x8000 };
    return alias.vramOffset + alias.length <= this.vram.size ? alias : null;
  }

  readByte(offset: number): number {
    const addr = this.decode(offset);
    if (addr < 0) return 0xff;
    const g = this.regs.graphics;
    const vram = this.vram;
    if (this.seq(R.SEQ_MEMORY_MODE) & R.SEQ_MEMORY_CHAIN_4) {
      return addr < vram.size ? vram.bytes[addr]! : 0xff;
    }
    if (g[R.GC_MODE]! & R.GC_MODE_ODD_EVEN) {
      const plane = (g[R.GC_READ_MAP_SELECT]! & 2) | (addr & 1);
      const at = ((addr & ~1) << 1) | plane;
      return at < vram.size ? vram.bytes[at]! : 0xff;
    }
    if (addr >= vram.groups.length) return 0xff;
    this.latch = vram.groups[addr]!;
    if (!(g[R.GC_MODE]! & R.GC_MODE_READ_MODE_1)) {
      return (this.latch >>> ((g[R.GC_READ_MAP_SELECT]! & 3) * 8)) & 0xff;
    }
    // Read mode 1: a 1 bit for each pixel whose colour matches Color Compare in the planes
    // Color Don't Care selects.
    let diff =
      (this.latch ^ PLANE_MASK[g[R.GC_COLOR_COMPARE]!]!) & PLANE_MASK[g[R.GC_COLOR_DONT_CARE]!]!;
    diff |= diff >>> 16;
    diff |= diff >>> 8;
    return ~diff & 0xff;
  }

  writeByte(offset: number, value: number): void {
    const addr = this.decode(offset);
    if (addr < 0) return;
    const g = this.regs.graphics;
    const vram = this.vram;
    const mapMask = this.seq(R.SEQ_MAP_MASK) & 0x0f;
    if (this.seq(R.SEQ_MEMORY_MODE) & R.SEQ_MEMORY_CHAIN_4) {
      const planeBit = 1 << (addr & 3);
      if (mapMask & planeBit && addr < vram.size) {
        vram.bytes[addr] = value;
        this.planesWritten |= planeBit;
        vram.markByteDirty(addr);
      }
      return;
    }
    if (g[R.GC_MODE]! & R.GC_MODE_ODD_EVEN) {
      const plane = (g[R.GC_READ_MAP_SELECT]! & 2) | (addr & 1);
      const planeBit = 1 << plane;
      const at = ((addr & ~1) << 1) | plane;
      if (mapMask & planeBit && at < vram.size) {
        vram.bytes[at] = value;
        this.planesWritten |= planeBit;
        vram.markByteDirty(at);
      }
      return;
    }

    // Planar: build a 32-bit value (one byte per plane) from the write mode, combine it with
    // the latch by the logical function and bit mask, then store the planes Map Mask enables.
    const rotateReg = g[R.GC_DATA_ROTATE]!;
    const rotate = rotateReg & 7;
    let data: number;
    let bitMask = g[R.GC_BIT_MASK]!;
    const mode = g[R.GC_MODE]! & 3;
    if (mode === 1) {
      // Write mode 1: the latches are stored as they are (fast screen-to-screen copies).
      data = this.latch;
    } else {
      if (mode === 0) {
        const rotated = ((value >>> rotate) | (value << (8 - rotate))) & 0xff;
        data = (rotated * 0x01010101) >>> 0;
        const enable = PLANE_MASK[g[R.GC_ENABLE_SET_RESET]! & 0x0f]!;
        data = ((data & ~enable) | (PLANE_MASK[g[R.GC_SET_RESET]! & 0x0f]! & enable)) >>> 0;
      } else if (mode === 2) {
        // Write mode 2: the CPU byte's low 4 bits are a colour, one bit per plane.
        data = PLANE_MASK[value & 0x0f]!;
      } else {
        // Write mode 3: the rotated CPU byte ANDed with Bit Mask is the mask; Set/Reset the colour.
        const rotated = ((value >>> rotate) | (value << (8 - rotate))) & 0xff;
        bitMask &= rotated;
        data = PLANE_MASK[g[R.GC_SET_RESET]! & 0x0f]!;
      }
      switch ((rotateReg >> 3) & 3) {
        case 1:
          data &= this.latch;
          break;
        case 2:
          data |= this.latch;
          break;
        case 3:
          data ^= this.latch;
          break;
        default:
          break;
      }
      const mask32 = (bitMask * 0x01010101) >>> 0;
      data = ((data & mask32) | (this.latch & ~mask32)) >>> 0;
    }
    if (addr >= vram.groups.length) return;
    const writeMask = PLANE_MASK[mapMask]!;
    vram.groups[addr] = ((vram.groups[addr]! & ~writeMask) | (data & writeMask)) >>> 0;
    this.planesWritten |= mapMask;
    vram.markByteDirty(addr << 2);
  }

  read(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      if (at < LEGACY_WINDOW_SIZE) data[i] = this.readByte(at);
    }
  }

  write(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      if (at < LEGACY_WINDOW_SIZE) this.writeByte(at, data[i]!);
    }
  }
}

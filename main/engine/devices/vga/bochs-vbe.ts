/**
 * Bochs VBE extensions ("DISPI" interface), the register set Bochs and QEMU's `-vga std` add to
 * the VGA so a BIOS can offer VESA linear-framebuffer modes: Bochs `iodev/display/vga.h`
 * (VBE_DISPI_*), QEMU `include/hw/display/bochs-vbe.h` and docs/specs/standard-vga.rst.
 * SeaBIOS's vgabios (vgasrc/bochsvga.c), GRUB's bochs video driver and Linux's bochs-drm all
 * program the mode through these registers; the VESA BIOS interface is SeaBIOS's job.
 *
 * Index port 0x1CE and data port 0x1CF (0x1D0 too), 16-bit registers. Values the guest writes are fixed up
 * to the nearest valid ones (there is no way to report an error through DISPI), the way QEMU's
 * vbe_fixup_regs does: unknown depths become 8, widths round down to a multiple of 8 and are
 * clamped, the height is clamped to what fits in VRAM, and offsets that would scan out past
 * the end of VRAM are reset to 0. Nothing a guest writes can make the device throw or allocate.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';
import type { Vram } from './vram.js';

export const DISPI_INDEX_PORT = 0x1ce;
export const DISPI_DATA_PORT = 0x1cf;
/** 0x1CE index, 0x1CF data, 0x1D0 data again (QEMU decodes both data ports on x86). */
export const DISPI_PORT_COUNT = 3;

export const DISPI_INDEX_ID = 0x0;
export const DISPI_INDEX_XRES = 0x1;
export const DISPI_INDEX_YRES = 0x2;
export const DISPI_INDEX_BPP = 0x3;
export const DISPI_INDEX_ENABLE = 0x4;
export const DISPI_INDEX_BANK = 0x5;
export const DISPI_INDEX_VIRT_WIDTH = 0x6;
export const DISPI_INDEX_VIRT_HEIGHT = 0x7;
export const DISPI_INDEX_X_OFFSET = 0x8;
export const DISPI_INDEX_Y_OFFSET = 0x9;
export const DISPI_INDEX_VIDEO_MEMORY_64K = 0xa;
/** Registers held in the array (ID .. Y_OFFSET); VIDEO_MEMORY_64K is computed. */
const DISPI_REGISTER_COUNT = 0xa;

/** IDs a guest may write to ID to negotiate a version; reads return the last accepted one. */
export const DISPI_ID0 = 0xb0c0;
export const DISPI_ID5 = 0xb0c5;

export const DISPI_ENABLED = 0x01;
export const DISPI_GETCAPS = 0x02; // reads of XRES/YRES/BPP return the maxima
export const DISPI_8BIT_DAC = 0x20;
export const DISPI_LFB_ENABLED = 0x40;
export const DISPI_NOCLEARMEM = 0x80;

/**
 * Largest mode the device accepts, reported with GETCAPS. QEMU reports 16000x12000; we keep the
 * same so guests pick the same modes, and the renderer caps its own surface separately.
 */
export const DISPI_MAX_XRES = 16000;
export const DISPI_MAX_YRES = 12000;
export const DISPI_MAX_BPP = 32;

/** Depths the scan-out understands (bits per pixel). */
export type VbeDepth = 4 | 8 | 15 | 16 | 24 | 32;

export class BochsVbe {
  /** Raw DISPI registers 0..9 as the guest reads them back (after fix-up). */
  readonly registers = new Uint16Array(DISPI_REGISTER_COUNT);
  index = 0;
  /** Byte offset of the 64 KiB bank the legacy window shows in VBE banked modes. */
  bankOffset = 0;
  /** Bytes per scan line (VIRT_WIDTH * bytes per pixel). */
  lineBytes = 0;
  /** VRAM byte where scan-out starts (X_OFFSET/Y_OFFSET). */
  startByte = 0;

  constructor(
    private readonly vram: Vram,
    /** Called after ENABLE, BANK or geometry change, so the VGA can recompute its memory map. */
    private readonly onChange: () => void = () => {},
  ) {
    this.reset();
  }

  /** Power-on state: disabled, 640x480x8 programmed, bank 0. */
  reset(): void {
    this.registers.fill(0);
    this.registers[DISPI_INDEX_ID] = DISPI_ID5;
    this.registers[DISPI_INDEX_XRES] = 640;
    this.registers[DISPI_INDEX_YRES] = 480;
    this.registers[DISPI_INDEX_BPP] = 8;
    this.index = 0;
    this.bankOffset = 0;
    this.lineBytes = 0;
    this.startByte = 0;
  }

  get enabled(): boolean {
    return (this.registers[DISPI_INDEX_ENABLE]! & DISPI_ENABLED) !== 0;
  }
  get dac8Bit(): boolean {
    return (this.registers[DISPI_INDEX_ENABLE]! & DISPI_8BIT_DAC) !== 0;
  }
  get width(): number {
    return this.registers[DISPI_INDEX_XRES]!;
  }
  get height(): number {
    return this.registers[DISPI_INDEX_YRES]!;
  }
  get depth(): VbeDepth {
    return this.registers[DISPI_INDEX_BPP]! as VbeDepth;
  }

  readData(): number {
    const i = this.index;
    if (i < DISPI_REGISTER_COUNT) {
      if (this.registers[DISPI_INDEX_ENABLE]! & DISPI_GETCAPS) {
        if (i === DISPI_INDEX_XRES) return DISPI_MAX_XRES;
        if (i === DISPI_INDEX_YRES) return DISPI_MAX_YRES;
        if (i === DISPI_INDEX_BPP) return DISPI_MAX_BPP;
      }
      return this.registers[i]!;
    }
    if (i === DISPI_INDEX_VIDEO_MEMORY_64K) return Math.min(0xffff, this.vram.size >>> 16);
    return 0;
  }

  writeData(value: number): void {
    value &= 0xffff;
    const r = this.registers;
    switch (this.index) {
      case DISPI_INDEX_ID:
        if (value >= DISPI_ID0 && value <= DISPI_ID5) r[DISPI_INDEX_ID] = value;
        return;
      case DISPI_INDEX_XRES:
      case DISPI_INDEX_YRES:
      case DISPI_INDEX_BPP:
      case DISPI_INDEX_VIRT_WIDTH:
      case DISPI_INDEX_X_OFFSET:
      case DISPI_INDEX_Y_OFFSET:
        r[this.index] = value;
        this.fixUp();
        this.onChange();
        return;
      case DISPI_INDEX_BANK: {
        // Banks are 64 KiB; the mask keeps the window inside VRAM whatever the guest writes.
        const bank = value & ((this.vram.size >>> 16) - 1);
        r[DISPI_INDEX_BANK] = bank;
        this.bankOffset = bank << 16;
        this.onChange();
        return;
      }
      case DISPI_INDEX_ENABLE: {
        const wasEnabled = this.enabled;
        if (value & DISPI_ENABLED && !wasEnabled) {
          // Enabling resets the virtual geometry (Bochs and QEMU do), then validates the mode.
          r[DISPI_INDEX_VIRT_WIDTH] = 0;
          r[DISPI_INDEX_X_OFFSET] = 0;
          r[DISPI_INDEX_Y_OFFSET] = 0;
          r[DISPI_INDEX_ENABLE] = r[DISPI_INDEX_ENABLE]! | DISPI_ENABLED;
          this.fixUp();
          if (!(value & DISPI_NOCLEARMEM)) {
            const clear = Math.min(this.vram.size, r[DISPI_INDEX_YRES]! * this.lineBytes);
            this.vram.bytes.fill(0, 0, clear);
            this.vram.markDirty(0, clear);
          }
        } else if (!(value & DISPI_ENABLED)) {
          this.bankOffset = 0;
          r[DISPI_INDEX_BANK] = 0;
        }
        r[DISPI_INDEX_ENABLE] = value;
        this.onChange();
        return;
      }
      default:
        // VIRT_HEIGHT and VIDEO_MEMORY_64K are read-only; unknown indices are ignored.
        return;
    }
  }

  /** Clamp the registers to a mode that fits (QEMU vbe_fixup_regs); no-op while disabled. */
  private fixUp(): void {
    if (!this.enabled) return;
    const r = this.registers;
    let bits: number;
    switch (r[DISPI_INDEX_BPP]) {
      case 4:
      case 8:
      case 16:
      case 24:
      case 32:
        bits = r[DISPI_INDEX_BPP]!;
        break;
      case 15:
        bits = 16;
        break;
      default:
        bits = r[DISPI_INDEX_BPP] = 8;
    }
    let xres = r[DISPI_INDEX_XRES]! & ~7;
    if (xres === 0) xres = 8;
    xres = Math.min(xres, DISPI_MAX_XRES);
    r[DISPI_INDEX_XRES] = xres;
    let virtWidth = Math.min(r[DISPI_INDEX_VIRT_WIDTH]! & ~7, DISPI_MAX_XRES);
    if (virtWidth < xres) virtWidth = xres;
    r[DISPI_INDEX_VIRT_WIDTH] = virtWidth;

    const lineBytes = (virtWidth * bits) >>> 3;
    const maxY = Math.min(0xffff, Math.floor(this.vram.size / lineBytes));
    let yres = r[DISPI_INDEX_YRES]!;
    if (yres === 0) yres = 1;
    yres = Math.min(yres, DISPI_MAX_YRES, maxY);
    r[DISPI_INDEX_YRES] = yres;

    if (r[DISPI_INDEX_X_OFFSET]! > DISPI_MAX_XRES) r[DISPI_INDEX_X_OFFSET] = DISPI_MAX_XRES;
    if (r[DISPI_INDEX_Y_OFFSET]! > DISPI_MAX_YRES) r[DISPI_INDEX_Y_OFFSET] = DISPI_MAX_YRES;
    let start = ((r[DISPI_INDEX_X_OFFSET]! * bits) >>> 3) + r[DISPI_INDEX_Y_OFFSET]! * lineBytes;
    if (start + yres * lineBytes > this.vram.size) {
      r[DISPI_INDEX_Y_OFFSET] = 0;
      start = (r[DISPI_INDEX_X_OFFSET]! * bits) >>> 3;
      if (start + yres * lineBytes > this.vram.size) {
        r[DISPI_INDEX_X_OFFSET] = 0;
        start = 0;
      }
    }
    r[DISPI_INDEX_VIRT_HEIGHT] = maxY;
    this.lineBytes = lineBytes;
    // QEMU keeps the start as a planar (4-byte) address; we keep the same granularity.
    this.startByte = start & ~3;
  }
}

/**
 * The DISPI index/data ports (0x1CE/0x1CF, data aliased at 0x1D0) as a bus device. A 16-bit `out dx, ax` to 0x1CE sets
 * the index; to 0x1CF writes the data. Byte accesses touch the low byte only (the high byte is
 * zero), which is what a guest doing `outb` gets from QEMU too.
 */
export class DispiPorts implements BusDevice {
  constructor(private readonly vbe: BochsVbe) {}

  read(offset: number, data: Uint8Array): void {
    const value =
      offset === 0 ? this.vbe.index : offset === 1 || offset === 2 ? this.vbe.readData() : 0xffff;
    data[0] = value & 0xff;
    if (data.length > 1) data[1] = value >>> 8;
  }

  write(offset: number, data: Uint8Array): void {
    const value = data.length > 1 ? data[0]! | (data[1]! << 8) : data[0]!;
    if (offset === 0) this.vbe.index = value;
    else if (offset === 1 || offset === 2) this.vbe.writeData(value);
  }
}

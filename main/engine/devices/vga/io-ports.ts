/**
 * The VGA register file and its I/O ports 0x3B0-0x3DF (IBM VGA Technical Reference, "Registers";
 * FreeVGA "VGA Registers"): miscellaneous output, sequencer, CRT controller, graphics
 * controller, attribute controller and the video DAC.
 *
 * What matters to the guests we run:
 * - The attribute controller has one port (0x3C0) for index and data, toggled by a flip-flop
 *   that a read of input status 1 (0x3DA colour / 0x3BA mono) resets to "index". Every BIOS
 *   and Linux's vgacon read 0x3DA before touching it.
 * - Input status 1 toggles its retrace bits on every read (as QEMU's "dumb" retrace does), so
 *   code that waits for vertical retrace start and end both terminates quickly.
 * - The DAC auto-increments: after three writes (R, G, B) to 0x3C9 the write index advances;
 *   reads advance the read index the same way. Values are 6 bits unless Bochs VBE's 8BIT_DAC.
 * - The CRTC answers at 0x3D4/5 or 0x3B4/5 by miscellaneous output bit 0; the other range
 *   reads 0xFF and ignores writes. CR11 bit 7 write-protects CR00-CR07 except CR07 bit 4.
 * Word accesses are split into bytes, lowest port first (`out 0x3C4, ax` = index then data).
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';
import { readBytes, writeBytes } from '../byte-access.js';
import type { BochsVbe } from './bochs-vbe.js';
import * as R from './registers.js';

export class VgaRegisters {
  misc = 0x00;
  featureControl = 0;
  sequencerIndex = 0;
  readonly sequencer = new Uint8Array(R.SEQ_COUNT);
  graphicsIndex = 0;
  readonly graphics = new Uint8Array(R.GC_COUNT);
  crtcIndex = 0;
  readonly crtc = new Uint8Array(R.CRTC_COUNT);
  attributeIndex = 0;
  /** false: the next 0x3C0 write is an index; true: it is data. */
  attributeFlipFlop = false;
  readonly attribute = new Uint8Array(R.ATC_COUNT);
  /** DAC palette, 3 bytes (R, G, B) per entry. */
  readonly palette = new Uint8Array(R.DAC_ENTRIES * 3);
  pelMask = 0xff;
  dacReadIndex = 0;
  dacWriteIndex = 0;
  /** 0..2: which component the next data access touches. */
  dacComponent = 0;
  /** DAC state register (0x3C7 read): 0 after a write-index write, 3 after a read-index write. */
  dacState = 0;
  private readonly dacPending = new Uint8Array(3);
  private status1 = 0;
  /** Bumped on any DAC or attribute palette change, so the renderer rebuilds its colour table. */
  paletteGeneration = 0;

  constructor(
    private readonly vbe: BochsVbe,
    /** Called when a register that changes how the memory window decodes is written. */
    private readonly onMemoryMapChange: () => void = () => {},
  ) {}

  /** Power-on state: everything zero, PEL mask all ones, DAC black (the BIOS programs the rest). */
  reset(): void {
    this.misc = 0;
    this.featureControl = 0;
    this.sequencerIndex = 0;
    this.sequencer.fill(0);
    this.graphicsIndex = 0;
    this.graphics.fill(0);
    this.crtcIndex = 0;
    this.crtc.fill(0);
    this.attributeIndex = 0;
    this.attributeFlipFlop = false;
    this.attribute.fill(0);
    this.palette.fill(0);
    this.pelMask = 0xff;
    this.dacReadIndex = 0;
    this.dacWriteIndex = 0;
    this.dacComponent = 0;
    this.dacState = 0;
    this.status1 = 0;
    this.paletteGeneration++;
  }

  get colorEmulation(): boolean {
    return (this.misc & R.MISC_COLOR_EMULATION) !== 0;
  }

  /** Ports of the other (mono vs colour) range are not decoded (QEMU vga_ioport_invalid). */
  private decodes(port: number): boolean {
    if (port >= 0x3b0 && port <= 0x3bf) return !this.colorEmulation;
    if (port >= 0x3d0 && port <= 0x3df) return this.colorEmulation;
    return true;
  }

  readPort(port: number): number {
    if (!this.decodes(port)) return 0xff;
    switch (port) {
      case R.PORT_ATTRIBUTE_INDEX:
        return this.attributeFlipFlop ? 0 : this.attributeIndex;
      case R.PORT_ATTRIBUTE_DATA_READ: {
        const i = this.attributeIndex & 0x1f;
        return i < R.ATC_COUNT ? this.attribute[i]! : 0;
      }
      case R.PORT_MISC_OUTPUT_WRITE:
        return 0; // input status 0: no switch sense, no pending CRT interrupt
      case R.PORT_VIDEO_SUBSYSTEM_ENABLE:
        return 1;
      case R.PORT_SEQUENCER_INDEX:
        return this.sequencerIndex;
      case R.PORT_SEQUENCER_DATA:
        return this.sequencer[this.sequencerIndex]!;
      case R.PORT_DAC_PEL_MASK:
        return this.pelMask;
      case R.PORT_DAC_READ_INDEX:
        return this.dacState;
      case R.PORT_DAC_WRITE_INDEX:
        return this.dacWriteIndex;
      case R.PORT_DAC_DATA: {
        const v = this.palette[this.dacReadIndex * 3 + this.dacComponent]!;
        if (++this.dacComponent === 3) {
          this.dacComponent = 0;
          this.dacReadIndex = (this.dacReadIndex + 1) & 0xff;
        }
        return v;
      }
      case R.PORT_FEATURE_CONTROL_READ:
        return this.featureControl;
      case R.PORT_MISC_OUTPUT_READ:
        return this.misc;
      case R.PORT_GRAPHICS_INDEX:
        return this.graphicsIndex;
      case R.PORT_GRAPHICS_DATA:
        return this.graphics[this.graphicsIndex]!;
      case R.PORT_CRTC_INDEX_MONO:
      case R.PORT_CRTC_INDEX_COLOR:
        return this.crtcIndex;
      case R.PORT_CRTC_DATA_MONO:
      case R.PORT_CRTC_DATA_COLOR:
        return this.crtc[this.crtcIndex]!;
      case R.PORT_INPUT_STATUS_1_MONO:
      case R.PORT_INPUT_STATUS_1_COLOR:
        // Toggle retrace and blanking on each read: pollers waiting for either edge finish.
        this.status1 ^= R.STATUS1_VERTICAL_RETRACE | R.STATUS1_DISPLAY_DISABLED;
        this.attributeFlipFlop = false;
        return this.status1;
      default:
        return 0xff; // 0x3B0-0x3B3, 0x3B6-0x3B9, ... : nothing decodes them on a VGA
    }
  }

  writePort(port: number, value: number): void {
    if (!this.decodes(port)) return;
    value &= 0xff;
    switch (port) {
      case R.PORT_ATTRIBUTE_INDEX:
        if (!this.attributeFlipFlop) {
          this.attributeIndex = value & 0x3f;
        } else {
          this.writeAttribute(this.attributeIndex & 0x1f, value);
        }
        this.attributeFlipFlop = !this.attributeFlipFlop;
        return;
      case R.PORT_MISC_OUTPUT_WRITE:
        this.misc = value & ~0x10;
        return;
      case R.PORT_SEQUENCER_INDEX:
        this.sequencerIndex = value & (R.SEQ_COUNT - 1);
        return;
      case R.PORT_SEQUENCER_DATA:
        this.sequencer[this.sequencerIndex] = value & R.SEQ_WRITABLE_BITS[this.sequencerIndex]!;
        this.onMemoryMapChange();
        return;
      case R.PORT_DAC_PEL_MASK:
        this.pelMask = value;
        this.paletteGeneration++;
        return;
      case R.PORT_DAC_READ_INDEX:
        this.dacReadIndex = value;
        this.dacComponent = 0;
        this.dacState = 3;
        return;
      case R.PORT_DAC_WRITE_INDEX:
        this.dacWriteIndex = value;
        this.dacComponent = 0;
        this.dacState = 0;
        return;
      case R.PORT_DAC_DATA:
        // The real DAC keeps 6 bits per gun; Bochs VBE's 8BIT_DAC widens it to 8.
        this.dacPending[this.dacComponent] = this.vbe.dac8Bit ? value : value & 0x3f;
        if (++this.dacComponent === 3) {
          this.palette.set(this.dacPending, this.dacWriteIndex * 3);
          this.dacComponent = 0;
          this.dacWriteIndex = (this.dacWriteIndex + 1) & 0xff;
          this.paletteGeneration++;
        }
        return;
      case R.PORT_GRAPHICS_INDEX:
        this.graphicsIndex = value & (R.GC_COUNT - 1);
        return;
      case R.PORT_GRAPHICS_DATA:
        this.graphics[this.graphicsIndex] = value & R.GC_WRITABLE_BITS[this.graphicsIndex]!;
        this.onMemoryMapChange();
        return;
      case R.PORT_CRTC_INDEX_MONO:
      case R.PORT_CRTC_INDEX_COLOR:
        this.crtcIndex = value;
        return;
      case R.PORT_CRTC_DATA_MONO:
      case R.PORT_CRTC_DATA_COLOR:
        if (
          this.crtc[R.CRTC_VERTICAL_RETRACE_END]! & R.CRTC_PROTECT &&
          this.crtcIndex <= R.CRTC_OVERFLOW
        ) {
          // Protected: only the line compare bit 8 (CR07 bit 4) stays writable.
          if (this.crtcIndex === R.CRTC_OVERFLOW) {
            this.crtc[R.CRTC_OVERFLOW] = (this.crtc[R.CRTC_OVERFLOW]! & ~0x10) | (value & 0x10);
          }
          return;
        }
        this.crtc[this.crtcIndex] = value;
        return;
      case R.PORT_INPUT_STATUS_1_MONO:
      case R.PORT_INPUT_STATUS_1_COLOR:
        this.featureControl = value & 0x0b;
        return;
      default:
        return;
    }
  }

  private writeAttribute(index: number, value: number): void {
    if (index < R.ATC_PALETTE_COUNT) {
      this.attribute[index] = value & 0x3f;
    } else if (index === R.ATC_MODE_CONTROL) {
      this.attribute[index] = value & ~0x10;
    } else if (index === R.ATC_OVERSCAN) {
      this.attribute[index] = value;
    } else if (index === R.ATC_COLOR_PLANE_ENABLE) {
      this.attribute[index] = value & 0x3f;
    } else if (index === R.ATC_HORIZONTAL_PEL_PANNING || index === R.ATC_COLOR_SELECT) {
      this.attribute[index] = value & 0x0f;
    } else {
      return; // 0x15-0x1F: not implemented on a VGA
    }
    this.paletteGeneration++;
  }
}

/**
 * VGA ports as a bus device: by default the whole block 0x3B0-0x3DF (register at
 * {@link R.VGA_PORT_BASE}, length {@link R.VGA_PORT_COUNT}); {@link VgaIoPorts.at} gives one
 * for a sub-range of {@link R.VGA_PORT_RANGES}.
 */
export class VgaIoPorts implements BusDevice {
  constructor(
    private readonly registers: VgaRegisters,
    private readonly base: number = R.VGA_PORT_BASE,
    private readonly length: number = R.VGA_PORT_COUNT,
  ) {}

  /** The same ports for a bus range starting at `base` (offsets are relative to it). */
  at(base: number, length: number): VgaIoPorts {
    return new VgaIoPorts(this.registers, base, length);
  }

  read(offset: number, data: Uint8Array): void {
    readBytes(offset, data, this.length, (at) => this.registers.readPort(this.base + at));
  }

  write(offset: number, data: Uint8Array): void {
    writeBytes(offset, data, this.length, (at, v) => this.registers.writePort(this.base + at, v));
  }
}

/**
 * Standard VGA + Bochs VBE (`main/engine/devices/vga`) and its scan-out
 * (`main/engine/display/vga-renderer.ts`): register semantics, the planar write/read pipeline
 * with hand-computed expectations, chain-4/text/planar/VBE pixels, dirty rectangles, hostile
 * DISPI values, and the PCI pieces.
 */
import { describe, expect, it } from 'vitest';
import {
  allocateAlignedVram,
  DISPI_8BIT_DAC,
  DISPI_ENABLED,
  DISPI_GETCAPS,
  DISPI_INDEX_BANK,
  DISPI_INDEX_BPP,
  DISPI_INDEX_ENABLE,
  DISPI_INDEX_ID,
  DISPI_INDEX_VIDEO_MEMORY_64K,
  DISPI_INDEX_VIRT_HEIGHT,
  DISPI_INDEX_VIRT_WIDTH,
  DISPI_INDEX_X_OFFSET,
  DISPI_INDEX_XRES,
  DISPI_INDEX_Y_OFFSET,
  DISPI_INDEX_YRES,
  DISPI_NOCLEARMEM,
  LEGACY_WINDOW_BASE,
  StdVga,
  VGA_PORT_BASE,
  VGA_PORT_RANGES,
  VramConfigError,
  type StdVgaOptions,
} from '../../../main/engine/devices/vga/index.js';
import { extractRect } from '../../../main/engine/display/surface.js';
import {
  MAX_SURFACE_PIXELS,
  VgaRenderer,
  textSnapshotLines,
} from '../../../main/engine/display/vga-renderer.js';
function makeVga(options: StdVgaOptions = {}): StdVga {
  return new StdVga({ romPath: null, ...options });
}

function outb(vga: StdVga, port: number, value: number): void {
  if (port === 0x1ce || port === 0x1cf) {
    vga.dispiPorts.write(port - 0x1ce, Uint8Array.of(value & 0xff));
    return;
  }
  vga.ioPorts.write(port - VGA_PORT_BASE, Uint8Array.of(value & 0xff));
}

function outw(vga: StdVga, port: number, value: number): void {
  const data = Uint8Array.of(value & 0xff, (value >> 8) & 0xff);
  if (port === 0x1ce || port === 0x1cf) vga.dispiPorts.write(port - 0x1ce, data);
  else vga.ioPorts.write(port - VGA_PORT_BASE, data);
}

function inb(vga: StdVga, port: number): number {
  const data = Uint8Array.of(0xff);
  vga.ioPorts.read(port - VGA_PORT_BASE, data);
  return data[0]!;
}

function inw(vga: StdVga, port: number): number {
  const data = Uint8Array.of(0xff, 0xff);
  if (port === 0x1ce || port === 0x1cf) vga.dispiPorts.read(port - 0x1ce, data);
  else vga.ioPorts.read(port - VGA_PORT_BASE, data);
  return data[0]! | (data[1]! << 8);
}

function dispiWrite(vga: StdVga, index: number, value: number): void {
  outw(vga, 0x1ce, index);
  outw(vga, 0x1cf, value);
}

function dispiRead(vga: StdVga, index: number): number {
  outw(vga, 0x1ce, index);
  return inw(vga, 0x1cf);
}

function memWrite(vga: StdVga, address: number, value: number): void {
  vga.legacyWindow.write(address - LEGACY_WINDOW_BASE, Uint8Array.of(value));
}

function memRead(vga: StdVga, address: number): number {
  const data = Uint8Array.of(0xff);
  vga.legacyWindow.read(address - LEGACY_WINDOW_BASE, data);
  return data[0]!;
}

const seq = (vga: StdVga, index: number, value: number): void => {
  outb(vga, 0x3c4, index);
  outb(vga, 0x3c5, value);
};
const gc = (vga: StdVga, index: number, value: number): void => {
  outb(vga, 0x3ce, index);
  outb(vga, 0x3cf, value);
};
const crtc = (vga: StdVga, index: number, value: number): void => {
  outb(vga, 0x3d4, index);
  outb(vga, 0x3d5, value);
};
const atc = (vga: StdVga, index: number, value: number): void => {
  inb(vga, 0x3da); // reset the flip-flop to "index"
  outb(vga, 0x3c0, index);
  outb(vga, 0x3c0, value);
  outb(vga, 0x3c0, 0x20); // palette address source on (display enabled)
};
function dac(vga: StdVga, index: number, r: number, g: number, b: number): void {
  outb(vga, 0x3c8, index);
  outb(vga, 0x3c9, r);
  outb(vga, 0x3c9, g);
  outb(vga, 0x3c9, b);
}

/** Registers every mode below shares: colour ports, identity attribute palette. */
function common(vga: StdVga, misc: number): void {
  outb(vga, 0x3c2, misc);
  crtc(vga, 0x11, 0x0e); // unlock CR00-07
  gc(vga, 0x08, 0xff); // bit mask: all bits from the CPU
  for (let i = 0; i < 16; i++) atc(vga, i, i);
  atc(vga, 0x12, 0x0f);
  atc(vga, 0x14, 0x00);
}

/** Mode 03h: 80x25 text, 9x16 cells, B8000, odd/even. */
function setMode03(vga: StdVga): void {
  common(vga, 0x67);
  seq(vga, 0x01, 0x00);
  seq(vga, 0x02, 0x03);
  seq(vga, 0x03, 0x00);
  seq(vga, 0x04, 0x02);
  gc(vga, 0x04, 0x00);
  gc(vga, 0x05, 0x10);
  gc(vga, 0x06, 0x0e);
  crtc(vga, 0x01, 0x4f);
  crtc(vga, 0x07, 0x1f);
  crtc(vga, 0x09, 0x4f);
  crtc(vga, 0x0a, 0x0d);
  crtc(vga, 0x0b, 0x0e);
  crtc(vga, 0x0c, 0x00);
  crtc(vga, 0x0d, 0x00);
  crtc(vga, 0x12, 0x8f);
  crtc(vga, 0x13, 0x28);
  crtc(vga, 0x17, 0xa3);
  crtc(vga, 0x18, 0xff);
  atc(vga, 0x10, 0x0c);
}

/** Load one 16-line glyph into font map 0 of plane 2, with the BIOS's planar sequence. */
function loadGlyph(vga: StdVga, ch: number, rows: readonly number[]): void {
  seq(vga, 0x02, 0x04); // write plane 2 only
  seq(vga, 0x04, 0x07); // sequential addressing
  gc(vga, 0x04, 0x02); // read plane 2
  gc(vga, 0x05, 0x00); // write mode 0, no odd/even
  gc(vga, 0x06, 0x04); // A0000-AFFFF, no chaining
  rows.forEach((bits, row) => memWrite(vga, 0xa0000 + ch * 32 + row, bits));
  seq(vga, 0x02, 0x03);
  seq(vga, 0x04, 0x02);
  gc(vga, 0x04, 0x00);
  gc(vga, 0x05, 0x10);
  gc(vga, 0x06, 0x0e);
}

/** Mode 12h: 640x480, 16 colours, planar. */
function setMode12(vga: StdVga): void {
  common(vga, 0xe3);
  seq(vga, 0x01, 0x01);
  seq(vga, 0x02, 0x0f);
  seq(vga, 0x04, 0x06);
  gc(vga, 0x05, 0x00);
  gc(vga, 0x06, 0x05);
  crtc(vga, 0x01, 0x4f);
  crtc(vga, 0x07, 0x3e);
  crtc(vga, 0x09, 0x40);
  crtc(vga, 0x12, 0xdf);
  crtc(vga, 0x13, 0x28);
  crtc(vga, 0x17, 0xe3);
  crtc(vga, 0x18, 0xff);
  atc(vga, 0x10, 0x01);
}

/** Mode 13h: 320x200, 256 colours, chain-4. */
function setMode13(vga: StdVga): void {
  common(vga, 0x63);
  seq(vga, 0x01, 0x01);
  seq(vga, 0x02, 0x0f);
  seq(vga, 0x04, 0x0e);
  gc(vga, 0x05, 0x40);
  gc(vga, 0x06, 0x05);
  crtc(vga, 0x01, 0x4f);
  crtc(vga, 0x07, 0x1f);
  crtc(vga, 0x09, 0x41);
  crtc(vga, 0x12, 0x8f);
  crtc(vga, 0x13, 0x28);
  crtc(vga, 0x14, 0x40);
  crtc(vga, 0x17, 0xa3);
  crtc(vga, 0x18, 0xff);
  atc(vga, 0x10, 0x41);
}

function setVbeMode(vga: StdVga, width: number, height: number, bpp: number): void {
  dispiWrite(vga, DISPI_INDEX_ENABLE, 0);
  dispiWrite(vga, 1, width);
  dispiWrite(vga, 2, height);
  dispiWrite(vga, 3, bpp);
  dispiWrite(vga, DISPI_INDEX_ENABLE, 0x41); // ENABLED | LFB_ENABLED
}

/** A pixel of a bgrx8888 frame as 0xFFRRGGBB. */
function pixelAt(frame: { pixels: Uint8Array; stride: number }, x: number, y: number): number {
  const o = y * frame.stride + x * 4;
  const p = frame.pixels;
  // X is padding (the guest's byte in 32 bpp modes): report it as 0xFF.
  return (0xff000000 | (p[o + 2]! << 16) | (p[o + 1]! << 8) | p[o]!) >>> 0;
}

describe('vga registers', () => {
  it('attribute controller: index/data flip-flop, reset by reading input status 1', () => {
    const vga = makeVga();
    outb(vga, 0x3c2, 0x67);
    inb(vga, 0x3da);
    outb(vga, 0x3c0, 0x01); // index
    outb(vga, 0x3c0, 0x3f); // data
    expect(inb(vga, 0x3c1)).toBe(0x3f);
    expect(inb(vga, 0x3c0)).toBe(0x01); // flip-flop back at "index": reads the index
    // Half-way through a sequence, a status read puts the flip-flop back to "index".
    outb(vga, 0x3c0, 0x02);
    inb(vga, 0x3da);
    outb(vga, 0x3c0, 0x12);
    expect(inb(vga, 0x3c0)).toBe(0); // now in "data" state: reads 0
    outb(vga, 0x3c0, 0x0b); // data for AR12 (colour plane enable)
    expect(inb(vga, 0x3c1)).toBe(0x0b);
    expect(vga.registers.attribute[2]).toBe(0);
    // Palette entries keep 6 bits; the mode control register drops bit 4.
    inb(vga, 0x3da);
    outb(vga, 0x3c0, 0x05);
    outb(vga, 0x3c0, 0xff);
    expect(vga.registers.attribute[5]).toBe(0x3f);
  });

  it('input status 1 toggles retrace on every read and answers on the mono port only in mono mode', () => {
    const vga = makeVga();
    outb(vga, 0x3c2, 0x67);
    const a = inb(vga, 0x3da);
    const b = inb(vga, 0x3da);
    expect((a ^ b) & 0x08).toBe(0x08);
    expect(inb(vga, 0x3ba)).toBe(0xff);
    outb(vga, 0x3c2, 0x66); // monochrome: CRTC at 0x3B4/5
    expect(inb(vga, 0x3da)).toBe(0xff);
    outb(vga, 0x3b4, 0x0e);
    outb(vga, 0x3b5, 0x12);
    outb(vga, 0x3d5, 0x34); // ignored in mono mode
    expect(inb(vga, 0x3b5)).toBe(0x12);
    expect(inb(vga, 0x3cc)).toBe(0x66);
  });

  it('DAC: 6-bit entries, write and read index auto-increment after R, G, B', () => {
    const vga = makeVga();
    outb(vga, 0x3c8, 5);
    for (const v of [1, 2, 3, 4, 5, 6, 0xff, 0x40, 0x3f]) outb(vga, 0x3c9, v);
    expect(inb(vga, 0x3c8)).toBe(8);
    expect(Array.from(vga.registers.palette.subarray(15, 24))).toEqual([
      1, 2, 3, 4, 5, 6, 0x3f, 0x00, 0x3f,
    ]);
    outb(vga, 0x3c7, 6);
    expect(inb(vga, 0x3c7)).toBe(3); // DAC state: read mode
    expect([inb(vga, 0x3c9), inb(vga, 0x3c9), inb(vga, 0x3c9), inb(vga, 0x3c9)]).toEqual([
      4, 5, 6, 0x3f,
    ]);
    outb(vga, 0x3c8, 0xff); // wraps from 255 to 0
    for (let i = 0; i < 6; i++) outb(vga, 0x3c9, 9);
    expect(inb(vga, 0x3c8)).toBe(1);
    expect(vga.registers.palette[0]).toBe(9);
    expect(inb(vga, 0x3c6)).toBe(0xff); // PEL mask
  });

  it('sequencer, graphics controller and CRTC are indexed, keep only implemented bits, accept word writes', () => {
    const vga = makeVga();
    outb(vga, 0x3c2, 0x67);
    outb(vga, 0x3c4, 0x02);
    outb(vga, 0x3c5, 0xff);
    expect(inb(vga, 0x3c5)).toBe(0x0f);
    outw(vga, 0x3c4, 0x0304); // index 4, data 3 in one `out dx, ax`
    expect(inb(vga, 0x3c4)).toBe(0x04);
    expect(inb(vga, 0x3c5)).toBe(0x02); // SR04 implements bits 1-3
    outb(vga, 0x3c4, 0xff); // index masked to 3 bits
    expect(inb(vga, 0x3c4)).toBe(0x07);
    outw(vga, 0x3ce, 0xff05);
    expect(inb(vga, 0x3cf)).toBe(0x7b);
    outb(vga, 0x3ce, 0x1f);
    expect(inb(vga, 0x3ce)).toBe(0x0f);
    outw(vga, 0x3d4, 0x550e);
    expect(inb(vga, 0x3d5)).toBe(0x55);
    outb(vga, 0x3d4, 0xf0); // unknown CRTC index: stored, harmless
    outb(vga, 0x3d5, 0x99);
    expect(inb(vga, 0x3d5)).toBe(0x99);
  });

  it('sub-range port devices (leaving 0x3BC to a parallel port) reach the same registers', () => {
    const vga = makeVga();
    expect(VGA_PORT_RANGES.map(([b, n]) => [b, n])).toContainEqual([0x3c0, 16]);
    const block = vga.ioPorts.at(0x3c0, 16);
    block.write(4, Uint8Array.of(0x02, 0x0f)); // 0x3C4/0x3C5
    expect(vga.registers.sequencer[2]).toBe(0x0f);
    const data = Uint8Array.of(0xff);
    block.read(5, data);
    expect(data[0]).toBe(0x0f);
    block.read(16, data); // past its length: untouched
    expect(data[0]).toBe(0x0f);
  });

  it('CR11 bit 7 write-protects CR00-CR07 except the line compare bit of CR07', () => {
    const vga = makeVga();
    outb(vga, 0x3c2, 0x67);
    crtc(vga, 0x01, 0x4f);
    crtc(vga, 0x07, 0x00);
    crtc(vga, 0x11, 0x80);
    crtc(vga, 0x01, 0x27);
    crtc(vga, 0x07, 0xff);
    expect(vga.registers.crtc[0x01]).toBe(0x4f);
    expect(vga.registers.crtc[0x07]).toBe(0x10);
  });

  it('out-of-range ports, widths and offsets never throw', () => {
    const vga = makeVga();
    const wide = new Uint8Array(8).fill(0xaa);
    for (let offset = 0; offset < 0x30; offset++) {
      vga.ioPorts.write(offset, wide);
      vga.ioPorts.read(offset, new Uint8Array(8));
    }
    vga.legacyWindow.write(0x1fffe, wide);
    vga.legacyWindow.read(0x1fffe, new Uint8Array(8));
    vga.mmioRegisters.write(0xffc, wide);
    vga.linearFramebuffer.write(vga.vram.size - 2, wide);
    vga.linearFramebuffer.read(vga.vram.size + 100, new Uint8Array(4));
  });
});

describe('vga memory window', () => {
  /** Planar, A0000 64 KiB, all planes, write mode `mode`. */
  function planar(mode: number): ReturnType<typeof makeVga> {
    const vga = makeVga();
    outb(vga, 0x3c2, 0x63);
    seq(vga, 0x02, 0x0f);
    seq(vga, 0x04, 0x06);
    gc(vga, 0x05, mode);
    gc(vga, 0x06, 0x05);
    gc(vga, 0x08, 0xff);
    return vga;
  }
  const planes = (vga: ReturnType<typeof makeVga>, addr: number) =>
    Array.from(vga.vram.bytes.subarray(addr * 4, addr * 4 + 4));

  it('write mode 0: rotate, set/reset, logical function, bit mask, map mask', () => {
    const vga = planar(0);
    vga.vram.bytes.set([0x11, 0x22, 0x33, 0x44], 0);
    gc(vga, 0x04, 0x02);
    expect(memRead(vga, 0xa0000)).toBe(0x33); // read mode 0, plane 2; loads the latch
    gc(vga, 0x00, 0b0101); // set/reset value
    gc(vga, 0x01, 0b0011); // enable set/reset on planes 0 and 1
    gc(vga, 0x03, 0x18); // XOR with the latch, no rotation
    gc(vga, 0x08, 0xf0);
    seq(vga, 0x02, 0b1011); // plane 2 write-protected
    memWrite(vga, 0xa0000, 0xaa);
    // plane 0: FF^11=EE -> E0|01; plane 1: 00^22=22 -> 20|02; plane 2 kept; plane 3: AA^44=EE -> E0|04
    expect(planes(vga, 0)).toEqual([0xe1, 0x22, 0x33, 0xe4]);

    gc(vga, 0x01, 0);
    gc(vga, 0x03, 0x01); // rotate right by 1, function "replace"
    gc(vga, 0x08, 0xff);
    seq(vga, 0x02, 0x0f);
    memWrite(vga, 0xa0001, 0x01);
    expect(planes(vga, 1)).toEqual([0x80, 0x80, 0x80, 0x80]);
  });

  it('write mode 1 copies the latches', () => {
    const vga = planar(1);
    vga.vram.bytes.set([0xde, 0xad, 0xbe, 0xef], 0);
    memRead(vga, 0xa0000);
    memWrite(vga, 0xa0005, 0x00);
    expect(planes(vga, 5)).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it('write mode 2 spreads a colour over the planes under the bit mask', () => {
    const vga = planar(2);
    vga.vram.bytes.set([0x0f, 0xf0, 0x00, 0xff], 8);
    memRead(vga, 0xa0002);
    gc(vga, 0x08, 0x3c);
    memWrite(vga, 0xa0002, 0x05);
    expect(planes(vga, 2)).toEqual([0x3f, 0xc0, 0x3c, 0xc3]);
  });

  it('write mode 3 uses the rotated CPU byte as a mask and set/reset as the colour', () => {
    const vga = planar(3);
    gc(vga, 0x00, 0b1001);
    memRead(vga, 0xa0003); // latch = 0
    memWrite(vga, 0xa0003, 0x0f);
    expect(planes(vga, 3)).toEqual([0x0f, 0x00, 0x00, 0x0f]);
    gc(vga, 0x08, 0x3c);
    memRead(vga, 0xa0004);
    memWrite(vga, 0xa0004, 0xff);
    expect(planes(vga, 4)).toEqual([0x3c, 0x00, 0x00, 0x3c]);
  });

  it("read mode 1 compares colours, honouring colour don't care", () => {
    const vga = planar(0x08);
    vga.vram.bytes.set([0xf0, 0xf0, 0x00, 0x0f], 0);
    gc(vga, 0x02, 0b1011);
    gc(vga, 0x07, 0b0111);
    expect(memRead(vga, 0xa0000)).toBe(0xf0);
    gc(vga, 0x07, 0b1111);
    expect(memRead(vga, 0xa0000)).toBe(0x00);
  });

  it('memory map select decodes only its window', () => {
    const vga = makeVga();
    setMode03(vga);
    memWrite(vga, 0xa0000, 0x55); // not decoded in map 3 (B8000-BFFFF)
    expect(memRead(vga, 0xa0000)).toBe(0xff);
    memWrite(vga, 0xb8000, 0x41);
    memWrite(vga, 0xb8001, 0x1f);
    expect(Array.from(vga.vram.bytes.subarray(0, 2))).toEqual([0x41, 0x1f]); // planes 0, 1
    expect(memRead(vga, 0xb8001)).toBe(0x1f);
  });

  it('chain-4 writes land linearly, unchained (mode X) writes land in the plane of x & 3', () => {
    const vga = makeVga();
    setMode13(vga);
    memWrite(vga, 0xa0000 + 3 * 320 + 5, 0x42);
    expect(vga.vram.bytes[3 * 320 + 5]).toBe(0x42);
    seq(vga, 0x04, 0x06); // chain-4 off
    seq(vga, 0x02, 1 << (7 & 3));
    memWrite(vga, 0xa0000 + 4 * 80 + (7 >> 2), 0x43); // address y * 80 + (x >> 2)
    expect(vga.vram.bytes[4 * 320 + 7]).toBe(0x43);
  });
});

describe('vga rendering', () => {
  it('mode 13h: chain-4 pixels through the DAC, native 320x200', () => {
    const vga = makeVga();
    setMode13(vga);
    dac(vga, 1, 63, 0, 0);
    dac(vga, 2, 0, 32, 63);
    const renderer = new VgaRenderer(vga);
    memWrite(vga, 0xa0000 + 3 * 320 + 5, 1);
    memWrite(vga, 0xa0000 + 199 * 320 + 319, 2);
    const frame = renderer.renderFrame();
    expect([frame.width, frame.height, frame.mode, frame.format]).toEqual([
      320,
      200,
      'graphics',
      'bgrx8888',
    ]);
    expect(pixelAt(frame, 5, 3)).toBe(0xffff0000);
    expect(pixelAt(frame, 319, 199)).toBe(0xff0082ff);
    expect(pixelAt(frame, 0, 0)).toBe(0xff000000);
  });

  it('mode 12h: planar pixels through the attribute palette', () => {
    const vga = makeVga();
    setMode12(vga);
    atc(vga, 0x04, 0x3c); // palette entry 4 -> DAC 0x3C
    dac(vga, 0x3c, 10, 20, 30);
    const renderer = new VgaRenderer(vga);
    gc(vga, 0x05, 0x02); // write mode 2
    gc(vga, 0x08, 0x01); // rightmost pixel of the byte only
    memRead(vga, 0xa0000 + 10 * 80 + 2);
    memWrite(vga, 0xa0000 + 10 * 80 + 2, 4);
    const frame = renderer.renderFrame();
    expect([frame.width, frame.height]).toEqual([640, 480]);
    const c = (v: number) => (v << 2) | (v >> 4);
    expect(pixelAt(frame, 23, 10)).toBe((0xff000000 | (c(10) << 16) | (c(20) << 8) | c(30)) >>> 0);
    expect(pixelAt(frame, 22, 10)).toBe(0xff000000);
  });

  it('text mode: a glyph the BIOS loaded into plane 2, with colours and cursor', () => {
    const vga = makeVga();
    setMode03(vga);
    dac(vga, 1, 0, 0, 42);
    dac(vga, 7, 42, 42, 42);
    dac(vga, 15, 63, 63, 63);
    const glyph = [0, 0, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe, 0xc6, 0xc6, 0xc6, 0xc6, 0, 0, 0, 0];
    loadGlyph(vga, 0x41, glyph);
    loadGlyph(vga, 0xc4, [0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]); // line graphics
    memWrite(vga, 0xb8000, 0x41);
    memWrite(vga, 0xb8001, 0x1f); // white on blue
    memWrite(vga, 0xb8002, 0xc4);
    memWrite(vga, 0xb8003, 0x07);
    memWrite(vga, 0xb8000 + 160, 0x20);
    memWrite(vga, 0xb8000 + 161, 0x07);
    crtc(vga, 0x0e, 0);
    crtc(vga, 0x0f, 80); // cursor at row 1, column 0
    const renderer = new VgaRenderer(vga, { now: () => 0 });
    const frame = renderer.renderFrame();
    expect([frame.width, frame.height, frame.mode]).toEqual([720, 400, 'text']);
    const white = 0xffffffff;
    const blue = 0xff0000aa;
    const grey = 0xffaaaaaa;
    for (let row = 0; row < 16; row++) {
      for (let bit = 0; bit < 9; bit++) {
        const on = bit < 8 && (glyph[row]! & (0x80 >> bit)) !== 0;
        expect(pixelAt(frame, bit, row)).toBe(on ? white : blue);
      }
    }
    // C4h is a line-graphics character: its 9th column repeats the 8th.
    expect(pixelAt(frame, 9 + 8, 7)).toBe(grey);
    expect(pixelAt(frame, 9 + 8, 6)).toBe(0xff000000);
    // Cursor lines 13-14 of row 1 in the cell's foreground colour.
    expect(pixelAt(frame, 3, 16 + 13)).toBe(grey);
    expect(pixelAt(frame, 3, 16 + 14)).toBe(grey);
    expect(pixelAt(frame, 3, 16 + 12)).toBe(0xff000000);

    const text = renderer.textSnapshot()!;
    expect([text.cols, text.rows]).toEqual([80, 25]);
    expect(text.cells[0]).toBe(0x1f41);
    expect(text.cursor).toEqual({ col: 0, row: 1, visible: true });
    expect(textSnapshotLines(text)[0]!.slice(0, 2)).toBe('A─');
  });

  it('text mode: 80x50 from CRTC values (8-line cells)', () => {
    const vga = makeVga();
    setMode03(vga);
    crtc(vga, 0x09, 0x47);
    seq(vga, 0x01, 0x01); // 8-dot cells
    const renderer = new VgaRenderer(vga, { now: () => 0 });
    const frame = renderer.renderFrame();
    expect([frame.width, frame.height]).toEqual([640, 400]);
    expect(renderer.textSnapshot()!.rows).toBe(50);
  });

  it('text mode: 40x25 from CRTC values, and bright backgrounds when blinking is off', () => {
    const vga = makeVga();
    setMode03(vga);
    crtc(vga, 0x01, 0x27); // 40 characters
    crtc(vga, 0x13, 0x14);
    seq(vga, 0x01, 0x08); // half dot clock, 9-dot cells
    atc(vga, 0x10, 0x04); // blink off: attribute bit 7 is background intensity
    dac(vga, 12, 63, 21, 21); // palette entry 12 (bright red background)
    crtc(vga, 0x0a, 0x20);
    memWrite(vga, 0xb8000 + 2 * 41, 0x00); // row 1, column 1
    memWrite(vga, 0xb8000 + 2 * 41 + 1, 0xc0);
    const renderer = new VgaRenderer(vga, { now: () => 600 });
    const frame = renderer.renderFrame();
    expect([frame.width, frame.height]).toEqual([360, 400]);
    expect(renderer.textSnapshot()!.cols).toBe(40);
    expect(pixelAt(frame, 9 + 4, 16 + 4)).toBe(0xffff5555);
  });

  it('blinking attributes alternate with the blink phase', () => {
    const vga = makeVga();
    setMode03(vga);
    dac(vga, 7, 42, 42, 42);
    loadGlyph(vga, 0xdb, new Array<number>(16).fill(0xff));
    memWrite(vga, 0xb8000, 0xdb);
    memWrite(vga, 0xb8001, 0x87); // blinking grey on black
    crtc(vga, 0x0a, 0x20); // cursor off
    let now = 0;
    const renderer = new VgaRenderer(vga, { now: () => now });
    expect(pixelAt(renderer.renderFrame(), 1, 1)).toBe(0xffaaaaaa);
    now = 600;
    const off = renderer.renderFrame();
    expect(pixelAt(off, 1, 1)).toBe(0xff000000);
    expect(off.dirty).toEqual([{ x: 0, y: 0, w: 64, h: 16 }]);
  });

  it('dirty rectangles: full on mode change, none when static, one tile for a small change', () => {
    const vga = makeVga();
    setMode03(vga);
    dac(vga, 7, 42, 42, 42);
    crtc(vga, 0x0a, 0x20);
    const renderer = new VgaRenderer(vga, { now: () => 0 });
    expect(renderer.renderFrame().dirty).toEqual([{ x: 0, y: 0, w: 720, h: 400 }]);
    expect(renderer.renderFrame().dirty).toEqual([]);
    loadGlyph(vga, 0x42, new Array<number>(16).fill(0x18));
    expect(renderer.renderFrame().dirty).toEqual([]); // glyph not on screen: nothing changes
    memWrite(vga, 0xb8000 + 5 * 160 + 20, 0x42); // row 5, column 10 -> x 90..98, y 80..95
    memWrite(vga, 0xb8000 + 5 * 160 + 21, 0x07);
    expect(renderer.renderFrame().dirty).toEqual([{ x: 64, y: 80, w: 64, h: 16 }]);
    expect(renderer.renderFrame().dirty).toEqual([]);
    setMode13(vga);
    const frame = renderer.renderFrame();
    expect(frame.dirty).toEqual([{ x: 0, y: 0, w: 320, h: 200 }]);
  });
});

describe('vga scrolling', () => {
  it('a CRTC start address change redraws without any VRAM write', () => {
    const vga = makeVga();
    setMode13(vga);
    dac(vga, 1, 63, 63, 63);
    memWrite(vga, 0xa0000 + 320 * 10, 1); // (0, 10)
    const renderer = new VgaRenderer(vga);
    expect(pixelAt(renderer.renderFrame(), 0, 10)).toBe(0xffffffff);
    // Scroll down by 8 lines: start address in planar units (320 * 8 / 4).
    crtc(vga, 0x0c, (640 >> 8) & 0xff);
    crtc(vga, 0x0d, 640 & 0xff);
    const frame = renderer.renderFrame();
    expect(pixelAt(frame, 0, 2)).toBe(0xffffffff);
    expect(pixelAt(frame, 0, 10)).toBe(0xff000000);
    expect(frame.dirty.length).toBeGreaterThan(0);
  });

  it('line compare splits the screen: lines after it show VRAM from address 0', () => {
    const vga = makeVga();
    setMode12(vga);
    atc(vga, 1, 1);
    dac(vga, 1, 63, 63, 63);
    const renderer = new VgaRenderer(vga);
    // Plane 0 bit 7 of planar address (line * 80): pixel 0 of that memory line is colour 1.
    vga.vram.bytes[0 * 80 * 4] = 0x80; // memory line 0
    vga.vram.bytes[100 * 80 * 4] = 0x80; // memory line 100
    vga.markDirty(0, 101 * 320);
    crtc(vga, 0x0c, (8000 >> 8) & 0xff); // start at memory line 100
    crtc(vga, 0x0d, 8000 & 0xff);
    let frame = renderer.renderFrame();
    expect(pixelAt(frame, 0, 0)).toBe(0xffffffff);
    expect(pixelAt(frame, 0, 240)).toBe(0xff000000);
    crtc(vga, 0x18, 239); // split after scan line 239
    crtc(vga, 0x07, 0x2e); // line compare bit 8 clear
    crtc(vga, 0x09, 0x00); // line compare bit 9 clear
    frame = renderer.renderFrame();
    expect(pixelAt(frame, 0, 0)).toBe(0xffffffff);
    expect(pixelAt(frame, 0, 240)).toBe(0xffffffff);
    expect(pixelAt(frame, 0, 239)).toBe(0xff000000);
  });

  it('horizontal pel panning shifts 16-colour pixels left', () => {
    const vga = makeVga();
    setMode12(vga);
    atc(vga, 1, 1);
    dac(vga, 1, 63, 63, 63);
    vga.vram.bytes[1 * 4] = 0x80; // plane 0, planar address 1: pixel 8 of line 0
    vga.markDirty(0, 8);
    const renderer = new VgaRenderer(vga);
    expect(pixelAt(renderer.renderFrame(), 8, 0)).toBe(0xffffffff);
    atc(vga, 0x13, 3);
    const frame = renderer.renderFrame();
    expect(pixelAt(frame, 5, 0)).toBe(0xffffffff);
    expect(pixelAt(frame, 8, 0)).toBe(0xff000000);
    expect(frame.width).toBe(640);
  });

  it('VBE Y_OFFSET page flips redraw', () => {
    const vga = makeVga();
    setVbeMode(vga, 640, 480, 32);
    dispiWrite(vga, DISPI_INDEX_VIRT_WIDTH, 640);
    vga.vram.bytes.set([0xff, 0xff, 0xff, 0], 640 * 480 * 4);
    vga.markDirty(640 * 480 * 4, 4);
    const renderer = new VgaRenderer(vga);
    expect(pixelAt(renderer.renderFrame(), 0, 0)).toBe(0xff000000);
    dispiWrite(vga, DISPI_INDEX_Y_OFFSET, 480);
    const frame = renderer.renderFrame();
    expect(pixelAt(frame, 0, 0)).toBe(0xffffffff);
    expect(frame.dirty).toEqual([{ x: 0, y: 0, w: 64, h: 16 }]);
  });
});

describe('bochs vbe', () => {
  it('identifies itself and reports capabilities', () => {
    const vga = makeVga();
    expect(dispiRead(vga, DISPI_INDEX_ID)).toBe(0xb0c5);
    dispiWrite(vga, DISPI_INDEX_ID, 0xb0c0);
    expect(dispiRead(vga, DISPI_INDEX_ID)).toBe(0xb0c0);
    dispiWrite(vga, DISPI_INDEX_ID, 0x1234); // not a DISPI id: ignored
    expect(dispiRead(vga, DISPI_INDEX_ID)).toBe(0xb0c0);
    expect(dispiRead(vga, DISPI_INDEX_VIDEO_MEMORY_64K)).toBe(256);
    dispiWrite(vga, DISPI_INDEX_ENABLE, DISPI_GETCAPS);
    expect(dispiRead(vga, DISPI_INDEX_XRES)).toBeGreaterThanOrEqual(2560);
    expect(dispiRead(vga, DISPI_INDEX_YRES)).toBeGreaterThanOrEqual(1600);
    expect(dispiRead(vga, DISPI_INDEX_BPP)).toBe(32);
    dispiWrite(vga, DISPI_INDEX_ENABLE, 0);
    expect(dispiRead(vga, DISPI_INDEX_XRES)).toBe(640);
    // 0x1D0 is a second data port, as QEMU decodes it on x86.
    outw(vga, 0x1ce, DISPI_INDEX_YRES);
    vga.dispiPorts.write(2, Uint8Array.of(0x58, 0x02));
    const data = new Uint8Array(2);
    vga.dispiPorts.read(2, data);
    expect(data[0]! | (data[1]! << 8)).toBe(600);
  });

  it('1920x1080x32 through DISPI: LFB pixels become surface pixels', () => {
    const vga = makeVga();
    setMode03(vga);
    const renderer = new VgaRenderer(vga);
    renderer.renderFrame();
    setVbeMode(vga, 1920, 1080, 32);
    expect(dispiRead(vga, DISPI_INDEX_VIRT_WIDTH)).toBe(1920);
    const first = renderer.renderFrame();
    expect([first.width, first.height, first.mode, first.stride]).toEqual([
      1920,
      1080,
      'vbe',
      7680,
    ]);
    expect(first.dirty).toEqual([{ x: 0, y: 0, w: 1920, h: 1080 }]);
    expect(renderer.renderFrame().dirty).toEqual([]);
    // B, G, R, X at (100, 50) through the LFB as the guest would write it.
    vga.linearFramebuffer.write((50 * 1920 + 100) * 4, Uint8Array.of(0x30, 0x20, 0x10, 0x00));
    const frame = renderer.renderFrame();
    expect(pixelAt(frame, 100, 50)).toBe(0xff102030);
    expect(frame.dirty).toEqual([{ x: 64, y: 48, w: 64, h: 16 }]);
    const rect = extractRect(frame, frame.dirty[0]!);
    expect(rect.length).toBe(64 * 16 * 4);
    expect(Array.from(rect.subarray((2 * 64 + 36) * 4, (2 * 64 + 36) * 4 + 3))).toEqual([
      0x30, 0x20, 0x10,
    ]);
    expect(extractRect(frame, { x: 1900, y: 1070, w: 100, h: 100 }).length).toBe(20 * 10 * 4);
  });

  it('a write the machine reports (markDirty) is picked up; unreported LFB writes need vramWritesTracked=false', () => {
    const vga = makeVga();
    setVbeMode(vga, 640, 480, 32);
    const renderer = new VgaRenderer(vga);
    renderer.renderFrame();
    vga.vram.bytes.set([0xff, 0, 0, 0], (10 * 640 + 10) * 4); // a KVM slot write: no exit
    expect(renderer.renderFrame().dirty).toEqual([]);
    vga.markDirty((10 * 640 + 10) * 4, 4);
    const frame = renderer.renderFrame();
    expect(pixelAt(frame, 10, 10)).toBe(0xff0000ff);
    expect(frame.dirty).toHaveLength(1);
    vga.vram.bytes.set([0, 0xff, 0, 0], (11 * 640 + 11) * 4);
    const log = new Uint8Array(vga.vram.pageCount / 8);
    const page = ((11 * 640 + 11) * 4) >> 12;
    log[page >> 3] = 1 << (page & 7);
    vga.reportDirtyLog(log);
    expect(pixelAt(renderer.renderFrame(), 11, 11)).toBe(0xff00ff00);
    vga.vramWritesTracked = false;
    vga.vram.bytes.set([0, 0, 0xff, 0], (12 * 640 + 12) * 4);
    expect(pixelAt(renderer.renderFrame(), 12, 12)).toBe(0xffff0000);
  });

  it('16, 15, 24 and 8 bpp with virtual width and offsets', () => {
    const vga = makeVga();
    const renderer = new VgaRenderer(vga);
    setVbeMode(vga, 800, 600, 16);
    vga.vram.bytes.set([0x00, 0xf8], 0); // 0xF800: red
    let frame = renderer.renderFrame();
    expect(pixelAt(frame, 0, 0)).toBe(0xffff0000);
    setVbeMode(vga, 800, 600, 15);
    vga.vram.bytes.set([0xe0, 0x03], 2); // 0x03E0: green
    frame = renderer.renderFrame();
    expect(pixelAt(frame, 1, 0)).toBe(0xff00ff00);
    setVbeMode(vga, 1024, 768, 24);
    vga.vram.bytes.set([0x01, 0x02, 0x03], 3 * 5);
    frame = renderer.renderFrame();
    expect(pixelAt(frame, 5, 0)).toBe(0xff030201);
    setVbeMode(vga, 640, 480, 8);
    dac(vga, 9, 63, 63, 0);
    dispiWrite(vga, DISPI_INDEX_VIRT_WIDTH, 1024);
    dispiWrite(vga, DISPI_INDEX_Y_OFFSET, 100);
    dispiWrite(vga, DISPI_INDEX_X_OFFSET, 8);
    expect(dispiRead(vga, DISPI_INDEX_VIRT_HEIGHT)).toBe(16384);
    vga.vram.bytes[100 * 1024 + 8 + 3 * 1024 + 4] = 9;
    frame = renderer.renderFrame();
    expect([frame.width, frame.height]).toEqual([640, 480]);
    expect(pixelAt(frame, 4, 3)).toBe(0xffffff00);
  });

  it('8BIT_DAC widens the DAC; banked window writes land at the bank', () => {
    const vga = makeVga();
    setVbeMode(vga, 640, 480, 8);
    dispiWrite(vga, DISPI_INDEX_ENABLE, 0x41 | DISPI_8BIT_DAC | DISPI_NOCLEARMEM);
    dac(vga, 1, 0x80, 0x81, 0x82);
    dispiWrite(vga, DISPI_INDEX_BANK, 2);
    memWrite(vga, 0xa0000 + 0x10, 1);
    expect(vga.vram.bytes[0x20010]).toBe(1);
    expect(memRead(vga, 0xa0010)).toBe(1);
    const frame = new VgaRenderer(vga).renderFrame();
    expect(pixelAt(frame, 0x20010 % 640, Math.floor(0x20010 / 640))).toBe(0xff808182);
  });

  it('enabling clears VRAM unless NOCLEARMEM', () => {
    const vga = makeVga();
    vga.vram.bytes.fill(7, 0, 8192);
    dispiWrite(vga, DISPI_INDEX_XRES, 64);
    dispiWrite(vga, DISPI_INDEX_YRES, 16);
    dispiWrite(vga, DISPI_INDEX_BPP, 32);
    dispiWrite(vga, DISPI_INDEX_ENABLE, DISPI_ENABLED | DISPI_NOCLEARMEM);
    expect(vga.vram.bytes[100]).toBe(7);
    dispiWrite(vga, DISPI_INDEX_ENABLE, 0);
    dispiWrite(vga, DISPI_INDEX_ENABLE, DISPI_ENABLED);
    expect(vga.vram.bytes[100]).toBe(0);
    expect(vga.vram.bytes[64 * 16 * 4]).toBe(7);
  });

  it('hostile values are fixed up, never thrown, never make huge surfaces', () => {
    const vga = makeVga();
    const renderer = new VgaRenderer(vga);
    setVbeMode(vga, 1024, 768, 0);
    expect(dispiRead(vga, DISPI_INDEX_BPP)).toBe(8);
    for (const bpp of [7, 64, 0xffff]) {
      dispiWrite(vga, DISPI_INDEX_BPP, bpp);
      expect(dispiRead(vga, DISPI_INDEX_BPP)).toBe(8);
    }
    dispiWrite(vga, DISPI_INDEX_XRES, 0);
    expect(dispiRead(vga, DISPI_INDEX_XRES)).toBe(8);
    dispiWrite(vga, DISPI_INDEX_XRES, 65535);
    expect(dispiRead(vga, DISPI_INDEX_XRES)).toBe(16000);
    dispiWrite(vga, DISPI_INDEX_BPP, 32);
    dispiWrite(vga, DISPI_INDEX_YRES, 65535);
    expect(dispiRead(vga, DISPI_INDEX_YRES)).toBe(Math.floor(vga.vram.size / (16000 * 4)));
    dispiWrite(vga, DISPI_INDEX_VIRT_WIDTH, 16); // smaller than XRES
    expect(dispiRead(vga, DISPI_INDEX_VIRT_WIDTH)).toBe(16000);
    dispiWrite(vga, DISPI_INDEX_Y_OFFSET, 60000); // would scan out past VRAM
    expect(dispiRead(vga, DISPI_INDEX_Y_OFFSET)).toBe(0);
    dispiWrite(vga, DISPI_INDEX_X_OFFSET, 65535);
    expect(dispiRead(vga, DISPI_INDEX_X_OFFSET)).toBe(0);
    dispiWrite(vga, DISPI_INDEX_BANK, 0xffff);
    expect(dispiRead(vga, DISPI_INDEX_BANK)).toBe(255);
    dispiWrite(vga, 0x1234, 5); // unknown index
    expect(dispiRead(vga, 0x1234)).toBe(0);
    dispiWrite(vga, DISPI_INDEX_VIRT_HEIGHT, 1); // read-only
    let frame = renderer.renderFrame();
    expect(frame.width * frame.height).toBeLessThanOrEqual(MAX_SURFACE_PIXELS);
    dispiWrite(vga, DISPI_INDEX_BPP, 4);
    dispiWrite(vga, DISPI_INDEX_YRES, 12000);
    frame = renderer.renderFrame();
    expect(frame.pixels.length).toBeLessThanOrEqual(MAX_SURFACE_PIXELS * 4);
    // Garbage CRTC values in VGA modes render something small and never throw.
    dispiWrite(vga, DISPI_INDEX_ENABLE, 0);
    for (let i = 0; i < 0x19; i++) crtc(vga, i, 0xff);
    gc(vga, 0x06, 0x01);
    for (const shift of [0x00, 0x20, 0x40, 0x60]) {
      gc(vga, 0x05, shift);
      frame = renderer.renderFrame();
      expect(frame.width * frame.height).toBeLessThanOrEqual(MAX_SURFACE_PIXELS);
    }
    gc(vga, 0x06, 0x00);
    frame = renderer.renderFrame();
    expect(frame.mode).toBe('text');
  });
});

describe('stdvga reset and viewers', () => {
  it('reset returns to power-on registers and VBE off; invalidate re-sends the whole frame', () => {
    const vga = makeVga();
    setVbeMode(vga, 800, 600, 32);
    const renderer = new VgaRenderer(vga);
    expect(renderer.renderFrame().mode).toBe('vbe');
    expect(renderer.renderFrame().dirty).toEqual([]);
    renderer.invalidate();
    expect(renderer.renderFrame().dirty).toEqual([{ x: 0, y: 0, w: 800, h: 600 }]);
    vga.reset();
    expect(vga.vbe.enabled).toBe(false);
    expect(dispiRead(vga, DISPI_INDEX_XRES)).toBe(640);
    expect(vga.registers.pelMask).toBe(0xff);
    const frame = renderer.renderFrame();
    expect([frame.mode, frame.width, frame.height]).toEqual(['text', 640, 480]);
  });
});

describe('vga fuzz', () => {
  it('random register, window, DISPI and BAR2 traffic never throws and keeps surfaces bounded', () => {
    let seed = 0x12345678;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const vga = makeVga({ vramSize: 1024 * 1024 });
    const renderer = new VgaRenderer(vga, { now: () => rand(2000) });
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => rand(256));
    for (let i = 0; i < 4000; i++) {
      const width = [1, 2, 4, 8][rand(4)]!;
      switch (rand(7)) {
        case 0:
          vga.ioPorts.write(rand(0x30), bytes(width));
          break;
        case 1:
          vga.ioPorts.read(rand(0x30), new Uint8Array(width));
          break;
        case 2:
          vga.legacyWindow.write(rand(0x20000), bytes(width));
          break;
        case 3:
          vga.legacyWindow.read(rand(0x20000), new Uint8Array(width));
          break;
        case 4:
          dispiWrite(vga, rand(12), rand(3) === 0 ? rand(0x10000) : rand(2048));
          break;
        case 5:
          vga.mmioRegisters.write(0x400 + rand(0x300), bytes(width));
          break;
        default: {
          const frame = renderer.renderFrame();
          expect(frame.width * frame.height).toBeLessThanOrEqual(MAX_SURFACE_PIXELS);
          expect(frame.pixels.length).toBe(frame.stride * frame.height);
          for (const r of frame.dirty) {
            expect(r.x + r.w).toBeLessThanOrEqual(frame.width);
            expect(r.y + r.h).toBeLessThanOrEqual(frame.height);
          }
          renderer.textSnapshot();
        }
      }
    }
  });
});

describe('legacy window alias', () => {
  it('chain-4 and VBE banked windows are plain VRAM aliases the machine may map; planar ones are not', () => {
    const seen: unknown[] = [];
    const vga = makeVga({ onLegacyAliasChange: (alias) => seen.push(alias) });
    setMode13(vga);
    const mode13 = { guestAddress: 0xa0000, vramOffset: 0, length: 0x10000 };
    expect(vga.legacyWindowAlias()).toEqual(mode13);
    setMode12(vga);
    expect(vga.legacyWindowAlias()).toBeNull();
    setMode03(vga);
    expect(vga.legacyWindowAlias()).toBeNull();
    setVbeMode(vga, 1024, 768, 8);
    dispiWrite(vga, DISPI_INDEX_BANK, 3);
    expect(vga.legacyWindowAlias()).toEqual({
      guestAddress: 0xa0000,
      vramOffset: 0x30000,
      length: 0x10000,
    });
    // Each change reported once, in order, no repeats for writes that change nothing.
    expect(seen.at(-1)).toEqual({ guestAddress: 0xa0000, vramOffset: 0x30000, length: 0x10000 });
    expect(seen.filter((a) => a === null).length).toBeLessThanOrEqual(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toEqual(seen[i - 1]);
  });
});

describe('stdvga pci pieces', () => {
  it('BAR2 exposes VGA ports at 0x400, DISPI at 0x500 and the QEMU extension at 0x600', () => {
    const vga = makeVga();
    const mmio = vga.mmioRegisters;
    mmio.write(0x400 + 4, Uint8Array.of(0x02, 0x0f)); // SR02 = 0x0F in one 16-bit store
    expect(vga.registers.sequencer[2]).toBe(0x0f);
    mmio.write(0x500 + 2 * DISPI_INDEX_XRES, Uint8Array.of(0x20, 0x03));
    const data = new Uint8Array(2);
    mmio.read(0x500 + 2 * DISPI_INDEX_XRES, data);
    expect(data[0]! | (data[1]! << 8)).toBe(800);
    const word = new Uint8Array(4);
    mmio.read(0x600, word);
    expect(new DataView(word.buffer).getUint32(0, true)).toBe(8);
    mmio.read(0x604, word);
    expect(new DataView(word.buffer).getUint32(0, true)).toBe(0x1e1e1e1e);
  });

  it('identity, BAR sizes and the SeaBIOS VGA ROM', () => {
    const vga = new StdVga({ vramSize: 8 * 1024 * 1024 });
    expect(vga.pci.vendorId).toBe(0x1234);
    expect(vga.pci.deviceId).toBe(0x1111);
    expect(vga.pci.classCode).toBe(0x030000);
    expect(vga.pci.bars[0]).toMatchObject({ index: 0, prefetchable: true, size: 8 * 1024 * 1024 });
    expect(vga.pci.bars[1]).toMatchObject({ index: 2, size: 4096 });
    expect([vga.pci.rom[0], vga.pci.rom[1]]).toEqual([0x55, 0xaa]);
    expect(vga.pci.rom.length & (vga.pci.rom.length - 1)).toBe(0);
    expect(() => new StdVga({ romPath: '/nonexistent/vgabios-stdvga.bin' })).toThrow(/seabios/);
    expect(() => new StdVga({ romPath: null, vramSize: 3 * 1024 * 1024 })).toThrow(VramConfigError);
  });

  it('uses VRAM the machine provides (a SharedArrayBuffer it can map as the LFB slot)', () => {
    const bytes = new Uint8Array(new SharedArrayBuffer(4 * 1024 * 1024));
    const vga = makeVga({ vram: bytes });
    expect(vga.vram.bytes).toBe(bytes);
    expect(vga.pci.bars[0]!.size).toBe(4 * 1024 * 1024);
    const aligned = allocateAlignedVram(1024 * 1024, () => 4096);
    expect([aligned.byteOffset, aligned.length]).toEqual([4096, 1024 * 1024]);
    expect(makeVga({ vram: aligned }).vram.size).toBe(1024 * 1024);
    expect(() => allocateAlignedVram(1024 * 1024, () => 3 * 1024 * 1024)).toThrow(VramConfigError);
  });
});

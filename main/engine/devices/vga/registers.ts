/**
 * VGA register names and bits, from the IBM "VGA and XGA Technical Reference Manual" (1992),
 * chapter "Video Graphics Array", sections "Registers" (General, Sequencer, CRT Controller,
 * Graphics Controller, Attribute Controller, Video DAC), and FreeVGA's register pages.
 *
 * Port numbers are the colour ones (0x3Dx); the monochrome aliases (0x3Bx) of the CRTC and of
 * input status 1 are used instead when miscellaneous output bit 0 is clear.
 *
 * Runtime: engine.
 */

/** First and last port of the VGA's I/O block (MDA, EGA/VGA and CGA ranges). */
export const VGA_PORT_BASE = 0x3b0;
export const VGA_PORT_COUNT = 0x30; // 0x3B0-0x3DF

/**
 * The ports a VGA decodes inside that block, as QEMU registers them: a machine that must
 * leave 0x3BC-0x3BF to a parallel port (LPT at its MDA address) registers these instead of the
 * whole block, each with {@link VgaIoPorts.at}.
 */
export const VGA_PORT_RANGES: readonly (readonly [base: number, length: number])[] = [
  [0x3b4, 2],
  [0x3ba, 1],
  [0x3c0, 16],
  [0x3d4, 2],
  [0x3da, 1],
];

export const PORT_CRTC_INDEX_MONO = 0x3b4;
export const PORT_CRTC_DATA_MONO = 0x3b5;
export const PORT_INPUT_STATUS_1_MONO = 0x3ba; // read; write = feature control (mono)
export const PORT_ATTRIBUTE_INDEX = 0x3c0; // write index / data through the flip-flop
export const PORT_ATTRIBUTE_DATA_READ = 0x3c1;
export const PORT_MISC_OUTPUT_WRITE = 0x3c2; // read = input status 0
export const PORT_VIDEO_SUBSYSTEM_ENABLE = 0x3c3;
export const PORT_SEQUENCER_INDEX = 0x3c4;
export const PORT_SEQUENCER_DATA = 0x3c5;
export const PORT_DAC_PEL_MASK = 0x3c6;
export const PORT_DAC_READ_INDEX = 0x3c7; // read = DAC state
export const PORT_DAC_WRITE_INDEX = 0x3c8;
export const PORT_DAC_DATA = 0x3c9;
export const PORT_FEATURE_CONTROL_READ = 0x3ca;
export const PORT_MISC_OUTPUT_READ = 0x3cc;
export const PORT_GRAPHICS_INDEX = 0x3ce;
export const PORT_GRAPHICS_DATA = 0x3cf;
export const PORT_CRTC_INDEX_COLOR = 0x3d4;
export const PORT_CRTC_DATA_COLOR = 0x3d5;
export const PORT_INPUT_STATUS_1_COLOR = 0x3da; // read; write = feature control (colour)

/** Miscellaneous output register (3C2 write / 3CC read). */
export const MISC_COLOR_EMULATION = 0x01; // CRTC and status 1 at 0x3Dx instead of 0x3Bx
export const MISC_RAM_ENABLE = 0x02;

/** Input status 1 (3DA/3BA). */
/** Bit 0, "Display Enable NOT" in the IBM TR: set while the beam is in a blanking interval. */
export const STATUS1_DISPLAY_DISABLED = 0x01;
export const STATUS1_VERTICAL_RETRACE = 0x08;

/** Sequencer registers (3C4 index, 3C5 data). */
export const SEQ_RESET = 0x00;
export const SEQ_CLOCKING_MODE = 0x01;
export const SEQ_MAP_MASK = 0x02;
export const SEQ_CHARACTER_MAP_SELECT = 0x03;
export const SEQ_MEMORY_MODE = 0x04;
export const SEQ_COUNT = 8;
export const SEQ_CLOCKING_8_DOT = 0x01; // 8-dot character cells instead of 9
export const SEQ_CLOCKING_SCREEN_OFF = 0x20;
export const SEQ_MEMORY_ODD_EVEN_OFF = 0x04; // "Odd/Even" bit: 1 = sequential addressing
export const SEQ_MEMORY_CHAIN_4 = 0x08;
/** Bits each sequencer register implements (the rest read back as 0), as QEMU's sr_mask. */
export const SEQ_WRITABLE_BITS = [0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0xff] as const;

/** Graphics controller registers (3CE index, 3CF data). */
export const GC_SET_RESET = 0x00;
export const GC_ENABLE_SET_RESET = 0x01;
export const GC_COLOR_COMPARE = 0x02;
export const GC_DATA_ROTATE = 0x03; // bits 0-2 rotate count, bits 3-4 function select
export const GC_READ_MAP_SELECT = 0x04;
export const GC_MODE = 0x05; // bits 0-1 write mode, 3 read mode, 4 odd/even, 5-6 shift
export const GC_MISC = 0x06; // bit 0 graphics, bits 2-3 memory map select
export const GC_COLOR_DONT_CARE = 0x07;
export const GC_BIT_MASK = 0x08;
export const GC_COUNT = 16;
export const GC_WRITABLE_BITS = [
  0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff, 0, 0, 0, 0, 0, 0, 0,
] as const;
export const GC_MODE_READ_MODE_1 = 0x08;
export const GC_MODE_ODD_EVEN = 0x10;
export const GC_MISC_GRAPHICS = 0x01;

/** CRT controller registers (3D4/3B4 index, 3D5/3B5 data). */
export const CRTC_HORIZONTAL_DISPLAY_END = 0x01;
export const CRTC_OVERFLOW = 0x07;
export const CRTC_MAX_SCAN_LINE = 0x09;
export const CRTC_CURSOR_START = 0x0a;
export const CRTC_CURSOR_END = 0x0b;
export const CRTC_START_ADDRESS_HIGH = 0x0c;
export const CRTC_START_ADDRESS_LOW = 0x0d;
export const CRTC_CURSOR_LOCATION_HIGH = 0x0e;
export const CRTC_CURSOR_LOCATION_LOW = 0x0f;
export const CRTC_VERTICAL_RETRACE_END = 0x11; // bit 7 write-protects CR00-CR07
export const CRTC_VERTICAL_DISPLAY_END = 0x12;
export const CRTC_OFFSET = 0x13;
export const CRTC_MODE_CONTROL = 0x17;
export const CRTC_LINE_COMPARE = 0x18;
/** The index register is 8 bits wide; we keep all 256 so a stray index never faults. */
export const CRTC_COUNT = 256;
export const CRTC_PROTECT = 0x80;
export const CRTC_CURSOR_DISABLE = 0x20;
export const CRTC_MODE_NOT_CGA_BANKS = 0x01; // 0 = row scan bit 0 selects the odd 8 KiB bank

/** Attribute controller registers (3C0 index/data flip-flop, 3C1 read). */
export const ATC_PALETTE_COUNT = 16;
export const ATC_MODE_CONTROL = 0x10;
export const ATC_OVERSCAN = 0x11;
export const ATC_COLOR_PLANE_ENABLE = 0x12;
export const ATC_HORIZONTAL_PEL_PANNING = 0x13;
export const ATC_COLOR_SELECT = 0x14;
export const ATC_COUNT = 0x15;
export const ATC_INDEX_PALETTE_ADDRESS_SOURCE = 0x20; // 1 = display on, palette locked
export const ATC_MODE_GRAPHICS = 0x01;
export const ATC_MODE_LINE_GRAPHICS = 0x04; // 9th column repeats the 8th for C0h-DFh
export const ATC_MODE_BLINK = 0x08; // attribute bit 7 blinks instead of bright background
export const ATC_MODE_P54_SELECT = 0x80; // color select bits 0-1 replace palette bits 4-5

/** Video DAC: 256 entries of 6-bit red, green, blue (8-bit with the Bochs 8BIT_DAC flag). */
export const DAC_ENTRIES = 256;

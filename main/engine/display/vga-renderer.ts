/**
 * Scan-out of the standard VGA (`devices/vga`) into a bgrx8888 {@link DisplayFrame}: what the
 * CRT controller, attribute controller and DAC do to VRAM on a real card, once per frame
 * (IBM VGA Technical Reference, "CRT Controller", "Attribute Controller", "Video DAC";
 * FreeVGA "VGA Text Mode", "Graphics Modes").
 *
 * Modes recognised, in QEMU vga.c's order of precedence:
 * - Bochs VBE enabled: XRES x YRES at 4 (planar), 8 (DAC palette), 15, 16, 24 or 32 bpp, lines
 *   VIRT_WIDTH apart, starting at X_OFFSET/Y_OFFSET.
 * - VGA graphics (GR06 bit 0), by GR05 shift mode: 16-colour planar (modes 0Dh-12h), CGA
 *   4-colour interleaved (modes 4/5), 256-colour (mode 13h chain-4 and unchained "mode X":
 *   in our VRAM layout both place pixel x of a line at byte x).
 * - Text: CR01+1 columns, (vertical display end+1)/(CR09 max scan line+1) rows, 8 or 9 dot
 *   cells (SR01 bit 0), glyphs from plane 2 at the maps SR03 selects (attribute bit 3 picks
 *   map A or B), line-graphics 9th column for C0h-DFh (AR10 bit 2), blink or bright
 *   background (AR10 bit 3), cursor rows CR0A-CR0B at CR0E:CR0F.
 * Output is the mode's native size (mode 13h is 320x200, not QEMU's doubled 640x400); the
 * viewer scales. The line compare split screen and horizontal pel panning (graphics) are
 * honoured; dot-clock doubling is not modelled.
 *
 * Only the scan lines whose VRAM pages the device's dirty log marks are re-converted (all of
 * them after a palette or mode change, or when the LFB is not tracked); each converted line is
 * compared with the previous frame so the dirty rectangles list only pixels that changed.
 *
 * Runtime: engine (device thread).
 */
import type { StdVga } from '../devices/vga/index.js';
import * as R from '../devices/vga/registers.js';
import { rangeDirty } from '../devices/vga/vram.js';
import { decodeCp437 } from './cp437.js';
import {
  commitRow,
  pixelRows,
  TileDirtyMap,
  type PixelRows,
  type DisplayFrame,
  type DisplayMode,
  type DisplaySource,
} from './surface.js';

/** Largest surface we build, whatever the guest programs (a 4096x4096 frame, 64 MiB). */
export const MAX_SURFACE_PIXELS = 4096 * 4096;
/** Cursor and blink periods: 16 and 32 frames at 60 Hz (IBM VGA TR, "Cursor"/"Blinking"). */
const CURSOR_BLINK_MS = 267;
const CHAR_BLINK_MS = 533;
/** What we show before the BIOS programs a mode (CR01 = 0 and friends): a black 640x480. */
const BLANK_WIDTH = 640;
const BLANK_HEIGHT = 480;

type ScanoutKind = 'text' | 'planar4' | 'cga2' | 'pal8' | 'rgb15' | 'rgb16' | 'rgb24' | 'rgb32';

interface Scanout {
  mode: DisplayMode;
  kind: ScanoutKind;
  width: number;
  height: number;
  /** VRAM byte of the first line. */
  start: number;
  /** VRAM bytes between the starts of two lines (text: two character rows). */
  lineBytes: number;
  /** Text only. */
  cols: number;
  rows: number;
  cellWidth: number;
  cellHeight: number;
  blank: boolean;
  /**
   * First output line (text: character row) that the CRTC line compare register restarts at
   * VRAM address 0, the split screen of IBM VGA TR "Line Compare"; past the end when unused.
   */
  split: number;
  /** Pixels the attribute controller's pel panning shifts the picture left (graphics). */
  pan: number;
}

export interface TextSnapshot {
  cols: number;
  rows: number;
  /** Row-major cells, `character | attribute << 8` (CP437 character, VGA attribute byte). */
  cells: Uint16Array;
  cursor: { col: number; row: number; visible: boolean };
}

export interface VgaRendererOptions {
  /** Milliseconds clock for cursor and text blinking (default performance.now). */
  now?: () => number;
}

/** Each bit of a byte moved to the low bit of a nibble, first pixel (bit 7) in nibble 0. */
const EXPAND_BITS_TO_NIBBLES = new Uint32Array(256);
for (let b = 0; b < 256; b++) {
  let v = 0;
  for (let i = 0; i < 8; i++) if (b & (0x80 >> i)) v |= 1 << (i * 4);
  EXPAND_BITS_TO_NIBBLES[b] = v >>> 0;
}

const hiColorTables = new Map<boolean, Uint32Array>();

/** bgrx8888 for every 16-bit pixel: RGB565 (`is565`) or XRGB1555, 5/6-bit fields widened. */
function hiColorTable(is565: boolean): Uint32Array {
  let table = hiColorTables.get(is565);
  if (table) return table;
  table = new Uint32Array(65536);
  for (let v = 0; v < 65536; v++) {
    const r = is565 ? (v >> 11) & 0x1f : (v >> 10) & 0x1f;
    const g = is565 ? (v >> 5) & 0x3f : (v >> 5) & 0x1f;
    const b = v & 0x1f;
    const g8 = is565 ? (g << 2) | (g >> 4) : (g << 3) | (g >> 2);
    table[v] =
      (0xff000000 | (((r << 3) | (r >> 2)) << 16) | (g8 << 8) | ((b << 3) | (b >> 2))) >>> 0;
  }
  hiColorTables.set(is565, table);
  return table;
}

export class VgaRenderer implements DisplaySource {
  private readonly now: () => number;
  private pixels = new Uint8Array(0);
  private pixels32 = new Uint32Array(0);
  private surfaceRows: PixelRows = pixelRows(new Uint32Array(0));
  private tiles = new TileDirtyMap(0, 0);
  private scratch = new Uint32Array(0);
  private scratchRows: PixelRows = pixelRows(new Uint32Array(0));
  private readonly vramRows: PixelRows;
  private readonly vramWords: Uint16Array;
  private modeKey = '';
  private paletteKey = '';
  private readonly palette256 = new Uint32Array(256);
  private readonly palette16 = new Uint32Array(16);
  private readonly pageLog: Uint8Array;
  /** Text mode: the char/attr of each cell as last drawn, and cursor/blink state. */
  private textCache = new Uint16Array(0);
  private lastCursorCell = -1;
  private lastCursorShape = -1;
  /** One row of character cells, drawn before it is compared with the surface. */
  private band: PixelRows = pixelRows(new Uint32Array(0));
  private lastBlinkPhase = false;
  private fullNext = false;
  private layoutKey = '';

  constructor(
    private readonly vga: StdVga,
    options: VgaRendererOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.pageLog = new Uint8Array(vga.vram.pageCount);
    this.vramRows = pixelRows(vga.vram.groups);
    const bytes = vga.vram.bytes;
    this.vramWords = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 1);
  }

  /** Make the next frame report the whole surface dirty (a viewer attached and has nothing). */
  invalidate(): void {
    this.fullNext = true;
  }

  /** Produce the current picture; `dirty` lists what changed since the previous call. */
  renderFrame(): DisplayFrame {
    const scan = this.describeScanout();
    const key = `${scan.kind}:${scan.width}x${scan.height}`;
    let full = this.fullNext;
    this.fullNext = false;
    if (key !== this.modeKey) {
      this.modeKey = key;
      this.allocate(scan.width, scan.height);
      full = true;
    }
    const paletteChanged = this.updatePalettes();
    const anyPageDirty = this.vga.vram.takeDirtyLog(this.pageLog);
    const planesWritten = this.vga.legacyWindow.planesWritten;
    this.vga.legacyWindow.planesWritten = 0;
    // Scrolling (start address), a new line pitch or font map moves pixels without writing VRAM.
    const layoutKey = `${scan.start}:${scan.lineBytes}:${scan.split}:${scan.pan}:${this.vga.registers.sequencer[R.SEQ_CHARACTER_MAP_SELECT]}`;
    const layoutChanged = layoutKey !== this.layoutKey;
    this.layoutKey = layoutKey;
    const convertAll = full || paletteChanged || layoutChanged || !this.vga.vramWritesTracked;

    if (scan.blank) {
      this.scratch.fill(0xff000000, 0, scan.width);
      for (let y = 0; y < scan.height; y++) this.commitRow(y, scan.width);
    } else if (scan.kind === 'text') {
      // A plane 2 write may be a font change: redraw every cell.
      this.renderText(scan, convertAll || (planesWritten & 4) !== 0);
    } else if (convertAll || anyPageDirty) {
      this.renderGraphics(scan, convertAll);
    }
    const dirty = full
      ? (this.tiles.takeRects(), [{ x: 0, y: 0, w: scan.width, h: scan.height }])
      : this.tiles.takeRects();
    return {
      width: scan.width,
      height: scan.height,
      stride: scan.width * 4,
      format: 'bgrx8888',
      pixels: this.pixels,
      dirty,
      mode: scan.mode,
    };
  }

  /** The text screen as characters and attributes, or null outside text mode. */
  textSnapshot(): TextSnapshot | null {
    const scan = this.describeScanout();
    if (scan.kind !== 'text' || scan.blank) return null;
    const bytes = this.vga.vram.bytes;
    const mask = this.vga.vram.size - 1;
    const cells = new Uint16Array(scan.cols * scan.rows);
    for (let row = 0; row < scan.rows; row++) {
      for (let col = 0; col < scan.cols; col++) {
        const rowStart =
          row < scan.split
            ? scan.start + row * scan.lineBytes
            : (row - scan.split) * scan.lineBytes;
        const at = (rowStart + col * 4) & mask;
        cells[row * scan.cols + col] = bytes[at]! | (bytes[at + 1]! << 8);
      }
    }
    const cursor = this.cursorCell(scan);
    return {
      cols: scan.cols,
      rows: scan.rows,
      cells,
      cursor: {
        col: cursor >= 0 ? cursor % scan.cols : 0,
        row: cursor >= 0 ? Math.floor(cursor / scan.cols) : 0,
        visible: cursor >= 0 && !(this.vga.registers.crtc[R.CRTC_CURSOR_START]! & 0x20),
      },
    };
  }

  // ---- mode decoding ----

  private describeScanout(): Scanout {
    const vga = this.vga;
    const vbe = vga.vbe;
    const regs = vga.registers;
    const cr = regs.crtc;
    const base = {
      start: 0,
      lineBytes: 0,
      cols: 0,
      rows: 0,
      cellWidth: 0,
      cellHeight: 0,
      blank: false,
      split: Number.MAX_SAFE_INTEGER,
      pan: 0,
    };
    if (vbe.enabled) {
      const depth = vbe.depth;
      const kind: ScanoutKind =
        depth === 4
          ? 'planar4'
          : depth === 15
            ? 'rgb15'
            : depth === 16
              ? 'rgb16'
              : depth === 24
                ? 'rgb24'
                : depth === 32
                  ? 'rgb32'
                  : 'pal8';
      const width = vbe.width;
      const height = Math.min(vbe.height, Math.floor(MAX_SURFACE_PIXELS / width));
      return {
        ...base,
        mode: 'vbe',
        kind,
        width,
        height,
        start: vbe.startByte,
        lineBytes: vbe.lineBytes,
      };
    }
    const screenOff = (regs.sequencer[R.SEQ_CLOCKING_MODE]! & R.SEQ_CLOCKING_SCREEN_OFF) !== 0;
    const overflow = cr[R.CRTC_OVERFLOW]!;
    const scanLines =
      (cr[R.CRTC_VERTICAL_DISPLAY_END]! | ((overflow & 0x02) << 7) | ((overflow & 0x40) << 3)) + 1;
    const maxScan = cr[R.CRTC_MAX_SCAN_LINE]!;
    const doubleScan = maxScan >> 7;
    // Line compare: 10 bits from CR18, CR07 bit 4 and CR09 bit 6, in scan lines.
    const lineCompare =
      cr[R.CRTC_LINE_COMPARE]! | ((overflow & 0x10) << 4) | ((maxScan & 0x40) << 3);
    const start = ((cr[R.CRTC_START_ADDRESS_HIGH]! << 8) | cr[R.CRTC_START_ADDRESS_LOW]!) * 4;
    // CR13 counts words of two planar addresses (QEMU's line_offset = CR13 << 3 VRAM bytes).
    const lineBytes = cr[R.CRTC_OFFSET]! * 8;
    const dots = (cr[R.CRTC_HORIZONTAL_DISPLAY_END]! + 1) * 8;

    if (regs.graphics[R.GC_MISC]! & R.GC_MISC_GRAPHICS) {
      const shift = (regs.graphics[R.GC_MODE]! >> 5) & 3;
      const cga = !(cr[R.CRTC_MODE_CONTROL]! & R.CRTC_MODE_NOT_CGA_BANKS);
      // In CGA-compatible addressing the row scan counter picks the bank, not a repeat.
      const repeat = cga ? 1 << doubleScan : ((maxScan & 0x1f) + 1) << doubleScan;
      const kind: ScanoutKind = shift === 0 ? 'planar4' : shift === 1 ? 'cga2' : 'pal8';
      const width = kind === 'pal8' ? dots / 2 : dots;
      const height = Math.floor(scanLines / repeat);
      // The scan line equal to line compare is the last one before the restart (QEMU does so).
      const split = cga ? Number.MAX_SAFE_INTEGER : Math.floor(lineCompare / repeat) + 1;
      if (width < 8 || height < 8) return this.blankScanout();
      return {
        ...base,
        mode: 'graphics',
        kind,
        width,
        height: Math.min(height, Math.floor(MAX_SURFACE_PIXELS / width)),
        start,
        lineBytes,
        blank: screenOff,
        split,
        // AR13: 0-7 pixels in 16-colour modes; in 256-colour modes bits 1-2 count whole pixels.
        pan:
          kind === 'planar4'
            ? regs.attribute[R.ATC_HORIZONTAL_PEL_PANNING]! & 7
            : kind === 'pal8'
              ? (regs.attribute[R.ATC_HORIZONTAL_PEL_PANNING]! >> 1) & 3
              : 0,
      };
    }

    const cellHeight = (maxScan & 0x1f) + 1;
    const cellWidth = regs.sequencer[R.SEQ_CLOCKING_MODE]! & R.SEQ_CLOCKING_8_DOT ? 8 : 9;
    const cols = cr[R.CRTC_HORIZONTAL_DISPLAY_END]! + 1;
    const rows = Math.floor(scanLines / (cellHeight << doubleScan));
    if (cols < 2 || rows < 1 || cols * cellWidth < 8 || rows * cellHeight < 8) {
      return this.blankScanout();
    }
    return {
      ...base,
      mode: 'text',
      kind: 'text',
      width: cols * cellWidth,
      height: rows * cellHeight,
      start,
      lineBytes,
      cols,
      rows,
      cellWidth,
      cellHeight,
      blank: screenOff,
      // A row restarts at 0 when the line compare falls inside the row before it.
      split:
        lineCompare === 0
          ? Number.MAX_SAFE_INTEGER
          : Math.ceil(lineCompare / (cellHeight << doubleScan)),
    };
  }

  private blankScanout(): Scanout {
    return {
      mode: 'text',
      kind: 'text',
      width: BLANK_WIDTH,
      height: BLANK_HEIGHT,
      start: 0,
      lineBytes: 0,
      cols: 0,
      rows: 0,
      cellWidth: 0,
      cellHeight: 0,
      blank: true,
      split: Number.MAX_SAFE_INTEGER,
      pan: 0,
    };
  }

  private allocate(width: number, height: number): void {
    this.pixels = new Uint8Array(width * height * 4);
    this.pixels32 = new Uint32Array(this.pixels.buffer);
    this.pixels32.fill(0xff000000);
    this.surfaceRows = pixelRows(this.pixels32);
    this.tiles = new TileDirtyMap(width, height);
    this.scratch = new Uint32Array(width + 16); // + room for pel panning
    this.scratchRows = pixelRows(this.scratch);
    this.textCache = new Uint16Array(0);
    this.lastCursorCell = -1;
  }

  /** Rebuild the 256- and 16-entry colour tables; true if any colour changed. */
  private updatePalettes(): boolean {
    const regs = this.vga.registers;
    const dac8 = this.vga.vbe.dac8Bit;
    const key = `${regs.paletteGeneration}:${dac8 ? 8 : 6}`;
    if (key === this.paletteKey) return false;
    this.paletteKey = key;
    const dac = regs.palette;
    const expand = (v: number): number => (dac8 ? v : ((v & 0x3f) << 2) | ((v & 0x3f) >> 4));
    for (let i = 0; i < 256; i++) {
      const e = (i & regs.pelMask) * 3;
      this.palette256[i] =
        (0xff000000 |
          (expand(dac[e]!) << 16) |
          (expand(dac[e + 1]!) << 8) |
          expand(dac[e + 2]!)) >>>
        0;
    }
    // The attribute controller maps a 4-bit pixel to a DAC index (AR00-0F, with AR14 bits).
    const atc = regs.attribute;
    const colorSelect = atc[R.ATC_COLOR_SELECT]!;
    const p54 = (atc[R.ATC_MODE_CONTROL]! & R.ATC_MODE_P54_SELECT) !== 0;
    for (let i = 0; i < 16; i++) {
      const v = atc[i]!;
      const index = p54
        ? ((colorSelect & 0x0f) << 4) | (v & 0x0f)
        : ((colorSelect & 0x0c) << 4) | (v & 0x3f);
      this.palette16[i] = this.palette256[index]!;
    }
    return true;
  }

  /** Copy the scratch row (from pixel `skip`) over surface row `y`, marking changed tiles. */
  private commitRow(y: number, width: number, skip = 0): void {
    commitRow(this.surfaceRows, y * width, this.scratchRows, skip, width, y, this.tiles);
  }

  // ---- graphics ----

  private renderGraphics(scan: Scanout, convertAll: boolean): void {
    const { height, start, lineBytes, kind, pan } = scan;
    // Horizontal pel panning: convert `pan` more pixels, then drop the first `pan`.
    const width = scan.width + pan;
    const vram = this.vga.vram;
    const bytes = vram.bytes;
    const size = vram.size;
    const out = this.scratch;
    const srcLength =
      kind === 'planar4' || kind === 'cga2'
        ? Math.ceil(width / 8) * 4
        : kind === 'pal8'
          ? width
          : kind === 'rgb24'
            ? width * 3
            : kind === 'rgb32'
              ? width * 4
              : width * 2;
    const pal = kind === 'pal8' ? this.palette256 : this.palette16;
    const planeEnable = this.vga.registers.attribute[R.ATC_COLOR_PLANE_ENABLE]! & 0x0f;
    const rgb32Aligned = kind === 'rgb32' && start % 4 === 0 && lineBytes % 4 === 0;
    const groups = vram.groups;

    for (let y = 0; y < height; y++) {
      let src: number;
      if (kind === 'cga2') {
        // CGA modes 4/5: even lines in the first 8 KiB bank, odd lines in the second. CPU
        // bytes are split odd/even over planes 0/1 at planar address (offset >> 1), so the
        // bank at CPU 0x2000 is VRAM byte 0x4000 and a pair of lines is CR13 * 8 bytes.
        src = start + (y & 1) * 0x4000 + (y >> 1) * lineBytes;
      } else {
        src = y < scan.split ? start + y * lineBytes : (y - scan.split) * lineBytes;
      }
      if (!convertAll && !rangeDirty(this.pageLog, src, srcLength)) continue;
      if (src >= size) {
        out.fill(0xff000000, 0, width);
        this.commitRow(y, scan.width, pan);
        continue;
      }
      switch (kind) {
        case 'rgb32':
          if (rgb32Aligned && src + width * 4 <= size) {
            // The common case: VRAM rows are already BGRX: compare and copy them natively.
            commitRow(
              this.surfaceRows,
              y * scan.width,
              this.vramRows,
              src >>> 2,
              scan.width,
              y,
              this.tiles,
            );
            continue;
          }
          for (let x = 0, s = src; x < width; x++, s += 4) {
            out[x] =
              s + 3 < size
                ? (0xff000000 | (bytes[s + 2]! << 16) | (bytes[s + 1]! << 8) | bytes[s]!) >>> 0
                : 0xff000000;
          }
          break;
        case 'rgb24': {
          const n = Math.min(width, Math.floor((size - src) / 3));
          for (let x = 0, s = src; x < n; x++, s += 3) {
            out[x] = (0xff000000 | (bytes[s + 2]! << 16) | (bytes[s + 1]! << 8) | bytes[s]!) >>> 0;
          }
          out.fill(0xff000000, n, width);
          break;
        }
        case 'rgb16':
        case 'rgb15': {
          // One table lookup per pixel (64 K entries, built once per depth).
          const table = hiColorTable(kind === 'rgb16');
          const n = Math.min(width, (size - src) >> 1);
          if ((src & 1) === 0) {
            const words = this.vramWords;
            for (let x = 0, i = src >> 1; x < n; x++, i++) out[x] = table[words[i]!]!;
          } else {
            for (let x = 0, s = src; x < n; x++, s += 2) {
              out[x] = table[bytes[s]! | (bytes[s + 1]! << 8)]!;
            }
          }
          out.fill(0xff000000, n, width);
          break;
        }
        case 'pal8': {
          const n = Math.min(width, size - src);
          for (let x = 0, s = src; x < n; x++, s++) out[x] = pal[bytes[s]!]!;
          out.fill(pal[0]!, n, width);
          break;
        }
        case 'planar4': {
          // Eight pixels per planar address, one bit from each plane.
          let g = src >>> 2;
          for (let x = 0; x < width; x += 8, g++) {
            const latch = g < groups.length ? groups[g]! : 0;
            const packed =
              (EXPAND_BITS_TO_NIBBLES[latch & 0xff]! |
                (EXPAND_BITS_TO_NIBBLES[(latch >>> 8) & 0xff]! << 1) |
                (EXPAND_BITS_TO_NIBBLES[(latch >>> 16) & 0xff]! << 2) |
                (EXPAND_BITS_TO_NIBBLES[latch >>> 24]! << 3)) >>>
              0;
            const n = Math.min(8, width - x);
            for (let i = 0; i < n; i++) out[x + i] = pal[(packed >>> (i * 4)) & planeEnable]!;
          }
          break;
        }
        case 'cga2': {
          // Each planar address holds 8 pixels: 4 from plane 0 (even CPU byte), 4 from plane 1.
          let g = src >>> 2;
          for (let x = 0; x < width; x += 8, g++) {
            const latch = g < groups.length ? groups[g]! : 0;
            for (let i = 0; i < 8 && x + i < width; i++) {
              const byte = i < 4 ? latch & 0xff : (latch >>> 8) & 0xff;
              const shift = 6 - (i & 3) * 2;
              out[x + i] = pal[(byte >> shift) & 3]!;
            }
          }
          break;
        }
        default:
          break;
      }
      this.commitRow(y, scan.width, pan);
    }
  }

  // ---- text ----

  /** Cell index of the cursor on screen, or -1 when it is off-screen. */
  private cursorCell(scan: Scanout): number {
    const cr = this.vga.registers.crtc;
    const location = (cr[R.CRTC_CURSOR_LOCATION_HIGH]! << 8) | cr[R.CRTC_CURSOR_LOCATION_LOW]!;
    const relative = location - scan.start / 4;
    const pitch = scan.lineBytes / 4;
    if (relative < 0 || pitch <= 0) return -1;
    const row = Math.floor(relative / pitch);
    const col = relative % pitch;
    if (row >= scan.rows || col >= scan.cols) return -1;
    return row * scan.cols + col;
  }

  private renderText(scan: Scanout, redrawAll: boolean): void {
    const regs = this.vga.registers;
    const bytes = this.vga.vram.bytes;
    const mask = this.vga.vram.size - 1;
    const { cols, rows, cellWidth, cellHeight, width } = scan;
    if (this.textCache.length !== cols * rows) {
      this.textCache = new Uint16Array(cols * rows);
      redrawAll = true;
    }
    const now = this.now();
    const cursorOn = Math.floor(now / CURSOR_BLINK_MS) % 2 === 0;
    const blinkOn = Math.floor(now / CHAR_BLINK_MS) % 2 === 0;
    const atcMode = regs.attribute[R.ATC_MODE_CONTROL]!;
    const blinkMode = (atcMode & R.ATC_MODE_BLINK) !== 0;
    const lineGraphics = (atcMode & R.ATC_MODE_LINE_GRAPHICS) !== 0;
    const blinkChanged = blinkMode && blinkOn !== this.lastBlinkPhase;
    this.lastBlinkPhase = blinkOn;

    const cr = regs.crtc;
    const cursorStart = cr[R.CRTC_CURSOR_START]!;
    const cursorCell =
      cursorStart & R.CRTC_CURSOR_DISABLE || !cursorOn ? -1 : this.cursorCell(scan);
    const cursorFirst = cursorStart & 0x1f;
    const cursorLast = Math.min(cr[R.CRTC_CURSOR_END]! & 0x1f, cellHeight - 1);
    const cursorRow = cursorCell >= 0 ? Math.floor(cursorCell / cols) : -1;
    const lastCursorRow = this.lastCursorCell >= 0 ? Math.floor(this.lastCursorCell / cols) : -1;
    const cursorMoved = cursorCell !== this.lastCursorCell;
    this.lastCursorCell = cursorCell;
    const cursorShape = (cursorFirst << 8) | cursorLast;
    const cursorShapeChanged = cursorShape !== this.lastCursorShape;
    this.lastCursorShape = cursorShape;

    // Font maps (SR03): attribute bit 3 = 1 selects map A (bits 5,3,2), 0 map B (bits 4,1,0).
    const sr3 = regs.sequencer[R.SEQ_CHARACTER_MAP_SELECT]!;
    const fontB = ((((sr3 >> 4) & 1) | ((sr3 << 1) & 6)) * 8192 * 4 + 2) & mask;
    const fontA = ((((sr3 >> 5) & 1) | ((sr3 >> 1) & 6)) * 8192 * 4 + 2) & mask;

    if (this.band.words.length !== width * cellHeight) {
      this.band = pixelRows(new Uint32Array(width * cellHeight));
    }
    const bandRows = this.band;
    const band = bandRows.words;
    for (let row = 0; row < rows; row++) {
      const rowStart =
        row < scan.split ? scan.start + row * scan.lineBytes : (row - scan.split) * scan.lineBytes;
      // The cursor's rows are redrawn when it moves, blinks or changes shape.
      let changed =
        redrawAll ||
        ((cursorMoved || cursorShapeChanged) && (row === cursorRow || row === lastCursorRow));
      let hasBlink = false;
      for (let col = 0; col < cols; col++) {
        const at = (rowStart + col * 4) & mask;
        const cell = bytes[at]! | (bytes[(at + 1) & mask]! << 8);
        if (this.textCache[row * cols + col] !== cell) {
          this.textCache[row * cols + col] = cell;
          changed = true;
        }
        if (cell & 0x8000) hasBlink = true;
      }
      if (blinkChanged && hasBlink) changed = true;
      if (!changed) continue;

      for (let col = 0; col < cols; col++) {
        const cell = this.textCache[row * cols + col]!;
        const ch = cell & 0xff;
        const attr = cell >> 8;
        const fg0 = this.palette16[attr & 0x0f]!;
        const bg = this.palette16[blinkMode ? (attr >> 4) & 7 : attr >> 4]!;
        const fg = blinkMode && attr & 0x80 && !blinkOn ? bg : fg0;
        const font = attr & 0x08 ? fontA : fontB;
        const ninth = cellWidth === 9 && lineGraphics && ch >= 0xc0 && ch <= 0xdf;
        const isCursor = row * cols + col === cursorCell;
        const x0 = col * cellWidth;
        for (let line = 0; line < cellHeight; line++) {
          let glyph = bytes[(font + (ch * 32 + line) * 4) & mask]!;
          if (isCursor && line >= cursorFirst && line <= cursorLast) glyph = 0xff;
          const o = line * width + x0;
          for (let bit = 0; bit < 8; bit++) band[o + bit] = glyph & (0x80 >> bit) ? fg : bg;
          if (cellWidth === 9) {
            band[o + 8] =
              (ninth || (isCursor && line >= cursorFirst && line <= cursorLast)) && glyph & 1
                ? fg
                : bg;
          }
        }
      }
      for (let line = 0; line < cellHeight; line++) {
        commitRow(
          this.surfaceRows,
          (row * cellHeight + line) * width,
          bandRows,
          line * width,
          width,
          row * cellHeight + line,
          this.tiles,
        );
      }
    }
  }
}

/** Rows of a text snapshot as Unicode strings (CP437 decoded), trailing spaces kept. */
export function textSnapshotLines(snapshot: TextSnapshot): string[] {
  const lines: string[] = [];
  const row = new Uint8Array(snapshot.cols);
  for (let r = 0; r < snapshot.rows; r++) {
    for (let c = 0; c < snapshot.cols; c++) row[c] = snapshot.cells[r * snapshot.cols + c]! & 0xff;
    lines.push(decodeCp437(row));
  }
  return lines;
}

/**
 * A display surface: what a graphics device hands to whoever shows or records the guest's
 * screen (the console canvas through the bridge, `vireo screenshot`, a VNC server later).
 *
 * Pixels are `bgrx8888`: 4 bytes per pixel, blue, green, red, then a padding byte we always
 * 0xFF in every converted mode; in 32 bpp VBE modes it is whatever the guest left in its fourth
 * byte, because those rows are copied from VRAM as they are (memcpy speed): treat X as padding.
 * BGRX is the order VBE 32 bpp guests and QEMU's default surface use.
 *
 * Dirty rectangles come from comparing each frame with the previous one in 64x16 tiles
 * ({@link TileDirtyMap}): a static screen yields none, a blinking cursor yields one small
 * rectangle, a mode change yields the whole surface.
 *
 * Runtime: engine (device thread); the types are plain data and can cross to the renderer.
 */

export type DisplayMode = 'text' | 'graphics' | 'vbe';

export interface DirtyRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface DisplayFrame {
  width: number;
  height: number;
  /** Bytes per row of `pixels` (always width * 4 here). */
  stride: number;
  format: 'bgrx8888';
  /**
   * The producer's own buffer, updated in place by the next frame: copy the dirty rectangles
   * out (or transfer a copy) before asking for another frame.
   */
  pixels: Uint8Array;
  dirty: DirtyRect[];
  mode: DisplayMode;
}

/**
 * Anything that produces frames: the VGA renderer now, a ramfb or virtio-gpu scan-out later.
 * The console and `vireo screenshot` talk to this, not to a particular device.
 */
export interface DisplaySource {
  /** The current picture and what changed since the previous call. */
  renderFrame(): DisplayFrame;
  /** Make the next frame report the whole surface dirty (a new viewer attached). */
  invalidate(): void;
}

/**
 * Copy one rectangle of a frame into a tightly packed bgrx8888 buffer (`w * 4` bytes per row),
 * e.g. to send a dirty rectangle to a viewer. The rectangle is clipped to the frame.
 */
export function extractRect(frame: DisplayFrame, rect: DirtyRect): Uint8Array {
  const x = Math.max(0, Math.min(frame.width, rect.x));
  const y = Math.max(0, Math.min(frame.height, rect.y));
  const w = Math.max(0, Math.min(frame.width - x, rect.w));
  const h = Math.max(0, Math.min(frame.height - y, rect.h));
  const out = new Uint8Array(w * h * 4);
  for (let row = 0; row < h; row++) {
    const from = (y + row) * frame.stride + x * 4;
    out.set(frame.pixels.subarray(from, from + w * 4), row * w * 4);
  }
  return out;
}

export const TILE_WIDTH = 64;
export const TILE_HEIGHT = 16;

/** Which 64x16 tiles of a surface changed, merged into rectangles on demand. */
export class TileDirtyMap {
  readonly tilesX: number;
  readonly tilesY: number;
  private readonly tiles: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.tilesX = Math.ceil(width / TILE_WIDTH);
    this.tilesY = Math.ceil(height / TILE_HEIGHT);
    this.tiles = new Uint8Array(this.tilesX * this.tilesY);
  }

  mark(tileX: number, tileY: number): void {
    this.tiles[tileY * this.tilesX + tileX] = 1;
  }

  /**
   * Dirty tiles as rectangles, cleared afterwards: runs of tiles in a tile row, and runs that
   * repeat with the same span on following rows merged downwards.
   */
  takeRects(): DirtyRect[] {
    const rects: DirtyRect[] = [];
    /** Rectangles ending at the previous tile row, keyed by "x,w". */
    let open = new Map<string, DirtyRect>();
    for (let ty = 0; ty < this.tilesY; ty++) {
      const next = new Map<string, DirtyRect>();
      const y = ty * TILE_HEIGHT;
      const h = Math.min(TILE_HEIGHT, this.height - y);
      let tx = 0;
      while (tx < this.tilesX) {
        if (!this.tiles[ty * this.tilesX + tx]) {
          tx++;
          continue;
        }
        const start = tx;
        while (tx < this.tilesX && this.tiles[ty * this.tilesX + tx]) tx++;
        const x = start * TILE_WIDTH;
        const w = Math.min(tx * TILE_WIDTH, this.width) - x;
        const key = `${x},${w}`;
        const above = open.get(key);
        if (above) {
          above.h += h;
          next.set(key, above);
        } else {
          const r = { x, y, w, h };
          rects.push(r);
          next.set(key, r);
        }
      }
      open = next;
    }
    this.tiles.fill(0);
    return rects;
  }
}

/** 32-bit pixels and a Buffer over the same bytes (for native compare and copy). */
export interface PixelRows {
  readonly words: Uint32Array;
  readonly buffer: Buffer;
}

export function pixelRows(words: Uint32Array): PixelRows {
  return { words, buffer: Buffer.from(words.buffer, words.byteOffset, words.byteLength) };
}

/**
 * Bring `count` pixels of surface row `y` (at word `dstAt` of `dst`) up to date from `src`
 * (word `srcAt`), marking the tiles that changed. The row is first compared natively (memcmp);
 * if it differs, the first and last differing pixels bound one span that is copied natively and
 * whose tiles are marked. So an unchanged row costs a memcmp, a changed one about a memcpy, and
 * the dirty tiles of a row are one run (exact for the usual single change per row).
 */
export function commitRow(
  dst: PixelRows,
  dstAt: number,
  src: PixelRows,
  srcAt: number,
  count: number,
  y: number,
  tiles: TileDirtyMap,
): void {
  if (count <= 0) return;
  const d = dst.words;
  const s = src.words;
  if (
    src.buffer.compare(
      dst.buffer,
      dstAt * 4,
      (dstAt + count) * 4,
      srcAt * 4,
      (srcAt + count) * 4,
    ) === 0
  ) {
    return;
  }
  let first = 0;
  while (first < count && s[srcAt + first] === d[dstAt + first]) first++;
  let last = count - 1;
  while (last > first && s[srcAt + last] === d[dstAt + last]) last--;
  src.buffer.copy(dst.buffer, (dstAt + first) * 4, (srcAt + first) * 4, (srcAt + last + 1) * 4);
  const tileY = (y / TILE_HEIGHT) | 0;
  for (let t = (first / TILE_WIDTH) | 0, end = (last / TILE_WIDTH) | 0; t <= end; t++) {
    tiles.mark(t, tileY);
  }
}

/**
 * A display surface: what a graphics device hands to whoever shows or records the guest's
 * screen (the console canvas through the bridge, `vireo screenshot`, a VNC server later).
 *
 * Pixels are `bgrx8888`: 4 bytes per pixel, blue, green, red, then a padding byte we always
 * set to 0xFF (so the same bytes read as opaque BGRA). It is the order VBE 32 bpp guests and
 * QEMU's default surface use, so the common case converts with one OR per pixel.
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

/**
 * Copy `count` pixels from `src[srcAt..]` over `dst[dstAt..]` (row `y` of a surface) and mark
 * the tiles whose pixels differed. Comparing while copying costs about what the copy does.
 */
export function copyRowMarkingTiles(
  dst: Uint32Array,
  dstAt: number,
  src: Uint32Array,
  srcAt: number,
  count: number,
  y: number,
  tiles: TileDirtyMap,
): void {
  const tileY = (y / TILE_HEIGHT) | 0;
  for (let x0 = 0, tileX = 0; x0 < count; x0 += TILE_WIDTH, tileX++) {
    const end = Math.min(count, x0 + TILE_WIDTH);
    let changed = false;
    for (let x = x0; x < end; x++) {
      const v = src[srcAt + x]!;
      if (dst[dstAt + x] !== v) {
        dst[dstAt + x] = v;
        changed = true;
      }
    }
    if (changed) tiles.mark(tileX, tileY);
  }
}

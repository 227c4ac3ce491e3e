/**
 * The guest's screen streamed to viewers (the console window), the way VNC's framebuffer
 * updates work (RFC 6143 §7.5.3 FramebufferUpdateRequest / §7.6.1 FramebufferUpdate): a viewer
 * *asks* for the next update when it has painted the last one, and gets the rectangles that
 * changed since its previous update. A viewer that falls behind therefore gets fewer, larger
 * updates; frames are dropped, never queued.
 *
 * One {@link DisplayHub} per VM renders the display source at most once per tick (60 Hz) while
 * any viewer waits, and adds each frame's dirty rectangles to every viewer's pending region, so
 * viewers (and `vireo screenshot`) never steal each other's changes.
 *
 * Wire format of one update (little-endian), built by {@link encodeUpdate}:
 *
 *     u32 length of what follows
 *     u8  kind (1 = update)      u8 mode (0 text, 1 graphics, 2 vbe)
 *     u16 width   u16 height     u16 rectangle count   u32 sequence number
 *     per rectangle: u16 x, y, w, h, then w*h*4 bytes RGBA (what canvas ImageData takes)
 *
 * Runtime: engine (VM host process, device thread).
 */
import type { DirtyRect, DisplayFrame, DisplayMode, DisplaySource } from '../display/surface.js';

export const UPDATE_KIND = 1;
export const UPDATE_HEADER_BYTES = 4 + 12;
export const RECT_HEADER_BYTES = 8;
/** One update per display refresh at most (the renderer runs on the device thread). */
export const DISPLAY_TICK_MS = 16;
/**
 * A screen that has not changed for a while is looked at less often: on the PC machine guest
 * writes to the framebuffer are not tracked, so each look compares the whole surface.
 */
export const DISPLAY_IDLE_TICK_MS = 100;
const IDLE_AFTER_TICKS = 30;
/**
 * Rendering and encoding run on the device thread, which also answers the vCPUs' exits: the
 * next look waits at least this many times as long as the last one took, so the display takes
 * at most a fifth of that thread and a slow host (nested KVM under emulation, where one 800x600
 * look took ~40 ms) gets fewer frames rather than a stalled guest.
 */
export const DISPLAY_MAX_SHARE_FACTOR = 4;
/** More pending rectangles than this are merged into their bounding box. */
const MAX_PENDING_RECTS = 24;

/** Alpha 255 as an int32 (0xff000000 | 0). */
const OPAQUE = 0xff000000 | 0;

const MODE_CODES: Record<DisplayMode, number> = { text: 0, graphics: 1, vbe: 2 };

export interface DisplayViewer {
  /** Called with one encoded update; the viewer asks again with {@link DisplayHub.request}. */
  send(update: Uint8Array): void;
}

interface ViewerState {
  pending: DirtyRect[];
  /** Size the viewer last got; a change sends the whole surface. */
  width: number;
  height: number;
  waiting: boolean;
  sequence: number;
}

export class DisplayHub {
  private readonly viewers = new Map<DisplayViewer, ViewerState>();
  private timer: NodeJS.Timeout | undefined;
  private last: DisplayFrame | undefined;
  /** Ticks in a row that found nothing to send. */
  private idleTicks = 0;
  /** How long the last tick took (render and encode), and when it ended (performance.now()). */
  private lastTickMs = 0;
  private lastTickEnd = 0;

  /**
   * `source()` is the current machine's display (it changes across guest resets) or null.
   * `maxShareFactor` is {@link DISPLAY_MAX_SHARE_FACTOR} unless given (0: no pacing).
   */
  constructor(
    private readonly source: () => DisplaySource | null,
    private readonly maxShareFactor = DISPLAY_MAX_SHARE_FACTOR,
  ) {}

  /** Milliseconds the pacing still asks to wait before the next look (0: look now). */
  private pacingLeft(): number {
    return Math.max(
      0,
      this.lastTickEnd + this.lastTickMs * this.maxShareFactor - performance.now(),
    );
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** A new viewer: its first update is the whole screen. */
  attach(viewer: DisplayViewer): () => void {
    this.viewers.set(viewer, { pending: [], width: -1, height: -1, waiting: false, sequence: 0 });
    return () => {
      this.viewers.delete(viewer);
      if (this.viewers.size === 0) this.stop();
    };
  }

  /** The viewer painted its last update and wants the next one (sent when something changed). */
  request(viewer: DisplayViewer): void {
    const state = this.viewers.get(viewer);
    if (!state) return;
    state.waiting = true;
    // Right away unless the last look was recent and slow: then the scheduled look serves it.
    if (this.pacingLeft() > 0) this.schedule();
    else this.tick();
  }

  /** Input from a viewer: the screen is about to change, so look at it at full rate again. */
  wake(): void {
    this.idleTicks = 0;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.timer || ![...this.viewers.values()].some((v) => v.waiting)) return;
    const delay = Math.max(
      this.idleTicks >= IDLE_AFTER_TICKS ? DISPLAY_IDLE_TICK_MS : DISPLAY_TICK_MS,
      this.pacingLeft(),
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, delay);
  }

  /** The current picture (for a screenshot): rendered now, its changes kept for the viewers. */
  frame(): DisplayFrame | null {
    return this.render();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private render(): DisplayFrame | null {
    const source = this.source();
    if (!source) return null;
    const frame = source.renderFrame();
    this.last = frame;
    for (const state of this.viewers.values()) addRects(state, frame);
    return frame;
  }

  private tick(): void {
    if (![...this.viewers.values()].some((v) => v.waiting)) return this.stop();
    clearTimeout(this.timer);
    this.timer = undefined;
    const started = performance.now();
    const frame = this.render();
    if (!frame) return this.schedule();
    let sent = false;
    for (const [viewer, state] of this.viewers) {
      if (!state.waiting) continue;
      const resized = state.width !== frame.width || state.height !== frame.height;
      if (resized) state.pending = [{ x: 0, y: 0, w: frame.width, h: frame.height }];
      if (state.pending.length === 0) continue;
      state.waiting = false;
      state.width = frame.width;
      state.height = frame.height;
      const rects = state.pending;
      state.pending = [];
      viewer.send(encodeUpdate(frame, rects, ++state.sequence));
      sent = true;
    }
    this.idleTicks = sent ? 0 : this.idleTicks + 1;
    this.lastTickEnd = performance.now();
    this.lastTickMs = this.lastTickEnd - started;
    this.schedule();
  }

  /** For tests and benchmarks: the last rendered frame. */
  get lastFrame(): DisplayFrame | undefined {
    return this.last;
  }
}

function addRects(state: ViewerState, frame: DisplayFrame): void {
  if (frame.dirty.length === 0) return;
  state.pending.push(...frame.dirty);
  if (state.pending.length > MAX_PENDING_RECTS) state.pending = [boundingBox(state.pending)];
}

export function boundingBox(rects: readonly DirtyRect[]): DirtyRect {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of rects) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.w);
    y1 = Math.max(y1, r.y + r.h);
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/**
 * One update with the given rectangles of `frame` (clipped to it), converted from the
 * renderer's bgrx8888 to RGBA with alpha 255 so the viewer can put it into ImageData as is.
 */
export function encodeUpdate(
  frame: DisplayFrame,
  rects: readonly DirtyRect[],
  sequence: number,
): Uint8Array {
  const clipped = rects
    .map((r) => {
      const x = Math.max(0, Math.min(frame.width, r.x));
      const y = Math.max(0, Math.min(frame.height, r.y));
      return {
        x,
        y,
        w: Math.max(0, Math.min(frame.width - x, r.w)),
        h: Math.max(0, Math.min(frame.height - y, r.h)),
      };
    })
    .filter((r) => r.w > 0 && r.h > 0);
  let bytes = UPDATE_HEADER_BYTES;
  for (const r of clipped) bytes += RECT_HEADER_BYTES + r.w * r.h * 4;
  // Whole 4-byte words for the pixel views below: every field before the pixels is even-sized
  // and the rect header is 8 bytes, so pixels start 4-aligned when the buffer does.
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, bytes - 4, true);
  view.setUint8(4, UPDATE_KIND);
  view.setUint8(5, MODE_CODES[frame.mode]);
  view.setUint16(6, frame.width, true);
  view.setUint16(8, frame.height, true);
  view.setUint16(10, clipped.length, true);
  view.setUint32(12, sequence >>> 0, true);
  // Int32 views keep every value a small integer for the JIT (Uint32 values above 2^31 would be
  // doubles): about 8x faster than the same loop on Uint32Array.
  const source = new Int32Array(
    frame.pixels.buffer,
    frame.pixels.byteOffset,
    frame.pixels.byteLength >>> 2,
  );
  const strideWords = frame.stride >>> 2;
  let at = UPDATE_HEADER_BYTES;
  for (const r of clipped) {
    view.setUint16(at, r.x, true);
    view.setUint16(at + 2, r.y, true);
    view.setUint16(at + 4, r.w, true);
    view.setUint16(at + 6, r.h, true);
    at += RECT_HEADER_BYTES;
    const target = new Int32Array(out.buffer, at, r.w * r.h);
    let t = 0;
    for (let row = 0; row < r.h; row++) {
      let s = (r.y + row) * strideWords + r.x;
      const end = s + r.w;
      for (; s < end; s++) {
        // bgrx in memory is the word 0xXXRRGGBB; RGBA in memory is 0xAABBGGRR.
        const v = source[s]!;
        target[t++] = OPAQUE | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff);
      }
    }
    at += r.w * r.h * 4;
  }
  return out;
}

export interface DecodedUpdate {
  mode: number;
  width: number;
  height: number;
  sequence: number;
  rects: { x: number; y: number; w: number; h: number; rgba: Uint8Array }[];
}

/**
 * Reads one update (without its length word) as the viewer does; throws on anything malformed
 * (a rectangle outside the surface, lengths that do not add up). Used by the relay and tests.
 */
export function decodeUpdate(body: Uint8Array): DecodedUpdate {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < UPDATE_HEADER_BYTES - 4) throw new Error('display update: too short');
  if (view.getUint8(0) !== UPDATE_KIND) throw new Error('display update: unknown kind');
  const width = view.getUint16(2, true);
  const height = view.getUint16(4, true);
  const count = view.getUint16(6, true);
  const sequence = view.getUint32(8, true);
  const rects: DecodedUpdate['rects'] = [];
  let at = UPDATE_HEADER_BYTES - 4;
  for (let i = 0; i < count; i++) {
    if (at + RECT_HEADER_BYTES > body.length) throw new Error('display update: truncated');
    const x = view.getUint16(at, true);
    const y = view.getUint16(at + 2, true);
    const w = view.getUint16(at + 4, true);
    const h = view.getUint16(at + 6, true);
    at += RECT_HEADER_BYTES;
    if (x + w > width || y + h > height) throw new Error('display update: rectangle off screen');
    const n = w * h * 4;
    if (at + n > body.length) throw new Error('display update: truncated');
    rects.push({ x, y, w, h, rgba: body.subarray(at, at + n) });
    at += n;
  }
  if (at !== body.length) throw new Error('display update: trailing bytes');
  return { mode: view.getUint8(1), width, height, sequence, rects };
}

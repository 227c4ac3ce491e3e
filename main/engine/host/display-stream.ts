/**
 * The guest's screen streamed to viewers (the console window), the way VNC's framebuffer
 * updates work (RFC 6143 §7.5.3 FramebufferUpdateRequest / §7.6.1 FramebufferUpdate): a viewer
 * *asks* for the next update when it has painted the last one, and gets the rectangles that
 * changed since its previous update. A viewer that falls behind therefore gets fewer, larger
 * updates; frames are dropped, never queued.
 *
 * One {@link DisplayHub} per VM renders the display source at most once per tick (60 Hz) while
 * any viewer waits, and adds each frame's dirty rectangles to every viewer's pending region, so
 * viewers (and `vireo screenshot`) never steal each other's changes. A change of the pointer
 * flag alone is sent as an update without rectangles.
 *
 * Wire format of one update (little-endian), built by {@link encodeUpdate} (every rectangle
 * raw) or {@link encodeUpdateCompressed} (large rectangles deflated, what viewers get):
 *
 *     u32 length of what follows
 *     u8  kind (1 = update)      u8 mode: bits 0-6 0 text, 1 graphics, 2 vbe; bit 7 set
 *                                 while the guest drives the absolute pointer (the tablet)
 *     u16 width   u16 height     u16 rectangle count   u32 sequence number
 *     per rectangle: u16 x, y, w, h   u16 encoding   u16 0   u32 payload bytes   payload
 *       encoding 0 (raw):     the w*h*4 bytes RGBA (what canvas ImageData takes)
 *       encoding 1 (deflate): those bytes as a raw DEFLATE stream (RFC 1951, no zlib header;
 *                             what DecompressionStream('deflate-raw') reads), as VNC's zlib
 *                             encodings compress pixels (RFC 6143 §7.7.6 ZRLE uses zlib too)
 *
 * Why deflate: moving raw pixels from Node to a page costs ~10 MB/s of CPU on a small host
 * (docs/console.md, figures), so a full 1920x1080 change (8 MB) takes the best part of a
 * second. Screens are mostly flat colour and repeated glyphs, and level 1 deflate shrinks them
 * 10-100x in libuv's thread pool, off the device thread. Rectangles under
 * {@link DEFLATE_MIN_BYTES} go raw (a cursor blink is not worth a round trip through the pool).
 *
 * Runtime: engine (VM host process, device thread).
 */
import { deflateRaw, inflateRawSync, constants as zlibConstants } from 'node:zlib';
import type { DirtyRect, DisplayFrame, DisplayMode, DisplaySource } from '../display/surface.js';

export const UPDATE_KIND = 1;
export const UPDATE_HEADER_BYTES = 4 + 12;
export const RECT_HEADER_BYTES = 16;
export const RECT_ENCODING_RAW = 0;
export const RECT_ENCODING_DEFLATE = 1;
/** Rectangles smaller than this (raw RGBA bytes) are sent raw: 64x64 pixels. */
export const DEFLATE_MIN_BYTES = 64 * 64 * 4;
/**
 * Larger rectangles are cut into bands of at most this many pixels before deflating, so the
 * pool's threads compress one full-screen change in parallel (and the viewer inflates it so).
 */
export const DEFLATE_BAND_PIXELS = 128 * 1024;
/** A band that deflates to more than this share of its size makes the hub send raw a while. */
export const DEFLATE_USEFUL_RATIO = 0.7;
export const DEFLATE_RETRY_UPDATES = 30;
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
/** The mode byte's flag: the guest takes absolute pointer events (a console need not capture). */
export const MODE_FLAG_ABSOLUTE_POINTER = 0x80;

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
  /** The pointer flag the viewer last got (null before its first update). */
  absolutePointer: boolean | null;
}

export interface DisplayHubOptions {
  /** {@link DISPLAY_MAX_SHARE_FACTOR} unless given; 0: no pacing. */
  maxShareFactor?: number;
  /** Whether the guest takes absolute pointer events now (the machine's tablet is active). */
  absolutePointer?: () => boolean;
  /**
   * Deflate large rectangles ({@link encodeUpdateCompressed}); on unless false. Off, every
   * update is built and sent synchronously in the tick (tests that count updates use that).
   */
  compression?: boolean;
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

  private readonly maxShareFactor: number;
  private readonly absolutePointer: () => boolean;
  private readonly compression: boolean;
  /**
   * Updates still to send raw because deflate did not pay the last time (noise, video): the
   * pool's CPU is the guest's too. Deflate is tried again after {@link DEFLATE_RETRY_UPDATES}.
   */
  private deflateSkips = 0;
  /** Called with each deflated band's sizes: a screen that does not shrink stops deflating. */
  private readonly noteDeflate = (raw: number, deflated: number): void => {
    if (deflated > raw * DEFLATE_USEFUL_RATIO) this.deflateSkips = DEFLATE_RETRY_UPDATES;
  };

  /** `source()` is the current machine's display (it changes across guest resets) or null. */
  constructor(
    private readonly source: () => DisplaySource | null,
    options: DisplayHubOptions = {},
  ) {
    this.maxShareFactor = options.maxShareFactor ?? DISPLAY_MAX_SHARE_FACTOR;
    this.absolutePointer = options.absolutePointer ?? (() => false);
    this.compression = options.compression ?? true;
  }

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
    this.viewers.set(viewer, {
      pending: [],
      width: -1,
      height: -1,
      waiting: false,
      sequence: 0,
      absolutePointer: null,
    });
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
    const absolutePointer = this.absolutePointer();
    for (const [viewer, state] of this.viewers) {
      if (!state.waiting) continue;
      const resized = state.width !== frame.width || state.height !== frame.height;
      if (resized) state.pending = [{ x: 0, y: 0, w: frame.width, h: frame.height }];
      if (state.pending.length === 0 && state.absolutePointer === absolutePointer) continue;
      state.waiting = false;
      state.width = frame.width;
      state.height = frame.height;
      state.absolutePointer = absolutePointer;
      const rects = state.pending;
      state.pending = [];
      const sequence = ++state.sequence;
      if (!this.compression) viewer.send(encodeUpdate(frame, rects, sequence, absolutePointer));
      else
        // The pixels are copied out now (the frame changes in place); only the deflating waits
        // for the pool. The viewer asks for nothing more until this one is painted, so updates
        // cannot overtake each other.
        void encodeUpdateCompressed(
          frame,
          rects,
          sequence,
          absolutePointer,
          this.deflateSkips === 0,
          this.noteDeflate,
        ).then((update) => {
          if (this.viewers.has(viewer)) viewer.send(update);
        });
      if (this.deflateSkips > 0) this.deflateSkips--;
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
  for (const rect of frame.dirty) {
    // A viewer that waited through several frames of the same change (a video, a redraw)
    // would otherwise get the same pixels once per frame: keep only rectangles no other covers.
    if (state.pending.some((p) => contains(p, rect))) continue;
    state.pending = state.pending.filter((p) => !contains(rect, p));
    state.pending.push(rect);
  }
  if (state.pending.length > MAX_PENDING_RECTS) state.pending = [boundingBox(state.pending)];
}

function contains(outer: DirtyRect, inner: DirtyRect): boolean {
  return (
    outer.x <= inner.x &&
    outer.y <= inner.y &&
    outer.x + outer.w >= inner.x + inner.w &&
    outer.y + outer.h >= inner.y + inner.h
  );
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

/** One rectangle of an update: where, and its pixels as RGBA (raw) or deflated RGBA. */
interface EncodedRect extends DirtyRect {
  encoding: number;
  payload: Uint8Array;
}

/** `rects` clipped to the frame, empty ones left out. */
function clipRects(frame: DisplayFrame, rects: readonly DirtyRect[]): DirtyRect[] {
  return rects
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
}

/**
 * The rectangle's pixels converted from the renderer's bgrx8888 to RGBA with alpha 255, so the
 * viewer can put them into ImageData as they are.
 */
function rgbaOf(frame: DisplayFrame, r: DirtyRect): Uint8Array {
  const out = new Uint8Array(r.w * r.h * 4);
  // Int32 views keep every value a small integer for the JIT (Uint32 values above 2^31 would be
  // doubles): about 8x faster than the same loop on Uint32Array.
  const source = new Int32Array(
    frame.pixels.buffer,
    frame.pixels.byteOffset,
    frame.pixels.byteLength >>> 2,
  );
  const target = new Int32Array(out.buffer);
  const strideWords = frame.stride >>> 2;
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
  return out;
}

/** The wire bytes of one update (see the format at the top of this file). */
function assembleUpdate(
  frame: DisplayFrame,
  rects: readonly EncodedRect[],
  sequence: number,
  absolutePointer: boolean,
): Uint8Array {
  let bytes = UPDATE_HEADER_BYTES;
  for (const r of rects) bytes += RECT_HEADER_BYTES + r.payload.length;
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, bytes - 4, true);
  view.setUint8(4, UPDATE_KIND);
  view.setUint8(5, MODE_CODES[frame.mode] | (absolutePointer ? MODE_FLAG_ABSOLUTE_POINTER : 0));
  view.setUint16(6, frame.width, true);
  view.setUint16(8, frame.height, true);
  view.setUint16(10, rects.length, true);
  view.setUint32(12, sequence >>> 0, true);
  let at = UPDATE_HEADER_BYTES;
  for (const r of rects) {
    view.setUint16(at, r.x, true);
    view.setUint16(at + 2, r.y, true);
    view.setUint16(at + 4, r.w, true);
    view.setUint16(at + 6, r.h, true);
    view.setUint16(at + 8, r.encoding, true);
    view.setUint32(at + 12, r.payload.length, true);
    out.set(r.payload, at + RECT_HEADER_BYTES);
    at += RECT_HEADER_BYTES + r.payload.length;
  }
  return out;
}

/** One update with the given rectangles of `frame` (clipped to it), every one raw RGBA. */
export function encodeUpdate(
  frame: DisplayFrame,
  rects: readonly DirtyRect[],
  sequence: number,
  absolutePointer = false,
): Uint8Array {
  const encoded = clipRects(frame, rects).map((r) => ({
    ...r,
    encoding: RECT_ENCODING_RAW,
    payload: rgbaOf(frame, r),
  }));
  return assembleUpdate(frame, encoded, sequence, absolutePointer);
}

/** Rectangles of more than {@link DEFLATE_BAND_PIXELS} cut into horizontal bands. */
function bands(rects: readonly DirtyRect[]): DirtyRect[] {
  const out: DirtyRect[] = [];
  for (const r of rects) {
    const rows = Math.max(1, Math.floor(DEFLATE_BAND_PIXELS / r.w));
    for (let y = r.y; y < r.y + r.h; y += rows)
      out.push({ x: r.x, y, w: r.w, h: Math.min(rows, r.y + r.h - y) });
  }
  return out;
}

function deflateAsync(bytes: Uint8Array): Promise<Uint8Array | null> {
  return new Promise((resolve) =>
    // Level 1: the screen is sent once and must arrive within a frame or two; higher levels
    // cost several times the CPU for a few per cent less.
    deflateRaw(bytes, { level: zlibConstants.Z_BEST_SPEED }, (error, result) =>
      resolve(error ? null : result),
    ),
  );
}

/**
 * The update a viewer gets: as {@link encodeUpdate}, but rectangles of at least
 * {@link DEFLATE_MIN_BYTES} are deflated (in bands, in the thread pool). The pixels are copied
 * out of `frame` before this returns its promise, so the frame may change meanwhile. A
 * rectangle that does not shrink (noise, a photo) goes raw, so the viewer never inflates for
 * nothing.
 */
export async function encodeUpdateCompressed(
  frame: DisplayFrame,
  rects: readonly DirtyRect[],
  sequence: number,
  absolutePointer = false,
  /** False: every rectangle raw (the hub's choice while deflate does not pay). */
  deflate = true,
  /** Told each deflated band's raw and deflated sizes. */
  onDeflated: (raw: number, deflated: number) => void = () => {},
): Promise<Uint8Array> {
  const raw = bands(clipRects(frame, rects)).map((r) => ({ ...r, rgba: rgbaOf(frame, r) }));
  const encoded = await Promise.all(
    raw.map(async ({ rgba, ...r }): Promise<EncodedRect> => {
      if (deflate && rgba.length >= DEFLATE_MIN_BYTES) {
        const deflated = await deflateAsync(rgba);
        if (deflated) onDeflated(rgba.length, deflated.length);
        if (deflated && deflated.length < rgba.length)
          return { ...r, encoding: RECT_ENCODING_DEFLATE, payload: deflated };
      }
      return { ...r, encoding: RECT_ENCODING_RAW, payload: rgba };
    }),
  );
  return assembleUpdate(frame, encoded, sequence, absolutePointer);
}

export interface DecodedUpdate {
  mode: number;
  /** The guest takes absolute pointer events. */
  absolutePointer: boolean;
  width: number;
  height: number;
  sequence: number;
  /** Each rectangle's pixels as RGBA (inflated when it came deflated). */
  rects: { x: number; y: number; w: number; h: number; encoding: number; rgba: Uint8Array }[];
}

/**
 * Reads one update (without its length word) as the viewer does; throws on anything malformed
 * (a rectangle outside the surface, lengths that do not add up, a deflated rectangle that does
 * not inflate to exactly its size). Used by tests and benchmarks.
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
    const encoding = view.getUint16(at + 8, true);
    const n = view.getUint32(at + 12, true);
    at += RECT_HEADER_BYTES;
    if (x + w > width || y + h > height) throw new Error('display update: rectangle off screen');
    if (at + n > body.length) throw new Error('display update: truncated');
    const payload = body.subarray(at, at + n);
    at += n;
    const size = w * h * 4;
    let rgba: Uint8Array;
    if (encoding === RECT_ENCODING_RAW) rgba = payload;
    else if (encoding === RECT_ENCODING_DEFLATE) {
      try {
        // Never more than the rectangle holds: a stream that inflates further is refused.
        rgba = inflateRawSync(payload, { maxOutputLength: Math.max(1, size) });
      } catch {
        throw new Error('display update: a rectangle does not inflate to its size');
      }
    } else throw new Error('display update: unknown rectangle encoding');
    if (rgba.length !== size) throw new Error('display update: a rectangle has the wrong size');
    rects.push({ x, y, w, h, encoding, rgba });
  }
  if (at !== body.length) throw new Error('display update: trailing bytes');
  const mode = view.getUint8(1);
  return {
    mode: mode & ~MODE_FLAG_ABSOLUTE_POINTER,
    absolutePointer: (mode & MODE_FLAG_ABSOLUTE_POINTER) !== 0,
    width,
    height,
    sequence,
    rects,
  };
}

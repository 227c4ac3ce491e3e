/**
 * Reading the VM host's screen updates (the format is documented in
 * main/engine/host/display-stream.ts and docs/console.md): rectangles of RGBA, raw or deflated.
 * Kept apart from the console's DOM code so it runs, and is tested, anywhere with
 * DecompressionStream (Chromium, Electron, Node).
 */

const UPDATE_KIND = 1;
/** The mode byte's bit for "the guest takes absolute pointer events" (display-stream.ts). */
const MODE_FLAG_ABSOLUTE_POINTER = 0x80;
const HEADER = 12;
const RECT_HEADER = 16;
/** Rectangle encodings (main/engine/host/display-stream.ts): RGBA as is, or raw DEFLATE of it. */
const RECT_ENCODING_RAW = 0;
const RECT_ENCODING_DEFLATE = 1;

export interface ScreenUpdateHeader {
  width: number;
  height: number;
  mode: number;
  absolutePointer: boolean;
  sequence: number;
}

export interface ScreenUpdate extends ScreenUpdateHeader {
  /** Each rectangle's pixels as RGBA, ready for ImageData. */
  rects: { x: number; y: number; w: number; h: number; rgba: Uint8ClampedArray<ArrayBuffer> }[];
}

/**
 * A deflated rectangle's RGBA (the browser's own zlib, DecompressionStream 'deflate-raw'),
 * never more than `size` bytes: a stream that inflates further, or less, is refused.
 */
export async function inflateRect(
  payload: Uint8Array<ArrayBuffer>,
  size: number,
): Promise<Uint8ClampedArray<ArrayBuffer>> {
  const out = new Uint8ClampedArray(size);
  const input = new ReadableStream<ArrayBufferView<ArrayBuffer> | ArrayBuffer>({
    start(controller) {
      controller.enqueue(payload);
      controller.close();
    },
  });
  const reader = input.pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  let at = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.length > size) throw new Error('a screen rectangle inflates past its size');
      out.set(value, at);
      at += value.length;
    }
  } catch (e) {
    void reader.cancel().catch(() => {});
    throw e instanceof Error && e.message.startsWith('a screen rectangle')
      ? e
      : new Error('a screen rectangle does not inflate');
  }
  if (at !== size) throw new Error('a screen rectangle inflates short of its size');
  return out;
}

/**
 * Reads one update (the VM host's encoding without its length word): checks every rectangle
 * against the surface and the message before inflating anything, then inflates the deflated
 * ones in parallel. Throws on a malformed update.
 */
export async function decodeScreenUpdate(buffer: ArrayBuffer): Promise<ScreenUpdate> {
  const view = new DataView(buffer);
  if (buffer.byteLength < HEADER || view.getUint8(0) !== UPDATE_KIND)
    throw new Error('malformed screen update');
  const modeByte = view.getUint8(1);
  const width = view.getUint16(2, true);
  const height = view.getUint16(4, true);
  const count = view.getUint16(6, true);
  const sequence = view.getUint32(8, true);
  const parts: {
    x: number;
    y: number;
    w: number;
    h: number;
    encoding: number;
    at: number;
    n: number;
  }[] = [];
  let at = HEADER;
  for (let i = 0; i < count; i++) {
    if (at + RECT_HEADER > buffer.byteLength) throw new Error('truncated screen update');
    const x = view.getUint16(at, true);
    const y = view.getUint16(at + 2, true);
    const w = view.getUint16(at + 4, true);
    const h = view.getUint16(at + 6, true);
    const encoding = view.getUint16(at + 8, true);
    const n = view.getUint32(at + 12, true);
    at += RECT_HEADER;
    if (x + w > width || y + h > height || w === 0 || h === 0 || at + n > buffer.byteLength)
      throw new Error('malformed screen update');
    if (encoding === RECT_ENCODING_RAW ? n !== w * h * 4 : encoding !== RECT_ENCODING_DEFLATE)
      throw new Error('malformed screen update');
    parts.push({ x, y, w, h, encoding, at, n });
    at += n;
  }
  if (at !== buffer.byteLength) throw new Error('malformed screen update');
  const rects = await Promise.all(
    parts.map(async ({ x, y, w, h, encoding, at: from, n }) => ({
      x,
      y,
      w,
      h,
      rgba:
        encoding === RECT_ENCODING_RAW
          ? new Uint8ClampedArray(buffer, from, n)
          : await inflateRect(new Uint8Array(buffer, from, n), w * h * 4),
    })),
  );
  return {
    width,
    height,
    mode: modeByte & ~MODE_FLAG_ABSOLUTE_POINTER,
    absolutePointer: (modeByte & MODE_FLAG_ABSOLUTE_POINTER) !== 0,
    sequence,
    rects,
  };
}

/**
 * The console's side of the screen stream (renderer/src/features/console/screen-update.ts):
 * updates the real encoder builds (main/engine/host/display-stream.ts), deflated rectangles
 * included, decode to the guest's pixels with the platform's DecompressionStream (Node's here,
 * Chromium's in the console); hostile updates are refused before anything is painted.
 */
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { DisplayFrame } from '../../main/engine/display/surface';
import { encodeUpdate, encodeUpdateCompressed } from '../../main/engine/host/display-stream';
import { decodeScreenUpdate } from '../../renderer/src/features/console/screen-update';

const W = 640;
const H = 480;

/** A bgrx8888 frame like a text console: a flat field with strokes in two colours. */
function frame(): DisplayFrame {
  const pixels = new Uint8Array(W * H * 4);
  const words = new Uint32Array(pixels.buffer);
  words.fill(0x00101828);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      if (y % 16 < 12 && (x * 5 + (y >> 4) * 11) % 8 < 3)
        words[y * W + x] = x < W / 2 ? 0x00e0e0e0 : 0x0040ff40;
  return { width: W, height: H, stride: W * 4, format: 'bgrx8888', pixels, dirty: [], mode: 'vbe' };
}

/** Byte-equal, whatever the typed-array kind. */
const same = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  ) === 0;

/** The message as the console receives it: an ArrayBuffer of the update without its length. */
const received = (u: Uint8Array): ArrayBuffer => u.slice(4).buffer;

describe('decodeScreenUpdate', () => {
  it('paints the same pixels from a deflated update as from a raw one', async () => {
    const f = frame();
    const rects = [
      { x: 0, y: 0, w: W, h: H },
      { x: 10, y: 20, w: 30, h: 8 },
    ];
    const compressed = await encodeUpdateCompressed(f, rects, 7, true);
    const raw = encodeUpdate(f, rects, 7, true);
    expect(compressed.length).toBeLessThan(raw.length / 10);
    const a = await decodeScreenUpdate(received(compressed));
    const b = await decodeScreenUpdate(received(raw));
    expect(a).toMatchObject({ width: W, height: H, mode: 2, absolutePointer: true, sequence: 7 });
    // The raw update has the whole screen as one rectangle; the deflated one has it in bands.
    const whole = b.rects[0]!.rgba;
    let y = 0;
    for (const r of a.rects.slice(0, -1)) {
      expect(r).toMatchObject({ x: 0, y, w: W });
      expect(same(r.rgba, whole.subarray(y * W * 4, (y + r.h) * W * 4))).toBe(true);
      y += r.h;
    }
    expect(y).toBe(H);
    expect(same(a.rects.at(-1)!.rgba, b.rects[1]!.rgba)).toBe(true);
    // bgrx 0x00101828 is R 0x10, G 0x18, B 0x28; RGBA with alpha 255.
    expect([...whole.subarray(3 * 4, 4 * 4)]).toEqual([0x10, 0x18, 0x28, 0xff]); // pixel (3, 0)
  });

  it('refuses hostile updates: bombs, short streams, garbage, bad lengths and encodings', async () => {
    const one = (w: number, h: number, encoding: number, payload: Uint8Array): ArrayBuffer => {
      const out = new Uint8Array(12 + 16 + payload.length);
      const v = new DataView(out.buffer);
      v.setUint8(0, 1);
      v.setUint8(1, 2);
      v.setUint16(2, W, true);
      v.setUint16(4, H, true);
      v.setUint16(6, 1, true);
      v.setUint16(16, w, true);
      v.setUint16(18, h, true);
      v.setUint16(20, encoding, true);
      v.setUint32(24, payload.length, true);
      out.set(payload, 28);
      return out.buffer;
    };
    const pixels = new Uint8Array(64 * 64 * 4).fill(9);
    const ok = await decodeScreenUpdate(one(64, 64, 1, deflateRawSync(pixels)));
    expect([...ok.rects[0]!.rgba.subarray(0, 8)]).toEqual([9, 9, 9, 9, 9, 9, 9, 9]);
    const refused = (b: ArrayBuffer) => expect(decodeScreenUpdate(b)).rejects.toThrow();
    // 64 MiB of zeros claimed as a 64x64 rectangle: stops at the rectangle's 16 KiB.
    await expect(
      decodeScreenUpdate(one(64, 64, 1, deflateRawSync(new Uint8Array(64 << 20)))),
    ).rejects.toThrow(/past its size/);
    await expect(decodeScreenUpdate(one(64, 65, 1, deflateRawSync(pixels)))).rejects.toThrow(
      /short of its size/,
    );
    await expect(decodeScreenUpdate(one(64, 64, 1, Uint8Array.of(0xff, 1, 2)))).rejects.toThrow(
      /does not inflate/,
    );
    await refused(one(64, 64, 0, pixels.subarray(1))); // raw of the wrong length
    await refused(one(64, 64, 5, pixels)); // unknown encoding
    await refused(one(W + 1, 1, 0, new Uint8Array((W + 1) * 4))); // off the surface
    await refused(one(64, 64, 1, deflateRawSync(pixels)).slice(0, 40)); // truncated
    await refused(new Uint8Array([...new Uint8Array(one(1, 1, 0, new Uint8Array(4))), 0]).buffer); // trailing
  });
});

/**
 * PNG encoder for screenshots (`vireo screenshot`): 8-bit RGB, no interlace, filter type 0
 * ("None") on every row, one IDAT chunk compressed by zlib (W3C PNG Specification, 2nd ed.:
 * 5.2 signature, 5.3 chunk layout, 11.2.2 IHDR, 11.2.4 IDAT, 11.2.5 IEND; CRC-32 of 5.5 /
 * Annex D). Filter 0 keeps the encoder a single pass; zlib still compresses flat screens well.
 *
 * Runtime: engine / CLI (Node: uses node:zlib).
 */
import { deflateSync } from 'node:zlib';
import type { DisplayFrame } from './surface.js';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** CRC-32 table for the polynomial 0xEDB88320 (PNG spec Annex D). */
const CRC_TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c >>> 0;
}

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  // The CRC covers the type and the data, not the length (spec 5.3).
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encode `width` x `height` pixels of bgrx8888 (`stride` bytes per row) as an RGB PNG.
 * Throws RangeError when the buffer is too small for the stated geometry.
 */
export function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  stride: number = width * 4,
): Uint8Array {
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width <= 0 ||
    height <= 0 ||
    stride < width * 4 ||
    pixels.length < stride * (height - 1) + width * 4
  ) {
    throw new RangeError(
      `png: ${width}x${height} (stride ${stride}) does not fit ${pixels.length} bytes`,
    );
  }
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type 2: truecolour RGB
  header[10] = 0; // deflate
  header[11] = 0; // adaptive filtering (each row starts with its filter type byte)
  header[12] = 0; // no interlace

  const rowBytes = 1 + width * 3;
  const raw = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    let o = y * rowBytes + 1; // raw[y * rowBytes] = 0: filter None
    let s = y * stride;
    for (let x = 0; x < width; x++, s += 4) {
      raw[o++] = pixels[s + 2]!;
      raw[o++] = pixels[s + 1]!;
      raw[o++] = pixels[s]!;
    }
  }
  const parts = [
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A frame from a display producer as PNG. */
export function encodeFramePng(frame: DisplayFrame): Uint8Array {
  return encodePng(frame.pixels, frame.width, frame.height, frame.stride);
}

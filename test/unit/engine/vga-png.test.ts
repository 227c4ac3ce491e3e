/**
 * PNG encoder (`main/engine/display/png.ts`): encode a VGA frame, then decode it back with a
 * minimal reader here (chunk walk, CRC check against node:zlib's crc32, inflate, filter 0) and
 * compare every pixel. When python3 is present its zlib checks the same file independently.
 */
import { spawnSync } from 'node:child_process';
import { crc32 as zlibCrc32, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { StdVga } from '../../../main/engine/devices/vga/index.js';
import { crc32, encodeFramePng, encodePng } from '../../../main/engine/display/png.js';
import { VgaRenderer } from '../../../main/engine/display/vga-renderer.js';

interface DecodedPng {
  width: number;
  height: number;
  rgb: Uint8Array;
}

function decodePng(png: Uint8Array): DecodedPng {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  const types: string[] = [];
  while (at < png.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    const crc = view.getUint32(at + 8 + length);
    expect(crc).toBe(zlibCrc32(png.subarray(at + 4, at + 8 + length)));
    types.push(type);
    if (type === 'IHDR') {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      expect(Array.from(data.subarray(8))).toEqual([8, 2, 0, 0, 0]);
    }
    if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  expect(types[0]).toBe('IHDR');
  expect(types.at(-1)).toBe('IEND');
  const raw = inflateSync(Buffer.concat(idat));
  const rowBytes = 1 + width * 3;
  expect(raw.length).toBe(rowBytes * height);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * rowBytes]).toBe(0); // filter type None
    rgb.set(raw.subarray(y * rowBytes + 1, (y + 1) * rowBytes), y * width * 3);
  }
  return { width, height, rgb };
}

describe('png', () => {
  it('crc32 matches zlib', () => {
    const bytes = new TextEncoder().encode('IEND');
    expect(crc32(bytes)).toBe(0xae426082);
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
  });

  it('round-trips a rendered VBE frame pixel for pixel', () => {
    const vga = new StdVga({ romPath: null, vramSize: 1024 * 1024 });
    const write = (index: number, value: number) => {
      vga.dispiPorts.write(0, Uint8Array.of(index, 0));
      vga.dispiPorts.write(1, Uint8Array.of(value & 0xff, value >> 8));
    };
    write(1, 96);
    write(2, 40);
    write(3, 32);
    write(4, 0x41);
    for (let i = 0; i < 96 * 40; i++) {
      vga.vram.bytes.set([(i * 7) & 0xff, (i * 3) & 0xff, (i >> 4) & 0xff, 0], i * 4);
    }
    vga.markDirty(0, 96 * 40 * 4);
    const frame = new VgaRenderer(vga).renderFrame();
    const png = encodeFramePng(frame);
    const decoded = decodePng(png);
    expect([decoded.width, decoded.height]).toEqual([96, 40]);
    for (let i = 0; i < 96 * 40; i++) {
      expect([decoded.rgb[i * 3], decoded.rgb[i * 3 + 1], decoded.rgb[i * 3 + 2]]).toEqual([
        (i >> 4) & 0xff,
        (i * 3) & 0xff,
        (i * 7) & 0xff,
      ]);
    }
    const python = spawnSync(
      'python3',
      [
        '-c',
        'import sys,zlib,struct\n' +
          'd=sys.stdin.buffer.read();p=8;idat=b""\n' +
          'while p<len(d):\n' +
          ' n,=struct.unpack(">I",d[p:p+4]);t=d[p+4:p+8]\n' +
          ' assert zlib.crc32(d[p+4:p+8+n])==struct.unpack(">I",d[p+8+n:p+12+n])[0]\n' +
          ' idat+=d[p+8:p+8+n] if t==b"IDAT" else b"";p+=12+n\n' +
          'print(len(zlib.decompress(idat)))',
      ],
      { input: png },
    );
    if (python.error === undefined) {
      expect(python.stdout.toString().trim()).toBe(String(40 * (1 + 96 * 3)));
    }
  });

  it('honours the stride and refuses a buffer too small for the geometry', () => {
    const pixels = new Uint8Array(2 * 12);
    pixels.set([1, 2, 3, 0xff, 4, 5, 6, 0xff], 12); // row 1 starts at byte 12
    const decoded = decodePng(encodePng(pixels, 2, 2, 12));
    expect(Array.from(decoded.rgb.subarray(6))).toEqual([3, 2, 1, 6, 5, 4]);
    expect(() => encodePng(new Uint8Array(10), 2, 2)).toThrow(RangeError);
    expect(() => encodePng(new Uint8Array(0), 0, 0)).toThrow(RangeError);
  });
});

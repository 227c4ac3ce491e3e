/**
 * ScatterList: a guest's buffers seen as one range, cut under each run of clusters the qcow2
 * reader reads with one preadv.
 */
import { describe, expect, it } from 'vitest';
import { ScatterList } from '../../../main/engine/storage/scatter.js';

describe('ScatterList', () => {
  const backing = new Uint8Array(64);
  // Pieces of 10, 0, 7, 20 and 3 bytes, not in memory order.
  const views = [
    backing.subarray(40, 50),
    backing.subarray(0, 0),
    backing.subarray(0, 7),
    backing.subarray(10, 30),
    backing.subarray(60, 63),
  ];
  const list = new ScatterList(views);

  it('measures the range and cuts it at any byte', () => {
    expect(list.length).toBe(40);
    expect(list.slice(0, 40).map((v) => v.length)).toEqual([10, 7, 20, 3]);
    expect(list.slice(8, 4).map((v) => [v.byteOffset, v.length])).toEqual([
      [48, 2],
      [0, 2],
    ]);
    expect(list.slice(17, 20).map((v) => [v.byteOffset, v.length])).toEqual([[10, 20]]);
    expect(list.slice(39, 1).map((v) => [v.byteOffset, v.length])).toEqual([[62, 1]]);
    expect(list.slice(12, 0)).toEqual([]);
  });

  it('copies and zeroes across piece boundaries', () => {
    backing.fill(0xee);
    list.set(
      Uint8Array.from({ length: 40 }, (_, i) => i + 1),
      0,
    );
    const flat = Array.from(list.slice(0, 40).flatMap((v) => [...v]));
    expect(flat).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    list.fillZero(5, 15);
    const after = Array.from(list.slice(0, 40).flatMap((v) => [...v]));
    expect(after).toEqual(Array.from({ length: 40 }, (_, i) => (i >= 5 && i < 20 ? 0 : i + 1)));
    // Bytes outside the pieces are never touched.
    expect(backing[7]).toBe(0xee);
    expect(backing[55]).toBe(0xee);
  });
});

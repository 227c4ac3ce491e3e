import type { IrqLine } from '../../../main/engine/bus.js';

/** An IrqLine that remembers its level and counts rising edges (what an ISA PIC latches). */
export class IrqRecorder implements IrqLine {
  level = false;
  risingEdges = 0;
  set(level: boolean): void {
    if (level && !this.level) this.risingEdges++;
    this.level = level;
  }
}

export const byte = (v: number): Uint8Array => Uint8Array.of(v);

/** Read `width` bytes at `offset` from a bus device, pre-filled with 0xff as the Bus does. */
export function readPort(
  device: { read(offset: number, data: Uint8Array): void },
  offset: number,
  width = 1,
): number {
  const data = new Uint8Array(width).fill(0xff);
  device.read(offset, data);
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + data[i]!;
  return v;
}

export function writePort(
  device: { write(offset: number, data: Uint8Array): void },
  offset: number,
  value: number,
  width = 1,
): void {
  const data = new Uint8Array(width);
  for (let i = 0; i < width; i++) data[i] = Math.floor(value / 256 ** i) & 0xff;
  device.write(offset, data);
}

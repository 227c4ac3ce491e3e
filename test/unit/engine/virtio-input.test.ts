/**
 * The virtio tablet (virtio 1.2 §5.8) without KVM: its configuration read the way Linux's
 * virtio_input probes it (select/subsel written through the virtio-pci device window, then size
 * and the union read back), events written into the buffers a driver posts on eventq, events
 * waiting while there are none, a guest that stops reading (the queue collapses into one report
 * to the pointer's state), the status queue, and hostile rings.
 */
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../../main/engine/memory.js';
import {
  ABS_X,
  ABS_Y,
  BTN_LEFT,
  BTN_RIGHT,
  EV_ABS,
  EV_KEY,
  EV_REL,
  EV_SYN,
  EVENTQ,
  MAX_PENDING_EVENTS,
  REL_WHEEL,
  STATUSQ,
  TABLET_ABS_MAX,
  VIRTIO_INPUT_CFG_ABS_INFO,
  VIRTIO_INPUT_CFG_EV_BITS,
  VIRTIO_INPUT_CFG_ID_DEVIDS,
  VIRTIO_INPUT_CFG_ID_NAME,
  VIRTIO_INPUT_CFG_ID_SERIAL,
  VirtioTablet,
  type InputEvent,
} from '../../../main/engine/devices/virtio-input/index.js';
import { DEVICE_OFFSET, VirtioPci } from '../../../main/engine/devices/virtio-pci/index.js';
import { VIRTQ_DESC_F_WRITE } from '../../../main/engine/devices/virtio/queue.js';
import type { VirtqueueLayout } from '../../../main/engine/devices/virtio/queue.js';

const QSIZE = 16;
const MEMORY = 1024 * 1024;

/** A guest driver's side of both queues, as Linux's virtio_input lays them out. */
class TabletDriver {
  readonly memory = GuestMemory.allocate(MEMORY, () => 0);
  readonly layouts: VirtqueueLayout[] = [0, 1].map((q) => ({
    size: QSIZE,
    descTable: 0x1000 + q * 0x1000,
    availRing: 0x3000 + q * 0x1000,
    usedRing: 0x5000 + q * 0x1000,
  }));
  private availIdx = [0, 0];
  private usedSeen = [0, 0];
  private nextDesc = [0, 0];
  interrupts: number[] = [];
  resets: string[] = [];
  readonly tablet = new VirtioTablet({
    memory: this.memory,
    onInterrupt: (q) => this.interrupts.push(q),
    onNeedsReset: (r) => this.resets.push(r),
  });

  /** The buffer address of descriptor `d` of queue `q`. */
  bufferOf(q: number, d: number): number {
    return 0x10000 + q * 0x10000 + d * 0x100;
  }

  /** Posts `n` buffers of `length` bytes on queue `q` (eventq: device-writable). */
  post(q: number, n: number, length = 8, address?: number): void {
    const l = this.layouts[q]!;
    for (let i = 0; i < n; i++) {
      const d = this.nextDesc[q]! % QSIZE;
      this.nextDesc[q]!++;
      const at = l.descTable + 16 * d;
      const v = new DataView(this.memory.bytes.buffer, this.memory.bytes.byteOffset);
      v.setBigUint64(at, BigInt(address ?? this.bufferOf(q, d)), true);
      v.setUint32(at + 8, length, true);
      v.setUint16(at + 12, q === EVENTQ ? VIRTQ_DESC_F_WRITE : 0, true);
      v.setUint16(at + 14, 0, true);
      const slot = this.availIdx[q]! % QSIZE;
      this.memory.writeU16(l.availRing + 4 + 2 * slot, d);
      this.availIdx[q] = (this.availIdx[q]! + 1) & 0xffff;
      this.memory.writeU16(l.availRing + 2, this.availIdx[q]);
    }
  }

  /** Used entries not yet collected: descriptor and bytes written. */
  used(q: number): { id: number; len: number }[] {
    const l = this.layouts[q]!;
    const idx = this.memory.readU16(l.usedRing + 2);
    const out: { id: number; len: number }[] = [];
    while (this.usedSeen[q] !== idx) {
      const slot = this.usedSeen[q]! % QSIZE;
      out.push({
        id: this.memory.readU32(l.usedRing + 4 + 8 * slot),
        len: this.memory.readU32(l.usedRing + 8 + 8 * slot),
      });
      this.usedSeen[q] = (this.usedSeen[q]! + 1) & 0xffff;
    }
    return out;
  }

  /** The events the device wrote since the last call, reposting their buffers as Linux does. */
  events(): InputEvent[] {
    return this.used(EVENTQ).map(({ id, len }) => {
      expect(len).toBe(8);
      const at = this.bufferOf(EVENTQ, id);
      const v = new DataView(this.memory.bytes.buffer, this.memory.bytes.byteOffset + at, 8);
      return { type: v.getUint16(0, true), code: v.getUint16(2, true), value: v.getInt32(4, true) };
    });
  }
}

/** Reads the configuration as virtio_input's virtinput_cfg_select does. */
function config(
  device: { readConfig(o: number, d: Uint8Array): void },
  write: (o: number, v: number) => void,
  select: number,
  subsel: number,
): Uint8Array {
  write(0, select);
  write(1, subsel);
  const size = new Uint8Array(1);
  device.readConfig(2, size);
  const union = new Uint8Array(size[0]!);
  for (let i = 0; i < union.length; i++) {
    const b = new Uint8Array(1);
    device.readConfig(8 + i, b);
    union[i] = b[0]!;
  }
  return union;
}

const syn: InputEvent = { type: EV_SYN, code: 0, value: 0 };

describe('virtio tablet', () => {
  it('describes itself through the virtio-pci device window as Linux probes it', () => {
    const d = new TabletDriver();
    const transport = new VirtioPci({
      device: d.tablet,
      classCode: 0x098000,
      intx: { set: () => {} },
      sendMsi: () => {},
    });
    const bar = transport.barDevice;
    const reader = {
      readConfig: (o: number, data: Uint8Array) => bar.read(DEVICE_OFFSET + o, data),
    };
    const write = (o: number, v: number) => bar.write(DEVICE_OFFSET + o, Uint8Array.of(v));
    expect(transport.config.bytes[2]! | (transport.config.bytes[3]! << 8)).toBe(0x1040 + 18);

    expect(new TextDecoder().decode(config(reader, write, VIRTIO_INPUT_CFG_ID_NAME, 0))).toBe(
      'Vireo Virtio Tablet',
    );
    expect(config(reader, write, VIRTIO_INPUT_CFG_ID_SERIAL, 0)).toHaveLength(0);
    const ids = new DataView(config(reader, write, VIRTIO_INPUT_CFG_ID_DEVIDS, 0).buffer);
    expect(ids.getUint16(0, true)).toBe(0x06); // BUS_VIRTUAL
    // EV_ABS: ABS_X and ABS_Y; EV_KEY: BTN_LEFT, BTN_RIGHT, BTN_MIDDLE (bits 0x110-0x112).
    expect([...config(reader, write, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS)]).toEqual([0x03]);
    const keys = config(reader, write, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY);
    expect(keys).toHaveLength((0x112 >> 3) + 1);
    expect(keys[0x110 >> 3]).toBe(0x07);
    expect([...config(reader, write, VIRTIO_INPUT_CFG_EV_BITS, EV_REL)]).toEqual([0x00, 0x01]);
    expect(config(reader, write, VIRTIO_INPUT_CFG_EV_BITS, 0x05)).toHaveLength(0); // EV_SW
    const abs = new DataView(config(reader, write, VIRTIO_INPUT_CFG_ABS_INFO, ABS_Y).buffer);
    expect(abs.byteLength).toBe(20);
    expect([abs.getUint32(0, true), abs.getUint32(4, true)]).toEqual([0, TABLET_ABS_MAX]);
    expect(config(reader, write, VIRTIO_INPUT_CFG_ABS_INFO, 7)).toHaveLength(0);
    // Bytes past select/subsel are not the driver's to write.
    bar.write(DEVICE_OFFSET + 2, Uint8Array.of(99));
    const size = new Uint8Array(1);
    reader.readConfig(2, size);
    expect(size[0]).toBe(0);
  });

  it('writes each report into the posted buffers, ending with SYN_REPORT', () => {
    const d = new TabletDriver();
    expect(d.tablet.pointerEvent(100, 200, 0)).toBe(false); // no driver yet
    d.tablet.activate(d.layouts);
    d.post(EVENTQ, QSIZE);
    d.tablet.notify(EVENTQ);
    // A new driver is told where the pointer is.
    expect(d.events()).toEqual([
      { type: EV_ABS, code: ABS_X, value: 100 },
      { type: EV_ABS, code: ABS_Y, value: 200 },
      syn,
    ]);
    expect(d.tablet.active).toBe(true);
    d.interrupts = [];

    expect(d.tablet.pointerEvent(100, 300, 1)).toBe(true);
    expect(d.events()).toEqual([
      { type: EV_ABS, code: ABS_Y, value: 300 },
      { type: EV_KEY, code: BTN_LEFT, value: 1 },
      syn,
    ]);
    expect(d.interrupts).toEqual([EVENTQ]);
    d.tablet.pointerEvent(100, 300, 2, -1);
    expect(d.events()).toEqual([
      { type: EV_KEY, code: BTN_LEFT, value: 0 },
      { type: EV_KEY, code: BTN_RIGHT, value: 1 },
      { type: EV_REL, code: REL_WHEEL, value: -1 },
      syn,
    ]);
    // Out-of-range positions are clamped to the axis; nothing new is no report.
    d.tablet.pointerEvent(-50, 1e9, 2);
    expect(d.events()).toEqual([
      { type: EV_ABS, code: ABS_X, value: 0 },
      { type: EV_ABS, code: ABS_Y, value: TABLET_ABS_MAX },
      syn,
    ]);
    d.tablet.pointerEvent(0, TABLET_ABS_MAX, 2);
    expect(d.events()).toEqual([]);
  });

  it('keeps events while the driver has no buffers, and delivers them in order', () => {
    const d = new TabletDriver();
    d.tablet.activate(d.layouts);
    d.tablet.pointerEvent(10, 20, 0);
    d.tablet.pointerEvent(30, 20, 1);
    expect(d.events()).toEqual([]);
    d.post(EVENTQ, 4);
    d.tablet.notify(EVENTQ);
    const first = d.events();
    expect(first).toHaveLength(4);
    d.post(EVENTQ, 8);
    d.tablet.notify(EVENTQ);
    expect([...first, ...d.events()]).toEqual([
      { type: EV_ABS, code: ABS_X, value: 10 },
      { type: EV_ABS, code: ABS_Y, value: 20 },
      syn,
      { type: EV_ABS, code: ABS_X, value: 30 },
      { type: EV_KEY, code: BTN_LEFT, value: 1 },
      syn,
    ]);
  });

  it('collapses the queue of a guest that stopped reading into one report of the state now', () => {
    const d = new TabletDriver();
    d.tablet.activate(d.layouts);
    const reports = 4 * MAX_PENDING_EVENTS;
    for (let i = 0; i < reports; i++) d.tablet.pointerEvent(i, i, i % 2);
    d.tablet.pointerEvent(5000, 6000, 0);
    // The guest reads again: whatever it gets takes it to the pointer's state now.
    const events: InputEvent[] = [];
    for (;;) {
      d.post(EVENTQ, QSIZE);
      d.tablet.notify(EVENTQ);
      const got = d.events();
      if (got.length === 0) break;
      events.push(...got);
    }
    expect(events.length).toBeLessThanOrEqual(MAX_PENDING_EVENTS + 8);
    let x = -1;
    let y = -1;
    let left = 0;
    for (const e of events) {
      if (e.type === EV_ABS && e.code === ABS_X) x = e.value;
      if (e.type === EV_ABS && e.code === ABS_Y) y = e.value;
      if (e.type === EV_KEY && e.code === BTN_LEFT) left = e.value;
    }
    expect({ x, y, left }).toEqual({ x: 5000, y: 6000, left: 0 });
    expect(events.at(-1)).toEqual(syn);
  });

  it('returns status buffers unused and survives hostile rings', () => {
    const d = new TabletDriver();
    d.tablet.activate(d.layouts);
    d.post(STATUSQ, 3);
    d.tablet.notify(STATUSQ);
    expect(d.used(STATUSQ)).toEqual([
      { id: 0, len: 0 },
      { id: 1, len: 0 },
      { id: 2, len: 0 },
    ]);
    // A buffer too short for an event is returned empty; the event goes to the next buffer.
    d.post(EVENTQ, 1, 4);
    d.post(EVENTQ, 8);
    d.tablet.pointerEvent(1, 2, 0);
    const used = d.used(EVENTQ);
    expect(used[0]).toEqual({ id: 0, len: 0 });
    expect(used.slice(1).every((u) => u.len === 8)).toBe(true);
    // A buffer outside guest RAM: DEVICE_NEEDS_RESET, no throw, and the tablet goes inactive.
    const d2 = new TabletDriver();
    d2.tablet.activate(d2.layouts);
    d2.post(EVENTQ, 1, 8, MEMORY + 0x1000);
    expect(() => d2.tablet.pointerEvent(1, 1, 1)).not.toThrow();
    expect(d2.resets[0]).toMatch(/outside guest RAM/);
    expect(d2.tablet.active).toBe(false);
    expect(d2.tablet.pointerEvent(2, 2, 0)).toBe(false);
    // Rings outside RAM at DRIVER_OK: the same.
    const d3 = new TabletDriver();
    d3.tablet.activate([{ ...d3.layouts[0]!, usedRing: MEMORY - 4 }, d3.layouts[1]!]);
    expect(d3.resets).toHaveLength(1);
    expect(d3.tablet.active).toBe(false);
    // A device reset forgets the driver.
    d.tablet.reset();
    expect(d.tablet.active).toBe(false);
  });
});

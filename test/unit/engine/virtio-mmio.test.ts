/**
 * The virtio-mmio transport's registers (virtio 1.2 §4.2.2) as Linux's virtio_mmio driver
 * drives them: identification, feature negotiation by 32-bit words, queue setup, DRIVER_OK
 * activating the device model, notifications, the level interrupt with its ACK, reset, and
 * hostile writes (odd widths, bad queue sizes, features never offered).
 */
import { describe, expect, it } from 'vitest';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_MMIO_MAGIC,
  VirtioMmio,
  type VirtioDeviceModel,
} from '../../../main/engine/devices/virtio-mmio/index.js';
import type { VirtqueueLayout } from '../../../main/engine/devices/virtio/queue.js';
import { IrqRecorder } from './irq-recorder.js';

function fake() {
  const calls: string[] = [];
  let layouts: readonly (VirtqueueLayout | null)[] = [];
  const device: VirtioDeviceModel = {
    deviceId: 2,
    queueCount: 2,
    features: (1n << 32n) | (1n << 28n) | (1n << 9n),
    readConfig: (offset, data) => data.fill(offset + 1),
    activate: (l) => {
      layouts = l;
      calls.push('activate');
    },
    reset: () => calls.push('reset'),
    notify: (q) => calls.push(`notify ${q}`),
  };
  const irq = new IrqRecorder();
  const t = new VirtioMmio(device, irq);
  const r32 = (o: number) => {
    const b = new Uint8Array(4);
    t.read(o, b);
    return new DataView(b.buffer).getUint32(0, true);
  };
  const w32 = (o: number, v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    t.write(o, b);
  };
  return { t, irq, calls, r32, w32, layouts: () => layouts };
}

describe('virtio-mmio transport', () => {
  it('identifies itself and negotiates features by word', () => {
    const { r32, w32 } = fake();
    expect(r32(0x000)).toBe(VIRTIO_MMIO_MAGIC);
    expect(r32(0x004)).toBe(2);
    expect(r32(0x008)).toBe(2);
    w32(0x014, 0);
    expect(r32(0x010)).toBe((1 << 28) | (1 << 9));
    w32(0x014, 1);
    expect(r32(0x010)).toBe(1);
    w32(0x014, 7);
    expect(r32(0x010)).toBe(0);
  });

  it('sets up queues, activates on DRIVER_OK, forwards kicks, raises and clears a level IRQ', () => {
    const { t, r32, w32, irq, calls, layouts } = fake();
    w32(0x070, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    w32(0x024, 0);
    w32(0x020, 1 << 28);
    w32(0x024, 1);
    w32(0x020, 1);
    w32(0x070, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    expect(r32(0x070) & STATUS_FEATURES_OK).toBe(STATUS_FEATURES_OK);
    w32(0x030, 0);
    expect(r32(0x034)).toBe(256);
    w32(0x038, 100); // not a power of two: ignored
    w32(0x038, 128);
    w32(0x080, 0x1000);
    w32(0x084, 0);
    w32(0x090, 0x2000);
    w32(0x0a0, 0x3000);
    w32(0x044, 1);
    w32(0x080, 0x9999); // ignored while the queue is ready
    w32(0x050, 0); // before DRIVER_OK: ignored
    t.doorbells[0]!.ring(); // so is a doorbell
    w32(0x070, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    expect(layouts()).toEqual([
      { size: 128, descTable: 0x1000, availRing: 0x2000, usedRing: 0x3000 },
      null,
    ]);
    w32(0x050, 0);
    expect(calls).toEqual(['activate', 'notify 0']);
    // QueueNotify's doorbell (an ioeventfd on KVM) does not see the value: it kicks every
    // ready queue, here queue 0 only (queue 1 was never made ready).
    expect(t.doorbells.map((d) => [d.offset, d.size])).toEqual([[0x050, 4]]);
    t.doorbells[0]!.ring();
    expect(calls).toEqual(['activate', 'notify 0', 'notify 0']);
    t.usedBuffers();
    t.usedBuffers();
    expect(irq.level).toBe(true);
    expect(irq.risingEdges).toBe(1);
    expect(r32(0x060)).toBe(1);
    w32(0x064, 1);
    expect(irq.level).toBe(false);
    expect(r32(0x060)).toBe(0);
  });

  it('refuses features it never offered, and VERSION_1 missing', () => {
    const { r32, w32 } = fake();
    w32(0x024, 0);
    w32(0x020, 1 << 5);
    w32(0x024, 1);
    w32(0x020, 1);
    w32(0x070, STATUS_FEATURES_OK);
    expect(r32(0x070) & STATUS_FEATURES_OK).toBe(0);
  });

  it('resets on status 0, marks NEEDS_RESET, ignores odd widths and reads config', () => {
    const { t, r32, w32, calls, irq } = fake();
    w32(0x070, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
    t.needsReset('loop');
    expect(r32(0x070) & STATUS_DEVICE_NEEDS_RESET).toBe(STATUS_DEVICE_NEEDS_RESET);
    expect(r32(0x060) & 2).toBe(2);
    w32(0x050, 0);
    expect(calls).not.toContain('notify 0');
    w32(0x070, 0);
    expect(calls).toContain('reset');
    expect(r32(0x070)).toBe(0);
    expect(irq.level).toBe(false);
    const odd = new Uint8Array(2);
    t.read(0x000, odd);
    expect([...odd]).toEqual([0, 0]);
    t.write(0x070, Uint8Array.from([7, 0]));
    expect(r32(0x070)).toBe(0);
    const cfg = new Uint8Array(2);
    t.read(0x104, cfg);
    expect([...cfg]).toEqual([5, 5]);
  });
});

/**
 * The virtio PCI transport (virtio 1.2 §4.1) with the real virtio-blk device model on a raw
 * image, reached as a guest reaches it: configuration cycles through 0xCF8/0xCFC on a PCI bus
 * with the PIIX3 ISA bridge (PIRQ routing for INTx), BARs placed by writing them, the
 * capability list walked as Linux's virtio_pci_modern and SeaBIOS's vp_init_simple walk it,
 * the common configuration programmed field by field, requests built in guest RAM and kicked
 * through the notify region. Interrupts: MSI-X messages with the address/data the guest put
 * in the table (masked vectors wait in the PBA), and INTx through PIRQ routing with the ISR's
 * read-to-clear when MSI-X is off. Hostile values: queue select past the end, sizes that are
 * not powers of two, features never offered, queue writes after enable, MSI vectors the table
 * does not have.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PciBus, PCI_COMMAND_MEMORY } from '../../../main/engine/devices/pci/index.js';
import { Piix3IsaBridge } from '../../../main/engine/devices/piix3/index.js';
import {
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VirtioBlk,
} from '../../../main/engine/devices/virtio-blk/index.js';
import {
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
} from '../../../main/engine/devices/virtio-mmio/index.js';
import { VIRTIO_MSI_NO_VECTOR, VirtioPci } from '../../../main/engine/devices/virtio-pci/index.js';
import { createImage, openImage } from '../../../main/engine/storage/index.js';
import { VirtioBlkDriver } from '../../fixtures/virtio-driver.js';
import type { IrqLine } from '../../../main/engine/bus.js';
import { readPort, writePort } from './irq-recorder.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-vpci-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MiB = 1024 * 1024;
const SLOT = 4;
const BAR4_AT = 0xfe00_0000;
const BAR1_AT = 0xfe01_0000;

async function setup(name: string, queues = 1) {
  const file = path.join(dir, `${name}.raw`);
  await createImage({ path: file, format: 'raw', size: 16 * MiB });
  const image = await openImage(file);
  const msis: { address: number; data: number }[] = [];
  const isaLevels = new Map<number, boolean>();
  const isa = (irq: number): IrqLine => ({ set: (level) => isaLevels.set(irq, level) });
  const link: { t?: VirtioPci } = {};
  const driver: VirtioBlkDriver = new VirtioBlkDriver(() => blk);
  const blk = new VirtioBlk({
    image,
    memory: driver.memory,
    queues,
    onInterrupt: (q) => link.t?.usedBuffers(q),
    onNeedsReset: (r) => link.t?.needsReset(r),
  });
  const isaBridge = new Piix3IsaBridge(isa);
  const t = new VirtioPci({
    device: blk,
    classCode: 0x010000,
    intx: isaBridge.intxLine(SLOT, 1),
    sendMsi: (address, data) => {
      msis.push({ address, data });
      driver.reap();
    },
  });
  link.t = t;
  const bus = new PciBus(() => {});
  bus.attach(1, 0, isaBridge);
  bus.attach(SLOT, 0, t);
  const cfgAddress = (dev: number, reg: number) => (0x8000_0000 | (dev << 11) | (reg & 0xfc)) >>> 0;
  const cfgRead = (reg: number, size: 1 | 2 | 4 = 4, dev = SLOT) => {
    writePort(bus, 0, cfgAddress(dev, reg), 4);
    return readPort(bus, 4 + (reg & 3), size);
  };
  const cfgWrite = (reg: number, value: number, size: 1 | 2 | 4 = 4, dev = SLOT) => {
    writePort(bus, 0, cfgAddress(dev, reg), 4);
    writePort(bus, 4 + (reg & 3), value, size);
  };
  // BAR offsets are relative to the BAR: the machine puts barDevice on the MMIO bus there.
  const bar = {
    read: (offset: number, size: number) => readPort(t.barDevice, offset, size),
    write: (offset: number, value: number, size: number) =>
      writePort(t.barDevice, offset, value, size),
  };
  const msixTable = {
    read: (offset: number) => readPort(t.msix.barDevice, offset, 4),
    write: (offset: number, value: number) => writePort(t.msix.barDevice, offset, value, 4),
  };
  return { t, blk, driver, msis, isaLevels, cfgRead, cfgWrite, bar, msixTable };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Image I/O completes asynchronously: wait (at most 5 s) for what the guest would see. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5000; !condition() && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 1));
}

/** The virtio capabilities by cfg_type: { bar, offset, length, extra } (§4.1.4). */
function walkCapabilities(s: Setup) {
  const caps = new Map<number, { bar: number; offset: number; length: number; extra: number }>();
  let msix = 0;
  expect(s.cfgRead(0x06, 2) & 0x10).toBe(0x10); // capability list present
  let at = s.cfgRead(0x34, 1);
  for (let guard = 0; at !== 0 && guard < 48; guard++) {
    const id = s.cfgRead(at, 1);
    if (id === 0x11) msix = at;
    if (id === 0x09)
      caps.set(s.cfgRead(at + 3, 1), {
        bar: s.cfgRead(at + 4, 1),
        offset: s.cfgRead(at + 8),
        length: s.cfgRead(at + 12),
        extra: s.cfgRead(at + 16),
      });
    at = s.cfgRead(at + 1, 1);
  }
  return { caps, msix };
}

/** Linux's order (virtio_pci_modern, virtio_dev_probe): reset, ACK, DRIVER, features, a queue. */
function bringUp(s: Setup, { msix, queue = 0 }: { msix: boolean; queue?: number }) {
  const { bar } = s;
  bar.write(0x14, 0, 1);
  bar.write(0x14, STATUS_ACKNOWLEDGE | STATUS_DRIVER, 1);
  bar.write(0x00, 0, 4);
  const low = bar.read(0x04, 4);
  bar.write(0x00, 1, 4);
  const high = bar.read(0x04, 4);
  expect(high & 1).toBe(1); // VIRTIO_F_VERSION_1
  bar.write(0x08, 0, 4);
  bar.write(0x0c, low, 4);
  bar.write(0x08, 1, 4);
  bar.write(0x0c, 1, 4);
  bar.write(0x14, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK, 1);
  expect(bar.read(0x14, 1) & STATUS_FEATURES_OK).toBe(STATUS_FEATURES_OK);
  if (msix) {
    bar.write(0x10, 1, 2); // config changes: vector 1
    expect(bar.read(0x10, 2)).toBe(1);
  }
  bar.write(0x16, queue, 2);
  expect(bar.read(0x18, 2)).toBe(256);
  expect(bar.read(0x1e, 2)).toBe(queue); // queue_notify_off
  const layout = s.driver.layout;
  bar.write(0x18, layout.size, 2);
  // 64-bit addresses as two 32-bit halves (vp_iowrite64_twopart).
  bar.write(0x20, layout.descTable, 4);
  bar.write(0x24, 0, 4);
  bar.write(0x28, layout.availRing, 4);
  bar.write(0x2c, 0, 4);
  bar.write(0x30, layout.usedRing, 4);
  bar.write(0x34, 0, 4);
  if (msix) bar.write(0x1a, queue === 0 ? 0 : queue + 1, 2); // queue 0: vector 0; n: n + 1
  bar.write(0x1c, 1, 2);
  bar.write(0x14, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK, 1);
}

/** A request kicked through the notify region (the queue's index written at its address). */
async function request(
  s: Setup,
  r: Parameters<VirtioBlkDriver['submit']>[0],
  notifyAt: number,
  queue = 0,
) {
  const done = s.driver.submit(r);
  s.bar.write(notifyAt, queue, 2);
  return done;
}

describe('virtio-pci transport with virtio-blk', () => {
  it('presents a modern virtio-blk function with MSI-X and the four virtio structures', async () => {
    const s = await setup('ident');
    expect(s.cfgRead(0x00)).toBe(0x1042_1af4);
    expect(s.cfgRead(0x08, 1)).toBe(1); // revision 1: modern
    expect(s.cfgRead(0x08) >>> 8).toBe(0x010000);
    expect(s.cfgRead(0x2e, 2)).toBeGreaterThanOrEqual(0x40);
    expect(s.cfgRead(0x3d, 1)).toBe(1); // INTA
    const { caps, msix } = walkCapabilities(s);
    expect([...caps.keys()].sort()).toEqual([1, 2, 3, 4]);
    for (const c of caps.values()) {
      expect(c.bar).toBe(4);
      expect(c.offset + c.length).toBeLessThanOrEqual(0x4000);
    }
    expect(caps.get(2)!.extra).toBe(4); // notify_off_multiplier
    expect(msix).not.toBe(0);
    expect(s.cfgRead(msix + 2, 2) & 0x7ff).toBe(1); // two vectors: queue 0 and config
    expect(s.cfgRead(msix + 4) & 7).toBe(1); // table in BAR1
    // BAR sizing: BAR4 16 KiB and BAR1 4 KiB memory.
    s.cfgWrite(0x20, 0xffff_ffff);
    expect(s.cfgRead(0x20)).toBe(0xffff_c000);
    s.cfgWrite(0x14, 0xffff_ffff);
    expect(s.cfgRead(0x14)).toBe(0xffff_f000);
  });

  it('serves requests and signals the queue vector by MSI-X; a masked vector waits in the PBA', async () => {
    const s = await setup('msix');
    const { caps, msix } = walkCapabilities(s);
    const notifyAt = caps.get(2)!.offset; // queue 0's queue_notify_off is 0
    s.cfgWrite(0x20, BAR4_AT);
    s.cfgWrite(0x14, BAR1_AT);
    s.cfgWrite(0x04, PCI_COMMAND_MEMORY | 0x4, 2);
    // Program vectors 0 (queue) and 1 (config), then enable MSI-X with the function masked.
    s.msixTable.write(0x00, 0xfee0_0000);
    s.msixTable.write(0x08, 0x4041);
    s.msixTable.write(0x0c, 0); // unmask vector 0
    s.msixTable.write(0x10, 0xfee0_1000);
    s.msixTable.write(0x18, 0x4042);
    s.msixTable.write(0x1c, 0); // unmask vector 1
    s.cfgWrite(msix + 2, 0x8000, 2);
    bringUp(s, { msix: true });

    const data = new Uint8Array(8192).map((_, i) => (i * 31) & 0xff);
    const wrote = await request(s, { type: VIRTIO_BLK_T_OUT, sector: 8n, data }, notifyAt);
    expect(wrote.status).toBe(VIRTIO_BLK_S_OK);
    const read = await request(s, { type: VIRTIO_BLK_T_IN, sector: 8n, readBytes: 8192 }, notifyAt);
    expect(read.status).toBe(VIRTIO_BLK_S_OK);
    expect(read.data).toEqual(data);
    expect(s.msis.length).toBeGreaterThanOrEqual(2);
    expect(s.msis.every((m) => m.address === 0xfee0_0000 && m.data === 0x4041)).toBe(true);
    expect(s.isaLevels.get(10) ?? false).toBe(false); // INTx stays quiet under MSI-X

    // Mask vector 0: the completion sets its pending bit instead; unmasking sends it.
    s.msixTable.write(0x0c, 1);
    const before = s.msis.length;
    const queued = s.driver.submit({ type: VIRTIO_BLK_T_IN, sector: 0n, readBytes: 512 });
    s.bar.write(notifyAt, 0, 2);
    await waitFor(() => (s.msixTable.read(0x800) & 1) === 1);
    expect(s.msis.length).toBe(before);
    expect(s.msixTable.read(0x800) & 1).toBe(1);
    s.msixTable.write(0x0c, 0);
    expect(s.msixTable.read(0x800) & 1).toBe(0);
    expect(s.msis.length).toBe(before + 1);
    expect((await queued).status).toBe(VIRTIO_BLK_S_OK);

    // A broken queue (a descriptor outside RAM) is NEEDS_RESET, told on the config vector.
    s.driver.writeDesc(0, 0x7fff_0000, 512, 0, 0);
    s.driver.makeAvailable(0);
    s.bar.write(notifyAt, 0, 2);
    await waitFor(() => (s.bar.read(0x14, 1) & 0x40) !== 0);
    expect(s.bar.read(0x14, 1) & 0x40).toBe(0x40);
    expect(s.msis.at(-1)).toEqual({ address: 0xfee0_1000, data: 0x4042 });
  });

  it('without MSI-X raises INTx A through the PIIX3 PIRQ route until the ISR is read', async () => {
    const s = await setup('intx');
    const { caps } = walkCapabilities(s);
    s.cfgWrite(0x04, PCI_COMMAND_MEMORY | 0x4, 2);
    // SeaBIOS routes PIRQA-D to 10, 10, 11, 11; slot 4 INTA is PIRQD ((slot - 1 + pin - 1) mod 4,
    // SeaBIOS's piix_pci_slot_get_irq and QEMU's pci_slot_get_pirq), so IRQ 11.
    s.cfgWrite(0x60, 0x0b0b_0a0a, 4, 1);
    bringUp(s, { msix: false });
    const done = request(
      s,
      { type: VIRTIO_BLK_T_IN, sector: 0n, readBytes: 512 },
      caps.get(2)!.offset,
    );
    await waitFor(() => s.isaLevels.get(11) === true);
    expect(s.isaLevels.get(11)).toBe(true);
    expect(s.isaLevels.get(10)).not.toBe(true);
    // The handler: read the ISR (queue interrupt; reading clears it and drops the line), reap.
    expect(s.bar.read(caps.get(3)!.offset, 1)).toBe(1);
    expect(s.isaLevels.get(11)).toBe(false);
    s.driver.reap();
    expect((await done).status).toBe(VIRTIO_BLK_S_OK);
    expect(s.bar.read(caps.get(3)!.offset, 1)).toBe(0);
    // A route rewritten while asserted follows the PIRQ; a disabled route drives nothing.
    s.t.usedBuffers(0);
    expect(s.isaLevels.get(11)).toBe(true);
    s.cfgWrite(0x63, 0x0a, 1, 1);
    expect(s.isaLevels.get(11)).toBe(false);
    expect(s.isaLevels.get(10)).toBe(true);
    s.cfgWrite(0x63, 0x80, 1, 1);
    expect(s.isaLevels.get(10)).toBe(false);
  });

  it('with several queues (VIRTIO_BLK_F_MQ) each has its notify address and MSI-X vector', async () => {
    const s = await setup('mq', 2);
    const { caps, msix } = walkCapabilities(s);
    expect(s.bar.read(0x12, 2)).toBe(2); // num_queues
    expect(s.cfgRead(msix + 2, 2) & 0x7ff).toBe(2); // three vectors: two queues and config
    s.cfgWrite(0x04, PCI_COMMAND_MEMORY | 0x4, 2);
    for (const [entry, data] of [
      [0, 0x4040],
      [1, 0x4041],
      [2, 0x4042],
    ] as const) {
      s.msixTable.write(entry * 16, 0xfee0_0000);
      s.msixTable.write(entry * 16 + 8, data);
      s.msixTable.write(entry * 16 + 12, 0);
    }
    s.cfgWrite(msix + 2, 0x8000, 2);
    // Only queue 1 is set up (the driver's ring): its kick and its vector (2) are used.
    bringUp(s, { msix: true, queue: 1 });
    const notifyAt = caps.get(2)!.offset + 1 * caps.get(2)!.extra;
    const done = await request(
      s,
      { type: VIRTIO_BLK_T_IN, sector: 3n, readBytes: 512 },
      notifyAt,
      1,
    );
    expect(done.status).toBe(VIRTIO_BLK_S_OK);
    expect(s.msis.map((m) => m.data)).toEqual([0x4042]);
  });

  it("lists each queue's notify address as a doorbell (an ioeventfd on KVM) that does what the write does", async () => {
    const s = await setup('doorbell', 2);
    const { caps } = walkCapabilities(s);
    const doorbells = s.t.barDevice.doorbells ?? [];
    expect(doorbells.map((d) => [d.offset, d.size])).toEqual([
      [caps.get(2)!.offset, 2],
      [caps.get(2)!.offset + caps.get(2)!.extra, 2],
    ]);
    s.cfgWrite(0x04, PCI_COMMAND_MEMORY | 0x4, 2);
    // Before DRIVER_OK a ring does nothing (a guest writing early, or a spurious ring).
    doorbells[1]!.ring();
    bringUp(s, { msix: false, queue: 1 });
    const done = s.driver.submit({ type: VIRTIO_BLK_T_IN, sector: 5n, readBytes: 512 });
    // Queue 0 rings too (one eventfd rings every doorbell): it has nothing and stays quiet.
    doorbells[0]!.ring();
    doorbells[1]!.ring();
    // INTx here: the driver reaps by looking at the used ring.
    let status: number | undefined;
    void done.then((r) => (status = r.status));
    await waitFor(() => (s.driver.reap(), status !== undefined));
    expect(status).toBe(VIRTIO_BLK_S_OK);
  });

  it('refuses hostile values the way the spec lets a device', async () => {
    const s = await setup('hostile');
    const { bar } = s;
    bar.write(0x16, 7, 2); // no queue 7
    expect(bar.read(0x18, 2)).toBe(0);
    bar.write(0x18, 64, 2); // dropped
    bar.write(0x16, 0, 2);
    bar.write(0x18, 100, 2); // not a power of two
    expect(bar.read(0x18, 2)).toBe(256);
    bar.write(0x18, 512, 2); // above the maximum
    expect(bar.read(0x18, 2)).toBe(256);
    bar.write(0x1a, 9, 2); // no vector 9 in a two-vector table
    expect(bar.read(0x1a, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    bar.write(0x20, 0x1000, 4);
    bar.write(0x1c, 1, 2);
    bar.write(0x20, 0x9000, 4); // the queue is enabled: its address stays
    expect(bar.read(0x20, 4)).toBe(0x1000);
    expect(bar.read(0x20, 8)).toBe(0x1000);
    expect(bar.read(0x1d, 1)).toBe(0); // not a field's own width: reads 0
    // A feature never offered (bit 31 of the low word) keeps FEATURES_OK from sticking.
    bar.write(0x08, 0, 4);
    bar.write(0x0c, 0x8000_0000, 4);
    bar.write(0x08, 1, 4);
    bar.write(0x0c, 1, 4);
    bar.write(0x14, STATUS_FEATURES_OK, 1);
    expect(bar.read(0x14, 1) & STATUS_FEATURES_OK).toBe(0);
    // MSI-X table accesses outside the table or of odd widths do nothing.
    s.msixTable.write(0x7f0, 0x1234);
    expect(s.msixTable.read(0x7f0)).toBe(0);
    expect(readPort(s.t.msix.barDevice, 0x00, 2)).toBe(0);
    // Reset clears the device.
    bar.write(0x14, 0, 1);
    expect(bar.read(0x14, 1)).toBe(0);
    bar.write(0x16, 0, 2);
    expect(bar.read(0x1c, 2)).toBe(0);
  });
});

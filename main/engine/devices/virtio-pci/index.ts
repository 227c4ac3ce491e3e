/**
 * The virtio PCI transport, modern interface (Virtual I/O Device (VIRTIO) Version 1.2, §4.1
 * "Virtio Over PCI Bus"): a PCI function 1AF4:(1040h + device ID) with revision 1, whose
 * vendor-specific capabilities (§4.1.4) point into a memory BAR:
 *
 * | BAR4 offset | structure (cfg_type)                          | spec      |
 * | 0x0000      | common configuration (1)                      | §4.1.4.3  |
 * | 0x1000      | ISR status (3), one byte, read-to-clear       | §4.1.4.5  |
 * | 0x2000      | device-specific configuration (4)             | §4.1.4.6  |
 * | 0x3000      | notifications (2): queue n at n * 4           | §4.1.4.4  |
 *
 * and MSI-X (../pci/msix.ts) with one vector per queue plus one for configuration changes,
 * table and PBA in BAR1. With MSI-X enabled (Linux) each used buffer signals its queue's
 * vector; without it (SeaBIOS polls; a guest with MSI-X off) the ISR bit is set and INTx A is
 * asserted until the ISR is read (§4.1.5.3-4).
 * It carries any {@link VirtioDeviceModel} (virtio-blk, virtio-input's tablet); SeaBIOS boots from it
 * (src/hw/virtio-pci.c finds the same capabilities) and Linux's virtio_pci drives it.
 *
 * Common configuration fields are accessed at their own width (§4.1.3.1: "the driver MUST
 * access each field using the 'natural' access method"); the 64-bit queue addresses also as
 * two 32-bit halves. Other accesses read as zero and are dropped. The guest's values are
 * hostile: a queue size that is not a power of two up to 256, a queue select past the last
 * queue, features not offered, writes to queue registers of an enabled queue are refused as
 * the spec's "device MUST"/"driver MUST NOT" rules allow (§4.1.4.3.2).
 *
 * Not built: the VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.8; neither SeaBIOS nor Linux needs it
 * for a 32-bit memory BAR), the legacy (0.9.5) I/O interface, irqfd (each MSI is a
 * KVM_SIGNAL_MSI from the device thread). Queue notifications are doorbells ({@link Doorbell}):
 * on KVM they are ioeventfds, so the vCPU does not wait for the device thread.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice, Doorbell, IrqLine } from '../../bus.js';
import { MsiX, PCI_CAPABILITY_LIST, PCI_STATUS_CAP_LIST } from '../pci/msix.js';
import { PciConfigSpace, PCI_STATUS, type PciFunction } from '../pci/index.js';
import type { VirtioDeviceModel } from '../virtio-mmio/index.js';
import {
  QUEUE_SIZE_MAX,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
} from '../virtio-mmio/index.js';

export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** Modern device IDs are 1040h + the virtio device ID (§4.1.2.1). */
export const VIRTIO_PCI_MODERN_BASE = 0x1040;
export const VIRTIO_PCI_BAR_SIZE = 0x4000;
export const VIRTIO_PCI_MSIX_BAR_SIZE = 0x1000;
/** The BAR of the virtio structures and the one of the MSI-X table. */
export const VIRTIO_PCI_BAR = 4;
export const VIRTIO_PCI_MSIX_BAR = 1;
export const COMMON_OFFSET = 0x0000;
export const ISR_OFFSET = 0x1000;
export const DEVICE_OFFSET = 0x2000;
export const NOTIFY_OFFSET = 0x3000;
export const NOTIFY_OFF_MULTIPLIER = 4;
const REGION_SIZE = 0x1000;
/** "No vector" in config_msix_vector / queue_msix_vector (§4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

const VIRTIO_PCI_CAP_VENDOR = 0x09;
const CAP_COMMON = 1;
const CAP_NOTIFY = 2;
const CAP_ISR = 3;
const CAP_DEVICE = 4;
const ISR_QUEUE = 0x1;
const ISR_CONFIG = 0x2;
const VIRTIO_F_VERSION_1 = 32n;
const VIRTIO_F_INDIRECT_DESC = 28n;

/** Capability layout in configuration space: MSI-X, then the four virtio structures. */
const CAP_MSIX_AT = 0x40;
const CAP_COMMON_AT = 0x50;
const CAP_NOTIFY_AT = 0x60;
const CAP_ISR_AT = 0x78;
const CAP_DEVICE_AT = 0x88;

interface QueueState {
  size: number;
  enabled: boolean;
  msixVector: number;
  desc: number;
  driver: number;
  device: number;
}

export interface VirtioPciOptions {
  device: VirtioDeviceModel;
  /** PCI class code (virtio-blk: 01 00 00, mass storage, as QEMU presents it). */
  classCode: number;
  /** INTx A as routed by the chipset (used while MSI-X is off). */
  intx: IrqLine;
  /** Sends one MSI (the VM's KVM_SIGNAL_MSI). */
  sendMsi: (address: number, data: number) => void;
  log?: (line: string) => void;
}

export class VirtioPci implements PciFunction {
  readonly name: string;
  readonly config: PciConfigSpace;
  readonly msix: MsiX;
  /** BAR4's register block (offsets from the BAR's start). */
  readonly barDevice: BusDevice;
  private readonly device: VirtioDeviceModel;
  private readonly intx: IrqLine;
  private readonly log: (line: string) => void;
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  private driverFeatures = 0n;
  private configMsixVector = VIRTIO_MSI_NO_VECTOR;
  private status = 0;
  private configGeneration = 0;
  private queueSelect = 0;
  private queues: QueueState[];
  private isr = 0;
  private intxLevel = false;

  constructor(o: VirtioPciOptions) {
    this.device = o.device;
    this.intx = o.intx;
    this.log = o.log ?? (() => {});
    this.name = `virtio-pci (device ${o.device.deviceId})`;
    this.config = new PciConfigSpace(
      {
        vendorId: VIRTIO_PCI_VENDOR_ID,
        deviceId: VIRTIO_PCI_MODERN_BASE + o.device.deviceId,
        revision: 1,
        classCode: o.classCode,
        subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
        subsystemId: 0x40 + o.device.deviceId, // >= 40h for modern devices (§4.1.2.1)
        interruptPin: 1,
      },
      {
        bars: {
          [VIRTIO_PCI_MSIX_BAR]: { kind: 'memory32', size: VIRTIO_PCI_MSIX_BAR_SIZE },
          [VIRTIO_PCI_BAR]: { kind: 'memory32', size: VIRTIO_PCI_BAR_SIZE },
        },
      },
    );
    const c = this.config;
    c.bytes[PCI_STATUS] = c.bytes[PCI_STATUS]! | PCI_STATUS_CAP_LIST;
    c.bytes[PCI_CAPABILITY_LIST] = CAP_MSIX_AT;
    this.msix = new MsiX({
      config: c,
      capOffset: CAP_MSIX_AT,
      next: CAP_COMMON_AT,
      vectors: o.device.queueCount + 1,
      bar: VIRTIO_PCI_MSIX_BAR,
      tableOffset: 0,
      pbaOffset: 0x800,
      send: (address, data) => o.sendMsi(address, data),
    });
    this.writeCap(CAP_COMMON_AT, CAP_NOTIFY_AT, CAP_COMMON, COMMON_OFFSET, 0x40);
    this.writeCap(CAP_NOTIFY_AT, CAP_ISR_AT, CAP_NOTIFY, NOTIFY_OFFSET, REGION_SIZE, 20);
    c.setU32(CAP_NOTIFY_AT + 16, NOTIFY_OFF_MULTIPLIER);
    this.writeCap(CAP_ISR_AT, CAP_DEVICE_AT, CAP_ISR, ISR_OFFSET, 1);
    this.writeCap(CAP_DEVICE_AT, 0, CAP_DEVICE, DEVICE_OFFSET, REGION_SIZE);
    this.queues = this.freshQueues();
    this.barDevice = {
      read: (offset, data) => this.readBar(offset, data),
      write: (offset, data) => this.writeBar(offset, data),
      // Each queue's notify address (queue_notify_off = its index, times the multiplier): the
      // KVM backend makes these ioeventfds, so a kick costs the vCPU no exit to the VM host.
      doorbells: Array.from({ length: o.device.queueCount }, (_, queue): Doorbell => ({
        offset: NOTIFY_OFFSET + queue * NOTIFY_OFF_MULTIPLIER,
        size: 2,
        ring: () => this.notifyQueue(queue),
      })),
    };
  }

  /** struct virtio_pci_cap (§4.1.4): vendor, next, length, cfg_type, bar, id, pad, offset, length. */
  private writeCap(
    at: number,
    next: number,
    type: number,
    offset: number,
    length: number,
    capLength = 16,
  ): void {
    const b = this.config.bytes;
    b[at] = VIRTIO_PCI_CAP_VENDOR;
    b[at + 1] = next;
    b[at + 2] = capLength;
    b[at + 3] = type;
    b[at + 4] = VIRTIO_PCI_BAR;
    this.config.setU32(at + 8, offset);
    this.config.setU32(at + 12, length);
  }

  afterConfigWrite(): void {
    this.msix.afterConfigWrite();
    // INTx Disable, or MSI-X turned on, drops an asserted INTx (PCI 3.0 §6.2.2, §6.8.2.3).
    this.updateIntx();
  }

  private freshQueues(): QueueState[] {
    return Array.from({ length: this.device.queueCount }, () => ({
      size: QUEUE_SIZE_MAX,
      enabled: false,
      msixVector: VIRTIO_MSI_NO_VECTOR,
      desc: 0,
      driver: 0,
      device: 0,
    }));
  }

  /** The device model used buffers of `queue`. */
  usedBuffers(queue: number): void {
    if (this.msix.enabled) this.msix.signal(this.queues[queue]?.msixVector ?? VIRTIO_MSI_NO_VECTOR);
    else this.raiseIsr(ISR_QUEUE);
  }

  /** The device model found the driver broke the rules (§2.1.2). */
  needsReset(reason: string): void {
    this.log(`virtio-pci: device needs reset: ${reason}`);
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    if (!(this.status & STATUS_DRIVER_OK)) return;
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    if (this.msix.enabled) this.msix.signal(this.configMsixVector);
    else this.raiseIsr(ISR_CONFIG);
  }

  private raiseIsr(bits: number): void {
    this.isr |= bits;
    this.updateIntx();
  }

  private updateIntx(): void {
    const intxDisabled = (this.config.command & 0x400) !== 0;
    const level = this.isr !== 0 && !this.msix.enabled && !intxDisabled;
    if (level !== this.intxLevel) {
      this.intxLevel = level;
      this.intx.set(level);
    }
  }

  private readBar(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (offset < COMMON_OFFSET + REGION_SIZE) {
      const value = this.readCommon(offset, data.length);
      for (let i = 0; i < data.length; i++) data[i] = Number((value >> BigInt(i * 8)) & 0xffn);
    } else if (offset === ISR_OFFSET && data.length >= 1) {
      // Reading the ISR clears it and deasserts INTx (§4.1.4.5).
      data[0] = this.isr;
      this.isr = 0;
      this.updateIntx();
    } else if (offset >= DEVICE_OFFSET && offset < DEVICE_OFFSET + REGION_SIZE) {
      this.device.readConfig(offset - DEVICE_OFFSET, data);
    }
  }

  private writeBar(offset: number, data: Uint8Array): void {
    let value = 0n;
    for (let i = data.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(data[i]!);
    if (offset < COMMON_OFFSET + REGION_SIZE) this.writeCommon(offset, data.length, value);
    else if (offset >= NOTIFY_OFFSET && offset < NOTIFY_OFFSET + REGION_SIZE) {
      // The driver writes the queue's index at that queue's notify address (§4.1.5.2).
      this.notifyQueue(Number(value & 0xffffn));
    } else if (offset >= DEVICE_OFFSET && offset < DEVICE_OFFSET + REGION_SIZE) {
      // virtio-input's select/subsel; virtio-blk's configuration takes no writes.
      this.device.writeConfig?.(offset - DEVICE_OFFSET, data);
    }
    // The ISR takes no writes.
  }

  /** A kick for `queue`, by a write or a doorbell: ignored unless the driver is ready. */
  private notifyQueue(queue: number): void {
    if (!(this.status & STATUS_DRIVER_OK) || this.status & STATUS_DEVICE_NEEDS_RESET) return;
    if (this.queues[queue]?.enabled) this.device.notify(queue);
  }

  private get selectedQueue(): QueueState | undefined {
    return this.queues[this.queueSelect];
  }

  private readCommon(offset: number, size: number): bigint {
    const q = this.selectedQueue;
    const field = (at: number, width: number) => offset === at && size === width;
    const half = (at: number) => (offset === at || offset === at + 4) && size === 4;
    const addressHalf = (at: number, value: number): bigint =>
      BigInt(offset === at ? value % 2 ** 32 : Math.floor(value / 2 ** 32));
    if (field(0x00, 4)) return BigInt(this.deviceFeatureSelect);
    if (field(0x04, 4))
      return this.deviceFeatureSelect > 1
        ? 0n
        : (this.device.features >> BigInt(32 * this.deviceFeatureSelect)) & 0xffffffffn;
    if (field(0x08, 4)) return BigInt(this.driverFeatureSelect);
    if (field(0x0c, 4))
      return this.driverFeatureSelect > 1
        ? 0n
        : (this.driverFeatures >> BigInt(32 * this.driverFeatureSelect)) & 0xffffffffn;
    if (field(0x10, 2)) return BigInt(this.configMsixVector);
    if (field(0x12, 2)) return BigInt(this.device.queueCount);
    if (field(0x14, 1)) return BigInt(this.status);
    if (field(0x15, 1)) return BigInt(this.configGeneration);
    if (field(0x16, 2)) return BigInt(this.queueSelect);
    // A queue select past the last queue reads a queue size of 0: "not available" (§4.1.4.3.1).
    if (!q) return 0n;
    if (field(0x18, 2)) return BigInt(q.size);
    if (field(0x1a, 2)) return BigInt(q.msixVector);
    if (field(0x1c, 2)) return q.enabled ? 1n : 0n;
    if (field(0x1e, 2)) return BigInt(this.queueSelect); // queue_notify_off: the queue's index
    if (field(0x20, 8)) return BigInt(q.desc);
    if (field(0x28, 8)) return BigInt(q.driver);
    if (field(0x30, 8)) return BigInt(q.device);
    if (half(0x20)) return addressHalf(0x20, q.desc);
    if (half(0x28)) return addressHalf(0x28, q.driver);
    if (half(0x30)) return addressHalf(0x30, q.device);
    return 0n;
  }

  private writeCommon(offset: number, size: number, value: bigint): void {
    const field = (at: number, width: number) => offset === at && size === width;
    const v = Number(value & 0xffffffffn);
    if (field(0x00, 4)) this.deviceFeatureSelect = v;
    else if (field(0x08, 4)) this.driverFeatureSelect = v;
    else if (field(0x0c, 4)) {
      if (this.driverFeatureSelect <= 1 && !(this.status & STATUS_FEATURES_OK)) {
        const shift = BigInt(32 * this.driverFeatureSelect);
        this.driverFeatures =
          (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(v) << shift);
      }
    } else if (field(0x10, 2)) this.configMsixVector = this.vectorOrNone(v);
    else if (field(0x14, 1)) this.writeStatus(v & 0xff);
    else if (field(0x16, 2)) this.queueSelect = v;
    else this.writeQueue(offset, size, value);
  }

  /** A vector the table has, or NO_VECTOR: the device's answer that it cannot use it (§4.1.5.1.2). */
  private vectorOrNone(v: number): number {
    return v < this.msix.vectors ? v : VIRTIO_MSI_NO_VECTOR;
  }

  private writeQueue(offset: number, size: number, value: bigint): void {
    const q = this.selectedQueue;
    if (!q) return;
    const v = Number(value & 0xffffffffn);
    const field = (at: number, width: number) => offset === at && size === width;
    if (field(0x1a, 2)) {
      q.msixVector = this.vectorOrNone(v);
      return;
    }
    // Size and addresses are the driver's to set only before it enables the queue.
    if (q.enabled) return;
    if (field(0x18, 2)) {
      if (v > 0 && v <= QUEUE_SIZE_MAX && (v & (v - 1)) === 0) q.size = v;
    } else if (field(0x1c, 2)) {
      q.enabled = v === 1; // "the driver MUST NOT write a 0 to queue_enable" (§4.1.4.3.2)
    } else {
      for (const [at, key] of [
        [0x20, 'desc'],
        [0x28, 'driver'],
        [0x30, 'device'],
      ] as const) {
        if (field(at, 8)) q[key] = Number(value & 0xffff_ffff_ffffn);
        else if ((offset === at || offset === at + 4) && size === 4) {
          const current = q[key];
          q[key] =
            offset === at
              ? Math.floor(current / 2 ** 32) * 2 ** 32 + v
              : (current % 2 ** 32) + (v % 2 ** 16) * 2 ** 32;
        }
      }
    }
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      // Reset (§4.1.4.3.1: writing 0 to device_status resets the device).
      this.device.reset();
      this.status = 0;
      this.driverFeatures = 0n;
      this.configMsixVector = VIRTIO_MSI_NO_VECTOR;
      this.queues = this.freshQueues();
      this.isr = 0;
      this.updateIntx();
      return;
    }
    if (value & STATUS_FEATURES_OK && !(this.status & STATUS_FEATURES_OK)) {
      const offered = this.device.features;
      if (this.driverFeatures & ~offered || !(this.driverFeatures & (1n << VIRTIO_F_VERSION_1))) {
        this.log('virtio-pci: the driver asked for features the device does not offer');
        value &= ~STATUS_FEATURES_OK;
      }
    }
    if (value & STATUS_DRIVER_OK && !(this.status & STATUS_DRIVER_OK)) {
      const layouts = this.queues.map((q) =>
        q.enabled
          ? { size: q.size, descTable: q.desc, availRing: q.driver, usedRing: q.device }
          : null,
      );
      this.status = value;
      this.device.activate(layouts, (this.driverFeatures & (1n << VIRTIO_F_INDIRECT_DESC)) !== 0n);
      return;
    }
    this.status = value | (this.status & STATUS_DEVICE_NEEDS_RESET);
  }

  /** A machine reset: the device forgets the driver and the MSI-X table returns to masked. */
  reset(): void {
    this.writeStatus(0);
    this.msix.resetTable();
  }
}

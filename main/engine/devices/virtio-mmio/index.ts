/**
 * The virtio-mmio transport, version 2 (Virtual I/O Device (VIRTIO) Version 1.2, §4.2
 * "Virtio Over MMIO"): one 0x200-byte register block per device on the MMIO bus, announced to
 * the guest in the DSDT (acpi/dsdt.ts, _HID "LNRO0005"), with a level-triggered interrupt.
 * It carries any {@link VirtioDeviceModel} (virtio-blk today). This is how the direct machine
 * gives Linux disks without a PCI bus, as Firecracker does.
 *
 * Register map (§4.2.2, table "MMIO Device Register Layout"): 0x000 MagicValue "virt",
 * 0x004 Version 2, 0x008 DeviceID, 0x00c VendorID, 0x010 DeviceFeatures (word chosen by
 * 0x014 DeviceFeaturesSel), 0x020 DriverFeatures (0x024 DriverFeaturesSel), 0x030 QueueSel,
 * 0x034 QueueNumMax, 0x038 QueueNum, 0x044 QueueReady, 0x050 QueueNotify, 0x060
 * InterruptStatus, 0x064 InterruptACK, 0x070 Status, 0x080/0x084 QueueDesc, 0x090/0x094
 * QueueDriver (available ring), 0x0a0/0x0a4 QueueDevice (used ring), 0x0fc ConfigGeneration,
 * 0x100 and up the device configuration. Registers are 32-bit; other widths (except in the
 * configuration space) are ignored on write and read as zero, as §4.2.2.2 lets a device do.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice, Doorbell, IrqLine } from '../../bus.js';
import type { VirtqueueLayout } from '../virtio/queue.js';

/** What a virtio device model offers a transport. */
export interface VirtioDeviceModel {
  readonly deviceId: number;
  readonly queueCount: number;
  readonly features: bigint;
  readConfig(offset: number, data: Uint8Array): void;
  /** Driver writes to the device configuration; absent where it is read-only (virtio-blk). */
  writeConfig?(offset: number, data: Uint8Array): void;
  activate(layouts: readonly (VirtqueueLayout | null)[], indirect?: boolean): void;
  reset(): void;
  notify(queue: number): void;
}

export const VIRTIO_MMIO_SIZE = 0x200;
/** Offset of QueueNotify, the doorbell a machine may map as a posted write. */
export const QUEUE_NOTIFY = 0x050;
/** InterruptStatus and InterruptACK, which a machine may let the vCPU thread answer. */
export const INTERRUPT_STATUS = 0x060;
export const INTERRUPT_ACK = 0x064;
export const VIRTIO_MMIO_MAGIC = 0x74726976;
export const VIRTIO_VENDOR_ID = 0x56495245; // "VIRE" as a little-endian word: any value is allowed
export const QUEUE_SIZE_MAX = 256;

// Device status bits (§2.1).
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

// InterruptStatus bits (§4.2.2).
export const INTERRUPT_USED_BUFFER = 1;
export const INTERRUPT_CONFIG_CHANGE = 2;

const VIRTIO_F_VERSION_1 = 32n;
const VIRTIO_F_INDIRECT_DESC = 28n;

interface QueueRegisters {
  num: number;
  ready: boolean;
  desc: number;
  driver: number;
  device: number;
}

export class VirtioMmio implements BusDevice {
  /**
   * InterruptStatus in shared memory, so the vCPU thread may answer its reads and ACKs itself
   * (bus.ts SharedInterruptStatus); the machine registers it with the MMIO bus.
   */
  readonly interruptStatusBuffer = new SharedArrayBuffer(4);
  private readonly interruptWord = new Int32Array(this.interruptStatusBuffer);
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private configGeneration = 0;
  private queues: QueueRegisters[];
  /**
   * QueueNotify as a doorbell (an ioeventfd on KVM, bus.ts Doorbell): the written value (the
   * queue's index) is not seen then, so a ring looks at every ready queue; one with nothing new
   * costs a glance at its available index.
   */
  readonly doorbells: readonly Doorbell[] = [
    {
      offset: QUEUE_NOTIFY,
      size: 4,
      ring: () => {
        if (!(this.status & STATUS_DRIVER_OK) || this.status & STATUS_DEVICE_NEEDS_RESET) return;
        this.queues.forEach((q, index) => {
          if (q.ready) this.device.notify(index);
        });
      },
    },
  ];

  constructor(
    private readonly device: VirtioDeviceModel,
    private readonly irq: IrqLine,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.queues = this.freshQueues();
  }

  private freshQueues(): QueueRegisters[] {
    return Array.from({ length: this.device.queueCount }, () => ({
      num: QUEUE_SIZE_MAX,
      ready: false,
      desc: 0,
      driver: 0,
      device: 0,
    }));
  }

  /** The device model used buffers of a queue: raise the interrupt (level) if not yet up. */
  usedBuffers(): void {
    this.raise(INTERRUPT_USED_BUFFER);
  }

  /** The device model found the driver broke the rules (§2.1.2). */
  needsReset(reason: string): void {
    this.log(`virtio-mmio: device needs reset: ${reason}`);
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    if (this.status & STATUS_DRIVER_OK) this.raise(INTERRUPT_CONFIG_CHANGE);
  }

  private raise(bits: number): void {
    const before = Atomics.or(this.interruptWord, 0, bits);
    if (before === 0) this.irq.set(true);
  }

  private acknowledge(bits: number): void {
    const before = Atomics.and(this.interruptWord, 0, ~bits);
    if ((before & ~bits) === 0) {
      this.irq.set(false);
      // A completion between the AND and the lowering raised nothing: raise it now.
      if (Atomics.load(this.interruptWord, 0) !== 0) this.irq.set(true);
    }
  }

  read(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (offset >= 0x100) {
      this.device.readConfig(offset - 0x100, data);
      return;
    }
    if (data.length !== 4) return;
    const value = this.readRegister(offset);
    new DataView(data.buffer, data.byteOffset, 4).setUint32(0, value >>> 0, true);
  }

  private readRegister(offset: number): number {
    const q = this.queues[this.queueSel];
    switch (offset) {
      case 0x000:
        return VIRTIO_MMIO_MAGIC;
      case 0x004:
        return 2;
      case 0x008:
        return this.device.deviceId;
      case 0x00c:
        return VIRTIO_VENDOR_ID;
      case 0x010: {
        if (this.deviceFeaturesSel > 1) return 0;
        return Number((this.device.features >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn);
      }
      case 0x034:
        return q ? QUEUE_SIZE_MAX : 0;
      case 0x044:
        return q?.ready ? 1 : 0;
      case 0x060:
        return Atomics.load(this.interruptWord, 0);
      case 0x070:
        return this.status;
      case 0x0fc:
        return this.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, data: Uint8Array): void {
    if (offset >= 0x100) {
      this.device.writeConfig?.(offset - 0x100, data);
      return;
    }
    if (data.length !== 4) return;
    const value = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
    const q = this.queues[this.queueSel];
    // Queue registers may only change while the queue is not ready (§4.2.2.3).
    const queueWritable = q !== undefined && !q.ready;
    switch (offset) {
      case 0x014:
        this.deviceFeaturesSel = value;
        break;
      case 0x020:
        if (this.driverFeaturesSel <= 1 && !(this.status & STATUS_FEATURES_OK)) {
          const shift = BigInt(32 * this.driverFeaturesSel);
          this.driverFeatures =
            (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value) << shift);
        }
        break;
      case 0x024:
        this.driverFeaturesSel = value;
        break;
      case 0x030:
        this.queueSel = value;
        break;
      case 0x038:
        // A power of two up to the maximum (§2.7: split queue sizes are powers of two).
        if (queueWritable && value > 0 && value <= QUEUE_SIZE_MAX && (value & (value - 1)) === 0)
          q.num = value;
        break;
      case 0x044:
        if (q) q.ready = value === 1;
        break;
      case 0x050:
        if (this.status & STATUS_DRIVER_OK && !(this.status & STATUS_DEVICE_NEEDS_RESET))
          this.device.notify(value & 0xffff);
        break;
      case 0x064:
        this.acknowledge(value);
        break;
      case 0x070:
        this.writeStatus(value & 0xff);
        break;
      case 0x080:
      case 0x084:
      case 0x090:
      case 0x094:
      case 0x0a0:
      case 0x0a4:
        if (queueWritable) this.writeQueueAddress(q, offset, value);
        break;
      default:
        break;
    }
  }

  private writeQueueAddress(q: QueueRegisters, offset: number, value: number): void {
    const high = (offset & 4) !== 0;
    const field = offset < 0x090 ? 'desc' : offset < 0x0a0 ? 'driver' : 'device';
    const current = q[field];
    q[field] = high
      ? (current % 2 ** 32) + value * 2 ** 32
      : Math.floor(current / 2 ** 32) * 2 ** 32 + value;
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      // Reset (§2.4): back to the initial state; the device model forgets its queues.
      this.device.reset();
      this.status = 0;
      this.driverFeatures = 0n;
      this.queues = this.freshQueues();
      Atomics.store(this.interruptWord, 0, 0);
      this.irq.set(false);
      return;
    }
    if (value & STATUS_FEATURES_OK && !(this.status & STATUS_FEATURES_OK)) {
      // Only features we offered, and VERSION_1 is required for this modern transport.
      const offered = this.device.features;
      if (this.driverFeatures & ~offered || !(this.driverFeatures & (1n << VIRTIO_F_VERSION_1))) {
        this.log('virtio-mmio: the driver asked for features the device does not offer');
        value &= ~STATUS_FEATURES_OK;
      }
    }
    if (value & STATUS_DRIVER_OK && !(this.status & STATUS_DRIVER_OK)) {
      const layouts = this.queues.map((q) =>
        q.ready
          ? { size: q.num, descTable: q.desc, availRing: q.driver, usedRing: q.device }
          : null,
      );
      this.status = value;
      this.device.activate(layouts, (this.driverFeatures & (1n << VIRTIO_F_INDIRECT_DESC)) !== 0n);
      return;
    }
    this.status = value | (this.status & STATUS_DEVICE_NEEDS_RESET);
  }
}

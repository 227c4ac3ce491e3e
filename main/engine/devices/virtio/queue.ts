/**
 * A split virtqueue as the device side walks it (Virtual I/O Device (VIRTIO) Version 1.2,
 * §2.7 "Split Virtqueues"): the descriptor table (§2.7.5), the driver's available ring
 * (§2.7.6) and the device's used ring (§2.7.8), all in guest memory at addresses the driver
 * wrote. Transport-neutral: virtio-pci or virtio-mmio only tell it the addresses and size.
 *
 * Everything here comes from the guest and is hostile until checked (§2.7.5.3.1 and §2.7.4.2
 * list the driver's duties; we do not assume it met them):
 * - a descriptor index at or beyond the queue size, a chain longer than the queue (a loop),
 *   a device-readable buffer after a device-writable one, an indirect table whose length is
 *   not a multiple of 16 or is empty, an indirect descriptor inside an indirect table or with
 *   NEXT set, a buffer outside guest RAM, an available index that moved by more than the queue
 *   size: each is a {@link VirtqueueError}. The device then sets DEVICE_NEEDS_RESET (§2.1.2) and
 *   stops using the queue; nothing throws past the device, and the VM host keeps running.
 *
 * Runtime: engine (device thread).
 */
import { GuestMemoryError, type GuestMemory } from '../../memory.js';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** Used ring flag: the device asks not to be notified (§2.7.10). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Available ring flag: the driver asks for no interrupts (§2.7.7). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_MAX_SIZE = 32768;
const DESC_SIZE = 16;

/** A guest buffer of a chain: where it is and whether the device may write it. */
export interface Segment {
  address: number;
  length: number;
  writable: boolean;
}

/** One available descriptor chain: its head (returned in the used ring) and its buffers. */
export interface DescriptorChain {
  head: number;
  readable: Segment[];
  writable: Segment[];
  /** Sum of the readable lengths / of the writable lengths. */
  readableBytes: number;
  writableBytes: number;
}

/** The guest broke the virtqueue rules; the message says which. */
export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtqueueError';
  }
}

export interface VirtqueueLayout {
  size: number;
  descTable: number;
  availRing: number;
  usedRing: number;
}

export class Virtqueue {
  /** The next available-ring slot the device will read (free-running 16-bit). */
  private lastAvail = 0;
  /** The next used-ring index to publish. */
  private usedIndex = 0;
  /** The used ring's index field, for an atomic (ordered) store; null if misaligned. */
  private readonly usedIndexWord: Uint16Array | null;

  constructor(
    private readonly memory: GuestMemory,
    readonly layout: VirtqueueLayout,
    /** VIRTIO_F_INDIRECT_DESC was negotiated. */
    private readonly indirect = true,
  ) {
    const { size } = layout;
    if (!Number.isInteger(size) || size < 1 || size > VIRTQ_MAX_SIZE || (size & (size - 1)) !== 0)
      throw new VirtqueueError(`queue size ${size} is not a power of two up to ${VIRTQ_MAX_SIZE}`);
    // The rings must be inside RAM as a whole, and aligned as §2.7 requires (16, 2, 4).
    this.checkArea(layout.descTable, DESC_SIZE * size, 16, 'descriptor table');
    this.checkArea(layout.availRing, 6 + 2 * size, 2, 'available ring');
    this.checkArea(layout.usedRing, 6 + 8 * size, 4, 'used ring');
    const at = memory.bytes.byteOffset + layout.usedRing + 2;
    this.usedIndexWord = at % 2 === 0 ? new Uint16Array(memory.bytes.buffer, at, 1) : null;
  }

  private checkArea(address: number, length: number, align: number, what: string): void {
    if (!Number.isSafeInteger(address) || address % align !== 0)
      throw new VirtqueueError(`${what} at 0x${address.toString(16)} is not ${align}-byte aligned`);
    try {
      this.memory.check(address, length);
    } catch (e) {
      if (e instanceof GuestMemoryError)
        throw new VirtqueueError(`${what} at 0x${address.toString(16)} is outside guest RAM`);
      throw e;
    }
  }

  /** Whether the driver has made chains available that the device has not taken. */
  hasAvailable(): boolean {
    return this.availIndex() !== this.lastAvail;
  }

  private availIndex(): number {
    return this.memory.readU16(this.layout.availRing + 2);
  }

  /** Takes the next available chain, or null when there is none. Throws VirtqueueError. */
  pop(): DescriptorChain | null {
    const avail = this.availIndex();
    const pending = (avail - this.lastAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > this.layout.size)
      throw new VirtqueueError(
        `available index moved by ${pending}, more than the queue size ${this.layout.size}`,
      );
    const slot = this.lastAvail % this.layout.size;
    const head = this.memory.readU16(this.layout.availRing + 4 + 2 * slot);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return this.walk(head);
  }

  private walk(head: number): DescriptorChain {
    const size = this.layout.size;
    if (head >= size) throw new VirtqueueError(`head descriptor ${head} is beyond the queue size`);
    const chain: DescriptorChain = {
      head,
      readable: [],
      writable: [],
      readableBytes: 0,
      writableBytes: 0,
    };
    let table = this.layout.descTable;
    let tableSize = size;
    let index = head;
    let inIndirect = false;
    // A chain visits each descriptor at most once: more steps than descriptors is a loop.
    let budget = size;
    for (;;) {
      if (budget-- <= 0) throw new VirtqueueError('descriptor chain loops');
      const at = table + DESC_SIZE * index;
      const address = Number(this.memory.readU64(at));
      const length = this.memory.readU32(at + 8);
      const flags = this.memory.readU16(at + 12);
      const next = this.memory.readU16(at + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) throw new VirtqueueError('indirect descriptor without the feature');
        if (inIndirect) throw new VirtqueueError('indirect descriptor inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT)
          throw new VirtqueueError('indirect descriptor with NEXT set (§2.7.5.3.1)');
        if (length === 0 || length % DESC_SIZE !== 0 || length / DESC_SIZE > VIRTQ_MAX_SIZE)
          throw new VirtqueueError(`indirect table length ${length} is not n * 16 bytes`);
        this.checkArea(address, length, 1, 'indirect table');
        table = address;
        tableSize = length / DESC_SIZE;
        budget = tableSize;
        index = 0;
        inIndirect = true;
        continue;
      }
      if (length > 0) {
        try {
          this.memory.check(address, length);
        } catch (e) {
          if (e instanceof GuestMemoryError)
            throw new VirtqueueError(
              `buffer 0x${address.toString(16)}+${length} of descriptor ${index} is outside guest RAM`,
            );
          throw e;
        }
        const writable = (flags & VIRTQ_DESC_F_WRITE) !== 0;
        if (!writable && chain.writable.length > 0)
          throw new VirtqueueError('device-readable buffer after a device-writable one');
        (writable ? chain.writable : chain.readable).push({ address, length, writable });
        if (writable) chain.writableBytes += length;
        else chain.readableBytes += length;
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
      if (next >= tableSize) throw new VirtqueueError(`next descriptor ${next} is out of range`);
      index = next;
    }
  }

  /** Returns a chain to the driver with `written` bytes written into its buffers (§2.7.8). */
  push(head: number, written: number): void {
    const slot = this.usedIndex % this.layout.size;
    const entry = this.layout.usedRing + 4 + 8 * slot;
    this.memory.writeU32(entry, head);
    this.memory.writeU32(entry + 4, written);
    this.usedIndex = (this.usedIndex + 1) & 0xffff;
    // The entry must be visible before the index that publishes it (§2.7.8.2): a
    // sequentially consistent store keeps the JIT from moving it ahead of the entry's stores.
    if (this.usedIndexWord) Atomics.store(this.usedIndexWord, 0, this.usedIndex);
    else this.memory.writeU16(this.layout.usedRing + 2, this.usedIndex);
  }

  /** Whether the driver wants an interrupt now (it may suppress them, §2.7.7). */
  wantsInterrupt(): boolean {
    return (this.memory.readU16(this.layout.availRing) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }
}

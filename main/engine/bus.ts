/**
 * The device bus: how port I/O and MMIO exits reach device models.
 *
 * Modelled on Firecracker's `BusDevice` trait: a device answers `read(offset, data)` and
 * `write(offset, data)` for the range it registered, with `offset` relative to the range's base.
 * A device never knows which vCPU, thread or backend (KVM, HVF) caused the access.
 *
 * Runtime: engine (plain Node, no Electron).
 */

/** A device model mapped on a bus. `data.length` is the access width in bytes (1, 2, 4 or 8). */
export interface BusDevice {
  /** Fill `data` with the value read at `offset`. Unfilled bytes read as whatever `data` held (the bus pre-fills 0xff). */
  read(offset: number, data: Uint8Array): void;
  /** Consume the value written at `offset`. */
  write(offset: number, data: Uint8Array): void;
  /**
   * Optional: string I/O (`rep insw`/`rep outsw`) as one call, `data.length / size` elements of
   * `size` bytes at the same `offset`, equivalent to that many read()/write() calls. A data
   * port that moves sectors offers it so a 2 KiB block is one call, not 1,024.
   */
  readString?(offset: number, size: number, data: Uint8Array): void;
  writeString?(offset: number, size: number, data: Uint8Array): void;
  /**
   * Optional: addresses in the range where a write of `size` bytes only says "look" (a virtio
   * queue's notify address): the hypervisor may turn them into ioeventfds (KVM_IOEVENTFD), so
   * such a write never leaves the kernel and `ring()` runs on the device thread a moment later.
   * A write of another size still arrives through write(). `ring` checks the device's state
   * itself, and may be called spuriously.
   */
  readonly doorbells?: readonly Doorbell[];
}

/** A write-only trigger inside a device's range (see {@link BusDevice.doorbells}). */
export interface Doorbell {
  /** Offset from the range's base. */
  readonly offset: number;
  readonly size: 1 | 2 | 4 | 8;
  ring(): void;
}

export interface BusRange {
  readonly base: number;
  readonly length: number;
  readonly name: string;
  readonly device: BusDevice;
  /**
   * Writes need no answer and may be delivered late (a log port such as SeaBIOS's debug
   * console): the vCPU does not wait for the device thread. Reads still make a round trip.
   */
  readonly posted?: boolean;
  /**
   * Single-byte reads of a port whose value the device has published ({@link Bus.publishRead})
   * are answered by the vCPU thread from {@link Bus.sharedReads} without a round trip. The
   * device publishes only while reading has no side effect (an IDE alternate status; a UART's
   * LSR with no error bits to clear) and withdraws the value otherwise. Writes, wider reads and
   * unpublished ports still reach the device.
   */
  readonly sharedRead?: boolean;
}

/** Raised when a device asks for a range that overlaps one already registered. */
export class BusConflictError extends Error {
  constructor(
    readonly wanted: { base: number; length: number; name: string },
    readonly existing: BusRange,
  ) {
    super(
      `bus: ${wanted.name} at 0x${wanted.base.toString(16)}+${wanted.length} overlaps ` +
        `${existing.name} at 0x${existing.base.toString(16)}+${existing.length}`,
    );
    this.name = 'BusConflictError';
  }
}

/**
 * One address space (x86 I/O ports, or guest-physical MMIO). Ranges are kept sorted and looked
 * up by binary search; accesses to unclaimed addresses read all-ones and drop writes, as on a
 * real ISA/PCI bus with no device decoding the address (master abort).
 */
/**
 * An interrupt status register pair kept in shared memory, which the vCPU thread may answer
 * itself (no round trip to the device thread): reads of `statusAddress` (4 bytes) return the
 * word, writes to `ackAddress` clear the written bits and lower the interrupt line `gsi` when
 * none are left. The device sets bits with Atomics.or and raises the line on 0 -> nonzero.
 * virtio-mmio's InterruptStatus/InterruptACK are such a pair (virtio 1.2 §4.2.2).
 */
export interface SharedInterruptStatus {
  statusAddress: number;
  ackAddress: number;
  /** One Int32 word, the status bits. */
  buffer: SharedArrayBuffer;
  gsi: number;
}

/** The flag in {@link Bus.sharedReads} that says the entry holds the port's value. */
export const SHARED_READ_VALID = 0x100;

export class Bus {
  private readonly ranges: BusRange[] = [];
  /** Registers the vCPU thread may answer from shared memory (MMIO bus only). */
  readonly sharedInterruptStatus: SharedInterruptStatus[] = [];
  /** Accesses nobody claimed, for diagnostics (`vireo` logs them at debug level). */
  unclaimedReads = 0;
  unclaimedWrites = 0;

  /**
   * One entry per port (port bus only): {@link SHARED_READ_VALID} plus the byte a `sharedRead`
   * port reads as, or 0 when the device wants the read itself. Shared with the vCPU threads;
   * devices write it through {@link publishRead}.
   */
  readonly sharedReads = new Uint16Array(new SharedArrayBuffer(65536 * 2));

  /** Told after every register/unregister: the vCPU threads' map of claimed ports follows. */
  private readonly changeListeners: (() => void)[] = [];

  constructor(readonly name: string) {}

  /** Calls `listener` after each change of the bus's ranges (a BAR the guest placed, moved). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  register(
    base: number,
    length: number,
    device: BusDevice,
    name: string,
    options: { posted?: boolean; sharedRead?: boolean } = {},
  ): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length <= 0) {
      throw new RangeError(
        `bus ${this.name}: bad range for ${name}: base ${base}, length ${length}`,
      );
    }
    const wanted = { base, length, name };
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) throw new BusConflictError(wanted, r);
    }
    this.ranges.push({
      base,
      length,
      name,
      device,
      ...(options.posted ? { posted: true } : {}),
      ...(options.sharedRead ? { sharedRead: true } : {}),
    });
    this.ranges.sort((a, b) => a.base - b.base);
    this.changed();
  }

  /**
   * The value a `sharedRead` port reads as from now on, or undefined: reads go to the device
   * (it has a read side effect to apply).
   */
  publishRead(port: number, value: number | undefined): void {
    Atomics.store(
      this.sharedReads,
      port,
      value === undefined ? 0 : SHARED_READ_VALID | (value & 0xff),
    );
  }

  unregister(base: number): void {
    const i = this.ranges.findIndex((r) => r.base === base);
    if (i < 0) return;
    this.ranges.splice(i, 1);
    this.changed();
  }

  /** The range containing `address`, or undefined. */
  find(address: number): BusRange | undefined {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.ranges[mid]!;
      if (address < r.base) hi = mid - 1;
      else if (address >= r.base + r.length) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  /** Dispatch a read; returns false when no device claims the address (data is then all-ones). */
  read(address: number, data: Uint8Array): boolean {
    data.fill(0xff);
    const r = this.find(address);
    if (!r) {
      this.unclaimedReads++;
      return false;
    }
    r.device.read(address - r.base, data);
    return true;
  }

  /** Dispatch a write; returns false when no device claims the address (the write is dropped). */
  write(address: number, data: Uint8Array): boolean {
    const r = this.find(address);
    if (!r) {
      this.unclaimedWrites++;
      return false;
    }
    r.device.write(address - r.base, data);
    return true;
  }

  /** String I/O: `data` holds `data.length / size` elements for one address. */
  readString(address: number, size: number, data: Uint8Array): boolean {
    const r = this.find(address);
    if (r?.device.readString) {
      data.fill(0xff);
      r.device.readString(address - r.base, size, data);
      return true;
    }
    let claimed = true;
    for (let i = 0; i < data.length; i += size)
      claimed = this.read(address, data.subarray(i, i + size)) && claimed;
    return claimed;
  }

  writeString(address: number, size: number, data: Uint8Array): boolean {
    const r = this.find(address);
    if (r?.device.writeString) {
      r.device.writeString(address - r.base, size, data);
      return true;
    }
    let claimed = true;
    for (let i = 0; i < data.length; i += size)
      claimed = this.write(address, data.subarray(i, i + size)) && claimed;
    return claimed;
  }

  list(): readonly BusRange[] {
    return this.ranges;
  }
}

/**
 * An interrupt line a device drives. The machine wires it to the backend (KVM_IRQ_LINE on the
 * in-kernel PIC/IOAPIC for KVM). Edge-triggered ISA devices pulse it: set(true) then set(false).
 */
export interface IrqLine {
  set(level: boolean): void;
}

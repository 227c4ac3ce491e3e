/**
 * Guest physical memory: one SharedArrayBuffer that every thread of the VM host sees (device
 * thread and vCPU workers) and that the hypervisor maps as guest RAM by address.
 *
 * Why a SharedArrayBuffer: Electron's V8 memory cage forbids ArrayBuffers over external memory
 * (so `koffi.view` of an mmap is out); a SAB is V8-owned, shareable across worker_threads, and
 * its address can be registered with KVM_SET_USER_MEMORY_REGION (see docs/architecture.md and
 * shared recipes/engine-facts.md). V8 does not page-align large SABs, so we over-allocate and
 * place guest physical 0 at the first 2 MiB boundary inside the buffer (the kernel's KVM docs
 * recommend equal low 21 bits of guest-physical and host-virtual addresses for huge pages).
 *
 * Every access from a device model is bounds-checked here: guest-supplied addresses (DMA,
 * descriptor tables) are hostile and an out-of-range one raises {@link GuestMemoryError},
 * which the device turns into the error the hardware would report.
 *
 * Runtime: engine.
 */

export const GUEST_RAM_ALIGNMENT = 2 * 1024 * 1024;

/** A guest-physical range outside RAM was accessed. */
export class GuestMemoryError extends Error {
  constructor(
    readonly address: number,
    readonly length: number,
    readonly size: number,
  ) {
    super(
      `guest memory: access at 0x${address.toString(16)} length ${length} is outside RAM (0..0x${size.toString(16)})`,
    );
    this.name = 'GuestMemoryError';
  }
}

/**
 * Guest RAM as seen from one thread. Construct with {@link GuestMemory.allocate} on the device
 * thread, pass `{ buffer, offset, size }` to workers and rebuild with {@link GuestMemory.fromShared}.
 */
export class GuestMemory {
  /** All of guest RAM, guest-physical 0 at index 0. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  private constructor(
    readonly buffer: SharedArrayBuffer,
    /** Byte offset in `buffer` of guest-physical 0 (2 MiB aligned in host virtual memory once the hypervisor computes it). */
    readonly offset: number,
    readonly size: number,
  ) {
    this.bytes = new Uint8Array(buffer, offset, size);
    this.view = new DataView(buffer, offset, size);
  }

  /**
   * Allocate `size` bytes of guest RAM plus slack for alignment. `alignOffset` maps the buffer's
   * host address to the offset of the first aligned byte; the hypervisor provides it (KVM: from
   * koffi.address), since JavaScript cannot see addresses.
   */
  static allocate(size: number, alignOffset: (buffer: SharedArrayBuffer) => number): GuestMemory {
    if (!Number.isSafeInteger(size) || size <= 0 || size % 4096 !== 0) {
      throw new RangeError(`guest memory: size ${size} must be a positive multiple of 4096`);
    }
    const buffer = new SharedArrayBuffer(size + GUEST_RAM_ALIGNMENT);
    const offset = alignOffset(buffer);
    if (offset < 0 || offset + size > buffer.byteLength) {
      throw new RangeError(`guest memory: alignment offset ${offset} does not fit`);
    }
    return new GuestMemory(buffer, offset, size);
  }

  static fromShared(shared: {
    buffer: SharedArrayBuffer;
    offset: number;
    size: number;
  }): GuestMemory {
    return new GuestMemory(shared.buffer, shared.offset, shared.size);
  }

  toShared(): { buffer: SharedArrayBuffer; offset: number; size: number } {
    return { buffer: this.buffer, offset: this.offset, size: this.size };
  }

  /** Throws GuestMemoryError unless [address, address+length) lies in RAM. */
  check(address: number, length: number): void {
    if (
      !Number.isSafeInteger(address) ||
      !Number.isSafeInteger(length) ||
      address < 0 ||
      length < 0 ||
      address + length > this.size
    ) {
      throw new GuestMemoryError(address, length, this.size);
    }
  }

  /** A live view (no copy) of guest RAM; writes through it are seen by the guest. */
  slice(address: number, length: number): Uint8Array {
    this.check(address, length);
    return this.bytes.subarray(address, address + length);
  }

  read(address: number, into: Uint8Array): void {
    this.check(address, into.length);
    into.set(this.bytes.subarray(address, address + into.length));
  }

  write(address: number, from: Uint8Array): void {
    this.check(address, from.length);
    this.bytes.set(from, address);
  }

  readU8(a: number): number {
    this.check(a, 1);
    return this.view.getUint8(a);
  }
  readU16(a: number): number {
    this.check(a, 2);
    return this.view.getUint16(a, true);
  }
  readU32(a: number): number {
    this.check(a, 4);
    return this.view.getUint32(a, true);
  }
  readU64(a: number): bigint {
    this.check(a, 8);
    return this.view.getBigUint64(a, true);
  }
  writeU8(a: number, v: number): void {
    this.check(a, 1);
    this.view.setUint8(a, v);
  }
  writeU16(a: number, v: number): void {
    this.check(a, 2);
    this.view.setUint16(a, v, true);
  }
  writeU32(a: number, v: number): void {
    this.check(a, 4);
    this.view.setUint32(a, v >>> 0, true);
  }
  writeU64(a: number, v: bigint): void {
    this.check(a, 8);
    this.view.setBigUint64(a, v, true);
  }
}

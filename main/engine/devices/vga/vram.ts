/**
 * Video RAM of the standard VGA and its dirty-page log.
 *
 * Layout (the one QEMU's vga.c uses, so chain-4, Bochs VBE and the linear framebuffer see the
 * same bytes): VGA planar address `a` of plane `p` lives at byte `a * 4 + p`. A 32-bit load at
 * `a * 4` is the four-plane latch; chain-4 (mode 13h) and VBE pixel bytes are simply linear.
 *
 * The linear framebuffer (PCI BAR0) is meant to be a KVM memory slot over these very bytes, not
 * MMIO exits: a guest drawing a 1920x1080x32 frame writes 8 MiB, which as exits would be two
 * million round trips to JavaScript. Hence a SharedArrayBuffer (V8-owned memory KVM can map,
 * see shared recipes/engine-facts.md) and a dirty log fed either by this device's own writes
 * (legacy window, {@link Vram.markDirty}) or by KVM_GET_DIRTY_LOG for the slot
 * ({@link Vram.reportDirtyLog}, one bit per 4 KiB page, the kernel's layout).
 *
 * Runtime: engine (device thread).
 */

export const VRAM_PAGE_SIZE = 4096;
const PAGE_SHIFT = 12;
export const VRAM_DEFAULT_SIZE = 16 * 1024 * 1024;
export const VRAM_MIN_SIZE = 1024 * 1024;
export const VRAM_MAX_SIZE = 256 * 1024 * 1024;

/** A VRAM size or buffer the VGA cannot use; the message names the accepted values. */
export class VramConfigError extends Error {
  constructor(message: string) {
    super(`vga: ${message}`);
    this.name = 'VramConfigError';
  }
}

/**
 * Allocate VRAM the machine can register as a KVM memory slot: KVM wants a page-aligned host
 * address and V8 does not align large SharedArrayBuffers, so over-allocate and start at the
 * offset `alignOffset` (the hypervisor computes it from the buffer's address, as for guest RAM
 * in `engine/memory.ts`) reports. Pass the result as `StdVgaOptions.vram`.
 */
export function allocateAlignedVram(
  size: number,
  alignOffset: (buffer: SharedArrayBuffer) => number,
  alignment: number = 2 * 1024 * 1024,
): Uint8Array {
  const buffer = new SharedArrayBuffer(size + alignment);
  const offset = alignOffset(buffer);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > buffer.byteLength) {
    throw new VramConfigError(`alignment offset ${offset} does not fit a ${size}-byte VRAM`);
  }
  return new Uint8Array(buffer, offset, size);
}

export class Vram {
  readonly bytes: Uint8Array;
  /** The same bytes as little-endian 32-bit planar groups (one latch per element). */
  readonly groups: Uint32Array;
  readonly size: number;
  /** One byte per 4 KiB page: non-zero = written since the renderer last took the log. */
  private readonly dirtyPages: Uint8Array;
  private anyDirty = true;

  /**
   * @param bytes VRAM the caller owns (ideally over a SharedArrayBuffer so the machine can map
   *   it as the LFB memory slot), or undefined to allocate `size` bytes in a new SharedArrayBuffer.
   */
  constructor(size: number = VRAM_DEFAULT_SIZE, bytes?: Uint8Array) {
    if (bytes) size = bytes.length;
    if (
      !Number.isSafeInteger(size) ||
      size < VRAM_MIN_SIZE ||
      size > VRAM_MAX_SIZE ||
      (size & (size - 1)) !== 0
    ) {
      // A power of two because the PCI BAR is sized by its alignment and bank masks assume it.
      throw new VramConfigError(
        `VRAM size ${size} must be a power of two from 1 MiB to 256 MiB (default 16 MiB)`,
      );
    }
    if (bytes && bytes.byteOffset % 4 !== 0) {
      throw new VramConfigError('VRAM buffer must start on a 4-byte boundary');
    }
    this.size = size;
    this.bytes = bytes ?? new Uint8Array(new SharedArrayBuffer(size));
    this.groups = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, size >>> 2);
    this.dirtyPages = new Uint8Array(size >>> PAGE_SHIFT).fill(1);
  }

  get pageCount(): number {
    return this.dirtyPages.length;
  }

  /** Record that the guest (or the machine on its behalf) changed `length` bytes at `offset`. */
  markDirty(offset: number, length: number): void {
    if (!(length > 0) || !(offset < this.size) || !(offset + length > 0)) return;
    const first = Math.max(0, Math.floor(offset)) >>> PAGE_SHIFT;
    const last = Math.min(this.size - 1, Math.floor(offset + length - 1)) >>> PAGE_SHIFT;
    for (let p = first; p <= last; p++) this.dirtyPages[p] = 1;
    this.anyDirty = true;
  }

  /** Mark one byte's page: the hot path of legacy-window writes. */
  markByteDirty(offset: number): void {
    this.dirtyPages[offset >>> PAGE_SHIFT] = 1;
    this.anyDirty = true;
  }

  markAllDirty(): void {
    this.dirtyPages.fill(1);
    this.anyDirty = true;
  }

  /**
   * Merge a KVM dirty bitmap (KVM_GET_DIRTY_LOG: bit `i` of byte `i >> 3` set = page
   * `firstPage + i` written) into the log. Bits past the end of VRAM are ignored.
   */
  reportDirtyLog(bitmap: Uint8Array, firstPage = 0): void {
    const pages = this.dirtyPages.length;
    for (let byte = 0; byte < bitmap.length; byte++) {
      const bits = bitmap[byte]!;
      if (bits === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        const page = firstPage + byte * 8 + bit;
        if (bits & (1 << bit) && page >= 0 && page < pages) {
          this.dirtyPages[page] = 1;
          this.anyDirty = true;
        }
      }
    }
  }

  /** Copy the log into `into` (one byte per page) and clear it; returns whether any page was dirty. */
  takeDirtyLog(into: Uint8Array): boolean {
    if (!this.anyDirty) {
      into.fill(0);
      return false;
    }
    into.set(this.dirtyPages);
    this.dirtyPages.fill(0);
    this.anyDirty = false;
    return true;
  }
}

/** True if any page covering bytes [start, start + length) is set in a taken log. */
export function rangeDirty(log: Uint8Array, start: number, length: number): boolean {
  if (length <= 0) return false;
  const first = Math.max(0, start) >>> PAGE_SHIFT;
  const last = Math.min(log.length - 1, (start + length - 1) >>> PAGE_SHIFT);
  for (let p = first; p <= last; p++) if (log[p] !== 0) return true;
  return false;
}

/**
 * One PCI function's 256-byte configuration space (type 0 header), as the PCI Local Bus
 * Specification 3.0 §6.1-6.2 defines it: identity registers, the command and status
 * registers, six Base Address Registers, the expansion ROM BAR, and the interrupt line/pin.
 *
 * What a guest may change is held in a write mask (bytes the device lets software write);
 * everything else is read-only, so firmware probing with all-ones sees exactly the BAR sizes
 * (§6.2.5.1: "software ... writes a value of all 1's to the register and then reads it back").
 *
 * A BAR or ROM BAR the guest moves or enables is announced through `onMap`, which the machine
 * turns into a KVM memory slot (framebuffer, option ROM) or a bus range (register blocks).
 * The device decodes a memory BAR only while Memory Space (command bit 1) is on, and an I/O
 * BAR while I/O Space (bit 0) is on; the ROM also needs its own enable bit (bit 0 of 30h).
 *
 * Every value a guest writes is hostile: sizes are powers of two and addresses are masked to
 * them, so no write can make a BAR overlap its own alignment or reach outside 32 bits.
 *
 * Runtime: engine (device thread).
 */

export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BAR0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;

export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
/** Header type bit 7: the device has more functions than function 0 (§6.2.1). */
export const PCI_HEADER_MULTIFUNCTION = 0x80;
export const PCI_ROM_ENABLE = 0x1;

export type PciBarKind = 'io' | 'memory32';

export interface PciBar {
  kind: PciBarKind;
  /** A power of two: at least 4 bytes for I/O, 16 for memory (we use 4 KiB and more). */
  size: number;
  prefetchable?: boolean;
}

export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  /** 24 bits: base class, subclass, programming interface. */
  classCode: number;
  revision?: number;
  headerType?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** 1 = INTA# ... 4 = INTD#; 0 or absent for none. */
  interruptPin?: number;
}

/** Where a BAR decodes now: `address` undefined when it is off (disabled or unassigned). */
export interface PciMapping {
  bar: number | 'rom';
  kind: PciBarKind;
  address: number | undefined;
  size: number;
}

const IO_SPACE_LIMIT = 0x10000;

export class PciConfigSpace {
  readonly bytes = new Uint8Array(256);
  /** 1 bits: the guest may write that bit. */
  private readonly writable = new Uint8Array(256);
  private readonly bars: (PciBar | undefined)[] = [];
  private rom: { size: number } | undefined;
  /** What each BAR decoded last time we told the machine, to announce only changes. */
  private readonly mapped = new Map<number | 'rom', number | undefined>();
  onMap: ((mapping: PciMapping) => void) | undefined;

  constructor(
    identity: PciIdentity,
    options: { bars?: Partial<Record<0 | 1 | 2 | 3 | 4 | 5, PciBar>>; romSize?: number } = {},
  ) {
    this.setU16(PCI_VENDOR_ID, identity.vendorId);
    this.setU16(PCI_DEVICE_ID, identity.deviceId);
    this.bytes[PCI_REVISION_ID] = identity.revision ?? 0;
    this.bytes[PCI_CLASS_PROG] = identity.classCode & 0xff;
    this.bytes[PCI_CLASS_PROG + 1] = (identity.classCode >>> 8) & 0xff;
    this.bytes[PCI_CLASS_PROG + 2] = (identity.classCode >>> 16) & 0xff;
    this.bytes[PCI_HEADER_TYPE] = identity.headerType ?? 0;
    this.setU16(PCI_SUBSYSTEM_VENDOR_ID, identity.subsystemVendorId ?? 0);
    this.setU16(PCI_SUBSYSTEM_ID, identity.subsystemId ?? 0);
    this.bytes[PCI_INTERRUPT_PIN] = identity.interruptPin ?? 0;
    // Command: I/O, memory, bus master, INTx disable are ours to honour (§6.2.2).
    this.writable[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    this.writable[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >>> 8;
    this.writable[PCI_INTERRUPT_LINE] = 0xff; // a scratch register for the OS (§6.2.4)
    // Status: the "received abort" bits are write-one-to-clear; we never set them.
    for (const [key, bar] of Object.entries(options.bars ?? {})) {
      const index = Number(key);
      if (!bar) continue;
      const min = bar.kind === 'io' ? 4 : 16;
      if (bar.size < min || (bar.size & (bar.size - 1)) !== 0 || bar.size > 0x8000_0000)
        throw new RangeError(`PCI BAR${index}: size ${bar.size} is not a power of two >= ${min}`);
      if (bar.kind === 'io' && bar.size > 256)
        throw new RangeError(`PCI BAR${index}: I/O BARs are at most 256 bytes`);
      this.bars[index] = bar;
      const offset = PCI_BAR0 + index * 4;
      const low = bar.kind === 'io' ? 0x1 : bar.prefetchable ? 0x8 : 0x0;
      this.setU32(offset, low);
      this.setMaskU32(offset, ~(bar.size - 1) >>> 0);
    }
    if (options.romSize !== undefined) {
      const size = options.romSize;
      if (size < 2048 || (size & (size - 1)) !== 0)
        throw new RangeError(`PCI ROM BAR: size ${size} is not a power of two >= 2 KiB`);
      this.rom = { size };
      this.setMaskU32(PCI_ROM_ADDRESS, ((~(size - 1) >>> 0) | PCI_ROM_ENABLE) >>> 0);
    }
  }

  /** Device-specific registers (above 0x40) the guest may write; `mask` per byte. */
  allowWrite(offset: number, length: number, mask = 0xff): void {
    for (let i = 0; i < length; i++) this.writable[offset + i] = mask;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.bytes[(offset + i) & 0xff]! << (i * 8);
    return value >>> 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) {
      const at = (offset + i) & 0xff;
      const mask = this.writable[at]!;
      const byte = (value >>> (i * 8)) & 0xff;
      this.bytes[at] = (this.bytes[at]! & ~mask) | (byte & mask);
    }
    this.announce();
  }

  get command(): number {
    return this.read(PCI_COMMAND, 2);
  }

  /** The address a BAR decodes at now, or undefined if it is off. */
  barAddress(index: number | 'rom'): number | undefined {
    const command = this.command;
    if (index === 'rom') {
      if (!this.rom) return undefined;
      const raw = this.read(PCI_ROM_ADDRESS, 4);
      if (!(raw & PCI_ROM_ENABLE) || !(command & PCI_COMMAND_MEMORY)) return undefined;
      const address = (raw & ~(this.rom.size - 1)) >>> 0;
      return address === 0 ? undefined : address;
    }
    const bar = this.bars[index];
    if (!bar) return undefined;
    const raw = this.read(PCI_BAR0 + index * 4, 4);
    if (bar.kind === 'io') {
      if (!(command & PCI_COMMAND_IO)) return undefined;
      const address = raw & ~(bar.size - 1) & 0xfffc;
      // Unassigned (0) or a window that would wrap past the 64 KiB port space is off.
      return address === 0 || address + bar.size > IO_SPACE_LIMIT ? undefined : address;
    }
    if (!(command & PCI_COMMAND_MEMORY)) return undefined;
    const address = (raw & ~(bar.size - 1)) >>> 0;
    // All-ones (mid-sizing) or zero means "not placed"; a BAR is only decoded once placed.
    if (address === 0 || address + bar.size > 0x1_0000_0000) return undefined;
    return address;
  }

  private announce(): void {
    const indexes: (number | 'rom')[] = [];
    for (let i = 0; i < 6; i++) if (this.bars[i]) indexes.push(i);
    if (this.rom) indexes.push('rom');
    for (const index of indexes) {
      const address = this.barAddress(index);
      if (this.mapped.get(index) === address) continue;
      this.mapped.set(index, address);
      const size = index === 'rom' ? this.rom!.size : this.bars[index]!.size;
      const kind = index === 'rom' ? 'memory32' : this.bars[index]!.kind;
      this.onMap?.({ bar: index, kind, address, size });
    }
  }

  private setU16(offset: number, value: number): void {
    this.bytes[offset] = value & 0xff;
    this.bytes[offset + 1] = (value >>> 8) & 0xff;
  }

  setU32(offset: number, value: number): void {
    for (let i = 0; i < 4; i++) this.bytes[offset + i] = (value >>> (i * 8)) & 0xff;
  }

  private setMaskU32(offset: number, mask: number): void {
    for (let i = 0; i < 4; i++) this.writable[offset + i] = (mask >>> (i * 8)) & 0xff;
  }
}

/** A function on the PCI bus: its configuration space plus what its registers do when written. */
export interface PciFunction {
  readonly name: string;
  readonly config: PciConfigSpace;
  /** Optional hook after the guest writes config space (e.g. PAM registers). */
  afterConfigWrite?(offset: number, size: number): void;
}

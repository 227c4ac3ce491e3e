/**
 * QEMU's firmware configuration device (fw_cfg), the way SeaBIOS's QEMU build reads it
 * (QEMU docs/specs/fw_cfg.rst; SeaBIOS src/fw/paravirt.c): it is how the firmware learns the
 * memory map, the boot order and, later, the ACPI tables without probing hardware.
 *
 * Ports (I/O, "x86" layout): selector 0x510 (16-bit write; the selected item's read offset
 * goes back to 0), data 0x511 (8-bit reads, auto-incrementing; past the end reads 0), DMA
 * address 0x514 (big-endian 64-bit: the high word at 0x514, the low at 0x518; writing the low
 * word starts the transfer).
 *
 * Items: 0x0000 signature "QEMU", 0x0001 ID (bit 0 traditional interface, bit 1 DMA), 0x0019 the
 * file directory (be32 count, then { be32 size, be16 select, be16 reserved, char name[56] },
 * sorted by name), files from 0x0020, and the legacy numeric items the machine adds.
 *
 * DMA (FWCfgDmaAccess { be32 control; be32 length; be64 address } in guest RAM): control bits
 * error 0x01, read 0x02, skip 0x04, select 0x08 (selector in the upper 16 bits), write 0x10.
 * Writes are refused (error bit), as QEMU does for read-only items. A descriptor or a buffer
 * outside guest RAM sets the error bit; nothing throws.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';
import { GuestMemoryError, type GuestMemory } from '../../memory.js';

export const FW_CFG_PORT_SELECTOR = 0x510;
export const FW_CFG_PORT_DATA = 0x511;
export const FW_CFG_PORT_DMA = 0x514;

export const FW_CFG_SIGNATURE = 0x0000;
export const FW_CFG_ID = 0x0001;
export const FW_CFG_RAM_SIZE = 0x0003;
export const FW_CFG_NB_CPUS = 0x0005;
/** Legacy item SeaBIOS reads as `etc/show-boot-menu` (u16, nonzero: offer the menu). */
export const FW_CFG_BOOT_MENU = 0x000e;
export const FW_CFG_MAX_CPUS = 0x000f;
export const FW_CFG_FILE_DIR = 0x0019;
export const FW_CFG_FILE_FIRST = 0x0020;

export const DMA_CTL_ERROR = 0x01;
export const DMA_CTL_READ = 0x02;
export const DMA_CTL_SKIP = 0x04;
export const DMA_CTL_SELECT = 0x08;
export const DMA_CTL_WRITE = 0x10;

const FILE_NAME_BYTES = 56;
/** The most files the directory holds (QEMU's default limit is 0x20 + 64 keys... plenty). */
const MAX_FILES = 256;

export class FwCfg {
  private readonly items = new Map<number, Uint8Array>();
  private readonly files = new Map<string, Uint8Array>();
  private selected = 0;
  private offset = 0;
  private dmaHigh = 0;
  /** Selector and data ports, 0x510-0x511. */
  readonly ioPorts: BusDevice;
  /** DMA address, 0x514-0x51B. */
  readonly dmaPorts: BusDevice;

  constructor(
    private readonly memory: GuestMemory,
    /** Guest RAM ends here (the buffer may hold more, e.g. the firmware image). */
    private readonly ramBytes: number,
  ) {
    this.items.set(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.setU32(FW_CFG_ID, 0b11);
    this.ioPorts = {
      read: (offset, data) => {
        data.fill(0);
        if (offset === 1) for (let i = 0; i < data.length; i++) data[i] = this.readByte();
      },
      write: (offset, data) => {
        if (offset === 0 && data.length >= 2) this.select(data[0]! | (data[1]! << 8));
      },
    };
    this.dmaPorts = {
      read: (_offset, data) => data.fill(0),
      write: (offset, data) => {
        if (data.length !== 4) return;
        const value = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, false);
        if (offset === 0) this.dmaHigh = value;
        else if (offset === 4) {
          const address = this.dmaHigh * 2 ** 32 + value;
          this.dmaHigh = 0;
          this.dma(address);
        }
      },
    };
  }

  setU16(key: number, v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.items.set(key, b);
  }

  setU32(key: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.items.set(key, b);
  }

  setU64(key: number, v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.items.set(key, b);
  }

  /** Adds or replaces a named file; the directory is rebuilt (names sorted, as QEMU does). */
  addFile(name: string, bytes: Uint8Array): void {
    const encoded = new TextEncoder().encode(name);
    if (encoded.length === 0 || encoded.length >= FILE_NAME_BYTES)
      throw new RangeError(`fw_cfg: file name "${name}" must be 1 to 55 bytes`);
    if (!this.files.has(name) && this.files.size >= MAX_FILES)
      throw new RangeError('fw_cfg: too many files');
    this.files.set(name, bytes);
    this.rebuildDirectory();
  }

  private rebuildDirectory(): void {
    const names = [...this.files.keys()].sort();
    const dir = new Uint8Array(4 + 64 * names.length);
    const v = new DataView(dir.buffer);
    v.setUint32(0, names.length, false);
    names.forEach((name, i) => {
      const select = FW_CFG_FILE_FIRST + i;
      const bytes = this.files.get(name)!;
      v.setUint32(4 + 64 * i, bytes.length, false);
      v.setUint16(8 + 64 * i, select, false);
      dir.set(new TextEncoder().encode(name), 12 + 64 * i);
      this.items.set(select, bytes);
    });
    this.items.set(FW_CFG_FILE_DIR, dir);
  }

  private select(key: number): void {
    this.selected = key;
    this.offset = 0;
  }

  private readByte(): number {
    const item = this.items.get(this.selected);
    if (!item || this.offset >= item.length) return 0;
    return item[this.offset++]!;
  }

  private inRam(address: number, length: number): boolean {
    return Number.isSafeInteger(address) && address >= 0 && address + length <= this.ramBytes;
  }

  private dma(address: number): void {
    if (!this.inRam(address, 16)) return; // nowhere to report the error: ignore, like QEMU
    const m = this.memory;
    try {
      const view = m.slice(address, 16);
      const dv = new DataView(view.buffer, view.byteOffset, 16);
      const control = dv.getUint32(0, false);
      const length = dv.getUint32(4, false);
      const target = Number(dv.getBigUint64(8, false));
      if (control & DMA_CTL_SELECT) this.select(control >>> 16);
      let error = false;
      if (control & DMA_CTL_WRITE) error = true;
      else if (control & (DMA_CTL_READ | DMA_CTL_SKIP)) {
        const item = this.items.get(this.selected) ?? new Uint8Array(0);
        if (control & DMA_CTL_READ) {
          if (!this.inRam(target, length)) error = true;
          else {
            // Bytes past the item's end read as zeros.
            const out = m.slice(target, length);
            const available = Math.max(0, Math.min(length, item.length - this.offset));
            out.set(item.subarray(this.offset, this.offset + available));
            out.fill(0, available);
          }
        }
        if (!error) this.offset += length;
      }
      dv.setUint32(0, error ? DMA_CTL_ERROR : 0, false);
    } catch (e) {
      if (!(e instanceof GuestMemoryError)) throw e;
    }
  }
}

/** `etc/e820`: { le64 address, le64 length, le32 type } per entry (QEMU hw/i386/e820_memory_layout.h). */
export function e820File(
  entries: readonly { address: number; length: number; type: number }[],
): Uint8Array {
  const b = new Uint8Array(20 * entries.length);
  const v = new DataView(b.buffer);
  entries.forEach((e, i) => {
    v.setBigUint64(20 * i, BigInt(e.address), true);
    v.setBigUint64(20 * i + 8, BigInt(e.length), true);
    v.setUint32(20 * i + 16, e.type, true);
  });
  return b;
}

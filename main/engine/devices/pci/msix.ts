/**
 * MSI-X for a PCI function (PCI Local Bus Specification 3.0 §6.8.2): the capability structure
 * in configuration space, the vector table and the Pending Bit Array (PBA) in a memory BAR.
 *
 * Capability (12 bytes): ID 11h, next pointer, Message Control (bits 10:0 table size - 1,
 * read-only; bit 14 Function Mask; bit 15 MSI-X Enable), Table Offset/BIR and PBA Offset/BIR
 * (BAR index in bits 2:0, a QWORD-aligned offset above).
 * Table entry (16 bytes, §6.8.2.8-11): Message Address (bits 1:0 read as 0), Message Upper
 * Address, Message Data, Vector Control (bit 0 Mask, set at reset).
 * PBA (§6.8.2.10): one read-only bit per vector.
 *
 * Delivery (§6.8.3.4-5): a vector whose Mask bit (or the Function Mask) is set does not send;
 * its pending bit is set instead, and the message goes out when the mask clears. With MSI-X
 * disabled the function uses INTx, which the device decides (see {@link MsiX.enabled}).
 *
 * Guest writes are hostile: the table is 16 bytes per vector, accesses outside it or of odd
 * widths read as 0 and are dropped; the address is whatever the guest wrote, and the
 * hypervisor (KVM_SIGNAL_MSI) refuses one that is not an interrupt address.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';
import type { PciConfigSpace } from './config-space.js';

export const PCI_CAP_ID_MSIX = 0x11;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_CAPABILITY_LIST = 0x34;
const MSIX_CONTROL_ENABLE = 0x8000;
const MSIX_CONTROL_FUNCTION_MASK = 0x4000;
const ENTRY_SIZE = 16;
const VECTOR_MASKED = 0x1;

export interface MsiXOptions {
  config: PciConfigSpace;
  /** Where the 12-byte capability sits in configuration space. */
  capOffset: number;
  /** The next capability's offset, 0 for the last. */
  next: number;
  vectors: number;
  /** The BAR holding the table and the PBA, and their offsets in it. */
  bar: number;
  tableOffset: number;
  pbaOffset: number;
  /** Sends one message (KVM_SIGNAL_MSI on the VM). */
  send: (address: number, data: number) => void;
}

export class MsiX {
  private readonly table: Uint32Array;
  private readonly pending: Uint8Array;
  readonly vectors: number;
  /** The table and PBA as the BAR's register block (offsets from the BAR's start). */
  readonly barDevice: BusDevice;

  constructor(private readonly o: MsiXOptions) {
    if (o.vectors < 1 || o.vectors > 2048) throw new RangeError(`MSI-X: ${o.vectors} vectors`);
    this.vectors = o.vectors;
    this.table = new Uint32Array(o.vectors * 4);
    this.pending = new Uint8Array(o.vectors);
    const c = o.config;
    c.bytes[o.capOffset] = PCI_CAP_ID_MSIX;
    c.bytes[o.capOffset + 1] = o.next;
    c.bytes[o.capOffset + 2] = (o.vectors - 1) & 0xff;
    c.bytes[o.capOffset + 3] = (o.vectors - 1) >> 8;
    c.allowWrite(o.capOffset + 3, 1, (MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK) >> 8);
    c.setU32(o.capOffset + 4, o.tableOffset | o.bar);
    c.setU32(o.capOffset + 8, o.pbaOffset | o.bar);
    this.resetTable();
    this.barDevice = {
      read: (offset, data) => this.readBar(offset, data),
      write: (offset, data) => this.writeBar(offset, data),
    };
  }

  private get control(): number {
    return this.o.config.read(this.o.capOffset + 2, 2);
  }

  /** MSI-X Enable: the function signals through the table, not INTx. */
  get enabled(): boolean {
    return (this.control & MSIX_CONTROL_ENABLE) !== 0;
  }

  /** Power-on state of the table: every vector masked, nothing pending. */
  resetTable(): void {
    this.table.fill(0);
    for (let v = 0; v < this.vectors; v++) this.table[v * 4 + 3] = VECTOR_MASKED;
    this.pending.fill(0);
  }

  /** Signals `vector` (a device event); out-of-range vectors (0xFFFF "no vector") do nothing. */
  signal(vector: number): void {
    if (!this.enabled || !Number.isInteger(vector) || vector < 0 || vector >= this.vectors) return;
    if (this.masked(vector)) {
      this.pending[vector] = 1;
      return;
    }
    this.send(vector);
  }

  /** The guest wrote configuration space: a Function Mask cleared may release pending vectors. */
  afterConfigWrite(): void {
    this.deliverPending();
  }

  private masked(vector: number): boolean {
    return (
      (this.control & MSIX_CONTROL_FUNCTION_MASK) !== 0 ||
      (this.table[vector * 4 + 3]! & VECTOR_MASKED) !== 0
    );
  }

  private send(vector: number): void {
    const address = this.table[vector * 4]! + this.table[vector * 4 + 1]! * 2 ** 32;
    this.o.send(address, this.table[vector * 4 + 2]!);
  }

  private deliverPending(): void {
    if (!this.enabled) return;
    for (let v = 0; v < this.vectors; v++) {
      if (this.pending[v] && !this.masked(v)) {
        this.pending[v] = 0;
        this.send(v);
      }
    }
  }

  private readBar(offset: number, data: Uint8Array): void {
    data.fill(0);
    const { tableOffset, pbaOffset } = this.o;
    if (data.length !== 4 && data.length !== 8) return;
    for (let i = 0; i < data.length; i += 4) {
      const at = offset + i;
      let value = 0;
      if (at >= tableOffset && at < tableOffset + this.vectors * ENTRY_SIZE)
        value = this.table[(at - tableOffset) >> 2]!;
      else if (at >= pbaOffset && at < pbaOffset + Math.ceil(this.vectors / 64) * 8) {
        const first = (at - pbaOffset) * 8;
        for (let b = 0; b < 32 && first + b < this.vectors; b++)
          if (this.pending[first + b]) value |= 1 << b;
      }
      new DataView(data.buffer, data.byteOffset + i, 4).setUint32(0, value >>> 0, true);
    }
  }

  private writeBar(offset: number, data: Uint8Array): void {
    const { tableOffset } = this.o;
    if (data.length !== 4 && data.length !== 8) return;
    for (let i = 0; i < data.length; i += 4) {
      const at = offset + i;
      if (at < tableOffset || at >= tableOffset + this.vectors * ENTRY_SIZE || at & 3) continue;
      const word = (at - tableOffset) >> 2;
      let value = new DataView(data.buffer, data.byteOffset + i, 4).getUint32(0, true);
      if ((word & 3) === 0) value &= ~3; // the address is DWORD aligned (§6.8.2.8)
      if ((word & 3) === 3) value &= VECTOR_MASKED; // other control bits are reserved
      this.table[word] = value >>> 0;
      if ((word & 3) === 3) this.deliverPending();
    }
  }
}

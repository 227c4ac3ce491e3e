/**
 * System Description Table plumbing: the 36-byte header every ACPI table except the RSDP starts
 * with (ACPI Specification 6.5, 5.2.6 "System Description Table Header", table 5.4) and the
 * checksum rule ("the entire table, including the checksum field, must add to zero").
 *
 * Runtime: engine.
 */

export const SDT_HEADER_LENGTH = 36;
/** OEM identification Vireo writes into every table (6 and 8 characters, space-padded). */
export const ACPI_OEM_ID = 'VIREO ';
export const ACPI_OEM_TABLE_ID = 'VIREOVM ';
export const ACPI_CREATOR_ID = 'VIRO';
export const ACPI_OEM_REVISION = 1;
export const ACPI_CREATOR_REVISION = 1;

/** The byte that makes `bytes` sum to zero modulo 256 when stored in a checksum field holding 0. */
export function acpiChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** Sum of all bytes modulo 256 (0 for a table with a correct checksum). */
export function byteSum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return sum;
}

/** A little-endian writer over a fixed-size table buffer. */
export class TableWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  u64(at: number, v: number | bigint): void {
    this.view.setBigUint64(at, BigInt(v), true);
  }
  ascii(at: number, text: string, length: number): void {
    for (let i = 0; i < length; i++)
      this.bytes[at + i] = i < text.length ? text.charCodeAt(i) : 0x20;
  }
  raw(at: number, data: Uint8Array): void {
    this.bytes.set(data, at);
  }
}

/**
 * Generic Address Structure (ACPI 6.5, 5.2.3.2, table 5.1), 12 bytes: an I/O port register.
 * `accessSize` 1 = byte, 2 = word, 3 = dword.
 */
export function writeSystemIoAddress(
  w: TableWriter,
  at: number,
  port: number,
  bitWidth: number,
  accessSize: 1 | 2 | 3,
): void {
  const SYSTEM_IO = 1;
  w.u8(at, SYSTEM_IO);
  w.u8(at + 1, bitWidth);
  w.u8(at + 2, 0); // bit offset
  w.u8(at + 3, accessSize);
  w.u64(at + 4, port);
}

/** Fill the SDT header (everything but the checksum), then compute the checksum over the table. */
export function finishTable(w: TableWriter, signature: string, revision: number): Uint8Array {
  w.ascii(0, signature, 4);
  w.u32(4, w.bytes.length);
  w.u8(8, revision);
  w.u8(9, 0);
  w.ascii(10, ACPI_OEM_ID, 6);
  w.ascii(16, ACPI_OEM_TABLE_ID, 8);
  w.u32(24, ACPI_OEM_REVISION);
  w.ascii(28, ACPI_CREATOR_ID, 4);
  w.u32(32, ACPI_CREATOR_REVISION);
  w.u8(9, acpiChecksum(w.bytes));
  return w.bytes;
}

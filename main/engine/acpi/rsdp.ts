/**
 * Root System Description Pointer, revision 2 (ACPI Specification 6.5, 5.2.5.3 "Root System
 * Description Pointer (RSDP) Structure", table 5.3): 36 bytes, two checksums (the first 20
 * bytes, and all 36). It points at the XSDT, which an ACPI 2.0+ OS must use, and optionally at
 * a 32-bit RSDT for older OSes (the PC machine gives one; the direct machine boots Linux only).
 *
 * Linux finds it through boot_params.acpi_rsdp_addr (boot protocol 2.14) and, failing that,
 * by scanning 0xE0000-0xFFFFF on 16-byte boundaries (5.2.5.1): the machine puts it there.
 *
 * Runtime: engine.
 */
import { ACPI_OEM_ID, TableWriter, acpiChecksum } from './sdt.js';

export const RSDP_LENGTH = 36;
export const RSDP_SIGNATURE = 'RSD PTR ';

export function buildRsdp(xsdtAddress: number, rsdtAddress = 0): Uint8Array {
  const w = new TableWriter(RSDP_LENGTH);
  w.ascii(0, RSDP_SIGNATURE, 8);
  w.ascii(9, ACPI_OEM_ID, 6);
  w.u8(15, 2); // revision 2: ACPI 2.0+ layout with XSDT
  w.u32(16, rsdtAddress); // RsdtAddress, or 0: none
  w.u32(20, RSDP_LENGTH);
  w.u64(24, xsdtAddress);
  w.u8(8, acpiChecksum(w.bytes.subarray(0, 20)));
  w.u8(32, acpiChecksum(w.bytes));
  return w.bytes;
}

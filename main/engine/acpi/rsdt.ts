/**
 * Root System Description Table (ACPI Specification 6.5, 5.2.7, table 5.7): the header followed
 * by one 32-bit physical address per table. An ACPI 2.0+ OS reads the XSDT instead; the RSDT is
 * for OSes from before it (ACPI 1.0: Windows 2000, older BSDs, DOS tools), which find it through
 * the RSDP's RsdtAddress. Both list the same tables.
 *
 * Runtime: engine.
 */
import { SDT_HEADER_LENGTH, TableWriter, finishTable } from './sdt.js';

export const RSDT_REVISION = 1;

export function buildRsdt(tableAddresses: readonly number[]): Uint8Array {
  const w = new TableWriter(SDT_HEADER_LENGTH + 4 * tableAddresses.length);
  tableAddresses.forEach((address, i) => {
    if (!Number.isInteger(address) || address < 0 || address > 0xffff_ffff)
      throw new RangeError(`RSDT: table address 0x${address.toString(16)} is not 32-bit`);
    w.u32(SDT_HEADER_LENGTH + 4 * i, address);
  });
  return finishTable(w, 'RSDT', RSDT_REVISION);
}

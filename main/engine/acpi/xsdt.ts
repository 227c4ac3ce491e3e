/**
 * Extended System Description Table (ACPI Specification 6.5, 5.2.8, table 5.9): the header
 * followed by one 64-bit physical address per table (FADT first by convention; the DSDT is not
 * listed, the FADT points at it).
 *
 * Runtime: engine.
 */
import { SDT_HEADER_LENGTH, TableWriter, finishTable } from './sdt.js';

export const XSDT_REVISION = 1;

export function buildXsdt(tableAddresses: readonly number[]): Uint8Array {
  const w = new TableWriter(SDT_HEADER_LENGTH + 8 * tableAddresses.length);
  tableAddresses.forEach((address, i) => w.u64(SDT_HEADER_LENGTH + 8 * i, address));
  return finishTable(w, 'XSDT', XSDT_REVISION);
}

/**
 * Differentiated System Description Table (ACPI Specification 6.5, 5.2.11.1) with a hand-encoded
 * AML body (ACPI 6.5, chapter 20 "ACPI Machine Language (AML) Specification"). The direct machine
 * needs only one object:
 *
 *   Name (_S5_, Package (4) { 5, 5, 0, 0 })
 *
 * which tells the OS the SLP_TYP values for soft-off (7.4.2 "\_Sx (System States)": PM1a, PM1b,
 * two reserved). Linux's poweroff evaluates `\_S5_` and writes SLP_TYP=5|SLP_EN to PM1a_CNT,
 * which the acpi-pm device turns into "powered off". The encoding, from the grammar in 20.2:
 *   DefName    := NameOp(0x08) NameString PackageOp-term           (20.2.5.1)
 *   NameString := NameSeg "_S5_" (4 lead/name chars, root-relative) (20.2.2)
 *   DefPackage := PackageOp(0x12) PkgLength NumElements PackageElementList (20.2.5.4)
 *   PkgLength  := one byte (bits 7:6 = 0) when the length incl. itself is < 64 (20.2.4)
 *   5          := BytePrefix(0x0A) 0x05 (20.2.3, ComputationalData)
 *   0          := ZeroOp(0x00)
 *
 * Runtime: engine.
 */
import { SDT_HEADER_LENGTH, TableWriter, finishTable } from './sdt.js';

/** DSDT revision 2: integers are 64-bit (5.2.11.1). */
export const DSDT_REVISION = 2;

const AML_NAME_OP = 0x08;
const AML_PACKAGE_OP = 0x12;
const AML_BYTE_PREFIX = 0x0a;
const AML_ZERO_OP = 0x00;
const AML_ONE_OP = 0x01;

/** AML for one integer 0..255 (ZeroOp, OneOp or BytePrefix). */
function amlByteInteger(value: number): number[] {
  if (value === 0) return [AML_ZERO_OP];
  if (value === 1) return [AML_ONE_OP];
  return [AML_BYTE_PREFIX, value & 0xff];
}

/** A 4-character NameSeg (20.2.2: LeadNameChar then three NameChars). */
function amlNameSeg(name: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{3}$/.test(name)) throw new Error(`AML: bad NameSeg "${name}"`);
  return [...name].map((c) => c.charCodeAt(0));
}

/** `Name (_Sx_, Package (4) { typA, typB, 0, 0 })` for a sleep state. */
export function amlSleepState(name: string, slpTypA: number, slpTypB: number): Uint8Array {
  const elements = [
    ...amlByteInteger(slpTypA),
    ...amlByteInteger(slpTypB),
    ...amlByteInteger(0),
    ...amlByteInteger(0),
  ];
  const numElements = 4;
  const pkgLength = 1 + 1 + elements.length; // PkgLength byte + NumElements + elements
  if (pkgLength >= 64) throw new Error('AML: package too long for a one-byte PkgLength');
  return Uint8Array.from([
    AML_NAME_OP,
    ...amlNameSeg(name),
    AML_PACKAGE_OP,
    pkgLength,
    numElements,
    ...elements,
  ]);
}

export function buildDsdt(options: { s5SleepType: number }): Uint8Array {
  const body = amlSleepState('_S5_', options.s5SleepType, options.s5SleepType);
  const w = new TableWriter(SDT_HEADER_LENGTH + body.length);
  w.raw(SDT_HEADER_LENGTH, body);
  return finishTable(w, 'DSDT', DSDT_REVISION);
}

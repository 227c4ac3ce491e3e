/**
 * The ACPI tables of a machine, laid out in one contiguous blob the machine copies into guest
 * RAM at `base`: RSDP first (16-byte aligned, so the OS's scan of 0xE0000-0xFFFFF finds it,
 * ACPI 6.5 5.2.5.1), then DSDT, FADT, MADT and XSDT, each 16-byte aligned.
 *
 * The fixed-hardware addresses come from the acpi-pm device module, so the FADT and the device
 * can never disagree.
 *
 * Runtime: engine.
 */
import {
  ACPI_PM_BASE,
  ACPI_RESET_VALUE,
  ACPI_SCI_IRQ,
  PM1_CNT_LEN,
  PM1_CNT_OFFSET,
  PM1_EVT_LEN,
  PM1_STS_OFFSET,
  PM_TMR_OFFSET,
  RESET_REG_OFFSET,
  SLP_TYP_S5,
} from '../devices/acpi-pm/index.js';
import { CMOS_CENTURY } from '../devices/cmos-rtc/index.js';
import { buildDsdt, type VirtioMmioAcpiDevice } from './dsdt.js';
export type { VirtioMmioAcpiDevice } from './dsdt.js';
import { IAPC_BOOT_ARCH_8042, IAPC_BOOT_ARCH_VGA_NOT_PRESENT, buildFadt } from './fadt.js';
import { buildMadt } from './madt.js';
import { RSDP_LENGTH, buildRsdp } from './rsdp.js';
import { buildXsdt } from './xsdt.js';

export { acpiChecksum, byteSum } from './sdt.js';

export interface AcpiTablePlacement {
  signature: string;
  address: number;
  length: number;
}

export interface AcpiTables {
  /** Guest-physical address of the blob (= the RSDP's address). */
  base: number;
  rsdpAddress: number;
  /** Everything to copy to `base`. */
  blob: Uint8Array;
  tables: readonly AcpiTablePlacement[];
}

export interface AcpiTablesOptions {
  /** Guest-physical address for the blob; 16-byte aligned. */
  base: number;
  cpus: number;
  /** The machine has an i8042 (sets IAPC_BOOT_ARCH 8042 so Linux probes it). */
  has8042: boolean;
  /** The machine has VGA (clear: Linux skips legacy VGA probing). */
  hasVga: boolean;
  /**
   * The GSI the in-kernel PIT raises: 0 with KVM's default GSI routing (the default), 2 if the
   * hypervisor installs QEMU-style routing (GSI 0 -> IOAPIC pin 2). See madt.ts.
   */
  timerGsi?: 0 | 2;
  /** virtio-mmio devices to announce in the DSDT. */
  virtioMmio?: readonly VirtioMmioAcpiDevice[];
}

const align16 = (n: number): number => (n + 15) & ~15;

export function buildAcpiTables(o: AcpiTablesOptions): AcpiTables {
  if (o.base % 16 !== 0) throw new RangeError('ACPI tables: base must be 16-byte aligned');
  const rsdpAddress = o.base;
  const dsdt = buildDsdt({ s5SleepType: SLP_TYP_S5, virtioMmio: o.virtioMmio ?? [] });
  const dsdtAddress = align16(rsdpAddress + RSDP_LENGTH);
  const fadt = buildFadt({
    dsdtAddress,
    sciInterrupt: ACPI_SCI_IRQ,
    pm1aEventBlock: ACPI_PM_BASE + PM1_STS_OFFSET,
    pm1EventLength: PM1_EVT_LEN,
    pm1aControlBlock: ACPI_PM_BASE + PM1_CNT_OFFSET,
    pm1ControlLength: PM1_CNT_LEN,
    pmTimerBlock: ACPI_PM_BASE + PM_TMR_OFFSET,
    resetRegister: ACPI_PM_BASE + RESET_REG_OFFSET,
    resetValue: ACPI_RESET_VALUE,
    centuryIndex: CMOS_CENTURY,
    iapcBootArch:
      (o.has8042 ? IAPC_BOOT_ARCH_8042 : 0) | (o.hasVga ? 0 : IAPC_BOOT_ARCH_VGA_NOT_PRESENT),
  });
  const fadtAddress = align16(dsdtAddress + dsdt.length);
  const madt = buildMadt({ cpus: o.cpus, timerGsi: o.timerGsi ?? 0 });
  const madtAddress = align16(fadtAddress + fadt.length);
  const xsdtAddress = align16(madtAddress + madt.length);
  const xsdt = buildXsdt([fadtAddress, madtAddress]);
  const rsdp = buildRsdp(xsdtAddress);

  const placed: [string, number, Uint8Array][] = [
    ['RSD PTR ', rsdpAddress, rsdp],
    ['DSDT', dsdtAddress, dsdt],
    ['FACP', fadtAddress, fadt],
    ['APIC', madtAddress, madt],
    ['XSDT', xsdtAddress, xsdt],
  ];
  const blob = new Uint8Array(xsdtAddress + xsdt.length - o.base);
  for (const [, address, bytes] of placed) blob.set(bytes, address - o.base);
  return {
    base: o.base,
    rsdpAddress,
    blob,
    tables: placed.map(([signature, address, bytes]) => ({
      signature,
      address,
      length: bytes.length,
    })),
  };
}

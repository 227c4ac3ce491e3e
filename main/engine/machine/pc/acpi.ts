/**
 * ACPI for the PC machine, handed to SeaBIOS the way QEMU does it (QEMU
 * hw/acpi/bios-linker-loader.c, docs/specs/fw_cfg.rst; SeaBIOS src/fw/romfile_loader.c): SeaBIOS
 * no longer builds ACPI tables itself, it runs the `etc/table-loader` script, which
 *   1. ALLOCATEs `etc/acpi/rsdp` in the F segment (where an OS scans for "RSD PTR ") and
 *      `etc/acpi/tables` in high memory,
 *   2. ADD_POINTERs: adds the address where a file landed to pointer fields that hold offsets
 *      into it (FADT -> DSDT, XSDT -> FADT and MADT, RSDP -> XSDT),
 *   3. ADD_CHECKSUMs: fixes each patched table's checksum.
 * Each command is 128 bytes: u32 command, then 124 bytes of arguments (56-byte file names).
 *
 * The tables are the engine's own builders (../../acpi): DSDT with \_S5 and the PCI host bridge,
 * FADT pointing at the ACPI PM block (../../devices/acpi-pm, so "ACPI shutdown" from the host
 * reaches Linux as a power button press), MADT for the in-kernel IOAPIC/LAPIC.
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
} from '../../devices/acpi-pm/index.js';
import { CMOS_CENTURY } from '../../devices/cmos-rtc/index.js';
import { buildDsdt, PCI_LINK_IRQS } from '../../acpi/dsdt.js';
import { IAPC_BOOT_ARCH_8042, buildFadt } from '../../acpi/fadt.js';
import { buildMadt } from '../../acpi/madt.js';
import { buildRsdp, RSDP_LENGTH } from '../../acpi/rsdp.js';
import { SDT_HEADER_LENGTH } from '../../acpi/sdt.js';
import { buildRsdt } from '../../acpi/rsdt.js';
import { buildXsdt } from '../../acpi/xsdt.js';

export const RSDP_FILE = 'etc/acpi/rsdp';
export const TABLES_FILE = 'etc/acpi/tables';
export const LOADER_FILE = 'etc/table-loader';

const COMMAND_ALLOCATE = 1;
const COMMAND_ADD_POINTER = 2;
const COMMAND_ADD_CHECKSUM = 3;
const ZONE_HIGH = 1;
const ZONE_FSEG = 2;
const ENTRY_SIZE = 128;
const FILE_NAME_SIZE = 56;
/** Where the checksum byte sits in an SDT header and in the RSDP (ACPI 6.5 §5.2.6, §5.2.5.3). */
const SDT_CHECKSUM_OFFSET = 9;
const RSDP_CHECKSUM_OFFSET = 8;
const RSDP_V1_LENGTH = 20;
const RSDP_EXTENDED_CHECKSUM_OFFSET = 32;
const RSDP_XSDT_OFFSET = 24;
const RSDP_RSDT_OFFSET = 16;
const FADT_DSDT_OFFSET = 40;
const FADT_X_DSDT_OFFSET = 140;

class LoaderScript {
  private readonly entries: Uint8Array[] = [];

  private entry(command: number): { bytes: Uint8Array; view: DataView } {
    const bytes = new Uint8Array(ENTRY_SIZE);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, command, true);
    this.entries.push(bytes);
    return { bytes, view };
  }

  private static name(bytes: Uint8Array, at: number, file: string): void {
    if (file.length >= FILE_NAME_SIZE) throw new RangeError(`fw_cfg file name too long: ${file}`);
    for (let i = 0; i < file.length; i++) bytes[at + i] = file.charCodeAt(i);
  }

  allocate(file: string, align: number, zone: number): void {
    const { bytes, view } = this.entry(COMMAND_ALLOCATE);
    LoaderScript.name(bytes, 4, file);
    view.setUint32(4 + FILE_NAME_SIZE, align, true);
    bytes[4 + FILE_NAME_SIZE + 4] = zone;
  }

  addPointer(dest: string, src: string, offset: number, size: 4 | 8): void {
    const { bytes, view } = this.entry(COMMAND_ADD_POINTER);
    LoaderScript.name(bytes, 4, dest);
    LoaderScript.name(bytes, 4 + FILE_NAME_SIZE, src);
    view.setUint32(4 + 2 * FILE_NAME_SIZE, offset, true);
    bytes[4 + 2 * FILE_NAME_SIZE + 4] = size;
  }

  addChecksum(file: string, resultOffset: number, start: number, length: number): void {
    const { bytes, view } = this.entry(COMMAND_ADD_CHECKSUM);
    LoaderScript.name(bytes, 4, file);
    view.setUint32(4 + FILE_NAME_SIZE, resultOffset, true);
    view.setUint32(4 + FILE_NAME_SIZE + 4, start, true);
    view.setUint32(4 + FILE_NAME_SIZE + 8, length, true);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.entries.length * ENTRY_SIZE);
    this.entries.forEach((e, i) => out.set(e, i * ENTRY_SIZE));
    return out;
  }
}

export interface PcAcpiFiles {
  rsdp: Uint8Array;
  tables: Uint8Array;
  loader: Uint8Array;
}

const align16 = (n: number): number => (n + 15) & ~15;

/** The three fw_cfg files for a PC with `cpus` vCPUs. */
export function buildPcAcpi(o: { cpus: number; ramBytes: number }): PcAcpiFiles {
  // Offsets inside etc/acpi/tables; the loader turns them into addresses.
  // SeaBIOS places 32-bit BARs from 2 GiB (3 GiB with more RAM) up to the IOAPIC
  // (src/fw/pciinit.c, i440fx_mem_addr_setup): the bridge forwards that window.
  const dsdt = buildDsdt({
    s5SleepType: SLP_TYP_S5,
    virtioMmio: [],
    pciRoot: {
      memoryBase: o.ramBytes <= 0x8000_0000 ? 0x8000_0000 : 0xc000_0000,
      memoryLimit: 0xfebf_ffff,
    },
    pciInterruptRouting: true,
    // The ISA devices of this PC. Without PNP0303 SeaBIOS would not set up the keyboard at all.
    legacyDevices: [
      {
        name: 'KBD_',
        pnp: 0x0303,
        ports: [
          { base: 0x60, length: 1 },
          { base: 0x64, length: 1 },
        ],
        irq: 1,
      },
      { name: 'MOU_', pnp: 0x0f13, ports: [], irq: 12 },
      { name: 'RTC_', pnp: 0x0b00, ports: [{ base: 0x70, length: 2 }], irq: 8 },
      { name: 'COM1', pnp: 0x0501, ports: [{ base: 0x3f8, length: 8 }], irq: 4 },
    ],
  });
  const dsdtOffset = 0;
  const fadtOffset = align16(dsdtOffset + dsdt.length);
  const fadt = buildFadt({
    dsdtAddress: dsdtOffset,
    sciInterrupt: ACPI_SCI_IRQ,
    pm1aEventBlock: ACPI_PM_BASE + PM1_STS_OFFSET,
    pm1EventLength: PM1_EVT_LEN,
    pm1aControlBlock: ACPI_PM_BASE + PM1_CNT_OFFSET,
    pm1ControlLength: PM1_CNT_LEN,
    pmTimerBlock: ACPI_PM_BASE + PM_TMR_OFFSET,
    resetRegister: ACPI_PM_BASE + RESET_REG_OFFSET,
    resetValue: ACPI_RESET_VALUE,
    centuryIndex: CMOS_CENTURY,
    iapcBootArch: IAPC_BOOT_ARCH_8042, // an i8042, and a VGA (VGA_NOT_PRESENT clear)
  });
  const madtOffset = align16(fadtOffset + fadt.length);
  const madt = buildMadt({ cpus: o.cpus, timerGsi: 0, pciIrqs: PCI_LINK_IRQS });
  const xsdtOffset = align16(madtOffset + madt.length);
  const xsdt = buildXsdt([fadtOffset, madtOffset]);
  const rsdtOffset = align16(xsdtOffset + xsdt.length);
  const rsdt = buildRsdt([fadtOffset, madtOffset]);
  const tables = new Uint8Array(rsdtOffset + rsdt.length);
  tables.set(dsdt, dsdtOffset);
  tables.set(fadt, fadtOffset);
  tables.set(madt, madtOffset);
  tables.set(xsdt, xsdtOffset);
  tables.set(rsdt, rsdtOffset);
  const rsdp = buildRsdp(xsdtOffset, rsdtOffset);

  const script = new LoaderScript();
  script.allocate(RSDP_FILE, 16, ZONE_FSEG);
  script.allocate(TABLES_FILE, 64, ZONE_HIGH);
  script.addPointer(TABLES_FILE, TABLES_FILE, fadtOffset + FADT_DSDT_OFFSET, 4);
  script.addPointer(TABLES_FILE, TABLES_FILE, fadtOffset + FADT_X_DSDT_OFFSET, 8);
  script.addChecksum(TABLES_FILE, fadtOffset + SDT_CHECKSUM_OFFSET, fadtOffset, fadt.length);
  for (let i = 0; i < 2; i++)
    script.addPointer(TABLES_FILE, TABLES_FILE, xsdtOffset + SDT_HEADER_LENGTH + 8 * i, 8);
  script.addChecksum(TABLES_FILE, xsdtOffset + SDT_CHECKSUM_OFFSET, xsdtOffset, xsdt.length);
  for (let i = 0; i < 2; i++)
    script.addPointer(TABLES_FILE, TABLES_FILE, rsdtOffset + SDT_HEADER_LENGTH + 4 * i, 4);
  script.addChecksum(TABLES_FILE, rsdtOffset + SDT_CHECKSUM_OFFSET, rsdtOffset, rsdt.length);
  script.addPointer(RSDP_FILE, TABLES_FILE, RSDP_XSDT_OFFSET, 8);
  script.addPointer(RSDP_FILE, TABLES_FILE, RSDP_RSDT_OFFSET, 4);
  script.addChecksum(RSDP_FILE, RSDP_CHECKSUM_OFFSET, 0, RSDP_V1_LENGTH);
  script.addChecksum(RSDP_FILE, RSDP_EXTENDED_CHECKSUM_OFFSET, 0, RSDP_LENGTH);
  return { rsdp, tables, loader: script.bytes() };
}

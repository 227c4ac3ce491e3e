/**
 * Fixed ACPI Description Table, revision 6.5 layout (ACPI Specification 6.5, 5.2.9 "Fixed ACPI
 * Description Table (FADT)", table 5.9): 276 bytes. It points the OS at the DSDT and at the
 * fixed-hardware register blocks of the machine's acpi-pm device (PM1a event and control,
 * PM timer, reset register), names the SCI interrupt and the RTC century byte.
 *
 * Both the 32-bit (PM1a_EVT_BLK ...) and the 64-bit Generic Address (X_PM1a_EVT_BLK ...) forms
 * are filled with the same ports; ACPICA prefers the X_ forms and checks they agree.
 *
 * Runtime: engine.
 */
import { SDT_HEADER_LENGTH, TableWriter, finishTable, writeSystemIoAddress } from './sdt.js';

export const FADT_LENGTH = 276;
export const FADT_REVISION = 6;
export const FADT_MINOR_REVISION = 5;

/** FADT Flags (table 5.10). */
export const FADT_FLAG_WBINVD = 1 << 0;
export const FADT_FLAG_PROC_C1 = 1 << 2;
/** Set = no fixed-feature sleep button (ours has none); PWR_BUTTON (bit 4) clear = fixed power button. */
export const FADT_FLAG_SLP_BUTTON = 1 << 5;
export const FADT_FLAG_TMR_VAL_EXT = 1 << 8;
export const FADT_FLAG_RESET_REG_SUP = 1 << 10;

/** IA-PC Boot Architecture Flags (table 5.11). */
export const IAPC_BOOT_ARCH_8042 = 1 << 1;
export const IAPC_BOOT_ARCH_VGA_NOT_PRESENT = 1 << 2;

/** Preferred_PM_Profile: 0 = unspecified (a VM is neither desktop nor server). */
const PM_PROFILE_UNSPECIFIED = 0;

export interface FadtOptions {
  dsdtAddress: number;
  /** ISA IRQ of the SCI. */
  sciInterrupt: number;
  pm1aEventBlock: number;
  pm1EventLength: number;
  pm1aControlBlock: number;
  pm1ControlLength: number;
  pmTimerBlock: number;
  resetRegister: number;
  resetValue: number;
  /** CMOS index of the century byte. */
  centuryIndex: number;
  iapcBootArch: number;
}

export function buildFadt(o: FadtOptions): Uint8Array {
  const w = new TableWriter(FADT_LENGTH);
  const h = SDT_HEADER_LENGTH;
  w.u32(h + 0, 0); // FIRMWARE_CTRL: no FACS (no S4BIOS, no global lock users)
  w.u32(h + 4, o.dsdtAddress); // DSDT
  w.u8(h + 9, PM_PROFILE_UNSPECIFIED);
  w.u16(h + 10, o.sciInterrupt); // SCI_INT
  w.u32(h + 12, 0); // SMI_CMD 0: the machine is always in ACPI mode (no legacy/SMM transition)
  w.u32(h + 20, o.pm1aEventBlock); // PM1a_EVT_BLK
  w.u32(h + 28, o.pm1aControlBlock); // PM1a_CNT_BLK
  w.u32(h + 40, o.pmTimerBlock); // PM_TMR_BLK
  w.u8(h + 52, o.pm1EventLength); // PM1_EVT_LEN
  w.u8(h + 53, o.pm1ControlLength); // PM1_CNT_LEN
  w.u8(h + 55, 4); // PM_TMR_LEN
  // P_LVL2_LAT > 100 and P_LVL3_LAT > 1000 say C2/C3 are not supported (table 5.9).
  w.u16(h + 60, 101);
  w.u16(h + 62, 1001);
  w.u8(h + 72, o.centuryIndex); // CENTURY
  w.u16(h + 73, o.iapcBootArch); // IAPC_BOOT_ARCH
  w.u32(
    h + 76,
    FADT_FLAG_WBINVD |
      FADT_FLAG_PROC_C1 |
      FADT_FLAG_SLP_BUTTON |
      FADT_FLAG_TMR_VAL_EXT |
      FADT_FLAG_RESET_REG_SUP,
  );
  writeSystemIoAddress(w, h + 80, o.resetRegister, 8, 1); // RESET_REG
  w.u8(h + 92, o.resetValue); // RESET_VALUE
  w.u8(h + 95, FADT_MINOR_REVISION);
  w.u64(h + 104, o.dsdtAddress); // X_DSDT
  writeSystemIoAddress(w, h + 112, o.pm1aEventBlock, o.pm1EventLength * 8, 2); // X_PM1a_EVT_BLK
  writeSystemIoAddress(w, h + 136, o.pm1aControlBlock, o.pm1ControlLength * 8, 2); // X_PM1a_CNT_BLK
  writeSystemIoAddress(w, h + 172, o.pmTimerBlock, 32, 3); // X_PM_TMR_BLK
  return finishTable(w, 'FACP', FADT_REVISION);
}

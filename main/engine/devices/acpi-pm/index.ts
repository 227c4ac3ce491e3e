/**
 * ACPI fixed-hardware power management registers (ACPI Specification 6.5, section 4.8.3
 * "Power Management Registers": PM1 Event Grouping 4.8.3.1, PM1 Control Grouping 4.8.3.2) and
 * the FADT reset register (section 4.8.3.6 "Reset Register").
 *
 * I/O layout (base {@link ACPI_PM_BASE} = 0x600, the block QEMU's Q35 machine uses; free on the
 * direct machine and outside the ISA and PCI configuration ranges):
 *   base+0  PM1a_STS  16 bit, write 1 to clear (4.8.3.1.1, table 4.16)
 *   base+2  PM1a_EN   16 bit (4.8.3.1.2, table 4.17)
 *   base+4  PM1a_CNT  16 bit (4.8.3.2.1, table 4.18): SCI_EN reads 1 (the machine is always in
 *                     ACPI mode: FADT SMI_CMD = 0), SLP_TYP bits 10-12, SLP_EN bit 13 write-only
 *   base+8  PM_TMR    32 bit, read-only (4.8.3.3 "Power Management Timer"): 3.579545 MHz
 *                     counter from the host's monotonic clock, all 32 bits (FADT TMR_VAL_EXT)
 *   base+12 RESET_REG  8 bit: writing {@link ACPI_RESET_VALUE} resets the machine
 * Offsets 6-7 and 13-15 are unimplemented and read 0xff (an undecoded ISA address).
 * ACPICA treats PM_TMR_BLK as required for non-hardware-reduced ACPI, and Linux can use it as
 * a clocksource and to calibrate the TSC; it costs nothing until read. Its overflow interrupt
 * (TMR_STS) is not modelled.
 *
 * Writing SLP_EN with SLP_TYP = {@link SLP_TYP_S5} (the value the DSDT's `_S5_` package gives
 * Linux) powers the machine off: {@link AcpiPmOptions.onPowerOff}. Any other sleep type is
 * refused (sleep states are not modelled): the write is dropped and the guest keeps running,
 * which ACPICA reports as a failed suspend.
 *
 * The power button (4.8.3.1, PWRBTN_STS) raises the SCI (FADT SCI_INT = IRQ 9, level, active
 * high per the MADT override) while PWRBTN_STS and PWRBTN_EN are both set; Linux's ACPI button
 * driver clears the status and starts an orderly shutdown.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice, IrqLine } from '../../bus.js';
import { readBytes, writeBytes } from '../byte-access.js';

export const ACPI_PM_BASE = 0x600;
export const ACPI_PM_LENGTH = 16;
export const PM1_STS_OFFSET = 0;
export const PM1_EN_OFFSET = 2;
export const PM1_CNT_OFFSET = 4;
export const PM_TMR_OFFSET = 8;
export const PM_TMR_LEN = 4;
export const RESET_REG_OFFSET = 12;
/** PM timer frequency (ACPI 6.5, 4.8.3.3): 3.579545 MHz. */
export const PM_TIMER_HZ = 3_579_545;
/** PM1_EVT_LEN in the FADT: status and enable, 2 bytes each. */
export const PM1_EVT_LEN = 4;
export const PM1_CNT_LEN = 2;
/** The value the FADT tells the OS to write to RESET_REG. */
export const ACPI_RESET_VALUE = 0x0f;
/** The SCI's ISA IRQ (FADT SCI_INT). */
export const ACPI_SCI_IRQ = 9;
/** Sleep type for S5 (soft off); the DSDT's `_S5_` package must say the same. */
export const SLP_TYP_S5 = 5;

export const PM1_STS_TMR = 1 << 0;
export const PM1_STS_BM = 1 << 4;
export const PM1_STS_GBL = 1 << 5;
export const PM1_STS_PWRBTN = 1 << 8;
export const PM1_STS_SLPBTN = 1 << 9;
export const PM1_STS_RTC = 1 << 10;
export const PM1_STS_WAK = 1 << 15;
/** Status bits this model can ever set; the rest of PM1_STS reads 0. */
const PM1_STS_IMPLEMENTED = PM1_STS_PWRBTN | PM1_STS_WAK;
/** Enable bits that exist in PM1_EN (table 4.17: TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS). */
const PM1_EN_WRITABLE = (1 << 0) | (1 << 5) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 14);

export const PM1_CNT_SCI_EN = 1 << 0;
export const PM1_CNT_SLP_TYP_SHIFT = 10;
export const PM1_CNT_SLP_TYP_MASK = 7 << PM1_CNT_SLP_TYP_SHIFT;
export const PM1_CNT_SLP_EN = 1 << 13;
/** Read/write PM1_CNT bits kept as written: BM_RLD (1) and SLP_TYP; GBL_RLS (2) and SLP_EN are write-only. */
const PM1_CNT_KEPT = (1 << 1) | PM1_CNT_SLP_TYP_MASK;

export interface AcpiPmOptions {
  /** The SCI (ISA IRQ 9, level-triggered). */
  sci: IrqLine;
  /** The guest entered S5 (soft off). */
  onPowerOff: () => void;
  /** The guest wrote the reset value to RESET_REG. */
  onReset: () => void;
  /** Monotonic host clock in nanoseconds; injectable for tests. */
  nowNs?: () => bigint;
}

export class AcpiPm implements BusDevice {
  private status = 0;
  private enable = 0;
  private control = PM1_CNT_SCI_EN;
  private sciLevel = false;

  private readonly nowNs: () => bigint;
  private readonly startNs: bigint;

  constructor(private readonly options: AcpiPmOptions) {
    this.nowNs = options.nowNs ?? (() => process.hrtime.bigint());
    this.startNs = this.nowNs();
  }

  /** The PM timer's current count (wraps at 2^32). */
  timerValue(): number {
    const elapsed = this.nowNs() - this.startNs;
    return Number(((elapsed * BigInt(PM_TIMER_HZ)) / 1_000_000_000n) & 0xffffffffn);
  }

  read(offset: number, data: Uint8Array): void {
    // One sample of the timer per access, so the bytes of a 32-bit read never tear.
    const timer = this.timerValue();
    readBytes(offset, data, ACPI_PM_LENGTH, (at) => {
      if (at >= PM_TMR_OFFSET && at < PM_TMR_OFFSET + PM_TMR_LEN) {
        return (timer >>> ((at - PM_TMR_OFFSET) * 8)) & 0xff;
      }
      const register = this.registerAt(at);
      if (register === undefined) return 0xff;
      return (register >> ((at & 1) * 8)) & 0xff;
    });
  }

  /**
   * Bytes of one 16-bit register arrive low first (ISA split, see byte-access.ts); each byte
   * is applied as it comes, so a 16-bit write of PM1_CNT acts when its high byte (SLP_EN) lands.
   */
  write(offset: number, data: Uint8Array): void {
    writeBytes(offset, data, ACPI_PM_LENGTH, (at, value) => {
      const shift = (at & 1) * 8;
      const bits = value << shift;
      const mask = 0xff << shift;
      switch (at & ~1) {
        case PM1_STS_OFFSET:
          this.status &= ~bits; // write 1 to clear
          break;
        case PM1_EN_OFFSET:
          this.enable = ((this.enable & ~mask) | bits) & PM1_EN_WRITABLE;
          break;
        case PM1_CNT_OFFSET:
          this.writeControl(bits, mask);
          break;
        case RESET_REG_OFFSET:
          if (at === RESET_REG_OFFSET && value === ACPI_RESET_VALUE) this.options.onReset();
          break;
        default:
        // PM_TMR is read-only; unimplemented offsets: dropped.
      }
      this.updateSci();
    });
  }

  /**
   * Press the power button (ACPI 6.5, 4.8.2.2.1.1 "Using the PWRBTN_STS"): sets PWRBTN_STS; the
   * guest sees an SCI if it enabled the event. Returns whether the guest had it enabled (if not,
   * the press goes unnoticed, as on a machine whose OS ignores the button).
   */
  setPowerButton(): boolean {
    this.status |= PM1_STS_PWRBTN;
    this.updateSci();
    return (this.enable & PM1_STS_PWRBTN) !== 0;
  }

  private registerAt(at: number): number | undefined {
    switch (at & ~1) {
      case PM1_STS_OFFSET:
        return this.status & PM1_STS_IMPLEMENTED;
      case PM1_EN_OFFSET:
        return this.enable;
      case PM1_CNT_OFFSET:
        return this.control;
      case RESET_REG_OFFSET:
        // RESET_REG is write-only in effect; reading gives 0 rather than an undecoded 0xff.
        return at === RESET_REG_OFFSET ? 0 : undefined;
      default:
        return undefined;
    }
  }

  private writeControl(bits: number, mask: number): void {
    this.control = (this.control & ~mask) | (bits & PM1_CNT_KEPT) | PM1_CNT_SCI_EN;
    if ((bits & PM1_CNT_SLP_EN) === 0) return;
    const sleepType = (this.control & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
    if (sleepType === SLP_TYP_S5) this.options.onPowerOff();
  }

  private updateSci(): void {
    const level = (this.status & this.enable & PM1_STS_PWRBTN) !== 0;
    if (level !== this.sciLevel) {
      this.sciLevel = level;
      this.options.sci.set(level);
    }
  }
}

/**
 * Motorola MC146818A real-time clock with 128 bytes of CMOS RAM (Motorola MC146818A data sheet,
 * "Address Map" figure 4, "Registers A-D" tables), at the PC's ports 0x70 (index; bit 7 masks
 * NMI on the PC/AT) and 0x71 (data). IRQ 8 is listed for the machine but never raised: periodic,
 * alarm and update-ended interrupts are not modelled yet (register C reads 0), so a guest that
 * waits for an RTC interrupt (`hwclock` with UIE) falls back to polling UIP, which works.
 *
 * The time registers show the host's real clock (UTC unless `localTime`) plus an offset the
 * guest sets by writing them, in BCD or binary (register B bit 2) and 12/24-hour format
 * (register B bit 1), century in byte 0x32 (the IBM PC/AT convention, ACPI FADT CENTURY).
 * Register A's update-in-progress bit is set for the last 244 us of every second, the window
 * in which the data sheet says the time registers must not be read.
 *
 * Memory-size bytes follow the PC/AT and SeaBIOS/QEMU conventions (SeaBIOS src/fw/paravirt.c,
 * QEMU hw/i386/pc.c): 0x15-0x16 base memory KiB, 0x17-0x18 and 0x30-0x31 extended memory KiB
 * above 1 MiB (max 0xFFFF), 0x34-0x35 memory above 16 MiB in 64 KiB units (below 4 GiB),
 * 0x5b-0x5d memory above 4 GiB in 64 KiB units, 0x5f the CPU count minus one.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';
import { readBytes, writeBytes } from '../byte-access.js';

export const RTC_INDEX_PORT = 0x70;
export const RTC_DATA_PORT = 0x71;

export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
export const CMOS_BASE_MEMORY_LOW = 0x15;
export const CMOS_EXTENDED_MEMORY_LOW = 0x17;
export const CMOS_EXTENDED_MEMORY_LOW_ALT = 0x30;
export const CMOS_MEMORY_ABOVE_16M_LOW = 0x34;
export const CMOS_CENTURY = 0x32;
export const CMOS_MEMORY_ABOVE_4G = 0x5b;
export const CMOS_CPU_COUNT_MINUS_ONE = 0x5f;

export const REG_A_UIP = 0x80;
export const REG_B_SET = 0x80;
export const REG_B_BINARY = 0x04;
export const REG_B_24H = 0x02;
export const REG_D_VRT = 0x80;
/** 12-hour mode: bit 7 of the hours register is PM. */
const HOURS_PM = 0x80;
/** Register A after reset: 32.768 kHz time base (DV=010), 1024 Hz rate (RS=0110). */
const REG_A_DEFAULT = 0x26;
/** Divider bits 6-4 = 010 is the only setting under which the clock runs. */
const REG_A_DIVIDER_MASK = 0x70;
const REG_A_DIVIDER_RUNNING = 0x20;
/** Update cycle length: UIP is high for 244 us before the registers change (data sheet, "UIP"). */
const UPDATE_WINDOW_MS = 0.244;

/** Fields of a calendar time as the RTC counts them (binary values). */
interface RtcTime {
  seconds: number;
  minutes: number;
  hours: number;
  dayOfWeek: number; // 1 = Sunday
  dayOfMonth: number;
  month: number; // 1-12
  year: number; // full year
}

export interface CmosRtcOptions {
  /** Guest RAM below the 4 GiB boundary, in bytes (all of it, including the first MiB). */
  ramBelow4G: number;
  /** Guest RAM mapped above 4 GiB, in bytes. */
  ramAbove4G: number;
  cpus: number;
  /** Show local time instead of UTC (Windows guests expect local time). Default UTC. */
  localTime?: boolean;
  /** The host clock in milliseconds since the epoch, fractional; injectable for tests. */
  now?: () => number;
}

const defaultNow = (): number => performance.timeOrigin + performance.now();

export class CmosRtc implements BusDevice {
  private readonly cmos = new Uint8Array(128);
  private index = 0;
  /** Bit 7 of the last index write; masks NMI on the PC/AT (not forwarded: KVM delivers no ISA NMI). */
  private nmiMasked = false;
  /** Guest clock minus host clock, ms; changed when the guest sets the time. */
  private offsetMs = 0;
  /** While register B.SET is 1 the clock stands still and writes edit this copy. */
  private frozen: RtcTime | null = null;
  private readonly now: () => number;
  private readonly localTime: boolean;

  constructor(options: CmosRtcOptions) {
    this.now = options.now ?? defaultNow;
    this.localTime = options.localTime ?? false;
    this.cmos[RTC_REG_A] = REG_A_DEFAULT;
    this.cmos[RTC_REG_B] = REG_B_24H;
    this.cmos[RTC_REG_D] = REG_D_VRT;
    this.setMemoryFields(options.ramBelow4G, options.ramAbove4G, options.cpus);
  }

  get nmiDisabled(): boolean {
    return this.nmiMasked;
  }

  read(offset: number, data: Uint8Array): void {
    // The index port is write-only on the PC/AT: reads give 0xff (the bus pre-fill).
    readBytes(offset, data, 2, (at) => (at === 1 ? this.readData() : 0xff));
  }

  write(offset: number, data: Uint8Array): void {
    writeBytes(offset, data, 2, (at, value) => {
      if (at === 0) {
        this.index = value & 0x7f;
        this.nmiMasked = (value & 0x80) !== 0;
      } else {
        this.writeData(value);
      }
    });
  }

  private setMemoryFields(ramBelow4G: number, ramAbove4G: number, cpus: number): void {
    const KiB = 1024;
    const MiB = 1024 * KiB;
    this.writeU16(CMOS_BASE_MEMORY_LOW, 640);
    const extendedKiB = Math.min(0xffff, Math.max(0, (ramBelow4G - MiB) / KiB));
    this.writeU16(CMOS_EXTENDED_MEMORY_LOW, extendedKiB);
    this.writeU16(CMOS_EXTENDED_MEMORY_LOW_ALT, extendedKiB);
    const above16M = Math.min(
      0xffff,
      Math.max(0, Math.floor((ramBelow4G - 16 * MiB) / (64 * KiB))),
    );
    this.writeU16(CMOS_MEMORY_ABOVE_16M_LOW, above16M);
    const above4G = Math.min(0xffffff, Math.floor(ramAbove4G / (64 * KiB)));
    this.cmos[CMOS_MEMORY_ABOVE_4G] = above4G & 0xff;
    this.cmos[CMOS_MEMORY_ABOVE_4G + 1] = (above4G >> 8) & 0xff;
    this.cmos[CMOS_MEMORY_ABOVE_4G + 2] = (above4G >> 16) & 0xff;
    this.cmos[CMOS_CPU_COUNT_MINUS_ONE] = Math.max(0, Math.min(255, cpus - 1));
  }

  private writeU16(at: number, value: number): void {
    this.cmos[at] = value & 0xff;
    this.cmos[at + 1] = (value >> 8) & 0xff;
  }

  private get binary(): boolean {
    return (this.cmos[RTC_REG_B]! & REG_B_BINARY) !== 0;
  }

  private get hours24(): boolean {
    return (this.cmos[RTC_REG_B]! & REG_B_24H) !== 0;
  }

  private readData(): number {
    const i = this.index;
    switch (i) {
      case RTC_SECONDS:
      case RTC_MINUTES:
      case RTC_HOURS:
      case RTC_DAY_OF_WEEK:
      case RTC_DAY_OF_MONTH:
      case RTC_MONTH:
      case RTC_YEAR:
      case CMOS_CENTURY:
        return this.encodeField(i, this.frozen ?? this.currentTime());
      case RTC_REG_A:
        return (this.cmos[RTC_REG_A]! & ~REG_A_UIP) | (this.updateInProgress() ? REG_A_UIP : 0);
      case RTC_REG_C:
        // Interrupt flags; no interrupt source is modelled, and reading clears them anyway.
        return 0;
      default:
        return this.cmos[i]!;
    }
  }

  private writeData(value: number): void {
    const i = this.index;
    switch (i) {
      case RTC_SECONDS:
      case RTC_MINUTES:
      case RTC_HOURS:
      case RTC_DAY_OF_WEEK:
      case RTC_DAY_OF_MONTH:
      case RTC_MONTH:
      case RTC_YEAR:
      case CMOS_CENTURY: {
        const editing = this.frozen ?? this.currentTime();
        this.decodeField(i, value, editing);
        if (this.frozen) this.frozen = editing;
        else this.setTime(editing);
        break;
      }
      case RTC_REG_A:
        // UIP (bit 7) is read-only.
        this.cmos[RTC_REG_A] = value & ~REG_A_UIP;
        break;
      case RTC_REG_B: {
        const wasSet = (this.cmos[RTC_REG_B]! & REG_B_SET) !== 0;
        const isSet = (value & REG_B_SET) !== 0;
        if (!wasSet && isSet) this.frozen = this.currentTime();
        this.cmos[RTC_REG_B] = value;
        if (wasSet && !isSet && this.frozen) {
          this.setTime(this.frozen);
          this.frozen = null;
        }
        break;
      }
      case RTC_REG_C:
      case RTC_REG_D:
        // Read-only status registers (data sheet: "Register C ... read-only", "Register D").
        break;
      default:
        this.cmos[i] = value;
    }
  }

  private updateInProgress(): boolean {
    if ((this.cmos[RTC_REG_B]! & REG_B_SET) !== 0) return false; // SET stops updates
    if ((this.cmos[RTC_REG_A]! & REG_A_DIVIDER_MASK) !== REG_A_DIVIDER_RUNNING) return false;
    const withinSecond = (((this.now() + this.offsetMs) % 1000) + 1000) % 1000;
    return withinSecond >= 1000 - UPDATE_WINDOW_MS;
  }

  private currentTime(): RtcTime {
    const d = new Date(Math.floor(this.now() + this.offsetMs));
    if (this.localTime) {
      return {
        seconds: d.getSeconds(),
        minutes: d.getMinutes(),
        hours: d.getHours(),
        dayOfWeek: d.getDay() + 1,
        dayOfMonth: d.getDate(),
        month: d.getMonth() + 1,
        year: d.getFullYear(),
      };
    }
    return {
      seconds: d.getUTCSeconds(),
      minutes: d.getUTCMinutes(),
      hours: d.getUTCHours(),
      dayOfWeek: d.getUTCDay() + 1,
      dayOfMonth: d.getUTCDate(),
      month: d.getUTCMonth() + 1,
      year: d.getUTCFullYear(),
    };
  }

  /** Make the guest clock read `t` now (the day of week is derived from the date, as Linux does not rely on it). */
  private setTime(t: RtcTime): void {
    const fields = [t.year, t.month - 1, t.dayOfMonth, t.hours, t.minutes, t.seconds] as const;
    const guestMs = this.localTime ? new Date(...fields).getTime() : Date.UTC(...fields);
    if (!Number.isFinite(guestMs)) return; // nonsense fields (e.g. month 0x1F in BCD): ignore
    const nowMs = this.now();
    // Keep the sub-second phase of the host clock so the next tick comes on time.
    this.offsetMs = guestMs - Math.floor(nowMs / 1000) * 1000;
  }

  private toRegister(value: number): number {
    return this.binary ? value & 0xff : (Math.floor(value / 10) % 10) * 16 + (value % 10);
  }

  private fromRegister(value: number): number {
    return this.binary ? value : (value >> 4) * 10 + (value & 0x0f);
  }

  private encodeField(index: number, t: RtcTime): number {
    switch (index) {
      case RTC_SECONDS:
        return this.toRegister(t.seconds);
      case RTC_MINUTES:
        return this.toRegister(t.minutes);
      case RTC_HOURS: {
        if (this.hours24) return this.toRegister(t.hours);
        const pm = t.hours >= 12;
        const h12 = t.hours % 12 === 0 ? 12 : t.hours % 12;
        return this.toRegister(h12) | (pm ? HOURS_PM : 0);
      }
      case RTC_DAY_OF_WEEK:
        return this.toRegister(t.dayOfWeek);
      case RTC_DAY_OF_MONTH:
        return this.toRegister(t.dayOfMonth);
      case RTC_MONTH:
        return this.toRegister(t.month);
      case RTC_YEAR:
        return this.toRegister(t.year % 100);
      default: // CMOS_CENTURY
        return this.toRegister(Math.floor(t.year / 100));
    }
  }

  private decodeField(index: number, value: number, t: RtcTime): void {
    switch (index) {
      case RTC_SECONDS:
        t.seconds = this.fromRegister(value);
        break;
      case RTC_MINUTES:
        t.minutes = this.fromRegister(value);
        break;
      case RTC_HOURS:
        if (this.hours24) t.hours = this.fromRegister(value);
        else {
          const h12 = this.fromRegister(value & ~HOURS_PM) % 12;
          t.hours = h12 + ((value & HOURS_PM) !== 0 ? 12 : 0);
        }
        break;
      case RTC_DAY_OF_WEEK:
        t.dayOfWeek = this.fromRegister(value);
        break;
      case RTC_DAY_OF_MONTH:
        t.dayOfMonth = this.fromRegister(value);
        break;
      case RTC_MONTH:
        t.month = this.fromRegister(value);
        break;
      case RTC_YEAR:
        t.year = Math.floor(t.year / 100) * 100 + this.fromRegister(value);
        break;
      default: // CMOS_CENTURY
        t.year = this.fromRegister(value) * 100 + (t.year % 100);
    }
  }
}

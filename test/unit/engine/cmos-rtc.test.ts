import { describe, expect, it } from 'vitest';
import {
  CmosRtc,
  REG_A_UIP,
  REG_B_24H,
  REG_B_BINARY,
  REG_B_SET,
  REG_D_VRT,
  RTC_DAY_OF_MONTH,
  RTC_DAY_OF_WEEK,
  RTC_HOURS,
  RTC_MINUTES,
  RTC_MONTH,
  RTC_REG_A,
  RTC_REG_B,
  RTC_REG_C,
  RTC_REG_D,
  RTC_SECONDS,
  RTC_YEAR,
} from '../../../main/engine/devices/cmos-rtc/index.js';
import { readPort, writePort } from './irq-recorder.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function rtc(nowMs: number, ram = { below: 512 * MiB, above: 0 }) {
  const clock = { now: nowMs };
  const dev = new CmosRtc({
    ramBelow4G: ram.below,
    ramAbove4G: ram.above,
    cpus: 4,
    now: () => clock.now,
  });
  const rd = (index: number) => {
    writePort(dev, 0, index);
    return readPort(dev, 1);
  };
  const wr = (index: number, v: number) => {
    writePort(dev, 0, index);
    writePort(dev, 1, v);
  };
  return { dev, clock, rd, wr };
}

// Tuesday 2024-02-27 13:45:56.100 UTC
const T = Date.UTC(2024, 1, 27, 13, 45, 56, 100);

describe('cmos-rtc', () => {
  it('shows the host clock in BCD, 24-hour, with century 0x32', () => {
    const r = rtc(T);
    expect(r.rd(RTC_SECONDS)).toBe(0x56);
    expect(r.rd(RTC_MINUTES)).toBe(0x45);
    expect(r.rd(RTC_HOURS)).toBe(0x13);
    expect(r.rd(RTC_DAY_OF_WEEK)).toBe(3); // Sunday = 1
    expect(r.rd(RTC_DAY_OF_MONTH)).toBe(0x27);
    expect(r.rd(RTC_MONTH)).toBe(0x02);
    expect(r.rd(RTC_YEAR)).toBe(0x24);
    expect(r.rd(0x32)).toBe(0x20);
    r.clock.now += 5000;
    expect(r.rd(RTC_SECONDS)).toBe(0x01);
  });

  it('switches to binary and 12-hour mode per register B', () => {
    const r = rtc(T);
    r.wr(RTC_REG_B, REG_B_BINARY);
    expect(r.rd(RTC_SECONDS)).toBe(56);
    expect(r.rd(RTC_HOURS)).toBe(0x80 | 1); // 1 PM
    r.wr(RTC_REG_B, 0);
    expect(r.rd(RTC_HOURS)).toBe(0x81);
    r.clock.now = Date.UTC(2024, 1, 27, 0, 5, 0);
    expect(r.rd(RTC_HOURS)).toBe(0x12); // midnight is 12 AM
    r.wr(RTC_REG_B, REG_B_24H | REG_B_BINARY);
    expect(r.rd(RTC_HOURS)).toBe(0);
  });

  it('lets the guest set the time with SET, then keeps it ticking', () => {
    const r = rtc(T);
    r.wr(RTC_REG_B, REG_B_24H | REG_B_SET);
    r.wr(RTC_YEAR, 0x99);
    r.wr(0x32, 0x19);
    r.wr(RTC_MONTH, 0x12);
    r.wr(RTC_DAY_OF_MONTH, 0x31);
    r.wr(RTC_HOURS, 0x23);
    r.wr(RTC_MINUTES, 0x59);
    r.wr(RTC_SECONDS, 0x58);
    r.clock.now += 10_000; // frozen while SET
    expect(r.rd(RTC_SECONDS)).toBe(0x58);
    r.wr(RTC_REG_B, REG_B_24H);
    r.clock.now += 3000;
    expect(r.rd(RTC_SECONDS)).toBe(0x01);
    expect(r.rd(RTC_YEAR)).toBe(0x00);
    expect(r.rd(0x32)).toBe(0x20);
    expect(r.rd(RTC_MONTH)).toBe(0x01);
  });

  it('writes a single time field directly when SET is clear (12-hour PM decoding)', () => {
    const r = rtc(T);
    r.wr(RTC_REG_B, 0); // 12-hour BCD
    r.wr(RTC_HOURS, 0x80 | 0x11); // 11 PM
    r.wr(RTC_REG_B, REG_B_24H);
    expect(r.rd(RTC_HOURS)).toBe(0x23);
  });

  it('sets UIP only in the last 244 us of a second, and not while SET', () => {
    const r = rtc(Date.UTC(2024, 0, 1, 0, 0, 0, 999) + 0.9);
    expect(r.rd(RTC_REG_A) & REG_A_UIP).toBe(REG_A_UIP);
    r.clock.now = Date.UTC(2024, 0, 1, 0, 0, 0, 999) + 0.5;
    expect(r.rd(RTC_REG_A) & REG_A_UIP).toBe(0);
    r.clock.now = Date.UTC(2024, 0, 1, 0, 0, 0, 999) + 0.9;
    r.wr(RTC_REG_B, REG_B_24H | REG_B_SET);
    expect(r.rd(RTC_REG_A) & REG_A_UIP).toBe(0);
  });

  it('keeps UIP, C and D read-only and D reports valid RAM', () => {
    const r = rtc(T);
    r.wr(RTC_REG_A, 0xff);
    expect(r.rd(RTC_REG_A) & 0x7f).toBe(0x7f);
    r.wr(RTC_REG_C, 0xff);
    expect(r.rd(RTC_REG_C)).toBe(0);
    r.wr(RTC_REG_D, 0x00);
    expect(r.rd(RTC_REG_D)).toBe(REG_D_VRT);
  });

  it('ignores nonsense BCD time writes instead of corrupting the clock', () => {
    const r = rtc(T);
    r.wr(RTC_MONTH, 0xff);
    expect(r.rd(RTC_MINUTES)).toBe(0x45);
  });

  it('masks the index to 7 bits, records the NMI bit, and reads 0xff from port 0x70', () => {
    const r = rtc(T);
    writePort(r.dev, 0, 0x80 | 0x40);
    expect(r.dev.nmiDisabled).toBe(true);
    writePort(r.dev, 1, 0x5a);
    expect(r.rd(0x40)).toBe(0x5a);
    expect(readPort(r.dev, 0)).toBe(0xff);
    expect(readPort(r.dev, 1, 4) >>> 8).toBe(0xffffff);
  });

  it('fills the memory-size bytes as SeaBIOS reads them', () => {
    const r = rtc(T, { below: 3 * GiB, above: 5 * GiB });
    const u16 = (i: number) => r.rd(i) | (r.rd(i + 1) << 8);
    expect(u16(0x15)).toBe(640);
    expect(u16(0x17)).toBe(0xffff);
    expect(u16(0x30)).toBe(0xffff);
    expect(u16(0x34)).toBe((3 * GiB - 16 * MiB) / 65536);
    expect(r.rd(0x5b) | (r.rd(0x5c) << 8) | (r.rd(0x5d) << 16)).toBe((5 * GiB) / 65536);
    expect(r.rd(0x5f)).toBe(3);
    const small = rtc(T, { below: 8 * MiB, above: 0 });
    expect(small.rd(0x17) | (small.rd(0x18) << 8)).toBe(7 * 1024);
    expect(small.rd(0x34) | (small.rd(0x35) << 8)).toBe(0);
  });
});

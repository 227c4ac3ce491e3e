import { describe, expect, it } from 'vitest';
import {
  ACPI_RESET_VALUE,
  AcpiPm,
  PM1_CNT_OFFSET,
  PM1_CNT_SCI_EN,
  PM1_CNT_SLP_EN,
  PM1_EN_OFFSET,
  PM1_STS_OFFSET,
  PM1_STS_PWRBTN,
  PM_TIMER_HZ,
  PM_TMR_OFFSET,
  RESET_REG_OFFSET,
  SLP_TYP_S5,
} from '../../../main/engine/devices/acpi-pm/index.js';
import { IrqRecorder, readPort, writePort } from './irq-recorder.js';

function pm() {
  const sci = new IrqRecorder();
  const events: string[] = [];
  const clock = { ns: 1_000_000_000n };
  const dev = new AcpiPm({
    sci,
    onPowerOff: () => events.push('off'),
    onReset: () => events.push('reset'),
    nowNs: () => clock.ns,
  });
  return { dev, sci, events, clock };
}

describe('acpi-pm', () => {
  it('reads SCI_EN set: the machine is always in ACPI mode', () => {
    const p = pm();
    expect(readPort(p.dev, PM1_CNT_OFFSET, 2) & PM1_CNT_SCI_EN).toBe(PM1_CNT_SCI_EN);
    writePort(p.dev, PM1_CNT_OFFSET, 0, 2);
    expect(readPort(p.dev, PM1_CNT_OFFSET, 2) & PM1_CNT_SCI_EN).toBe(PM1_CNT_SCI_EN);
  });

  it('powers off on SLP_TYP=5 with SLP_EN, as ACPICA writes it (type first, then enable)', () => {
    const p = pm();
    const typ = SLP_TYP_S5 << 10;
    writePort(p.dev, PM1_CNT_OFFSET, typ | PM1_CNT_SCI_EN, 2);
    expect(p.events).toEqual([]);
    writePort(p.dev, PM1_CNT_OFFSET, typ | PM1_CNT_SLP_EN | PM1_CNT_SCI_EN, 2);
    expect(p.events).toEqual(['off']);
    expect(readPort(p.dev, PM1_CNT_OFFSET, 2) & PM1_CNT_SLP_EN).toBe(0); // write-only
  });

  it('refuses other sleep states', () => {
    const p = pm();
    writePort(p.dev, PM1_CNT_OFFSET, (3 << 10) | PM1_CNT_SLP_EN, 2);
    writePort(p.dev, PM1_CNT_OFFSET, (1 << 10) | PM1_CNT_SLP_EN, 2);
    expect(p.events).toEqual([]);
  });

  it('resets only on the FADT reset value', () => {
    const p = pm();
    writePort(p.dev, RESET_REG_OFFSET, 0x01);
    expect(p.events).toEqual([]);
    writePort(p.dev, RESET_REG_OFFSET, ACPI_RESET_VALUE);
    expect(p.events).toEqual(['reset']);
  });

  it('raises the SCI for an enabled power button and drops it when status is cleared', () => {
    const p = pm();
    expect(p.dev.setPowerButton()).toBe(false);
    expect(p.sci.level).toBe(false);
    writePort(p.dev, PM1_EN_OFFSET, PM1_STS_PWRBTN, 2);
    expect(p.sci.level).toBe(true);
    expect(readPort(p.dev, PM1_STS_OFFSET, 2) & PM1_STS_PWRBTN).toBe(PM1_STS_PWRBTN);
    writePort(p.dev, PM1_STS_OFFSET, 0, 2); // writing 0 clears nothing
    expect(p.sci.level).toBe(true);
    writePort(p.dev, PM1_STS_OFFSET, PM1_STS_PWRBTN, 2);
    expect(p.sci.level).toBe(false);
    expect(readPort(p.dev, PM1_STS_OFFSET, 2)).toBe(0);
  });

  it('keeps only defined PM1_EN bits', () => {
    const p = pm();
    writePort(p.dev, PM1_EN_OFFSET, 0xffff, 2);
    expect(readPort(p.dev, PM1_EN_OFFSET, 2)).toBe(0x4721);
  });

  it('counts the PM timer at 3.579545 MHz, sampled once per 32-bit read, read-only', () => {
    const p = pm();
    expect(readPort(p.dev, PM_TMR_OFFSET, 4)).toBe(0);
    p.clock.ns += 1_000_000_000n;
    expect(readPort(p.dev, PM_TMR_OFFSET, 4)).toBe(PM_TIMER_HZ);
    writePort(p.dev, PM_TMR_OFFSET, 0, 4);
    expect(readPort(p.dev, PM_TMR_OFFSET, 4)).toBe(PM_TIMER_HZ);
    p.clock.ns += 1200n * 1_000_000_000n; // past 2^32 ticks: wraps
    expect(readPort(p.dev, PM_TMR_OFFSET, 4)).toBe((PM_TIMER_HZ * 1201) % 2 ** 32);
  });

  it('reads undefined offsets as 0xff and drops writes to them', () => {
    const p = pm();
    expect(readPort(p.dev, 6, 2)).toBe(0xffff);
    expect(readPort(p.dev, 13)).toBe(0xff);
    writePort(p.dev, 14, 0xff);
    expect(readPort(p.dev, 15, 4)).toBe(0xffffffff);
    expect(p.events).toEqual([]);
  });
});

/**
 * PCI configuration mechanism #1 and type 0 config space (PCI Local Bus 3.0 §3.2.2.3.2,
 * §6.2.5): enumeration with master aborts, BAR sizing by writing all-ones, BAR placement
 * announced only when decoding is enabled, read-only identity, and hostile accesses (other
 * buses, disabled address register, writes to read-only registers, an I/O BAR placed past
 * 64 KiB) that change nothing.
 */
import { describe, expect, it } from 'vitest';
import { I440fxHostBridge } from '../../../main/engine/devices/i440fx/index.js';
import {
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PciBus,
  PciConfigSpace,
  type PciMapping,
} from '../../../main/engine/devices/pci/index.js';
import { Piix3Ide, Piix3IsaBridge } from '../../../main/engine/devices/piix3/index.js';
import { readPort, writePort } from './irq-recorder.js';

function setup() {
  let resets = 0;
  const bus = new PciBus(() => resets++);
  bus.attach(0, 0, new I440fxHostBridge());
  bus.attach(1, 0, new Piix3IsaBridge());
  bus.attach(1, 1, new Piix3Ide());
  const maps: PciMapping[] = [];
  const vga = new PciConfigSpace(
    { vendorId: 0x1234, deviceId: 0x1111, classCode: 0x030000 },
    {
      bars: {
        0: { kind: 'memory32', size: 16 << 20, prefetchable: true },
        1: { kind: 'io', size: 16 },
      },
      romSize: 65536,
    },
  );
  vga.onMap = (m) => maps.push(m);
  bus.attach(2, 0, { name: 'vga', config: vga });
  const address = (dev: number, fn: number, reg: number, bus = 0) =>
    (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0;
  const cfgRead = (dev: number, fn: number, reg: number, size = 4, busNo = 0) => {
    writePort(bus, 0, address(dev, fn, reg & 0xfc, busNo), 4);
    return readPort(bus, 4 + (reg & 3), size);
  };
  const cfgWrite = (dev: number, fn: number, reg: number, value: number, size = 4) => {
    writePort(bus, 0, address(dev, fn, reg & 0xfc), 4);
    writePort(bus, 4 + (reg & 3), value, size);
  };
  return { bus, cfgRead, cfgWrite, maps, resets: () => resets };
}

describe('PCI bus 0', () => {
  it('enumerates the i440FX, the multi-function PIIX3 and a master abort elsewhere', () => {
    const { cfgRead } = setup();
    expect(cfgRead(0, 0, 0)).toBe(0x1237_8086);
    expect(cfgRead(1, 0, 0)).toBe(0x7000_8086);
    expect(cfgRead(1, 0, 0x0e, 1) & 0x80).toBe(0x80);
    expect(cfgRead(1, 1, 0)).toBe(0x7010_8086);
    expect(cfgRead(1, 1, 0x08) >>> 8).toBe(0x010180);
    expect(cfgRead(3, 0, 0)).toBe(0xffff_ffff);
    expect(cfgRead(0, 0, 0, 4, 1)).toBe(0xffff_ffff); // no other bus
    // Address register with the enable bit clear selects nothing.
    const { bus } = setup();
    writePort(bus, 0, 0x0000_0000, 4);
    expect(readPort(bus, 4, 4)).toBe(0xffff_ffff);
    expect(readPort(bus, 0, 4)).toBe(0);
  });

  it('sizes BARs by writing all-ones and keeps identity read-only', () => {
    const { cfgRead, cfgWrite } = setup();
    cfgWrite(2, 0, 0x10, 0xffff_ffff);
    expect(cfgRead(2, 0, 0x10)).toBe(0xff00_0008); // 16 MiB, prefetchable memory
    cfgWrite(2, 0, 0x14, 0xffff_ffff);
    expect(cfgRead(2, 0, 0x14)).toBe(0xffff_fff1); // 16 bytes of I/O
    cfgWrite(2, 0, 0x18, 0xffff_ffff);
    expect(cfgRead(2, 0, 0x18)).toBe(0); // no BAR2
    cfgWrite(2, 0, 0x30, 0xffff_ffff);
    expect(cfgRead(2, 0, 0x30)).toBe(0xffff_0001); // 64 KiB ROM + enable bit
    cfgWrite(2, 0, 0x00, 0xdead_beef);
    expect(cfgRead(2, 0, 0x00)).toBe(0x1111_1234);
    cfgWrite(1, 1, 0x20, 0xffff_ffff);
    // PIIX3 IDE BAR4: the 16-byte I/O block of the bus-master registers (I/O space bit set).
    expect(cfgRead(1, 1, 0x20)).toBe(0xffff_fff1);
  });

  it('announces a BAR only once it is placed and decoding is on, and again when it moves', () => {
    const { cfgWrite, maps } = setup();
    cfgWrite(2, 0, 0x10, 0xfd00_0000);
    expect(maps).toEqual([]);
    cfgWrite(2, 0, 0x04, PCI_COMMAND_MEMORY, 2);
    expect(maps).toEqual([{ bar: 0, kind: 'memory32', address: 0xfd00_0000, size: 16 << 20 }]);
    cfgWrite(2, 0, 0x10, 0xfc12_3456); // low bits beyond the size are dropped
    expect(maps.at(-1)).toEqual({ bar: 0, kind: 'memory32', address: 0xfc00_0000, size: 16 << 20 });
    cfgWrite(2, 0, 0x30, 0xfe00_0001);
    expect(maps.at(-1)).toEqual({
      bar: 'rom',
      kind: 'memory32',
      address: 0xfe00_0000,
      size: 65536,
    });
    cfgWrite(2, 0, 0x04, 0, 2);
    expect(maps.slice(-2).map((m) => m.address)).toEqual([undefined, undefined]);
  });

  it('never decodes an I/O BAR past the 64 KiB port space', () => {
    const { cfgWrite, maps } = setup();
    cfgWrite(2, 0, 0x04, PCI_COMMAND_IO, 2);
    cfgWrite(2, 0, 0x14, 0xfff0_0001);
    expect(maps).toEqual([]);
    cfgWrite(2, 0, 0x14, 0xc001);
    expect(maps).toEqual([{ bar: 1, kind: 'io', address: 0xc000, size: 16 }]);
  });

  it('keeps the PAM registers and resets the machine through port 0xCF9', () => {
    const { cfgRead, cfgWrite, bus, resets } = setup();
    cfgWrite(0, 0, 0x58, 0x3333_3000);
    expect(cfgRead(0, 0, 0x58)).toBe(0x3333_3000);
    writePort(bus, 1, 0x02, 1);
    expect(resets()).toBe(0);
    writePort(bus, 1, 0x06, 1);
    expect(resets()).toBe(1);
  });
});

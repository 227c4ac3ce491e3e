import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAcpiTables, byteSum } from '../../../main/engine/acpi/index.js';
import { amlSleepState } from '../../../main/engine/acpi/dsdt.js';
import { buildMadt } from '../../../main/engine/acpi/madt.js';

const BASE = 0xe0000;
const tables = buildAcpiTables({ base: BASE, cpus: 3, has8042: true, hasVga: false });
const view = new DataView(tables.blob.buffer);
const at = (address: number) => address - BASE;
const table = (signature: string) => {
  const t = tables.tables.find((x) => x.signature === signature)!;
  return tables.blob.subarray(at(t.address), at(t.address) + t.length);
};

describe('ACPI tables', () => {
  it('has a revision-2 RSDP with both checksums correct, pointing at the XSDT', () => {
    const rsdp = table('RSD PTR ');
    expect(new TextDecoder().decode(rsdp.subarray(0, 8))).toBe('RSD PTR ');
    expect(rsdp.length).toBe(36);
    expect(rsdp[15]).toBe(2);
    expect(byteSum(rsdp.subarray(0, 20))).toBe(0);
    expect(byteSum(rsdp)).toBe(0);
    const xsdt = tables.tables.find((t) => t.signature === 'XSDT')!;
    expect(Number(view.getBigUint64(at(tables.rsdpAddress) + 24, true))).toBe(xsdt.address);
    expect(tables.rsdpAddress % 16).toBe(0);
  });

  it('gives every table a correct checksum and its real length', () => {
    for (const sig of ['XSDT', 'FACP', 'APIC', 'DSDT']) {
      const t = table(sig);
      expect(byteSum(t), sig).toBe(0);
      expect(new DataView(t.buffer, t.byteOffset).getUint32(4, true), sig).toBe(t.length);
    }
  });

  it('lists FADT and MADT in the XSDT, and the FADT points at the DSDT', () => {
    const xsdt = table('XSDT');
    const dv = new DataView(xsdt.buffer, xsdt.byteOffset);
    const listed = [Number(dv.getBigUint64(36, true)), Number(dv.getBigUint64(44, true))];
    const address = (s: string) => tables.tables.find((t) => t.signature === s)!.address;
    expect(listed).toEqual([address('FACP'), address('APIC')]);
    const fadt = new DataView(table('FACP').buffer, table('FACP').byteOffset);
    expect(fadt.getUint32(40, true)).toBe(address('DSDT'));
    expect(Number(fadt.getBigUint64(140, true))).toBe(address('DSDT'));
    expect(table('FACP').length).toBe(276);
    expect(table('FACP')[8]).toBe(6);
  });

  it('encodes _S5_ as Package {5, 5, 0, 0} in AML (ACPI 6.5, 20.2)', () => {
    expect([...amlSleepState('_S5_', 5, 5)]).toEqual([
      0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00,
    ]);
    expect(() => amlSleepState('bad', 5, 5)).toThrow(/NameSeg/);
  });

  it('lists one enabled Local APIC per vCPU and refuses impossible counts', () => {
    const madt = buildMadt({ cpus: 255 });
    expect(madt.length).toBe(36 + 8 + 255 * 8 + 12 + 10 + 6);
    expect(byteSum(madt)).toBe(0);
    expect(madt[44 + 254 * 8 + 3]).toBe(254); // APIC ID of the last vCPU
    expect(() => buildMadt({ cpus: 0 })).toThrow(RangeError);
    expect(() => buildMadt({ cpus: 256 })).toThrow(RangeError);
    expect(() => buildMadt({ cpus: 1.5 })).toThrow(RangeError);
  });

  describe('parsed by ACPICA (iasl -d, Debian package acpica-tools)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vireo-acpi-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const disassemble = (sig: string): string => {
      const file = path.join(dir, `${sig.toLowerCase()}.dat`);
      writeFileSync(file, table(sig));
      // iasl writes <name>.dsl next to the input; -ve: errors only on stderr.
      execFileSync('iasl', ['-d', file], { cwd: dir, stdio: 'pipe' });
      const dsl = readFileSync(file.replace(/\.dat$/, '.dsl'), 'utf8');
      expect(dsl).not.toMatch(/Incorrect checksum|Invalid|Error/i);
      return dsl;
    };

    it('DSDT: _S5_ package', () => {
      const dsl = disassemble('DSDT');
      expect(dsl).toMatch(/Name \(_S5, Package \(0x04\)[\s\S]*0x05,\s*0x05,\s*Zero,\s*Zero/);
    });

    it('FADT: PM blocks, reset register, SCI, century, boot flags', () => {
      const dsl = disassemble('FACP');
      expect(dsl).toMatch(/SCI Interrupt : 0009/);
      expect(dsl).toMatch(/PM1A Event Block Address : 00000600/);
      expect(dsl).toMatch(/PM1A Control Block Address : 00000604/);
      expect(dsl).toMatch(/PM Timer Block Address : 00000608/);
      expect(dsl).toMatch(/RTC Century Index : 32/);
      expect(dsl).toMatch(/Reset Register Supported \(V2\) : 1/);
      expect(dsl).toMatch(/Address : 000000000000060C/);
      expect(dsl).toMatch(/Value to cause reset : 0F/);
      expect(dsl).toMatch(/8042 Present on ports 60\/64 \(V2\) : 1/);
    });

    it('MADT: three processors, IOAPIC at 0xFEC00000, IRQ 9 level/high, PIT on GSI 0 (KVM default routing)', () => {
      const dsl = disassemble('APIC');
      expect(dsl.match(/\[Processor Local APIC\]/g)?.length).toBe(3);
      expect(dsl).toMatch(/Address : FEC00000/);
      expect(dsl.match(/\[Interrupt Source Override\]/g)?.length).toBe(1);
      expect(dsl).toMatch(/Source : 09[\s\S]*?Polarity : 1\s+Trigger Mode : 3/);
    });

    it('MADT with QEMU-style routing: IRQ 0 -> GSI 2', () => {
      const qemuStyle = buildAcpiTables({
        base: BASE,
        cpus: 1,
        has8042: true,
        hasVga: false,
        timerGsi: 2,
      });
      const t = qemuStyle.tables.find((x) => x.signature === 'APIC')!;
      const file = path.join(dir, 'apic2.dat');
      writeFileSync(file, qemuStyle.blob.subarray(t.address - BASE, t.address - BASE + t.length));
      execFileSync('iasl', ['-d', file], { cwd: dir, stdio: 'pipe' });
      const dsl = readFileSync(path.join(dir, 'apic2.dsl'), 'utf8');
      expect(dsl).toMatch(/Source : 00\s+\[[^\]]+\]\s+Interrupt : 00000002/);
    });

    it('DSDT with virtio-mmio disks: LNRO0005 devices with their MMIO range and level IRQ', () => {
      const withDisks = buildAcpiTables({
        base: BASE,
        cpus: 1,
        has8042: true,
        hasVga: false,
        virtioMmio: [
          { base: 0xd0000000, size: 0x200, gsi: 16 },
          { base: 0xd0000200, size: 0x200, gsi: 17 },
        ],
      });
      const t = withDisks.tables.find((x) => x.signature === 'DSDT')!;
      const dsdt = withDisks.blob.subarray(t.address - BASE, t.address - BASE + t.length);
      expect(byteSum(dsdt) & 0xff).toBe(0);
      const file = path.join(dir, 'dsdt-virtio.dat');
      writeFileSync(file, dsdt);
      execFileSync('iasl', ['-d', file], { cwd: dir, stdio: 'pipe' });
      const dsl = readFileSync(path.join(dir, 'dsdt-virtio.dsl'), 'utf8');
      expect(dsl).not.toMatch(/Invalid|Error/i);
      expect(dsl.match(/Name \(_HID, "LNRO0005"\)/g)?.length).toBe(2);
      expect(dsl).toMatch(/Device \(VR01\)[\s\S]*0xD0000200,\s+\/\/ Address Base/);
      expect(dsl).toMatch(
        /Interrupt \(ResourceConsumer, Level, ActiveHigh, Exclusive, ,, \)\s*\{\s*0x00000011,/,
      );
    });

    it('XSDT: two entries', () => {
      const dsl = disassemble('XSDT');
      expect(dsl.match(/ACPI Table Address/g)?.length).toBe(2);
    });
  });
});

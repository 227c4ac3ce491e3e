/**
 * The PC machine's ACPI as SeaBIOS receives it: the `etc/table-loader` script run the way
 * SeaBIOS's src/fw/romfile_loader.c runs it (allocate, add pointers, fix checksums) against
 * chosen addresses must leave an RSDP in the F segment whose XSDT, FADT and DSDT point at each
 * other and whose every checksum is right (ACPI 6.5 §5.2.5, §5.2.6).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { byteSum } from '../../../main/engine/acpi/index.js';
import { buildPcAcpi, RSDP_FILE, TABLES_FILE } from '../../../main/engine/machine/pc/acpi.js';

/** Runs the loader script over copies of the files; returns each file's bytes and address. */
function runLoader(
  files: Record<string, Uint8Array>,
  script: Uint8Array,
  addresses: Record<string, number>,
) {
  const placed: Record<string, { bytes: Uint8Array; address: number; zone: number }> = {};
  const name = (at: number) => {
    let s = '';
    for (let i = at; script[i] !== 0 && i < at + 56; i++) s += String.fromCharCode(script[i]!);
    return s;
  };
  const view = new DataView(script.buffer, script.byteOffset, script.byteLength);
  for (let e = 0; e < script.length; e += 128) {
    const command = view.getUint32(e, true);
    if (command === 1) {
      const file = name(e + 4);
      placed[file] = {
        bytes: files[file]!.slice(),
        address: addresses[file]!,
        zone: script[e + 64]!,
      };
    } else if (command === 2) {
      const dest = placed[name(e + 4)]!;
      const src = placed[name(e + 60)]!;
      const offset = view.getUint32(e + 116, true);
      const size = script[e + 120]!;
      const dv = new DataView(dest.bytes.buffer);
      if (size === 4) dv.setUint32(offset, dv.getUint32(offset, true) + src.address, true);
      else dv.setBigUint64(offset, dv.getBigUint64(offset, true) + BigInt(src.address), true);
    } else if (command === 3) {
      const file = placed[name(e + 4)]!;
      const offset = view.getUint32(e + 60, true);
      const start = view.getUint32(e + 64, true);
      const length = view.getUint32(e + 68, true);
      file.bytes[offset] =
        (file.bytes[offset]! - byteSum(file.bytes.subarray(start, start + length))) & 0xff;
    } else throw new Error(`unknown loader command ${command}`);
  }
  return placed;
}

describe('PC ACPI over fw_cfg', () => {
  it('links RSDP -> XSDT and RSDT -> FADT/MADT and FADT -> DSDT with correct checksums', () => {
    const acpi = buildPcAcpi({ cpus: 2, ramBytes: 512 * 1024 * 1024 });
    const TABLES_AT = 0x0eff_0000;
    const placed = runLoader({ [RSDP_FILE]: acpi.rsdp, [TABLES_FILE]: acpi.tables }, acpi.loader, {
      [RSDP_FILE]: 0xf5a00,
      [TABLES_FILE]: TABLES_AT,
    });
    expect(placed[RSDP_FILE]!.zone).toBe(2); // F segment: where the OS scans
    const rsdp = placed[RSDP_FILE]!.bytes;
    const tables = placed[TABLES_FILE]!.bytes;
    expect(String.fromCharCode(...rsdp.subarray(0, 8))).toBe('RSD PTR ');
    expect(byteSum(rsdp.subarray(0, 20)) & 0xff).toBe(0);
    expect(byteSum(rsdp.subarray(0, 36)) & 0xff).toBe(0);
    const at = (address: number) => address - TABLES_AT;
    const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer).getUint32(o, true);
    const u64 = (b: Uint8Array, o: number) => Number(new DataView(b.buffer).getBigUint64(o, true));
    const sig = (o: number) => String.fromCharCode(...tables.subarray(o, o + 4));
    const table = (o: number) => tables.subarray(o, o + u32(tables, o + 4));
    const xsdt = at(u64(rsdp, 24));
    expect(sig(xsdt)).toBe('XSDT');
    const entries = (u32(tables, xsdt + 4) - 36) / 8;
    const signatures = Array.from({ length: entries }, (_, i) =>
      sig(at(u64(tables, xsdt + 36 + 8 * i))),
    );
    expect(signatures).toEqual(['FACP', 'APIC']);
    const fadt = at(u64(tables, xsdt + 36));
    expect(sig(at(u32(tables, fadt + 40)))).toBe('DSDT');
    expect(at(u64(tables, fadt + 140))).toBe(at(u32(tables, fadt + 40)));
    // The 32-bit RSDT (for ACPI 1.0 OSes) lists the same tables.
    const rsdt = at(u32(rsdp, 16));
    expect(sig(rsdt)).toBe('RSDT');
    expect((u32(tables, rsdt + 4) - 36) / 4).toBe(entries);
    for (let i = 0; i < entries; i++)
      expect(u32(tables, rsdt + 36 + 4 * i)).toBe(u64(tables, xsdt + 36 + 8 * i));
    for (const o of [xsdt, rsdt, fadt, at(u64(tables, xsdt + 44)), at(u32(tables, fadt + 40))])
      expect(byteSum(table(o)) & 0xff, sig(o)).toBe(0);
  });

  it('declares the PCI host bridge with its windows in a DSDT that ACPICA parses', () => {
    const acpi = buildPcAcpi({ cpus: 1, ramBytes: 3 * 1024 * 1024 * 1024 });
    const dsdt = acpi.tables.subarray(0, new DataView(acpi.tables.buffer).getUint32(4, true));
    const dir = mkdtempSync(path.join(tmpdir(), 'vireo-pc-dsdt-'));
    writeFileSync(path.join(dir, 'dsdt.aml'), dsdt);
    execFileSync('iasl', ['-d', 'dsdt.aml'], { cwd: dir, stdio: 'pipe' });
    const dsl = readFileSync(path.join(dir, 'dsdt.dsl'), 'utf8');
    expect(dsl).toContain('Device (PCI0)');
    expect(dsl).toContain('EisaId ("PNP0A03")');
    // SeaBIOS only sets up the PS/2 keyboard when the DSDT has one.
    expect(dsl).toMatch(/Device \(KBD\)[\s\S]*EisaId \("PNP0303"\)[\s\S]*IRQNoFlags \(\)\s*\{1\}/);
    expect(dsl).toContain('EisaId ("PNP0F13")');
    expect(dsl).toContain('EisaId ("PNP0B00")');
    expect(dsl).toContain('EisaId ("PNP0501")');
    expect(dsl).toMatch(/WordBusNumber[\s\S]*0x00FF,\s+\/\/ Range Maximum/);
    // More than 2 GiB of RAM: SeaBIOS's BARs start at 3 GiB, and so does the window.
    expect(dsl).toMatch(/0xC0000000,\s+\/\/ Range Minimum\s+0xFEBFFFFF,/);
  });

  it('routes PCI INTx through four PIIX3 link devices (_PRT, PNP0C0F) that ACPICA parses', () => {
    const acpi = buildPcAcpi({ cpus: 2, ramBytes: 1024 * 1024 * 1024 });
    const view = new DataView(acpi.tables.buffer);
    const dsdt = acpi.tables.subarray(0, view.getUint32(4, true));
    const dir = mkdtempSync(path.join(tmpdir(), 'vireo-pc-prt-'));
    writeFileSync(path.join(dir, 'dsdt.aml'), dsdt);
    execFileSync('iasl', ['-d', 'dsdt.aml'], { cwd: dir, stdio: 'pipe' });
    const dsl = readFileSync(path.join(dir, 'dsdt.dsl'), 'utf8');
    if (process.env.VIREO_KEEP_DSL) writeFileSync(process.env.VIREO_KEEP_DSL, dsl);
    // The PIIX3's route registers, read and written by the link methods.
    expect(dsl).toMatch(/Device \(ISA\)\s*\{\s*Name \(_ADR, 0x00010000\)/);
    expect(dsl).toMatch(/OperationRegion \(PIRQ, PCI_Config, 0x60, 0x04\)/);
    expect(dsl).toMatch(
      /Field \(\\PCI0\.ISA\.PIRQ, ByteAcc, NoLock, Preserve\)\s*\{\s*PRQA,\s+8,\s*PRQB,\s+8,\s*PRQC,\s+8,\s*PRQD,\s+8/,
    );
    for (const [n, link] of ['LNKA', 'LNKB', 'LNKC', 'LNKD'].entries()) {
      const device = new RegExp(
        `Device \\(${link}\\)\\s*\\{\\s*Name \\(_HID, EisaId \\("PNP0C0F"\\)[\\s\\S]*?` +
          `Interrupt \\(ResourceConsumer, Level, ActiveHigh, Shared, ,, \\)\\s*\\{\\s*0x00000005,\\s*0x0000000A,\\s*0x0000000B,?\\s*\\}` +
          `[\\s\\S]*?Method \\(_STA[\\s\\S]*?PRQ${'ABCD'[n]}[\\s\\S]*?Method \\(_DIS` +
          `[\\s\\S]*?Method \\(_CRS, 0, Serialized\\)[\\s\\S]*?Method \\(_SRS, 1`,
      );
      expect(dsl, link).toMatch(device);
    }
    // Slot 4 (the first virtio disk): INTA is PIRQD, as SeaBIOS wrote its interrupt line.
    expect(dsl).toMatch(/\{\s*0x0004FFFF,\s*Zero,\s*LNKD,\s*Zero\s*\}/);
    expect(dsl).toMatch(/\{\s*0x0004FFFF,\s*One,\s*LNKA,\s*Zero\s*\}/);
    expect(dsl).toMatch(/\{\s*0x001FFFFF,\s*0x03,\s*LNKB,\s*Zero\s*\}/);
    expect(dsl).toContain('Name (_PRT, Package (0x7C)');
    expect(
      dsl.match(/\{\s*0x00[01][0-9A-F]FFFF,\s*(Zero|One|0x02|0x03),\s*LNK[A-D],/g)?.length,
    ).toBe(31 * 4);
  });

  it('tells the OS the PCI link IRQs (5, 10, 11) are level-triggered, active high (MADT)', () => {
    const acpi = buildPcAcpi({ cpus: 1, ramBytes: 1024 * 1024 * 1024 });
    const view = new DataView(acpi.tables.buffer);
    // The MADT follows the DSDT and the FADT, each 16-byte aligned (buildPcAcpi).
    let at = 0;
    while (
      at < acpi.tables.length &&
      String.fromCharCode(...acpi.tables.subarray(at, at + 4)) !== 'APIC'
    )
      at += 16;
    const length = view.getUint32(at + 4, true);
    const dir = mkdtempSync(path.join(tmpdir(), 'vireo-pc-madt-'));
    writeFileSync(path.join(dir, 'apic.dat'), acpi.tables.subarray(at, at + length));
    execFileSync('iasl', ['-d', 'apic.dat'], { cwd: dir, stdio: 'pipe' });
    const dsl = readFileSync(path.join(dir, 'apic.dsl'), 'utf8');
    for (const irq of ['05', '09', '0A', '0B'])
      expect(dsl, `IRQ ${irq}`).toMatch(
        new RegExp(`Source : ${irq}[\\s\\S]*?Polarity : 1\\s+Trigger Mode : 3`),
      );
    expect(dsl.match(/\[Interrupt Source Override\]/g)?.length).toBe(4);
  });
});

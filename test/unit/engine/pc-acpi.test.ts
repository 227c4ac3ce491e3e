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
  it('links RSDP -> XSDT -> FADT/MADT and FADT -> DSDT with correct checksums', () => {
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
    for (const o of [xsdt, fadt, at(u64(tables, xsdt + 44)), at(u32(tables, fadt + 40))])
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
});

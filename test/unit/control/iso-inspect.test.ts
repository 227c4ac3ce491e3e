import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectIso } from '../../../main/control/iso-inspect';

let dir: string;
function makeIso(name: string, label: string, bootable: boolean): string {
  const tree = path.join(dir, `${name}-tree`);
  mkdirSync(path.join(tree, 'isolinux'), { recursive: true });
  writeFileSync(path.join(tree, 'hello.txt'), 'hello\n');
  const iso = path.join(dir, `${name}.iso`);
  const boot = bootable
    ? [
        '-b',
        'isolinux/isolinux.bin',
        '-c',
        'isolinux/boot.cat',
        '-no-emul-boot',
        '-boot-load-size',
        '4',
        '-boot-info-table',
      ]
    : [];
  if (bootable) execFileSync('cp', ['/usr/lib/ISOLINUX/isolinux.bin', path.join(tree, 'isolinux')]);
  execFileSync(
    'xorriso',
    [
      '-as',
      'mkisofs',
      '-quiet',
      '-R',
      '-J',
      '-V',
      label,
      '-publisher',
      'Vireo tests',
      '-o',
      iso,
      ...boot,
      tree,
    ],
    { stdio: 'ignore' },
  );
  return iso;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-iso-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ISO inspection', () => {
  it('reads the label and the El Torito catalog, and maps Debian labels', async () => {
    const info = await inspectIso(makeIso('debian', 'Debian 12.5.0 amd64 n', true));
    expect(info.volumeLabel).toBe('Debian 12.5.0 amd64 n');
    expect(info.publisher).toBe('VIREO TESTS');
    expect(info.bootable).toBe(true);
    expect(info.bootPlatforms).toEqual(['x86']);
    expect(info.detectedOs?.id).toBe('debian-12');
  });

  it.each([
    ['Ubuntu 24.04 LTS amd64', 'ubuntu-24.04'],
    ['alpine-std 3.20.0 x86_64', 'alpine'],
    ['CCCOMA_X64FRE_EN-US_DV9', 'windows-11'],
  ])('maps %s to %s', async (label, id) => {
    expect((await inspectIso(makeIso(id, label, false))).detectedOs?.id).toBe(id);
  });

  it('says unknown honestly and not bootable for a plain data disc', async () => {
    const info = await inspectIso(makeIso('data', 'HOLIDAY_PHOTOS', false));
    expect(info.bootable).toBe(false);
    expect(info.detectedOs).toBeNull();
  });

  it('refuses what is not an ISO, truncated or missing, with clear messages', async () => {
    const good = readFileSync(makeIso('trunc', 'Debian 12 x', true));
    const truncated = path.join(dir, 'truncated.iso');
    writeFileSync(truncated, good.subarray(0, 16 * 2048 + 100));
    await expect(inspectIso(truncated)).rejects.toThrow(/too small|truncated/);
    const junk = path.join(dir, 'junk.iso');
    writeFileSync(junk, Buffer.alloc(40 * 2048, 0x41));
    await expect(inspectIso(junk)).rejects.toThrow('no CD001 signature');
    await expect(inspectIso(path.join(dir, 'nope.iso'))).rejects.toThrow('ISO image not found');
    await expect(inspectIso(dir)).rejects.toThrow('is a folder');
    const fifo = path.join(dir, 'pipe.iso');
    execFileSync('mkfifo', [fifo]);
    await expect(inspectIso(fifo)).rejects.toThrow('is not a regular file');
  });

  it('survives a corrupted boot catalog pointer', async () => {
    const bytes = readFileSync(makeIso('badcat', 'Debian 12 y', true));
    // Boot record descriptor is at sector 17; point its catalog far past the end.
    bytes.writeUInt32LE(0x7fffffff, 17 * 2048 + 0x47);
    const bad = path.join(dir, 'badcat2.iso');
    writeFileSync(bad, bytes);
    const info = await inspectIso(bad);
    expect(info.bootable).toBe(false);
    expect(info.volumeLabel).toBe('Debian 12 y');
  });

  it('lists every El Torito platform: BIOS and UEFI entries', async () => {
    const tree = path.join(dir, 'hybrid-tree');
    mkdirSync(path.join(tree, 'isolinux'), { recursive: true });
    mkdirSync(path.join(tree, 'efi'), { recursive: true });
    execFileSync('cp', ['/usr/lib/ISOLINUX/isolinux.bin', path.join(tree, 'isolinux')]);
    // The EFI entry's image content is not checked by xorriso or by us: a blank 1.44 MB image.
    writeFileSync(path.join(tree, 'efi', 'efiboot.img'), Buffer.alloc(1440 * 1024));
    const iso = path.join(dir, 'hybrid.iso');
    execFileSync(
      'xorriso',
      [
        '-as',
        'mkisofs',
        '-quiet',
        '-R',
        '-V',
        'Debian 13.1.0 amd64 n',
        '-o',
        iso,
        '-b',
        'isolinux/isolinux.bin',
        '-c',
        'isolinux/boot.cat',
        '-no-emul-boot',
        '-boot-load-size',
        '4',
        '-boot-info-table',
        '-eltorito-alt-boot',
        '-e',
        'efi/efiboot.img',
        '-no-emul-boot',
        tree,
      ],
      { stdio: 'ignore' },
    );
    const info = await inspectIso(iso);
    expect(info.bootable).toBe(true);
    expect(info.bootPlatforms).toEqual(['x86', 'efi']);
    expect(info.detectedOs?.id).toBe('debian-13');
    expect(info.detectedOs?.label).toContain('Debian 13');
  });

  it('refuses an image cut short inside its volume, or with a damaged volume size', async () => {
    const good = readFileSync(makeIso('short', 'Debian 12 z', false));
    expect(good.length).toBeGreaterThan(24 * 2048);
    const short = path.join(dir, 'short-cut.iso');
    writeFileSync(short, good.subarray(0, 24 * 2048));
    await expect(inspectIso(short)).rejects.toThrow(
      /is truncated: the volume is \d+ bytes but the file has 49152 bytes/,
    );

    const mismatched = Buffer.from(good);
    mismatched.writeUInt32BE(0xffffff, 16 * 2048 + 84); // big-endian copy no longer agrees
    const bad = path.join(dir, 'mismatch.iso');
    writeFileSync(bad, mismatched);
    await expect(inspectIso(bad)).rejects.toThrow('two copies of the volume size disagree');

    const blocks = Buffer.from(good);
    blocks.writeUInt16LE(512, 16 * 2048 + 128);
    blocks.writeUInt16BE(512, 16 * 2048 + 130);
    const odd = path.join(dir, 'blocks.iso');
    writeFileSync(odd, blocks);
    await expect(inspectIso(odd)).rejects.toThrow('512-byte logical blocks');
  });

  it('ignores a boot catalog whose validation entry checksum is wrong (El Torito 2.1)', async () => {
    const bytes = readFileSync(makeIso('cksum', 'alpine-std 3.20.0 x86_64', true));
    const catalogSector = bytes.readUInt32LE(17 * 2048 + 0x47);
    const at = catalogSector * 2048 + 4;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at); // validation entry no longer sums to zero
    const bad = path.join(dir, 'cksum-bad.iso');
    writeFileSync(bad, bytes);
    const info = await inspectIso(bad);
    expect(info.bootable).toBe(false);
    expect(info.detectedOs?.id).toBe('alpine');
  });

  it('skips section entry extensions (El Torito 2.5) when counting entries', async () => {
    const bytes = readFileSync(makeIso('ext', 'Debian 12 ext', true));
    const catalog = bytes.readUInt32LE(17 * 2048 + 0x47) * 2048;
    // After the default entry: a last section header (0x91) for UEFI (0xEF) with two entries,
    // the first not bootable and followed by an extension (0x44), the second bootable.
    bytes.set([0x91, 0xef, 2, 0], catalog + 64);
    bytes[catalog + 96] = 0x00;
    bytes[catalog + 128] = 0x44;
    bytes[catalog + 160] = 0x88;
    const iso = path.join(dir, 'ext-patched.iso');
    writeFileSync(iso, bytes);
    expect((await inspectIso(iso)).bootPlatforms).toEqual(['x86', 'efi']);
  });
});

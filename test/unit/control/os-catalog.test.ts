/** The OS catalog the wizard offers, and the volume-label rules ISO detection relies on. */
import { describe, expect, it } from 'vitest';
import { LIMITS, OsCatalogEntry } from '../../../preload/contract';
import { OS_CATALOG, findOs, osFromVolumeLabel } from '../../../main/control/os-catalog';

describe('the OS catalog', () => {
  it('has unique ids, valid entries and defaults inside the hard limits', () => {
    expect(new Set(OS_CATALOG.map((e) => e.id)).size).toBe(OS_CATALOG.length);
    for (const entry of OS_CATALOG) {
      OsCatalogEntry.parse(entry);
      expect(entry.defaults.cpus).toBeGreaterThanOrEqual(1);
      expect(entry.defaults.memoryMiB).toBeGreaterThanOrEqual(LIMITS.memoryMiBMin);
      expect(entry.defaults.diskMiB).toBeLessThanOrEqual(LIMITS.diskMiBMax);
    }
  });

  it('covers the families and versions the wizard promises', () => {
    for (const id of [
      'debian-11',
      'debian-12',
      'debian-13',
      'ubuntu-22.04',
      'ubuntu-24.04',
      'fedora',
      'arch',
      'alpine',
      'linux-2.6',
      'linux-6',
      'windows-10',
      'windows-11',
      'windows-server-2022',
      'freebsd',
      'openbsd',
      'other',
    ])
      expect(findOs(id), id).toBeDefined();
  });
});

describe('volume labels', () => {
  it.each([
    ['Debian 12.5.0 amd64 n', 'debian-12'],
    ['Debian 13.0.0 amd64 n', 'debian-13'],
    ['Debian 11.9.0 amd64 1', 'debian-11'],
    ['Ubuntu 24.04.1 LTS amd64', 'ubuntu-24.04'],
    ['Ubuntu-Server 22.04.4 LTS amd64', 'ubuntu-22.04'],
    ['Fedora-WS-Live-40-1-14', 'fedora'],
    ['Fedora-S-dvd-x86_64-40', 'fedora'],
    ['ARCH_202405', 'arch'],
    ['alpine-virt 3.20.0 x86_64', 'alpine'],
    ['CCCOMA_X64FRE_EN-US_DV9', 'windows-11'],
    ['SSS_X64FREE_EN-US_DV9', 'windows-server-2022'],
    ['14_0_RELEASE_AMD64_CD', 'freebsd'],
    ['OpenBSD/amd64   7.5 Install CD', 'openbsd'],
  ])('maps "%s" to %s', (label, id) => {
    expect(osFromVolumeLabel(label)?.id).toBe(id);
  });

  it.each(['Debian 10.13.0 amd64 1', 'Ubuntu 20.04 LTS', 'CDROM', '', 'HOLIDAY_PHOTOS', 'debian'])(
    'says unknown for "%s" rather than guess',
    (label) => {
      expect(osFromVolumeLabel(label)).toBeUndefined();
    },
  );
});

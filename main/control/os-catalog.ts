/**
 * The OS types the New VM wizard offers, with the defaults it fills in (CPUs, memory, disk),
 * chosen like VirtualBox's and virt-manager's per-OS presets.
 *
 * Runtime: Node (the renderer gets the list through the `os.catalog` call).
 */
import type { OsCatalogEntry } from '../../preload/contract.js';

const GiB = 1024;

function entry(
  id: string,
  family: OsCatalogEntry['family'],
  label: string,
  cpus: number,
  memoryMiB: number,
  diskGiB: number,
): OsCatalogEntry {
  return { id, family, label, defaults: { cpus, memoryMiB, diskMiB: diskGiB * GiB } };
}

export const OS_CATALOG: readonly OsCatalogEntry[] = [
  entry('debian-13', 'linux', 'Debian 13 "trixie" (64-bit)', 2, 2048, 20),
  entry('debian-12', 'linux', 'Debian 12 "bookworm" (64-bit)', 2, 2048, 20),
  entry('debian-11', 'linux', 'Debian 11 "bullseye" (64-bit)', 2, 2048, 20),
  entry('ubuntu-24.04', 'linux', 'Ubuntu 24.04 LTS (64-bit)', 2, 4096, 25),
  entry('ubuntu-22.04', 'linux', 'Ubuntu 22.04 LTS (64-bit)', 2, 4096, 25),
  entry('fedora', 'linux', 'Fedora (64-bit)', 2, 4096, 25),
  entry('arch', 'linux', 'Arch Linux (64-bit)', 2, 2048, 20),
  entry('alpine', 'linux', 'Alpine Linux (64-bit)', 1, 512, 4),
  entry('linux-6', 'linux', 'Other Linux 5.x/6.x (64-bit)', 1, 1024, 8),
  entry('linux-2.6', 'linux', 'Other Linux 2.6/3.x/4.x (64-bit)', 1, 1024, 8),
  entry('windows-11', 'windows', 'Windows 11 (64-bit)', 2, 4096, 64),
  entry('windows-10', 'windows', 'Windows 10 (64-bit)', 2, 2048, 50),
  entry('windows-server-2022', 'windows', 'Windows Server 2022 (64-bit)', 2, 4096, 50),
  entry('freebsd', 'bsd', 'FreeBSD (64-bit)', 1, 2048, 16),
  entry('openbsd', 'bsd', 'OpenBSD (64-bit)', 1, 1024, 16),
  entry('other', 'other', 'Other / unknown', 1, 1024, 8),
];

export function findOs(id: string): OsCatalogEntry | undefined {
  return OS_CATALOG.find((e) => e.id === id);
}

/**
 * Maps an ISO volume label to a catalog entry. Labels as the distributions write them:
 * "Debian 12.5.0 amd64 n", "Ubuntu 24.04 LTS amd64", "Fedora-WS-Live-40-1-14", "alpine-std 3.20.0
 * x86_64", "CCCOMA_X64FRE_EN-US_DV9" (Windows 10/11 media), "14_0_RELEASE_AMD64_CD" (FreeBSD),
 * "ARCH_202405" (Arch), "OpenBSD/amd64 7.5 Install CD".
 * Returns undefined for anything else: the wizard then says "unknown" rather than guess.
 */
export function osFromVolumeLabel(label: string): OsCatalogEntry | undefined {
  const l = label.trim();
  const rules: [RegExp, string][] = [
    [/^debian\s+13\b/i, 'debian-13'],
    [/^debian\s+12\b/i, 'debian-12'],
    [/^debian\s+11\b/i, 'debian-11'],
    [/^ubuntu(-server)?\s+24\.04/i, 'ubuntu-24.04'],
    [/^ubuntu(-server)?\s+22\.04/i, 'ubuntu-22.04'],
    [/^fedora[-_ ]/i, 'fedora'],
    [/^arch_\d{6}/i, 'arch'],
    [/^alpine/i, 'alpine'],
    // Windows 10 and 11 media share this label; 11's defaults (4 GiB, 64 GiB) suit both.
    [/^CCCOMA_X64FRE/i, 'windows-11'],
    [/^SSS_X64FRE/i, 'windows-server-2022'],
    [/^freebsd/i, 'freebsd'],
    // FreeBSD's own discs carry only the release: "14_0_RELEASE_AMD64_CD".
    [/^\d+_\d+_RELEASE_AMD64/i, 'freebsd'],
    [/^openbsd/i, 'openbsd'],
  ];
  for (const [pattern, id] of rules) if (pattern.test(l)) return findOs(id);
  return undefined;
}

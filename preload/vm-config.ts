/**
 * The VM configuration: the versioned, human-readable JSON file in each VM's folder
 * (`<library>/<name>/<name>.vireo.json`), and the same shapes the bridge validates.
 *
 * One schema serves both sides: the control plane validates every config it reads from disk
 * and every bridge call's arguments with it, and the renderer gets the inferred types.
 * Runtime: shared (no Node, no DOM, no Electron), so renderer, preload and main may import it.
 */
import { z } from 'zod';

/**
 * Bump when the on-disk shape changes (docs/library.md); readers refuse versions they do not
 * know, so an older Vireo never drops a field it cannot see. 2 added `bootMenu`; version 1
 * files are read through {@link upgradeConfig} and written back as 2 on their next change.
 */
export const VM_CONFIG_VERSION = 2;

/** Limits that no host lifts; the host's own cores and RAM narrow them further at run time. */
export const LIMITS = {
  nameMaxLength: 64,
  cpusMax: 64,
  memoryMiBMin: 4,
  memoryMiBMax: 1024 * 1024,
  diskMiBMin: 1,
  diskMiBMax: 64 * 1024 * 1024,
  disksMax: 8,
  appendMaxLength: 2048,
  pathMaxLength: 4096,
} as const;

/**
 * A VM name becomes a folder name, so it must be safe on every filesystem we target:
 * no path separators, no leading dot, no control characters, no reserved characters.
 */
export const VmName = z
  .string()
  .trim()
  .min(1, 'Name is required')
  .max(LIMITS.nameMaxLength, `Name is longer than ${LIMITS.nameMaxLength} characters`)
  .refine(
    (name) => !name.startsWith('.') && ![...name].some((c) => c < ' ' || '/\\:*?"<>|'.includes(c)),
    'Name may not start with a dot or contain / \\ : * ? " < > | or control characters',
  );

/** An absolute or library-relative file path, as given by the user; existence is checked by main. */
export const FilePath = z
  .string()
  .min(1, 'Path is required')
  .max(LIMITS.pathMaxLength, 'Path is too long')
  .refine((p) => !p.includes('\u0000'), 'Path contains a NUL character');

export const OsFamily = z.enum(['linux', 'windows', 'bsd', 'other']);
export type OsFamily = z.infer<typeof OsFamily>;

export const BootDevice = z.enum(['cdrom', 'disk', 'network']);
export type BootDevice = z.infer<typeof BootDevice>;

export const DiskFormat = z.enum(['qcow2', 'raw']);
export type DiskFormat = z.infer<typeof DiskFormat>;

export const DiskAllocation = z.enum(['thin', 'preallocated']);
export type DiskAllocation = z.infer<typeof DiskAllocation>;

export const DiskBus = z.enum(['virtio', 'ide']);
export type DiskBus = z.infer<typeof DiskBus>;

export const DiskConfig = z.object({
  /** Image path, relative to the VM folder unless absolute. */
  path: FilePath,
  format: DiskFormat,
  sizeMiB: z.number().int().min(LIMITS.diskMiBMin).max(LIMITS.diskMiBMax),
  allocation: DiskAllocation,
  bus: DiskBus,
});
export type DiskConfig = z.infer<typeof DiskConfig>;

/**
 * How the VM boots: `firmware` is the PC machine (SeaBIOS, boot order); `linux-kernel` is the
 * direct machine (bzImage + initrd + command line, no firmware), as Firecracker and kvmtool do.
 */
export const BootConfig = z.discriminatedUnion('source', [
  z.object({
    source: z.literal('firmware'),
    order: z.array(BootDevice).min(1).max(3),
  }),
  z.object({
    source: z.literal('linux-kernel'),
    kernel: FilePath,
    initrd: FilePath.nullable(),
    append: z.string().max(LIMITS.appendMaxLength),
  }),
]);
export type BootConfig = z.infer<typeof BootConfig>;

/**
 * The firmware's boot menu (SeaBIOS "Press ESC for boot menu."), as VirtualBox's "Boot menu"
 * BIOS setting: off by default, as in QEMU (`-boot menu=off`). `timeoutMs` is how long the
 * prompt waits for the key before booting by the boot order (fw_cfg `etc/boot-menu-wait`, a
 * 16-bit count of milliseconds, hence the upper bound).
 */
export const BootMenuConfig = z.object({
  enabled: z.boolean(),
  timeoutMs: z.number().int().min(0).max(65535),
});
export type BootMenuConfig = z.infer<typeof BootMenuConfig>;
export const BOOT_MENU_DEFAULT: BootMenuConfig = { enabled: false, timeoutMs: 2500 };

export const NetworkConfig = z.object({
  adapter: z.enum(['virtio-net', 'none']),
  /** Locally administered unicast MAC (bit 1 of the first octet set, bit 0 clear). */
  mac: z
    .string()
    .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'MAC must look like 52:54:00:12:34:56')
    .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, 'MAC must be unicast'),
});
export type NetworkConfig = z.infer<typeof NetworkConfig>;

export const DisplayConfig = z.object({
  vramMiB: z.number().int().min(8).max(256),
});
export type DisplayConfig = z.infer<typeof DisplayConfig>;

/** The whole on-disk config, version 1. */
export const VmConfig = z.object({
  version: z.literal(VM_CONFIG_VERSION),
  id: z.uuid(),
  name: VmName,
  description: z.string().max(4096).default(''),
  os: z.object({
    family: OsFamily,
    /** An id from the OS catalog (`os-catalog.ts`), e.g. `debian-12`, or `other`. */
    id: z.string().min(1).max(64),
  }),
  cpus: z.number().int().min(1).max(LIMITS.cpusMax),
  memoryMiB: z.number().int().min(LIMITS.memoryMiBMin).max(LIMITS.memoryMiBMax),
  boot: BootConfig,
  bootMenu: BootMenuConfig,
  disks: z.array(DiskConfig).max(LIMITS.disksMax),
  /** ISO attached to the optical drive, or null for an empty drive. */
  optical: z.object({ iso: FilePath.nullable() }),
  network: NetworkConfig,
  display: DisplayConfig,
  serial: z.object({ enabled: z.boolean() }),
  createdAt: z.iso.datetime(),
});
export type VmConfig = z.infer<typeof VmConfig>;

/**
 * An older version's config in this version's shape, or the value unchanged (for the schema to
 * judge). Version 1 had no boot menu setting: it reads as off, as those VMs booted.
 */
export function upgradeConfig(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const v = json as Record<string, unknown>;
  if (v.version === 1) return { ...v, version: 2, bootMenu: { ...BOOT_MENU_DEFAULT } };
  return json;
}

/** Machine states, named as VirtualBox names them to users. */
export const VmState = z.enum([
  'powered-off',
  'starting',
  'running',
  'paused',
  'saved',
  'stopping',
  'aborted',
  'inaccessible',
]);
export type VmState = z.infer<typeof VmState>;

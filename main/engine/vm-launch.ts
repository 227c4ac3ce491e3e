/**
 * What it takes to launch one VM host: the launch options (`vireo run` flags, or the JSON
 * message the control plane sends a VM host process) and their validation, which happens
 * before any VM exists so a bad kernel, a missing initrd or too much memory is a clear message
 * and never a half-started VM.
 *
 * Runtime: engine (VM host process, CLI).
 */
import { statSync } from 'node:fs';
import { z } from 'zod';
import {
  DirectBootError,
  validateDirectBoot,
  type ValidatedDirectBoot,
} from './machine/direct/index.js';
import {
  DEFAULT_FIRMWARE,
  PcBootError,
  validatePcBoot,
  type ValidatedPcBoot,
} from './machine/pc/validate.js';

/** What a guest reset (reboot) does: boot the same kernel again, or end like `qemu -no-reboot`. */
export const RebootAction = z.enum(['reset', 'exit']);
export type RebootAction = z.infer<typeof RebootAction>;

export const MIN_MEMORY_MIB = 16;
/** virtio-mmio disks of the direct machine (GSIs 16..23 of the in-kernel IOAPIC). */
export const MAX_DISKS = 8;
/** IDE positions for disks on the PC machine: primary master and slave, secondary slave. */
export const PC_MAX_DISKS = 3;

/** Boot devices of the PC machine, in the firmware's order. */
export const PcBootDevice = z.enum(['cdrom', 'disk']);

/**
 * Launch options: the shape `vireo run` builds and the host process accepts. `machine`
 * "direct" boots `kernel` without firmware (Firecracker style); "pc" is the i440FX PC with
 * SeaBIOS (`firmware`), booting the `cdrom` ISO or a disk in `bootOrder`.
 */
export const VmLaunchOptions = z.object({
  /** Display name for logs. */
  name: z.string().max(200).default('vireo'),
  machine: z.enum(['direct', 'pc']).default('direct'),
  /** Direct machine: the bzImage (required there). */
  kernel: z.string().min(1).max(4096).optional(),
  /** PC machine: the BIOS image. */
  firmware: z.string().min(1).max(4096).default(DEFAULT_FIRMWARE),
  /** PC machine: the ISO in the optical drive, or an empty drive. */
  cdrom: z.string().min(1).max(4096).nullable().default(null),
  bootOrder: z.array(PcBootDevice).min(1).max(2).default(['cdrom', 'disk']),
  /**
   * PC machine: SeaBIOS's boot menu ("Press ESC for boot menu.", waiting `timeoutMs`), or null
   * for none (QEMU's default, `-boot menu=off`).
   */
  bootMenu: z
    .object({ timeoutMs: z.number().int().min(0).max(65535) })
    .nullable()
    .default(null),
  /** Disk images (raw or qcow2), as virtio-blk devices (direct machine: over virtio-mmio). */
  disks: z
    .array(
      z.object({
        path: z.string().min(1).max(4096),
        readOnly: z.boolean().default(false),
        /** PC machine: an IDE hard disk or virtio-blk on virtio-pci (the direct machine: virtio). */
        bus: z.enum(['ide', 'virtio']).default('ide'),
      }),
    )
    .max(MAX_DISKS)
    .default([]),
  initrd: z.string().min(1).max(4096).nullable().default(null),
  append: z.string().max(65535).default(''),
  // No upper bound here: the plan compares with the host's RAM and says so in its own words.
  memoryMiB: z
    .number()
    .int()
    .min(MIN_MEMORY_MIB)
    .max(Number.MAX_SAFE_INTEGER / 2 ** 20),
  cpus: z.number().int().min(1).max(255),
  rebootAction: RebootAction.default('reset'),
});
export type VmLaunchOptions = z.infer<typeof VmLaunchOptions>;
export type VmLaunchInput = z.input<typeof VmLaunchOptions>;

/** A launch that cannot start, with what to do about it. */
export class LaunchError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'LaunchError';
  }
}

export type ValidatedLaunch =
  | { machine: 'direct'; options: VmLaunchOptions; boot: ValidatedDirectBoot }
  | { machine: 'pc'; options: VmLaunchOptions; pc: ValidatedPcBoot };

/**
 * Checks the options and reads the kernel and initrd. Throws LaunchError: not a 64-bit
 * bzImage, missing or unreadable initrd, memory outside [16 MiB, host RAM], bad vCPU count.
 */
export function validateLaunch(
  input: unknown,
  host: { totalMemoryBytes?: number } = {},
): ValidatedLaunch {
  const parsed = VmLaunchOptions.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LaunchError(
      `invalid launch option ${issue.path.join('.') || '(options)'}: ${issue.message}`,
      'invalid-options',
    );
  }
  const options = parsed.data;
  if (options.machine === 'pc') {
    const ide = options.disks.filter((d) => d.bus === 'ide').length;
    if (ide > PC_MAX_DISKS)
      throw new LaunchError(
        `the PC machine takes at most ${PC_MAX_DISKS} disks on its IDE controller: remove ${ide - PC_MAX_DISKS} or put them on virtio`,
        'too-many-disks',
      );
    try {
      const pc = validatePcBoot({
        firmwarePath: options.firmware,
        cdromPath: options.cdrom,
        memoryBytes: options.memoryMiB * 1024 * 1024,
        cpus: options.cpus,
        ...(host.totalMemoryBytes !== undefined ? { hostMemoryBytes: host.totalMemoryBytes } : {}),
      });
      return { machine: 'pc', options, pc };
    } catch (e) {
      if (e instanceof PcBootError) throw new LaunchError(e.message, e.code);
      throw e;
    }
  }
  if (options.machine === 'direct' && options.disks.length > 0 && options.memoryMiB > 3072)
    throw new LaunchError(
      'disks on the direct machine need the VM memory at 3072 MiB or less for now (RAM above 4 GiB is not reachable by device DMA yet): lower the memory',
      'memory-too-large',
    );
  for (const d of options.disks) {
    let ok: boolean;
    try {
      ok = statSync(d.path).isFile();
    } catch {
      ok = false;
    }
    if (!ok)
      throw new LaunchError(`disk image ${d.path} does not exist or is not a file`, 'disk-missing');
  }
  if (options.kernel === undefined)
    throw new LaunchError('a Linux-kernel boot needs a kernel file (--kernel)', 'invalid-options');
  try {
    const boot = validateDirectBoot({
      kernelPath: options.kernel,
      initrdPath: options.initrd,
      cmdline: options.append,
      memoryBytes: options.memoryMiB * 1024 * 1024,
      cpus: options.cpus,
      ...(host.totalMemoryBytes !== undefined ? { hostMemoryBytes: host.totalMemoryBytes } : {}),
    });
    return { machine: 'direct', options, boot };
  } catch (e) {
    if (e instanceof DirectBootError) throw new LaunchError(e.message, e.code);
    throw e;
  }
}

/**
 * What it takes to launch one VM host: the launch options (`vireo run` flags, or the JSON
 * message the control plane sends a VM host process) and their validation, which happens
 * before any VM exists so a bad kernel, a missing initrd or too much memory is a clear message
 * and never a half-started VM.
 *
 * Runtime: engine (VM host process, CLI).
 */
import { z } from 'zod';
import {
  DirectBootError,
  validateDirectBoot,
  type ValidatedDirectBoot,
} from './machine/direct/index.js';

/** What a guest reset (reboot) does: boot the same kernel again, or end like `qemu -no-reboot`. */
export const RebootAction = z.enum(['reset', 'exit']);
export type RebootAction = z.infer<typeof RebootAction>;

export const MIN_MEMORY_MIB = 16;

/** Launch options of a Linux-kernel VM: the shape `vireo run` builds and the host process accepts. */
export const VmLaunchOptions = z.object({
  /** Display name for logs. */
  name: z.string().max(200).default('vireo'),
  kernel: z.string().min(1).max(4096),
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

export interface ValidatedLaunch {
  options: VmLaunchOptions;
  boot: ValidatedDirectBoot;
}

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
  try {
    const boot = validateDirectBoot({
      kernelPath: options.kernel,
      initrdPath: options.initrd,
      cmdline: options.append,
      memoryBytes: options.memoryMiB * 1024 * 1024,
      cpus: options.cpus,
      ...(host.totalMemoryBytes !== undefined ? { hostMemoryBytes: host.totalMemoryBytes } : {}),
    });
    return { options, boot };
  } catch (e) {
    if (e instanceof DirectBootError) throw new LaunchError(e.message, e.code);
    throw e;
  }
}

/**
 * The New VM wizard's rules without React: the steps, what each step checks before Next, and
 * which step a server-side refusal of `vm.create` belongs to (so the user lands where the
 * problem can be fixed, not on the summary). The server checks everything again.
 */
import { VmName } from '../../../../preload/contract';

export const STEPS = [
  'Name and folder',
  'Operating system',
  'Hardware',
  'Hard disk',
  'Optical drive',
  'Summary',
] as const;

export const STEP = {
  name: 0,
  os: 1,
  hardware: 2,
  disk: 3,
  optical: 4,
  summary: 5,
} as const;

export interface WizardFields {
  name: string;
  cpus: number;
  memoryMiB: number;
  withDisk: boolean;
  diskGiB: number;
}

export interface HostLimits {
  cores: number;
  memoryMiB: number;
}

/** Smallest memory the wizard accepts; the contract's own minimum (LIMITS.memoryMiBMin). */
const MEMORY_MIN_MIB = 4;
/** Largest disk the wizard offers: 64 TiB, as qcow2's practical ceiling in QEMU's docs. */
const DISK_MAX_GIB = 65536;

/** The problem that keeps `step` from going on, as a sentence for the user, or null. */
export function validateStep(step: number, f: WizardFields, host: HostLimits): string | null {
  if (step === STEP.name) {
    const r = VmName.safeParse(f.name);
    if (!r.success) return r.error.issues[0]?.message ?? 'Choose another name.';
  }
  if (step === STEP.hardware) {
    if (!Number.isInteger(f.cpus) || f.cpus < 1 || f.cpus > host.cores)
      return `Processors must be a whole number from 1 to ${host.cores} (this host's cores).`;
    if (
      !Number.isInteger(f.memoryMiB) ||
      f.memoryMiB < MEMORY_MIN_MIB ||
      f.memoryMiB > host.memoryMiB
    )
      return `Memory must be a whole number of MiB from ${MEMORY_MIN_MIB} to ${host.memoryMiB} (this host's RAM).`;
  }
  if (step === STEP.disk && f.withDisk) {
    if (!Number.isFinite(f.diskGiB) || f.diskGiB < 0.01 || f.diskGiB > DISK_MAX_GIB)
      return `Disk size must be between 0.01 and ${DISK_MAX_GIB} GiB.`;
  }
  return null;
}

/** A warning (not an error) when the VM would take a large share of the host's RAM. */
export function memoryWarning(memoryMiB: number, hostMiB: number): string | null {
  if (memoryMiB > hostMiB * 0.75)
    return 'More than 75% of the host RAM: the host may start swapping.';
  if (memoryMiB > hostMiB * 0.5) return 'More than half of the host RAM.';
  return null;
}

/** vm.create's argument names, as the router reports them ("Invalid arguments for vm.create: cpus: ..."). */
const FIELD_STEPS: Record<string, number> = {
  name: STEP.name,
  folder: STEP.name,
  os: STEP.os,
  cpus: STEP.hardware,
  memoryMiB: STEP.hardware,
  disk: STEP.disk,
  iso: STEP.optical,
};

/**
 * The step a `vm.create` refusal belongs to, read from the start of its message (the bridge's
 * errors carry a code and a sentence, no field): the control plane's own wording in
 * main/control/library.ts, or the router's "Invalid arguments for vm.create: <field>...".
 */
export function stepForCreateError(message: string): number {
  const invalid = /^Invalid arguments for vm\.create: ([A-Za-z]+)/.exec(message);
  if (invalid?.[1] !== undefined) return FIELD_STEPS[invalid[1]] ?? STEP.summary;
  if (/^ISO image/.test(message)) return STEP.optical;
  if (/^Unknown OS type/.test(message)) return STEP.os;
  if (/^\d+ (CPUs|MiB of memory) requested/.test(message)) return STEP.hardware;
  if (
    /^A VM called .* already exists|^The folder .* already exists|^Cannot create the folder/.test(
      message,
    )
  )
    return STEP.name;
  return STEP.summary;
}

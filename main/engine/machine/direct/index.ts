/**
 * The direct machine: boot a Linux bzImage straight into its 64-bit entry point, no firmware
 * (the way Firecracker and kvmtool start Linux; Documentation/arch/x86/boot.rst "64-bit BOOT
 * PROTOCOL"). Call order for the VM host:
 *
 *   1. {@link validateDirectBoot} - before creating anything: reads kernel/initrd, refuses
 *      what cannot boot (each a {@link DirectBootError} with what to do).
 *   2. allocate guest RAM (plan.memoryBytes), register `plan.ramRegions` as memory slots.
 *   3. {@link prepareDirectBoot} - writes kernel, initrd, command line, zero page, ACPI tables,
 *      GDT and page tables into guest RAM; returns the BSP's register state.
 *   4. {@link createDirectMachineDevices} - the legacy devices and their port ranges.
 *   5. load `layout.bsp` into vCPU 0; APs wait for Linux's INIT/SIPI (in-kernel LAPIC).
 *
 * Runtime: engine.
 */
import { buildAcpiTables } from '../../acpi/index.js';
import type { AcpiTables, VirtioMmioAcpiDevice } from '../../acpi/index.js';
import type { VcpuInitialState } from '../../hypervisor/x86-state.js';
import type { GuestMemory } from '../../memory.js';
import type { BzImage } from './bzimage.js';
import { parseBzImage } from './bzimage.js';
import { bootCpuState, writeGdt } from './cpu-state.js';
import { DirectBootError, formatBytes } from './errors.js';
import { ACPI_TABLES_ADDRESS, ZERO_PAGE_ADDRESS } from './layout.js';
import type { DirectBootPlan } from './plan.js';
import { planDirectBoot } from './plan.js';
import { writeIdentityPageTables } from './page-tables.js';
import { writeZeroPage } from './zero-page.js';

export { DirectBootError } from './errors.js';
export type { DirectBootErrorCode } from './errors.js';
export { parseBzImage } from './bzimage.js';
export type { BzImage } from './bzimage.js';
export { planDirectBoot, MAX_GUEST_RAM_BYTES } from './plan.js';
export type { DirectBootPlan } from './plan.js';
export { validateDirectBoot } from './validate.js';
export type { DirectBootRequest, ValidatedDirectBoot } from './validate.js';
export { createDirectMachineDevices } from './devices.js';
export type { DirectMachineDevices, DirectMachineDeviceOptions, PortRange } from './devices.js';
export { directE820Map, directRamRegions } from './memory-map.js';
export type { E820Entry, RamRegion } from './memory-map.js';

export interface DirectBootOptions {
  kernel: Uint8Array;
  initrd: Uint8Array | null;
  cmdline: string;
  cpus: number;
  /** Host RAM bound for the plan's check; the VM exists already, so it defaults to no limit. */
  hostMemoryBytes?: number;
  /** virtio-mmio devices to announce in the DSDT. */
  virtioMmio?: readonly VirtioMmioAcpiDevice[];
  /** A plan from {@link validateDirectBoot}, reused instead of re-planning. */
  plan?: DirectBootPlan;
  image?: BzImage;
}

export interface DirectBootLayout {
  /** The bootstrap processor's registers at the kernel's 64-bit entry. */
  bsp: VcpuInitialState;
  plan: DirectBootPlan;
  acpi: AcpiTables;
  zeroPageAddress: number;
}

/**
 * Write everything the kernel needs into guest RAM and return the BSP's state. Throws
 * {@link DirectBootError} if the plan does not fit `memory` (a caller that skipped validation).
 */
export function prepareDirectBoot(memory: GuestMemory, o: DirectBootOptions): DirectBootLayout {
  const image = o.image ?? parseBzImage(o.kernel);
  const plan =
    o.plan ??
    planDirectBoot(image, {
      initrdSize: o.initrd?.length ?? null,
      cmdline: o.cmdline,
      memoryBytes: memory.size,
      cpus: o.cpus,
      hostMemoryBytes: o.hostMemoryBytes ?? Number.MAX_SAFE_INTEGER,
    });
  if (
    plan.memoryBytes !== memory.size ||
    (plan.initrd?.size ?? null) !== (o.initrd?.length ?? null)
  ) {
    throw new DirectBootError(
      'memory-too-small',
      `the boot plan was made for ${formatBytes(plan.memoryBytes)} of memory but the VM has ` +
        `${formatBytes(memory.size)}: validate again with the VM's real memory size`,
    );
  }

  memory.write(plan.kernelLoadAddress, image.protectedModeKernel);
  if (plan.initrd && o.initrd) memory.write(plan.initrd.address, o.initrd);
  memory.write(plan.cmdlineAddress, plan.cmdlineBytes);

  const acpi = buildAcpiTables({
    base: ACPI_TABLES_ADDRESS,
    cpus: plan.cpus,
    has8042: true,
    hasVga: false,
    virtioMmio: o.virtioMmio ?? [],
  });
  memory.write(acpi.base, acpi.blob);

  writeZeroPage(memory, {
    image,
    cmdlineAddress: plan.cmdlineAddress,
    initrd: plan.initrd,
    rsdpAddress: acpi.rsdpAddress,
    e820: plan.e820,
  });
  writeGdt(memory);
  const { cr3 } = writeIdentityPageTables(memory);
  return {
    bsp: bootCpuState({ entryPoint: plan.entryPoint, cr3 }),
    plan,
    acpi,
    zeroPageAddress: ZERO_PAGE_ADDRESS,
  };
}

/**
 * Decide where every piece of a direct boot goes and refuse what cannot work, without touching
 * guest memory: the same checks run in {@link validateDirectBoot} before any VM exists and in
 * {@link prepareDirectBoot} when it does.
 *
 * Runtime: engine.
 */
import type { BzImage } from './bzimage.js';
import { DirectBootError, GiB, MiB, formatBytes } from './errors.js';
import { CMDLINE_ADDRESS, CMDLINE_MAX_BYTES, INITRD_ALIGNMENT } from './layout.js';
import type { E820Entry, RamRegion } from './memory-map.js';
import { directE820Map, directRamRegions, lowRamEnd } from './memory-map.js';
import { MADT_MAX_CPUS } from '../../acpi/madt.js';

/**
 * The largest guest RAM one SharedArrayBuffer can hold: V8 caps a buffer at 32 GiB - 1 and
 * guest memory adds 2 MiB of alignment slack (main/engine/memory.ts).
 */
export const MAX_GUEST_RAM_BYTES = 32 * GiB - 4 * MiB;

export interface DirectBootPlanOptions {
  initrdSize: number | null;
  cmdline: string;
  memoryBytes: number;
  cpus: number;
  /** Physical memory of the host (os.totalmem()); RAM beyond it is refused. */
  hostMemoryBytes: number;
}

export interface DirectBootPlan {
  memoryBytes: number;
  cpus: number;
  kernelLoadAddress: number;
  /** First byte after the kernel's decompression area (load address + init_size). */
  kernelEnd: number;
  /** The 64-bit entry: load address + 0x200 (boot.rst, "64-bit BOOT PROTOCOL"). */
  entryPoint: number;
  initrd: { address: number; size: number } | null;
  cmdlineAddress: number;
  /** The command line as the kernel reads it: bytes plus a NUL terminator. */
  cmdlineBytes: Uint8Array;
  e820: E820Entry[];
  ramRegions: RamRegion[];
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const alignDown = (n: number, a: number): number => Math.floor(n / a) * a;

export function planDirectBoot(image: BzImage, o: DirectBootPlanOptions): DirectBootPlan {
  if (!Number.isInteger(o.cpus) || o.cpus < 1 || o.cpus > MADT_MAX_CPUS) {
    throw new DirectBootError(
      'cpus-out-of-range',
      `${o.cpus} vCPUs cannot be described to the guest: choose between 1 and ${MADT_MAX_CPUS}`,
    );
  }
  if (!Number.isSafeInteger(o.memoryBytes) || o.memoryBytes <= 0 || o.memoryBytes % 4096 !== 0) {
    throw new DirectBootError(
      'memory-too-small',
      `memory size ${o.memoryBytes} is not a positive whole number of 4 KiB pages: set the VM's memory in MiB`,
    );
  }
  if (o.memoryBytes > MAX_GUEST_RAM_BYTES) {
    throw new DirectBootError(
      'memory-too-large',
      `${formatBytes(o.memoryBytes)} of memory is more than Vireo can give one VM ` +
        `(${formatBytes(MAX_GUEST_RAM_BYTES)}): lower the VM's memory`,
    );
  }
  if (o.memoryBytes > o.hostMemoryBytes) {
    throw new DirectBootError(
      'memory-too-large',
      `${formatBytes(o.memoryBytes)} of memory is more than this host has ` +
        `(${formatBytes(o.hostMemoryBytes)}): lower the VM's memory`,
    );
  }

  const cmdline = new TextEncoder().encode(o.cmdline);
  const cmdlineLimit = Math.min(image.cmdlineSize, CMDLINE_MAX_BYTES);
  if (cmdline.includes(0)) {
    throw new DirectBootError(
      'cmdline-invalid',
      'the kernel command line contains a NUL character: remove it',
    );
  }
  if (cmdline.length > cmdlineLimit) {
    throw new DirectBootError(
      'cmdline-invalid',
      `the kernel command line is ${cmdline.length} bytes; this kernel accepts at most ` +
        `${cmdlineLimit}: shorten it`,
    );
  }
  const cmdlineBytes = new Uint8Array(cmdline.length + 1);
  cmdlineBytes.set(cmdline);

  const lowEnd = lowRamEnd(o.memoryBytes);
  const kernelLoadAddress = image.preferredLoadAddress;
  const kernelEnd = kernelLoadAddress + Math.max(image.initSize, image.protectedModeKernel.length);
  const initrdSize = o.initrdSize ?? 0;
  const needed = alignUp(kernelEnd, INITRD_ALIGNMENT) + alignUp(initrdSize, INITRD_ALIGNMENT);
  const tooSmall = (): DirectBootError =>
    new DirectBootError(
      'memory-too-small',
      `${formatBytes(o.memoryBytes)} of memory cannot hold the kernel ` +
        `(it needs ${formatBytes(kernelEnd)} from address 0 to decompress)` +
        (initrdSize > 0 ? ` and the ${formatBytes(initrdSize)} initrd` : '') +
        `: give the VM at least ${formatBytes(alignUp(needed, MiB) + MiB)}`,
    );
  if (kernelEnd > lowEnd) throw tooSmall();

  let initrd: DirectBootPlan['initrd'] = null;
  if (o.initrdSize !== null) {
    // initrd_addr_max is the highest address the initrd may occupy (inclusive); 0 from a very
    // old or damaged header means the historical default 0x37FFFFFF (boot.rst).
    const addrMax = image.initrdAddrMax === 0 ? 0x37ffffff : image.initrdAddrMax;
    const top = Math.min(lowEnd, addrMax + 1);
    const address = alignDown(top - initrdSize, INITRD_ALIGNMENT);
    if (address < alignUp(kernelEnd, INITRD_ALIGNMENT)) throw tooSmall();
    initrd = { address, size: initrdSize };
  }

  return {
    memoryBytes: o.memoryBytes,
    cpus: o.cpus,
    kernelLoadAddress,
    kernelEnd,
    entryPoint: kernelLoadAddress + 0x200,
    initrd,
    cmdlineAddress: CMDLINE_ADDRESS,
    cmdlineBytes,
    e820: directE820Map(o.memoryBytes),
    ramRegions: directRamRegions(o.memoryBytes),
  };
}

/**
 * Builds the direct machine on a fresh VM: guest RAM and its slots, the kernel, initrd, command
 * line, zero page, ACPI tables and page tables written into RAM, the legacy devices on the port
 * bus, and the BSP's 64-bit entry state (the steps listed in ./index.ts).
 *
 * Runtime: engine (device thread).
 */
import { Bus } from '../../bus.js';
import type { Vm } from '../../hypervisor/types.js';
import type { VmLaunchOptions } from '../../vm-launch.js';
import type { AssembledMachine, MachineCallbacks } from '../types.js';
import { createDirectMachineDevices } from './devices.js';
import { prepareDirectBoot } from './index.js';
import type { ValidatedDirectBoot } from './validate.js';
import type { DiskImage } from '../../storage/index.js';
import { VirtioBlk } from '../../devices/virtio-blk/index.js';
import {
  INTERRUPT_ACK,
  INTERRUPT_STATUS,
  QUEUE_NOTIFY,
  VIRTIO_MMIO_SIZE,
  VirtioMmio,
} from '../../devices/virtio-mmio/index.js';
import type { BusDevice } from '../../bus.js';

/** Where the virtio-mmio register blocks go: in the PCI hole, below the IOAPIC. */
export const VIRTIO_MMIO_BASE = 0xd0000000;
/** Disk n interrupts on GSI 16 + n (IOAPIC pins above the ISA range: no legacy conflicts). */
export const VIRTIO_MMIO_FIRST_GSI = 16;

export function assembleDirectMachine(
  vm: Vm,
  boot: ValidatedDirectBoot,
  options: VmLaunchOptions,
  callbacks: MachineCallbacks,
  images: readonly DiskImage[] = [],
): AssembledMachine {
  const memory = vm.allocateMemory(boot.plan.memoryBytes);
  for (const region of boot.plan.ramRegions) vm.mapMemory(region);
  const disks = images.map((image, i) => ({
    image,
    name: `vd${String.fromCharCode(97 + i)}`,
    base: VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SIZE,
    size: VIRTIO_MMIO_SIZE,
    gsi: VIRTIO_MMIO_FIRST_GSI + i,
  }));
  const layout = prepareDirectBoot(memory, {
    virtioMmio: disks,
    kernel: boot.kernel,
    initrd: boot.initrd,
    cmdline: options.append,
    cpus: options.cpus,
    plan: boot.plan,
    image: boot.image,
  });
  const ports = new Bus('ports');
  const mmio = new Bus('mmio');
  const devices = createDirectMachineDevices({
    irq: (n) => callbacks.irq(n),
    onSerialOutput: (byte) => callbacks.onSerialOutput(byte),
    onPowerOff: () => callbacks.onPowerOff(),
    onReset: () => callbacks.onReset(),
    memoryBytes: boot.plan.memoryBytes,
    cpus: options.cpus,
    publishRead: (port, value) => ports.publishRead(port, value),
  });
  for (const r of devices.portRanges)
    ports.register(r.base, r.length, r.device, r.name, { sharedRead: r.sharedRead ?? false });
  const blockDevices = disks.map((d) => {
    // The device and its transport call each other: completions raise the transport's
    // interrupt, a broken queue sets its NEEDS_RESET.
    const link: { transport?: VirtioMmio } = {};
    const blk = new VirtioBlk({
      image: d.image,
      memory,
      serial: `vireo-${d.name}`,
      onInterrupt: () => link.transport?.usedBuffers(),
      onNeedsReset: (reason) => link.transport?.needsReset(reason),
    });
    link.transport = new VirtioMmio(blk, callbacks.irq(d.gsi), (line) => callbacks.onLog(line));
    // QueueNotify never makes the vCPU wait for the device thread (an ioeventfd, or else a
    // posted write); the rest of the register block answers synchronously.
    const t = link.transport;
    const at = (shift: number): BusDevice => ({
      read: (offset, data) => t.read(offset + shift, data),
      write: (offset, data) => t.write(offset + shift, data),
    });
    mmio.register(d.base, QUEUE_NOTIFY, t, `virtio-mmio ${d.name}`);
    mmio.sharedInterruptStatus.push({
      statusAddress: d.base + INTERRUPT_STATUS,
      ackAddress: d.base + INTERRUPT_ACK,
      buffer: t.interruptStatusBuffer,
      gsi: d.gsi,
    });
    // On KVM the notify register is an ioeventfd (the transport's doorbell, here at offset 0
    // of this piece); a write the kernel does not match still arrives posted.
    const notify: BusDevice = {
      ...at(QUEUE_NOTIFY),
      doorbells: t.doorbells.map((bell) => ({ ...bell, offset: bell.offset - QUEUE_NOTIFY })),
    };
    mmio.register(d.base + QUEUE_NOTIFY, 4, notify, `virtio-mmio ${d.name} notify`, {
      posted: true,
    });
    mmio.register(
      d.base + QUEUE_NOTIFY + 4,
      d.size - QUEUE_NOTIFY - 4,
      at(QUEUE_NOTIFY + 4),
      `virtio-mmio ${d.name}`,
    );
    return { name: d.name, takeStats: () => blk.takeStats() };
  });
  return {
    disks: blockDevices,
    ports,
    mmio,
    initialStates: [layout.bsp],
    serial: devices.serial,
    acpiPm: devices.acpiPm,
    keyboard: devices.i8042,
    mouse: devices.i8042,
    ramBytes: boot.plan.memoryBytes,
  };
}

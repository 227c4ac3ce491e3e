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

export function assembleDirectMachine(
  vm: Vm,
  boot: ValidatedDirectBoot,
  options: VmLaunchOptions,
  callbacks: MachineCallbacks,
): AssembledMachine {
  const memory = vm.allocateMemory(boot.plan.memoryBytes);
  for (const region of boot.plan.ramRegions) vm.mapMemory(region);
  const layout = prepareDirectBoot(memory, {
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
  });
  for (const r of devices.portRanges) ports.register(r.base, r.length, r.device, r.name);
  return {
    ports,
    mmio,
    initialStates: [layout.bsp],
    serial: devices.serial,
    acpiPm: devices.acpiPm,
    keyboard: devices.i8042,
    ramBytes: boot.plan.memoryBytes,
  };
}

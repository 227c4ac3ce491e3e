/**
 * Facts about this host the wizard and the supervisor need: cores, RAM, and whether this user
 * can run VMs (/dev/kvm present and read-write), with what to do when not.
 *
 * Runtime: Node.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import os from 'node:os';
import type { HostInfo } from '../../preload/contract.js';

/** `device` is a parameter so tests can point it at a path that is missing or not a device. */
export function hypervisorStatus(device = '/dev/kvm'): HostInfo['hypervisor'] {
  if (process.platform !== 'linux') {
    return {
      available: false,
      name: 'none',
      reason: `Vireo's engine runs on Linux KVM; ${process.platform} support (Hypervisor.framework) is not built yet.`,
    };
  }
  if (!existsSync(device)) {
    return {
      available: false,
      name: 'kvm',
      reason: `${device} does not exist: enable virtualization in the firmware and load kvm-intel or kvm-amd (sudo modprobe kvm_intel, or sudo modprobe kvm_amd).`,
    };
  }
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
  } catch {
    return {
      available: false,
      name: 'kvm',
      reason: `No permission to use ${device}: add yourself to the kvm group (sudo usermod -aG kvm $USER) and log in again.`,
    };
  }
  if (!statSync(device).isCharacterDevice()) {
    return {
      available: false,
      name: 'kvm',
      reason: `${device} is not a device file: remove it and load kvm-intel or kvm-amd (sudo modprobe kvm_intel, or sudo modprobe kvm_amd).`,
    };
  }
  return { available: true, name: 'kvm', reason: null };
}

export function hostInfo(libraryRoot: string, mode: HostInfo['mode'], version: string): HostInfo {
  return {
    version,
    platform: `${process.platform}-${process.arch}`,
    cores: os.availableParallelism(),
    memoryMiB: Math.floor(os.totalmem() / (1024 * 1024)),
    libraryRoot,
    hypervisor: hypervisorStatus(),
    mode,
  };
}

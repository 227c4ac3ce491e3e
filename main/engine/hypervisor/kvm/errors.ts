/**
 * Why KVM cannot be used on this host, in words that say what to do.
 *
 * Runtime: engine.
 */
import { EACCES, ENOENT, ENODEV, ENXIO, EPERM } from './kvm-abi.js';

export class KvmUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KvmUnavailableError';
  }
}

/** The message for a failed open("/dev/kvm"), by errno. */
export function kvmOpenError(errno: number, path = '/dev/kvm'): KvmUnavailableError {
  if (errno === ENOENT || errno === ENODEV || errno === ENXIO) {
    return new KvmUnavailableError(
      `${path} does not exist: KVM is not available. Enable virtualization (VT-x / AMD-V) in ` +
        `the firmware settings and load the module: sudo modprobe kvm_intel (Intel) or ` +
        `sudo modprobe kvm_amd (AMD). In a VM, enable nested virtualization on its host.`,
    );
  }
  if (errno === EACCES || errno === EPERM) {
    return new KvmUnavailableError(
      `permission denied opening ${path}: add yourself to the kvm group with ` +
        `sudo usermod -aG kvm $USER, then log out and back in (or run: newgrp kvm).`,
    );
  }
  return new KvmUnavailableError(`cannot open ${path} (errno ${errno}).`);
}

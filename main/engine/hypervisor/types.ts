/**
 * The hypervisor backend interface the machine code uses: `Hypervisor` -> `Vm` -> `Vcpu`.
 * KVM implements it today (./kvm); an HVF backend can be added behind the same interface
 * without touching device models or machines, which only see buses, IRQ lines and GuestMemory.
 *
 * Runtime: engine (device thread).
 */
import type { Bus, IrqLine } from '../bus.js';
import type { GuestMemory } from '../memory.js';
import type { VcpuExitCounts } from './exit-mailbox.js';
import type { VcpuInitialState, X86Registers, X86SpecialRegisters } from './x86-state.js';

export interface Hypervisor {
  /** 'kvm', later 'hvf'. */
  readonly name: string;
  /** Largest vCPU count one VM may have on this host. */
  readonly maxVcpus: number;
  createVm(): Vm;
}

/** A guest-physical range backed by part of guest RAM. */
export interface MemoryRegion {
  guestPhysical: number;
  /** Offset of the range's first byte in GuestMemory. */
  memoryOffset: number;
  size: number;
  readOnly?: boolean;
}

export interface MemorySlot {
  readonly region: MemoryRegion;
  /** Removes the mapping; guest accesses there become MMIO exits again. Safe to call twice. */
  unmap(): void;
}

export interface VcpuStartOptions {
  /** One entry per vCPU: index 0 is the boot vCPU; APs usually start from reset (undefined). */
  initialStates: readonly (VcpuInitialState | undefined)[];
  buses: { ports: Bus; mmio: Bus };
  /** Called once when a vCPU or device fault ends the VM. */
  onFault(fault: VcpuFault): void;
  /** The guest asked the platform to power off or reset through the backend (not via a device). */
  onSystemEvent?(event: 'shutdown' | 'reset'): void;
  /** Backend notes for the VM's log (which doorbells became ioeventfds). */
  onLog?(line: string): void;
}

export interface Vm {
  /** Allocates guest RAM (once) in memory every thread of the VM host can see. */
  allocateMemory(bytes: number): GuestMemory;
  /**
   * Maps part of guest RAM at a guest-physical address. The slot can be removed again while
   * the VM runs (a PCI BAR the guest moves: framebuffer, option ROM).
   */
  mapMemory(region: MemoryRegion): MemorySlot;
  /** The interrupt line for a GSI on the in-kernel PIC/IOAPIC (ISA IRQ n = GSI n). */
  irqLine(gsi: number): IrqLine;
  /**
   * Delivers one message-signalled interrupt (PCI 3.0 §6.8): the address and data a device's
   * MSI-X table entry holds, as the guest programmed them (x86: 0xFEExxxxx, Intel SDM vol. 3
   * §11.11). False when the interrupt controller refused it (a bad address).
   */
  signalMsi(address: number, data: number): boolean;
  /** Creates and starts the vCPUs; resolves when all run. */
  startVcpus(count: number, options: VcpuStartOptions): Promise<readonly Vcpu[]>;
  /** Stops every vCPU at an instruction boundary (kicks those inside the hypervisor). */
  pause(): Promise<void>;
  resume(): void;
  /** Stops the vCPUs for good and releases every kernel object. Safe to call twice. */
  destroy(): Promise<void>;
}

export interface Vcpu {
  readonly index: number;
  /** The host OS thread that runs it (Linux tid), for CPU accounting; absent if unknown. */
  readonly thread?: number;
  exitCounts(): VcpuExitCounts;
}

/** Why a VM had to end "aborted", with what is needed to understand it. */
export interface VcpuFault {
  /** Short reason: 'triple fault', 'KVM_EXIT_INTERNAL_ERROR', 'device fault', ... */
  reason: string;
  /** Longer explanation (sub-error, hardware failure code, stack). */
  detail: string;
  vcpu?: number;
  regs?: X86Registers;
  sregs?: X86SpecialRegisters;
}

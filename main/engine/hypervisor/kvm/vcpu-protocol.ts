/**
 * Messages between the device thread (KvmVm) and a vCPU worker (vcpu-worker.ts). The hot path
 * (port/MMIO exits, pause/stop) goes through the SharedArrayBuffer mailbox, not these messages;
 * these carry start-up data once and the final report once.
 *
 * Runtime: engine.
 */
import type { VcpuInitialState, X86Registers, X86SpecialRegisters } from '../x86-state.js';

export interface VcpuWorkerData {
  index: number;
  vmFd: number;
  runSize: number;
  /** kvm_cpuid2 for this vCPU, already tweaked (cpuid.ts). */
  cpuid: Uint8Array;
  initialState: VcpuInitialState | undefined;
  mailbox: SharedArrayBuffer;
  /**
   * One byte per I/O port: 0 unclaimed (answered in the worker), {@link PORT_CLAIMED}, or
   * {@link PORT_POSTED} (writes batched to the device thread without waiting).
   */
  claimedPorts: SharedArrayBuffer;
  /** What {@link PORT_SHARED_READ} ports read as, when published (bus.ts Bus.sharedReads). */
  sharedReads: SharedArrayBuffer;
  /** MMIO ranges whose writes are posted, as [start, end) pairs (e.g. virtio QueueNotify). */
  postedMmio: number[];
  /** Interrupt status registers answered in the vCPU thread (bus.ts SharedInterruptStatus). */
  sharedInterruptStatus: {
    statusAddress: number;
    ackAddress: number;
    buffer: SharedArrayBuffer;
    gsi: number;
  }[];
}

export const PORT_CLAIMED = 1;
export const PORT_POSTED = 2;
/** One-byte reads answered from `sharedReads` in the worker when published; else as claimed. */
export const PORT_SHARED_READ = 3;

export type VcpuWorkerMessage =
  /** Created and loaded; `thread` is its kernel thread id for kicks, `runAddress` its kvm_run mapping. */
  | { type: 'ready'; thread: number; runAddress: number }
  | {
      type: 'fault';
      reason: string;
      detail: string;
      regs?: X86Registers;
      sregs?: X86SpecialRegisters;
    }
  | { type: 'system-event'; event: 'shutdown' | 'reset' }
  /** Writes to posted ports, in guest order, batched. */
  | { type: 'posted-writes'; writes: { port: number; data: Uint8Array; mmio?: true }[] }
  | { type: 'stopped' };

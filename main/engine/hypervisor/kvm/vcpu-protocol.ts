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
  /** One byte per I/O port: 1 when a device claims it (exits to unclaimed ports stay in the worker). */
  claimedPorts: SharedArrayBuffer;
}

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
  | { type: 'stopped' };

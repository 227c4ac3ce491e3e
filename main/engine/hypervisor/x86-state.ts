/**
 * Backend-neutral x86 vCPU register state: what a machine (direct Linux boot, PC firmware reset)
 * asks the hypervisor backend to load into a vCPU before it first runs. The KVM backend maps it
 * onto `struct kvm_regs` / `struct kvm_sregs` (linux/kvm.h, arch/x86/include/uapi/asm/kvm.h);
 * an HVF backend would map it onto hv_vcpu_write_register.
 *
 * 64-bit values are bigint because registers are full 64-bit quantities.
 *
 * Runtime: engine.
 */

/** General-purpose registers, as in `struct kvm_regs` (same order). */
export const X86_GP_REGISTERS = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rsp',
  'rbp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
  'rip',
  'rflags',
] as const;
export type X86GpRegister = (typeof X86_GP_REGISTERS)[number];
export type X86Registers = Record<X86GpRegister, bigint>;

/**
 * A segment register's hidden part, as in `struct kvm_segment` (Intel SDM vol. 3A, 3.4.5
 * "Segment Descriptors": type, S, DPL, P, AVL, L, D/B, G).
 */
export interface X86Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: boolean;
  dpl: number;
  /** D/B: default operation size (32-bit) */
  db: boolean;
  /** S: code/data (true) or system (false) descriptor */
  s: boolean;
  /** L: 64-bit code segment */
  l: boolean;
  /** G: limit in 4 KiB units */
  g: boolean;
  avl: boolean;
  unusable: boolean;
}

export interface X86DescriptorTable {
  base: bigint;
  limit: number;
}

/** Special registers, as in `struct kvm_sregs` (interrupt bitmap omitted: always empty at boot). */
export interface X86SpecialRegisters {
  cs: X86Segment;
  ds: X86Segment;
  es: X86Segment;
  fs: X86Segment;
  gs: X86Segment;
  ss: X86Segment;
  tr: X86Segment;
  ldt: X86Segment;
  gdt: X86DescriptorTable;
  idt: X86DescriptorTable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
}

/**
 * What a machine wants loaded into one vCPU. Fields left out keep the backend's reset values
 * (KVM's vCPU reset state: real mode, CS:IP = F000:FFF0).
 */
export interface VcpuInitialState {
  regs?: Partial<X86Registers>;
  sregs?: Partial<X86SpecialRegisters>;
  /** MSR index -> value, e.g. IA32_MISC_ENABLE (0x1a0) fast-string enable, as kvmtool/Firecracker set. */
  msrs?: ReadonlyMap<number, bigint>;
}

/**
 * The readable log of an aborted VM: why it ended (exit reason, sub-error) and the vCPU's
 * registers and special registers at that moment, laid out like QEMU's `info registers` so
 * people who know that output can read this one.
 *
 * Runtime: engine.
 */
import type { VcpuFault } from '../hypervisor/types.js';
import type { X86Segment } from '../hypervisor/x86-state.js';

const hex = (v: bigint | number, width = 16): string => v.toString(16).padStart(width, '0');

function segment(name: string, s: X86Segment): string {
  const attrs = [
    `type=${s.type.toString(16)}`,
    `dpl=${s.dpl}`,
    s.present ? 'P' : 'NP',
    s.s ? 'S' : 'sys',
    s.l ? 'L' : '',
    s.db ? 'DB' : '',
    s.g ? 'G' : '',
    s.unusable ? 'unusable' : '',
  ].filter(Boolean);
  return `${name.toUpperCase().padEnd(3)}=${hex(s.selector, 4)} ${hex(s.base)} ${hex(s.limit, 8)} ${attrs.join(' ')}`;
}

export function formatFault(fault: VcpuFault): string {
  const lines = [
    `VM aborted: ${fault.reason}${fault.vcpu !== undefined ? ` on vCPU ${fault.vcpu}` : ''}`,
    ...fault.detail.split('\n').map((l) => `  ${l}`),
  ];
  const r = fault.regs;
  if (r) {
    lines.push(
      'registers:',
      `  RAX=${hex(r.rax)} RBX=${hex(r.rbx)} RCX=${hex(r.rcx)} RDX=${hex(r.rdx)}`,
      `  RSI=${hex(r.rsi)} RDI=${hex(r.rdi)} RBP=${hex(r.rbp)} RSP=${hex(r.rsp)}`,
      `  R8 =${hex(r.r8)} R9 =${hex(r.r9)} R10=${hex(r.r10)} R11=${hex(r.r11)}`,
      `  R12=${hex(r.r12)} R13=${hex(r.r13)} R14=${hex(r.r14)} R15=${hex(r.r15)}`,
      `  RIP=${hex(r.rip)} RFL=${hex(r.rflags, 8)}`,
    );
  }
  const s = fault.sregs;
  if (s) {
    lines.push('special registers:');
    for (const name of ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const)
      lines.push(`  ${segment(name, s[name])}`);
    lines.push(
      `  GDT=${hex(s.gdt.base)} ${hex(s.gdt.limit, 4)}  IDT=${hex(s.idt.base)} ${hex(s.idt.limit, 4)}`,
      `  CR0=${hex(s.cr0, 8)} CR2=${hex(s.cr2)} CR3=${hex(s.cr3)} CR4=${hex(s.cr4, 8)}`,
      `  CR8=${hex(s.cr8, 2)} EFER=${hex(s.efer)} APIC_BASE=${hex(s.apicBase)}`,
    );
  }
  if (!r && !s) lines.push('(registers could not be read)');
  return lines.join('\n');
}

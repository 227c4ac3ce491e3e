/**
 * Encoding and decoding of the KVM structs we exchange with the kernel, into Buffers we own:
 * `struct kvm_regs`, `kvm_sregs`/`kvm_segment`, `kvm_msrs`, `kvm_cpuid2`, `kvm_userspace_memory_region`
 * (arch/x86/include/uapi/asm/kvm.h, include/uapi/linux/kvm.h). Pure functions, so they are
 * unit-tested without KVM.
 *
 * Runtime: engine.
 */
import {
  X86_GP_REGISTERS,
  type X86DescriptorTable,
  type X86Registers,
  type X86Segment,
  type X86SpecialRegisters,
} from '../x86-state.js';
import {
  SIZEOF_KVM_CPUID_ENTRY2,
  SIZEOF_KVM_REGS,
  SIZEOF_KVM_SEGMENT,
  SIZEOF_KVM_SREGS,
  SIZEOF_USER_MEMORY_REGION,
} from './kvm-abi.js';

// --- kvm_regs: 18 u64 in X86_GP_REGISTERS order -------------------------------------------
export function decodeRegs(buf: Buffer): X86Registers {
  const regs = {} as X86Registers;
  X86_GP_REGISTERS.forEach((name, i) => (regs[name] = buf.readBigUInt64LE(i * 8)));
  return regs;
}

/** Writes the given registers into `buf` (a kvm_regs read back with KVM_GET_REGS first). */
export function patchRegs(buf: Buffer, regs: Partial<X86Registers>): void {
  if (buf.length < SIZEOF_KVM_REGS) throw new RangeError('kvm_regs buffer too small');
  X86_GP_REGISTERS.forEach((name, i) => {
    const v = regs[name];
    if (v !== undefined) buf.writeBigUInt64LE(BigInt.asUintN(64, v), i * 8);
  });
}

// --- kvm_segment (24 bytes): u64 base, u32 limit, u16 selector, u8 type, present, dpl, db, s, l, g, avl, unusable, padding
function decodeSegment(buf: Buffer, at: number): X86Segment {
  return {
    base: buf.readBigUInt64LE(at),
    limit: buf.readUInt32LE(at + 8),
    selector: buf.readUInt16LE(at + 12),
    type: buf.readUInt8(at + 14),
    present: buf.readUInt8(at + 15) !== 0,
    dpl: buf.readUInt8(at + 16),
    db: buf.readUInt8(at + 17) !== 0,
    s: buf.readUInt8(at + 18) !== 0,
    l: buf.readUInt8(at + 19) !== 0,
    g: buf.readUInt8(at + 20) !== 0,
    avl: buf.readUInt8(at + 21) !== 0,
    unusable: buf.readUInt8(at + 22) !== 0,
  };
}

function encodeSegment(buf: Buffer, at: number, seg: X86Segment): void {
  buf.writeBigUInt64LE(BigInt.asUintN(64, seg.base), at);
  buf.writeUInt32LE(seg.limit >>> 0, at + 8);
  buf.writeUInt16LE(seg.selector & 0xffff, at + 12);
  buf.writeUInt8(seg.type & 0xff, at + 14);
  buf.writeUInt8(seg.present ? 1 : 0, at + 15);
  buf.writeUInt8(seg.dpl & 3, at + 16);
  buf.writeUInt8(seg.db ? 1 : 0, at + 17);
  buf.writeUInt8(seg.s ? 1 : 0, at + 18);
  buf.writeUInt8(seg.l ? 1 : 0, at + 19);
  buf.writeUInt8(seg.g ? 1 : 0, at + 20);
  buf.writeUInt8(seg.avl ? 1 : 0, at + 21);
  buf.writeUInt8(seg.unusable ? 1 : 0, at + 22);
  buf.writeUInt8(0, at + 23);
}

const SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
const SREGS_GDT = 0xc0;
const SREGS_IDT = 0xd0;
const SREGS_CONTROL = [
  ['cr0', 0xe0],
  ['cr2', 0xe8],
  ['cr3', 0xf0],
  ['cr4', 0xf8],
  ['cr8', 0x100],
  ['efer', 0x108],
  ['apicBase', 0x110],
] as const;

function decodeTable(buf: Buffer, at: number): X86DescriptorTable {
  return { base: buf.readBigUInt64LE(at), limit: buf.readUInt16LE(at + 8) };
}

export function decodeSregs(buf: Buffer): X86SpecialRegisters {
  const out: Partial<X86SpecialRegisters> = {};
  SEGMENTS.forEach((name, i) => (out[name] = decodeSegment(buf, i * SIZEOF_KVM_SEGMENT)));
  out.gdt = decodeTable(buf, SREGS_GDT);
  out.idt = decodeTable(buf, SREGS_IDT);
  for (const [name, at] of SREGS_CONTROL) out[name] = buf.readBigUInt64LE(at);
  return out as X86SpecialRegisters;
}

/** Writes the given special registers into `buf` (read back with KVM_GET_SREGS first). */
export function patchSregs(buf: Buffer, sregs: Partial<X86SpecialRegisters>): void {
  if (buf.length < SIZEOF_KVM_SREGS) throw new RangeError('kvm_sregs buffer too small');
  SEGMENTS.forEach((name, i) => {
    const seg = sregs[name];
    if (seg) encodeSegment(buf, i * SIZEOF_KVM_SEGMENT, seg);
  });
  for (const [name, at] of [
    ['gdt', SREGS_GDT],
    ['idt', SREGS_IDT],
  ] as const) {
    const t = sregs[name];
    if (!t) continue;
    buf.writeBigUInt64LE(BigInt.asUintN(64, t.base), at);
    buf.writeUInt16LE(t.limit & 0xffff, at + 8);
    buf.fill(0, at + 10, at + 16); // padding[3]
  }
  for (const [name, at] of SREGS_CONTROL) {
    const v = sregs[name];
    if (v !== undefined) buf.writeBigUInt64LE(BigInt.asUintN(64, v), at);
  }
}

// --- kvm_msrs: u32 nmsrs, u32 pad, then {u32 index, u32 reserved, u64 data}[] ---------------
export function encodeMsrs(msrs: ReadonlyMap<number, bigint>): Buffer {
  const buf = Buffer.alloc(8 + 16 * msrs.size);
  buf.writeUInt32LE(msrs.size, 0);
  let at = 8;
  for (const [index, value] of msrs) {
    buf.writeUInt32LE(index >>> 0, at);
    buf.writeBigUInt64LE(BigInt.asUintN(64, value), at + 8);
    at += 16;
  }
  return buf;
}

export function decodeMsrs(buf: Buffer, count: number): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (let i = 0; i < count; i++) {
    out.set(buf.readUInt32LE(8 + i * 16), buf.readBigUInt64LE(8 + i * 16 + 8));
  }
  return out;
}

// --- kvm_cpuid2: u32 nent, u32 padding, then kvm_cpuid_entry2[] -----------------------------
/** One CPUID leaf as KVM describes it (struct kvm_cpuid_entry2). */
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export function cpuidBuffer(capacity: number): Buffer {
  const buf = Buffer.alloc(8 + capacity * SIZEOF_KVM_CPUID_ENTRY2);
  buf.writeUInt32LE(capacity, 0);
  return buf;
}

export function decodeCpuid(buf: Buffer): CpuidEntry[] {
  const n = buf.readUInt32LE(0);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + i * SIZEOF_KVM_CPUID_ENTRY2;
    if (at + SIZEOF_KVM_CPUID_ENTRY2 > buf.length) break;
    out.push({
      function: buf.readUInt32LE(at),
      index: buf.readUInt32LE(at + 4),
      flags: buf.readUInt32LE(at + 8),
      eax: buf.readUInt32LE(at + 12),
      ebx: buf.readUInt32LE(at + 16),
      ecx: buf.readUInt32LE(at + 20),
      edx: buf.readUInt32LE(at + 24),
    });
  }
  return out;
}

export function encodeCpuid(entries: readonly CpuidEntry[]): Buffer {
  const buf = cpuidBuffer(entries.length);
  entries.forEach((e, i) => {
    const at = 8 + i * SIZEOF_KVM_CPUID_ENTRY2;
    buf.writeUInt32LE(e.function >>> 0, at);
    buf.writeUInt32LE(e.index >>> 0, at + 4);
    buf.writeUInt32LE(e.flags >>> 0, at + 8);
    buf.writeUInt32LE(e.eax >>> 0, at + 12);
    buf.writeUInt32LE(e.ebx >>> 0, at + 16);
    buf.writeUInt32LE(e.ecx >>> 0, at + 20);
    buf.writeUInt32LE(e.edx >>> 0, at + 24);
  });
  return buf;
}

// --- kvm_userspace_memory_region: u32 slot, u32 flags, u64 gpa, u64 size, u64 uaddr ---------
export function encodeMemoryRegion(region: {
  slot: number;
  flags: number;
  guestPhysical: number;
  size: number;
  userAddress: number;
}): Buffer {
  const buf = Buffer.alloc(SIZEOF_USER_MEMORY_REGION);
  buf.writeUInt32LE(region.slot, 0);
  buf.writeUInt32LE(region.flags, 4);
  buf.writeBigUInt64LE(BigInt(region.guestPhysical), 8);
  buf.writeBigUInt64LE(BigInt(region.size), 16);
  buf.writeBigUInt64LE(BigInt(region.userAddress), 24);
  return buf;
}

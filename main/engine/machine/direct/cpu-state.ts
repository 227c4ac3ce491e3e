/**
 * The GDT and the BSP's register state for Linux's 64-bit entry (boot.rst, "64-bit BOOT
 * PROTOCOL": long mode, paging on, a GDT with __BOOT_CS = 0x10 (execute/read) and __BOOT_DS =
 * 0x18 (read/write) 4 GiB flat, CS = __BOOT_CS, DS/ES/SS = __BOOT_DS, interrupts off, %rsi =
 * boot_params). Descriptor encodings follow the Intel SDM vol. 3A, 3.4.5 "Segment Descriptors"
 * and 8.2.3 "TSS Descriptor in 64-bit mode"; control-register bits 2.5 and 2.2.1 (EFER).
 *
 * Runtime: engine.
 */
import type { GuestMemory } from '../../memory.js';
import type { VcpuInitialState, X86Segment } from '../../hypervisor/x86-state.js';
import {
  BOOT_STACK_POINTER,
  GDT_ADDRESS,
  IDT_ADDRESS,
  TSS_ADDRESS,
  TSS_LIMIT,
  ZERO_PAGE_ADDRESS,
} from './layout.js';

export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
export const BOOT_TSS = 0x20;
/** Six 8-byte slots: null, unused, code, data, and the 16-byte 64-bit TSS descriptor. */
export const GDT_ENTRIES = 6;

export const CR0_PE = 1n << 0n;
export const CR0_ET = 1n << 4n;
export const CR0_PG = 1n << 31n;
export const CR4_PAE = 1n << 5n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;
/** IA32_MISC_ENABLE bit 0, fast string operations (SDM vol. 4, table 2-2): as Firecracker sets it. */
export const MSR_IA32_MISC_ENABLE = 0x1a0;
const MISC_ENABLE_FAST_STRING = 1n;

/** Segment types (SDM table 3-1): 0xB execute/read accessed, 0x3 read/write accessed, 0xB busy 64-bit TSS. */
const TYPE_CODE_XRA = 0xb;
const TYPE_DATA_RWA = 0x3;
const TYPE_TSS_BUSY = 0xb;

/** Encode a legacy 8-byte descriptor (SDM figure 3-8). */
export function encodeDescriptor(segment: X86Segment): bigint {
  const base = segment.base & 0xffff_ffffn;
  const limit = BigInt(segment.limit >>> (segment.g ? 12 : 0)) & 0xf_ffffn;
  let d = limit & 0xffffn;
  d |= (base & 0xff_ffffn) << 16n;
  d |= BigInt(segment.type & 0xf) << 40n;
  if (segment.s) d |= 1n << 44n;
  d |= BigInt(segment.dpl & 3) << 45n;
  if (segment.present) d |= 1n << 47n;
  d |= (limit >> 16n) << 48n;
  if (segment.avl) d |= 1n << 52n;
  if (segment.l) d |= 1n << 53n;
  if (segment.db) d |= 1n << 54n;
  if (segment.g) d |= 1n << 55n;
  d |= (base >> 24n) << 56n;
  return d;
}

const flat = (selector: number, type: number, code: boolean): X86Segment => ({
  base: 0n,
  limit: 0xffffffff,
  selector,
  type,
  present: true,
  dpl: 0,
  db: !code, // a 64-bit code segment must have D = 0 when L = 1
  s: true,
  l: code,
  g: true,
  avl: false,
  unusable: false,
});

export const BOOT_CODE_SEGMENT = flat(BOOT_CS, TYPE_CODE_XRA, true);
export const BOOT_DATA_SEGMENT = flat(BOOT_DS, TYPE_DATA_RWA, false);
export const BOOT_TSS_SEGMENT: X86Segment = {
  base: BigInt(TSS_ADDRESS),
  limit: TSS_LIMIT,
  selector: BOOT_TSS,
  type: TYPE_TSS_BUSY,
  present: true,
  dpl: 0,
  db: false,
  s: false,
  l: false,
  g: false,
  avl: false,
  unusable: false,
};

/** Write the GDT, an empty TSS and an empty IDT into low memory. */
export function writeGdt(memory: GuestMemory): void {
  memory.slice(GDT_ADDRESS, GDT_ENTRIES * 8).fill(0);
  memory.writeU64(GDT_ADDRESS + BOOT_CS, encodeDescriptor(BOOT_CODE_SEGMENT));
  memory.writeU64(GDT_ADDRESS + BOOT_DS, encodeDescriptor(BOOT_DATA_SEGMENT));
  memory.writeU64(GDT_ADDRESS + BOOT_TSS, encodeDescriptor(BOOT_TSS_SEGMENT));
  // Upper half of the 16-byte TSS descriptor: base bits 63:32 (zero here).
  memory.writeU64(GDT_ADDRESS + BOOT_TSS + 8, 0n);
  memory.slice(TSS_ADDRESS, TSS_LIMIT + 1).fill(0);
  memory.slice(IDT_ADDRESS, 16).fill(0);
}

/** The bootstrap processor's state at the kernel's 64-bit entry point. */
export function bootCpuState(options: { entryPoint: number; cr3: number }): VcpuInitialState {
  return {
    regs: {
      rip: BigInt(options.entryPoint),
      rsi: BigInt(ZERO_PAGE_ADDRESS),
      rsp: BigInt(BOOT_STACK_POINTER),
      rbp: BigInt(BOOT_STACK_POINTER),
      rflags: 0x2n, // bit 1 is reserved-set; IF clear: interrupts off
    },
    sregs: {
      cs: BOOT_CODE_SEGMENT,
      ds: BOOT_DATA_SEGMENT,
      es: BOOT_DATA_SEGMENT,
      fs: BOOT_DATA_SEGMENT,
      gs: BOOT_DATA_SEGMENT,
      ss: BOOT_DATA_SEGMENT,
      tr: BOOT_TSS_SEGMENT,
      gdt: { base: BigInt(GDT_ADDRESS), limit: GDT_ENTRIES * 8 - 1 },
      idt: { base: BigInt(IDT_ADDRESS), limit: 0 },
      cr0: CR0_PE | CR0_ET | CR0_PG,
      cr3: BigInt(options.cr3),
      cr4: CR4_PAE,
      efer: EFER_LME | EFER_LMA,
    },
    msrs: new Map([[MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING]]),
  };
}

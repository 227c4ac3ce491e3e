/**
 * The KVM userspace ABI for x86-64, under the names linux/kvm.h and asm/kvm.h give them:
 * ioctl request numbers, capabilities, exit reasons and the byte layout of the structs we pass.
 * Every number was checked by compiling a C program against Debian 12's linux-libc-dev headers
 * (`printf("%lx", KVM_RUN)`, `offsetof(struct kvm_run, io)`, ...); see docs/engine.md.
 *
 * Runtime: engine (no dependencies: imported by the device thread and by vCPU workers).
 */

// --- ioctls on /dev/kvm (system) ------------------------------------------------------------
export const KVM_GET_API_VERSION = 0xae00;
export const KVM_CREATE_VM = 0xae01;
export const KVM_CHECK_EXTENSION = 0xae03;
export const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
export const KVM_GET_SUPPORTED_CPUID = 0xc008ae05;

// --- ioctls on a VM fd ----------------------------------------------------------------------
export const KVM_CREATE_VCPU = 0xae41;
export const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
export const KVM_SET_TSS_ADDR = 0xae47;
export const KVM_SET_IDENTITY_MAP_ADDR = 0x4008ae48;
export const KVM_CREATE_IRQCHIP = 0xae60;
export const KVM_IRQ_LINE = 0x4008ae61;
/** _IOW(KVMIO, 0xa5, struct kvm_msi): 32 bytes (address_lo, address_hi, data, flags, devid, pad). */
export const KVM_SIGNAL_MSI = 0x4020aea5;
/** _IOW(KVMIO, 0x79, struct kvm_ioeventfd): 64 bytes (KVM API 4.59). */
export const KVM_IOEVENTFD = 0x4040ae79;
/** kvm_ioeventfd.flags: remove the entry that matches the other fields. */
export const KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << 2;
export const KVM_CREATE_PIT2 = 0x4040ae77;

// --- ioctls on a vCPU fd --------------------------------------------------------------------
export const KVM_RUN = 0xae80;
export const KVM_GET_REGS = 0x8090ae81;
export const KVM_SET_REGS = 0x4090ae82;
export const KVM_GET_SREGS = 0x8138ae83;
export const KVM_SET_SREGS = 0x4138ae84;
export const KVM_GET_MSRS = 0xc008ae88;
export const KVM_SET_MSRS = 0x4008ae89;
export const KVM_SET_CPUID2 = 0x4008ae90;

/** The only API version there has ever been (Documentation/virt/kvm/api.rst 4.1). */
export const KVM_API_VERSION = 12;

// --- capabilities (KVM_CHECK_EXTENSION) -----------------------------------------------------
export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_IOEVENTFD = 36;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

/** Capabilities the engine cannot work without, with what each is for. */
export const REQUIRED_CAPABILITIES: readonly (readonly [number, string])[] = [
  [KVM_CAP_IRQCHIP, 'KVM_CAP_IRQCHIP (in-kernel PIC/IOAPIC/LAPIC)'],
  [KVM_CAP_USER_MEMORY, 'KVM_CAP_USER_MEMORY (guest RAM from our address space)'],
  [KVM_CAP_SET_TSS_ADDR, 'KVM_CAP_SET_TSS_ADDR'],
  [KVM_CAP_EXT_CPUID, 'KVM_CAP_EXT_CPUID (KVM_GET_SUPPORTED_CPUID)'],
  [KVM_CAP_PIT2, 'KVM_CAP_PIT2 (in-kernel i8254 timer)'],
  [KVM_CAP_IMMEDIATE_EXIT, 'KVM_CAP_IMMEDIATE_EXIT (pausing a running vCPU)'],
];

// --- exit reasons (struct kvm_run.exit_reason) ----------------------------------------------
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_SYSTEM_EVENT = 24;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;

const EXIT_REASON_NAMES: Record<number, string> = {
  0: 'KVM_EXIT_UNKNOWN',
  1: 'KVM_EXIT_EXCEPTION',
  2: 'KVM_EXIT_IO',
  3: 'KVM_EXIT_HYPERCALL',
  4: 'KVM_EXIT_DEBUG',
  5: 'KVM_EXIT_HLT',
  6: 'KVM_EXIT_MMIO',
  7: 'KVM_EXIT_IRQ_WINDOW_OPEN',
  8: 'KVM_EXIT_SHUTDOWN',
  9: 'KVM_EXIT_FAIL_ENTRY',
  10: 'KVM_EXIT_INTR',
  17: 'KVM_EXIT_INTERNAL_ERROR',
  24: 'KVM_EXIT_SYSTEM_EVENT',
};

export function exitReasonName(reason: number): string {
  return EXIT_REASON_NAMES[reason] ?? `exit reason ${reason}`;
}

/** Sub-errors of KVM_EXIT_INTERNAL_ERROR (kvm.h KVM_INTERNAL_ERROR_*). */
export const INTERNAL_ERROR_NAMES: Record<number, string> = {
  1: 'KVM_INTERNAL_ERROR_EMULATION (KVM could not emulate an instruction)',
  2: 'KVM_INTERNAL_ERROR_SIMUL_EX (exception while delivering an exception)',
  3: 'KVM_INTERNAL_ERROR_DELIVERY_EV (event delivery failed)',
  4: 'KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON',
};

// --- struct kvm_run (mmap of the vCPU fd) offsets -------------------------------------------
export const RUN_IMMEDIATE_EXIT = 1;
export const RUN_EXIT_REASON = 8;
/** Union at 32: io {u8 direction, u8 size, u16 port, u32 count, u64 data_offset}. */
export const RUN_IO_DIRECTION = 32;
export const RUN_IO_SIZE = 33;
export const RUN_IO_PORT = 34;
export const RUN_IO_COUNT = 36;
export const RUN_IO_DATA_OFFSET = 40;
/** mmio {u64 phys_addr, u8 data[8], u32 len, u8 is_write}. */
export const RUN_MMIO_PHYS_ADDR = 32;
export const RUN_MMIO_DATA = 40;
export const RUN_MMIO_LEN = 48;
export const RUN_MMIO_IS_WRITE = 52;
/** fail_entry {u64 hardware_entry_failure_reason, u32 cpu}. */
export const RUN_FAIL_ENTRY_REASON = 32;
/** internal {u32 suberror, u32 ndata, u64 data[16]}. */
export const RUN_INTERNAL_SUBERROR = 32;
export const RUN_INTERNAL_NDATA = 36;
export const RUN_INTERNAL_DATA = 40;
/** system_event {u32 type, u32 ndata, ...}. */
export const RUN_SYSTEM_EVENT_TYPE = 32;
/** How many bytes of kvm_run the worker copies after each exit: the header and the exit union. */
export const RUN_HEADER_COPY = 32 + 8 + 16 * 8;

// --- struct sizes ---------------------------------------------------------------------------
export const SIZEOF_KVM_REGS = 144;
export const SIZEOF_KVM_SREGS = 312;
export const SIZEOF_KVM_SEGMENT = 24;
export const SIZEOF_KVM_CPUID_ENTRY2 = 40;
export const SIZEOF_KVM_PIT_CONFIG = 64;
export const SIZEOF_USER_MEMORY_REGION = 32;
export const KVM_PIT_SPEAKER_DUMMY = 1;
/** kvm_userspace_memory_region.flags */
export const KVM_MEM_LOG_DIRTY_PAGES = 1;
export const KVM_MEM_READONLY = 2;

// --- errno values the engine tells apart (asm-generic/errno-base.h) --------------------------
export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const EFAULT = 14;
export const ENXIO = 6;
export const ENODEV = 19;
export const EINVAL = 22;
export const EPERM = 1;
export const ENOMEM = 12;
export const E2BIG = 7;

/**
 * The few libc functions the KVM backend calls, bound with koffi. Loaded once per thread (each
 * vCPU worker loads its own copy of the bindings; the library itself is shared by the process).
 *
 * Pointer conventions (koffi 3): native addresses we keep (the kvm_run mapping) are declared as
 * `uintptr_t`, so they arrive as plain numbers (x86-64 user addresses < 2^47 are safe integers)
 * and offsets are simple additions. Memory V8 owns (Buffers, Uint8Arrays over SharedArrayBuffers)
 * is passed as `uint8_t *`: koffi hands C the array's own address, no copy. We never build a view
 * over native memory (`koffi.view`): Electron's memory cage forbids external ArrayBuffers.
 *
 * Runtime: engine (device thread and vCPU workers).
 */
import koffi from 'koffi';

export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
/** eventfd(2) flag: close on exec (O_CLOEXEC's value). */
export const EFD_CLOEXEC = 0o2000000;
/** The kick signal: SIGUSR2 on Linux x86-64 (signal(7)); Node's inspector owns SIGUSR1. */
export const SIGUSR2 = 12;

export interface Libc {
  open(path: string, flags: number): number;
  close(fd: number): number;
  /** ioctl with an integer (or no) argument. */
  ioctlValue(fd: number, request: number, arg: number): number;
  /** ioctl with a pointer to memory V8 owns (a Buffer or a Uint8Array, possibly over a SAB). */
  ioctlBuffer(fd: number, request: number, arg: Uint8Array): number;
  /** Returns the mapping's address, or -1 (MAP_FAILED) with errno set. */
  mmap(
    addr: number,
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
  ): number;
  munmap(addr: number, length: number): number;
  /** Copy `length` bytes from native memory into `into` (a Buffer/Uint8Array V8 owns). */
  copyFromNative(into: Uint8Array, from: number, length: number): void;
  /** Copy `length` bytes from `from` (V8-owned) to native memory. */
  copyToNative(to: number, from: Uint8Array, length: number): void;
  /** The calling thread's kernel thread id (gettid(2)). */
  gettid(): number;
  /**
   * Sends `signal` to one thread of this process (tgkill(2)). By kernel thread id rather than
   * pthread_kill's pthread_t: a thread that has already exited gives ESRCH instead of undefined
   * behaviour on a freed thread descriptor.
   */
  tgkill(tgid: number, tid: number, signal: number): number;
  /** eventfd(2): a counter the kernel (an ioeventfd) adds to; reads block until it is nonzero. */
  eventfd(initval: number, flags: number): number;
  /** write(2) of memory V8 owns; returns the count written or -1. */
  write(fd: number, from: Uint8Array, length: number): number;
  errno(): number;
  strerror(errno: number): string;
}

let loaded: Libc | undefined;

export function libc(): Libc {
  if (loaded) return loaded;
  const lib = koffi.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags)');
  const close = lib.func('int close(int fd)');
  const ioctlValue = lib.func('int ioctl(int fd, unsigned long request, unsigned long arg)');
  const ioctlBuffer = lib.func('int ioctl(int fd, unsigned long request, uint8_t *arg)');
  const mmap = lib.func(
    'uintptr_t mmap(uintptr_t addr, size_t length, int prot, int flags, int fd, long offset)',
  );
  const munmap = lib.func('int munmap(uintptr_t addr, size_t length)');
  const copyFromNative = lib.func('uintptr_t memcpy(uint8_t *dst, uintptr_t src, size_t n)');
  const copyToNative = lib.func('uintptr_t memcpy(uintptr_t dst, const uint8_t *src, size_t n)');
  // glibc >= 2.30 wraps both system calls (Debian 12 ships 2.36).
  const gettid = lib.func('int gettid()');
  const tgkill = lib.func('int tgkill(int tgid, int tid, int sig)');
  const eventfd = lib.func('int eventfd(unsigned int initval, int flags)');
  const write = lib.func('long write(int fd, const uint8_t *buf, size_t count)');
  const errnoLocation = lib.func('int *__errno_location()');
  const strerror = lib.func('const char *strerror(int errnum)');
  loaded = {
    open: (p, f) => open(p, f) as number,
    close: (fd) => close(fd) as number,
    ioctlValue: (fd, r, a) => ioctlValue(fd, r, a) as number,
    ioctlBuffer: (fd, r, a) => ioctlBuffer(fd, r, a) as number,
    mmap: (a, l, p, f, fd, o) => {
      // MAP_FAILED is (void *)-1: as uintptr_t it arrives as 2^64 - 1, beyond any user address.
      const address = mmap(a, l, p, f, fd, o) as number;
      return address >= 2 ** 63 ? -1 : address;
    },
    munmap: (a, l) => munmap(a, l) as number,
    copyFromNative: (into, from, n) => void copyFromNative(into, from, n),
    copyToNative: (to, from, n) => void copyToNative(to, from, n),
    gettid: () => gettid() as number,
    tgkill: (g, t, s) => tgkill(g, t, s) as number,
    eventfd: (v, f) => eventfd(v, f) as number,
    write: (fd, from, n) => write(fd, from, n) as number,
    errno: () => koffi.decode(errnoLocation(), 'int') as number,
    strerror: (e) => strerror(e) as string,
  };
  return loaded;
}

/** koffi.address of memory V8 owns, as a number (x86-64 user addresses fit in 2^53). */
export function addressOf(bytes: Uint8Array): number {
  return Number(koffi.address(bytes));
}

/** A failed system call: which call, errno and the C library's words for it. */
export class SyscallError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    message?: string,
  ) {
    super(message ?? `${call} failed: ${libc().strerror(errno)} (errno ${errno})`);
    this.name = 'SyscallError';
  }
}

/** Returns `result`, or throws SyscallError with errno when it is negative. */
export function check(call: string, result: number): number {
  if (result < 0) throw new SyscallError(call, libc().errno());
  return result;
}

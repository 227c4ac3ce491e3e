/**
 * Proof that the KVM the harness gives us is real: open /dev/kvm through koffi, create a VM
 * with one memory slot (guest RAM in a SharedArrayBuffer, registered by address) and one vCPU,
 * run real-mode code that adds two numbers, writes the ASCII digit and a newline to port 0x3f8
 * and halts, and check what each exit carries. The operands are random per run, so no fixed
 * answer can pass. Numbers and offsets: linux/kvm.h (shared recipes/engine-facts.md).
 *
 * Runs through test/harness/with-kvm (project `engine`); it fails, not skips, without /dev/kvm.
 */
import { describe, expect, it } from 'vitest';
import koffi from 'koffi';

const KVM_GET_API_VERSION = 0xae00;
const KVM_CREATE_VM = 0xae01;
const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
const KVM_CREATE_VCPU = 0xae41;
const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
const KVM_RUN = 0xae80;
const KVM_GET_REGS = 0x8090ae81;
const KVM_SET_REGS = 0x4090ae82;
const KVM_GET_SREGS = 0x8138ae83;
const KVM_SET_SREGS = 0x4138ae84;
const KVM_EXIT_IO = 2;
const KVM_EXIT_HLT = 5;
const KVM_EXIT_IO_OUT = 1;

const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

const libc = koffi.load('libc.so.6');
const open = libc.func('int open(const char *path, int flags)');
const close = libc.func('int close(int fd)');
const ioctlPtr = libc.func('int ioctl(int fd, unsigned long req, void *arg)');
const ioctlInt = libc.func('int ioctl(int fd, unsigned long req, unsigned long arg)');
const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');
const munmap = libc.func('int munmap(void *addr, size_t len)');
const memcpyFrom = libc.func('void *memcpy(_Out_ uint8_t *dst, void *src, size_t n)');
const errnoLocation = libc.func('int *__errno_location()');

function errno(): number {
  return koffi.decode(errnoLocation(), 'int') as number;
}

function check(what: string, result: number): number {
  if (result < 0) throw new Error(`${what} failed: errno ${errno()}`);
  return result;
}

describe('real KVM through koffi', () => {
  it('runs real-mode code that writes to a port and halts', () => {
    const a = Math.floor(Math.random() * 5);
    const b = Math.floor(Math.random() * 5);

    const kvm = check('open /dev/kvm', open('/dev/kvm', O_RDWR | O_CLOEXEC) as number);
    expect(ioctlInt(kvm, KVM_GET_API_VERSION, 0)).toBe(12);
    const vm = check('KVM_CREATE_VM', ioctlInt(kvm, KVM_CREATE_VM, 0) as number);

    // Guest RAM: a SharedArrayBuffer, its address aligned to 4 KiB by hand (V8 does not align it).
    const ramSize = 0x10000;
    const sab = new SharedArrayBuffer(ramSize + 4096);
    const bytes = new Uint8Array(sab);
    const base = koffi.address(bytes);
    const offset = Number((4096n - (base % 4096n)) % 4096n);
    const ram = new Uint8Array(sab, offset, ramSize);

    const region = Buffer.alloc(32);
    region.writeUInt32LE(0, 0); // slot
    region.writeUInt32LE(0, 4); // flags
    region.writeBigUInt64LE(0n, 8); // guest_phys_addr
    region.writeBigUInt64LE(BigInt(ramSize), 16); // memory_size
    region.writeBigUInt64LE(base + BigInt(offset), 24); // userspace_addr
    check('KVM_SET_USER_MEMORY_REGION', ioctlPtr(vm, KVM_SET_USER_MEMORY_REGION, region) as number);

    // add al,bl; add al,'0'; mov dx,0x3f8; out dx,al; mov al,10; out dx,al; hlt
    ram.set([0x00, 0xd8, 0x04, 0x30, 0xba, 0xf8, 0x03, 0xee, 0xb0, 0x0a, 0xee, 0xf4], 0x1000);

    const vcpu = check('KVM_CREATE_VCPU', ioctlInt(vm, KVM_CREATE_VCPU, 0) as number);
    const runSize = check(
      'KVM_GET_VCPU_MMAP_SIZE',
      ioctlInt(kvm, KVM_GET_VCPU_MMAP_SIZE, 0) as number,
    );
    const run: unknown = mmap(null, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    expect(koffi.address(run)).not.toBe(0n);

    // CS base 0, selector 0: real mode at 0000:1000 (kvm_sregs: cs at offset 0, base u64 @0, selector u16 @12).
    const sregs = Buffer.alloc(312);
    check('KVM_GET_SREGS', ioctlPtr(vcpu, KVM_GET_SREGS, sregs) as number);
    sregs.writeBigUInt64LE(0n, 0);
    sregs.writeUInt16LE(0, 12);
    check('KVM_SET_SREGS', ioctlPtr(vcpu, KVM_SET_SREGS, sregs) as number);
    const regs = Buffer.alloc(144);
    regs.writeBigUInt64LE(BigInt(a), 0); // rax
    regs.writeBigUInt64LE(BigInt(b), 8); // rbx
    regs.writeBigUInt64LE(0x1000n, 128); // rip
    regs.writeBigUInt64LE(0x2n, 136); // rflags (bit 1 is always set)
    check('KVM_SET_REGS', ioctlPtr(vcpu, KVM_SET_REGS, regs) as number);

    // Run until HLT, recording each exit as the kvm_run page reports it (copied with memcpy,
    // not viewed: Electron forbids views of external memory).
    const page = Buffer.alloc(runSize);
    const exits: {
      reason: number;
      direction?: number;
      port?: number;
      size?: number;
      count?: number;
      byte?: number;
    }[] = [];
    for (let i = 0; i < 10; i++) {
      check('KVM_RUN', ioctlInt(vcpu, KVM_RUN, 0) as number);
      memcpyFrom(page, run, runSize);
      const reason = page.readUInt32LE(8);
      if (reason === KVM_EXIT_IO) {
        const dataOffset = Number(page.readBigUInt64LE(40));
        exits.push({
          reason,
          direction: page.readUInt8(32),
          size: page.readUInt8(33),
          port: page.readUInt16LE(34),
          count: page.readUInt32LE(36),
          byte: page.readUInt8(dataOffset),
        });
      } else {
        exits.push({ reason });
        break;
      }
    }
    check('KVM_GET_REGS', ioctlPtr(vcpu, KVM_GET_REGS, regs) as number);
    const rip = regs.readBigUInt64LE(128);

    munmap(run, runSize);
    close(vcpu);
    close(vm);
    close(kvm);

    const io = { reason: KVM_EXIT_IO, direction: KVM_EXIT_IO_OUT, size: 1, port: 0x3f8, count: 1 };
    expect(exits).toEqual([
      { ...io, byte: '0'.charCodeAt(0) + a + b },
      { ...io, byte: 0x0a },
      { reason: KVM_EXIT_HLT },
    ]);
    // HLT is the 12th byte at 0x1000: after it the instruction pointer is 0x100c.
    expect(rip).toBe(0x100cn);
  });
});

/**
 * The KVM backend's pure parts: struct encoding against linux/kvm.h's layout, CPUID tweaks,
 * exit dispatch through the bus, the console escape, the fault report and the messages for a
 * host without usable KVM. (Real KVM: test/engine/.)
 */
import { describe, expect, it } from 'vitest';
import { Bus, type BusDevice } from '../../../main/engine/bus.js';
import { ConsoleEscape } from '../../../main/engine/host/console-escape.js';
import { formatFault } from '../../../main/engine/host/fault-report.js';
import { DeviceFaultError, answerExit } from '../../../main/engine/hypervisor/exit-dispatch.js';
import {
  KIND_MMIO,
  KIND_PIO,
  MB_ADDRESS_HI,
  MB_ADDRESS_LO,
  MB_COUNT,
  MB_IS_WRITE,
  MB_KIND,
  MB_SIZE,
  createMailbox,
} from '../../../main/engine/hypervisor/exit-mailbox.js';
import { cpuidForVcpu } from '../../../main/engine/hypervisor/kvm/cpuid.js';
import { KvmHypervisor } from '../../../main/engine/hypervisor/kvm/kvm.js';
import { kvmOpenError } from '../../../main/engine/hypervisor/kvm/errors.js';
import {
  SIZEOF_KVM_REGS,
  SIZEOF_KVM_SREGS,
  exitReasonName,
} from '../../../main/engine/hypervisor/kvm/kvm-abi.js';
import {
  decodeCpuid,
  decodeMsrs,
  decodeRegs,
  decodeSregs,
  encodeCpuid,
  encodeMemoryRegion,
  encodeMsrs,
  patchRegs,
  patchSregs,
  type CpuidEntry,
} from '../../../main/engine/hypervisor/kvm/kvm-structs.js';
import type { X86Segment } from '../../../main/engine/hypervisor/x86-state.js';

const codeSegment: X86Segment = {
  base: 0n,
  limit: 0xffffffff,
  selector: 0x10,
  type: 0xb,
  present: true,
  dpl: 0,
  db: false,
  s: true,
  l: true,
  g: true,
  avl: false,
  unusable: false,
};

describe('KVM struct layout', () => {
  it('places kvm_regs fields where linux/kvm.h has them (rsi @32, rip @128, rflags @136)', () => {
    const buf = Buffer.alloc(SIZEOF_KVM_REGS);
    patchRegs(buf, { rsi: 0x7000n, rip: 0x1000200n, rflags: 2n, rax: -1n });
    expect(buf.readBigUInt64LE(32)).toBe(0x7000n);
    expect(buf.readBigUInt64LE(128)).toBe(0x1000200n);
    expect(buf.readBigUInt64LE(136)).toBe(2n);
    expect(buf.readBigUInt64LE(0)).toBe(0xffffffffffffffffn); // two's complement of -1
    const back = decodeRegs(buf);
    expect(back.rip).toBe(0x1000200n);
    expect(back.rbx).toBe(0n);
  });

  it('round-trips kvm_sregs: segments, tables and control registers at their offsets', () => {
    const buf = Buffer.alloc(SIZEOF_KVM_SREGS);
    patchSregs(buf, {
      cs: codeSegment,
      gdt: { base: 0x500n, limit: 0x1f },
      cr0: 0x80050033n,
      cr3: 0x9000n,
      cr4: 0x20n,
      efer: 0x500n,
    });
    // kvm_segment: selector @12, type @14, l @19; cr3 @0xf0, efer @0x108 (offsetof, kvm.h)
    expect(buf.readUInt16LE(12)).toBe(0x10);
    expect(buf.readUInt8(14)).toBe(0xb);
    expect(buf.readUInt8(19)).toBe(1);
    expect(buf.readBigUInt64LE(0xf0)).toBe(0x9000n);
    expect(buf.readBigUInt64LE(0x108)).toBe(0x500n);
    const back = decodeSregs(buf);
    expect(back.cs).toEqual(codeSegment);
    expect(back.gdt).toEqual({ base: 0x500n, limit: 0x1f });
    expect(back.cr0).toBe(0x80050033n);
    expect(back.ds.present).toBe(false); // untouched
  });

  it('encodes kvm_msrs, kvm_cpuid2 and kvm_userspace_memory_region', () => {
    const msrs = new Map([
      [0x1a0, 1n],
      [0xc0000081, 0x23001000000000n],
    ]);
    const m = encodeMsrs(msrs);
    expect(m.readUInt32LE(0)).toBe(2);
    expect(m.readUInt32LE(8 + 16)).toBe(0xc0000081);
    expect(decodeMsrs(m, 2)).toEqual(msrs);

    const entries: CpuidEntry[] = [
      { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x756e6547, ecx: 1, edx: 2 },
      { function: 7, index: 1, flags: 1, eax: 3, ebx: 4, ecx: 5, edx: 0xffffffff },
    ];
    const c = encodeCpuid(entries);
    expect(c.length).toBe(8 + 2 * 40);
    expect(decodeCpuid(c)).toEqual(entries);

    const r = encodeMemoryRegion({
      slot: 1,
      flags: 2,
      guestPhysical: 0x100000000,
      size: 0x40000000,
      userAddress: 0x7f0000200000,
    });
    expect([r.readUInt32LE(0), r.readUInt32LE(4)]).toEqual([1, 2]);
    expect(r.readBigUInt64LE(8)).toBe(0x100000000n);
    expect(r.readBigUInt64LE(24)).toBe(0x7f0000200000n);
  });

  it('names exit reasons', () => {
    expect(exitReasonName(8)).toBe('KVM_EXIT_SHUTDOWN');
    expect(exitReasonName(999)).toBe('exit reason 999');
  });
});

describe('CPUID for a vCPU', () => {
  const supported: CpuidEntry[] = [
    {
      function: 1,
      index: 0,
      flags: 0,
      eax: 0x800f12,
      ebx: 0xff0a0800,
      ecx: 0x7ed8320b,
      edx: 0x178bfbff,
    },
    { function: 0xb, index: 0, flags: 1, eax: 1, ebx: 2, ecx: 0x100, edx: 77 },
    { function: 0x40000001, index: 0, flags: 0, eax: 0x1234, ebx: 0, ecx: 0, edx: 0 },
  ];
  it('sets the APIC id, logical count, HTT and the hypervisor bit; leaves KVM leaves alone', () => {
    const [leaf1, leafB, kvm] = cpuidForVcpu(supported, 3, 4);
    expect(leaf1!.ebx >>> 24).toBe(3);
    expect((leaf1!.ebx >>> 16) & 0xff).toBe(4);
    expect(leaf1!.ebx & 0xffff).toBe(0x0800); // CLFLUSH size, brand index kept
    expect(leaf1!.ecx >>> 31).toBe(1);
    expect((leaf1!.edx >>> 28) & 1).toBe(1);
    expect(leafB!.edx).toBe(3);
    expect(kvm).toEqual(supported[2]);
    const [single] = cpuidForVcpu(supported, 0, 1);
    expect((single!.edx >>> 28) & 1).toBe(0);
    expect(supported[0]!.ebx).toBe(0xff0a0800); // input not modified
  });
});

describe('exit dispatch', () => {
  class Register implements BusDevice {
    log: string[] = [];
    read(offset: number, data: Uint8Array): void {
      data.fill(0x40 + offset);
      this.log.push(`r${offset}/${data.length}`);
    }
    write(offset: number, data: Uint8Array): void {
      this.log.push(`w${offset}=${Array.from(data).join(',')}`);
    }
  }
  const post = (kind: number, isWrite: boolean, address: number, size: number, count = 1) => {
    const mb = createMailbox();
    const w = mb.words;
    w[MB_KIND] = kind;
    w[MB_IS_WRITE] = isWrite ? 1 : 0;
    w[MB_SIZE] = size;
    w[MB_COUNT] = count;
    w[MB_ADDRESS_LO] = (address % 2 ** 32) | 0;
    w[MB_ADDRESS_HI] = Math.floor(address / 2 ** 32);
    return mb;
  };

  it('sends string port I/O element by element to the device at its offset', () => {
    const ports = new Bus('ports');
    const dev = new Register();
    ports.register(0x3f8, 8, dev, 'uart');
    const mb = post(KIND_PIO, true, 0x3f8, 1, 3);
    mb.data.set([104, 105, 10]);
    answerExit(mb, { ports, mmio: new Bus('mmio') });
    expect(dev.log).toEqual(['w0=104', 'w0=105', 'w0=10']);
    const rd = post(KIND_PIO, false, 0x3fd, 1);
    answerExit(rd, { ports, mmio: new Bus('mmio') });
    expect(rd.data[0]).toBe(0x45);
  });

  it('sends MMIO above 4 GiB to the MMIO bus; unclaimed reads are all-ones', () => {
    const mmio = new Bus('mmio');
    const dev = new Register();
    mmio.register(0x1_0000_0000, 0x1000, dev, 'bar');
    const mb = post(KIND_MMIO, false, 0x1_0000_0010, 4);
    answerExit(mb, { ports: new Bus('ports'), mmio });
    expect(Array.from(mb.data.subarray(0, 4))).toEqual([0x50, 0x50, 0x50, 0x50]);
    const none = post(KIND_MMIO, false, 0xfed00000, 4);
    answerExit(none, { ports: new Bus('ports'), mmio });
    expect(Array.from(none.data.subarray(0, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('turns a device exception or a malformed exit into DeviceFaultError', () => {
    const ports = new Bus('ports');
    ports.register(
      0x60,
      1,
      {
        read: () => {},
        write: () => {
          throw new Error('boom');
        },
      },
      'bad',
    );
    const buses = { ports, mmio: new Bus('mmio') };
    expect(() => answerExit(post(KIND_PIO, true, 0x60, 1), buses)).toThrow(
      /write to port 0x60.*boom/s,
    );
    expect(() => answerExit(post(KIND_PIO, true, 0x60, 9), buses)).toThrow(DeviceFaultError);
    expect(() => answerExit(post(KIND_PIO, true, 0x60, 4, 2000), buses)).toThrow(/malformed/);
  });
});

describe('serial console escape (Ctrl-A)', () => {
  it('forwards ordinary bytes and turns Ctrl-A X / H into actions, also across chunks', () => {
    const e = new ConsoleEscape();
    expect(e.feed(Buffer.from('ls\n'))).toEqual({
      forward: Uint8Array.from(Buffer.from('ls\n')),
      actions: [],
    });
    expect(e.feed(Uint8Array.from([0x61, 0x01]))).toEqual({
      forward: Uint8Array.from([0x61]),
      actions: [],
    });
    expect(e.feed(Buffer.from('xq'))).toEqual({
      forward: Uint8Array.from([0x71]),
      actions: ['quit'],
    });
    expect(e.feed(Uint8Array.from([0x01, 0x48, 0x01, 0x01, 0x01, 0x7a]))).toEqual({
      forward: Uint8Array.from([0x01]),
      actions: ['help'],
    });
  });
});

describe('fault report', () => {
  it('names the reason and lays out registers', () => {
    const regs = Object.fromEntries(
      [
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
      ].map((k, i) => [k, BigInt(i)]),
    ) as never;
    const text = formatFault({
      reason: 'triple fault',
      detail: 'KVM_EXIT_SHUTDOWN',
      vcpu: 1,
      regs,
    });
    expect(text).toMatch(/^VM aborted: triple fault on vCPU 1\n {2}KVM_EXIT_SHUTDOWN/);
    expect(text).toContain('RIP=0000000000000010');
    expect(formatFault({ reason: 'device fault', detail: 'x' })).toContain(
      'registers could not be read',
    );
  });
});

describe('no usable KVM', () => {
  it('says to load the module when /dev/kvm is missing, and to join the kvm group on EACCES', () => {
    expect(() => KvmHypervisor.open({ workerUrl: 'x', devicePath: '/nonexistent/kvm' })).toThrow(
      /modprobe kvm_intel.*modprobe kvm_amd/s,
    );
    expect(kvmOpenError(13).message).toContain('usermod -aG kvm $USER');
  });
});

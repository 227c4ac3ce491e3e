import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteSum } from '../../../main/engine/acpi/index.js';
import { Bus } from '../../../main/engine/bus.js';
import { GuestMemory } from '../../../main/engine/memory.js';
import {
  DirectBootError,
  createDirectMachineDevices,
  directE820Map,
  parseBzImage,
  planDirectBoot,
  prepareDirectBoot,
  validateDirectBoot,
} from '../../../main/engine/machine/direct/index.js';
import type { BzImage, DirectBootErrorCode } from '../../../main/engine/machine/direct/index.js';
import {
  encodeDescriptor,
  BOOT_CODE_SEGMENT,
  BOOT_DATA_SEGMENT,
} from '../../../main/engine/machine/direct/cpu-state.js';
import { walkPageTables } from '../../../main/engine/machine/direct/page-tables.js';
import { IrqRecorder, readPort, writePort } from './irq-recorder.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const root = path.resolve(import.meta.dirname, '../../..');

let kernelPath = '';
let kernel: Uint8Array;
let image: BzImage;
const work = mkdtempSync(path.join(tmpdir(), 'vireo-direct-'));

beforeAll(() => {
  // Debian's real kernel, fetched once by the shared fixture script into .cache/.
  const out = execFileSync('node', [path.join(root, 'test/fixtures/debian-kernel.mjs')], {
    encoding: 'utf8',
  });
  kernelPath = (JSON.parse(out) as { vmlinuz: string }).vmlinuz;
  kernel = new Uint8Array(readFileSync(kernelPath));
  image = parseBzImage(kernel);
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    if (error instanceof DirectBootError) return error.code;
    return `not a DirectBootError: ${String(error)}`;
  }
  return 'no error';
}

function variant(edit: (bytes: Uint8Array, view: DataView) => Uint8Array | void): Uint8Array {
  const copy = kernel.slice();
  return edit(copy, new DataView(copy.buffer)) ?? copy;
}

const plan = (memoryBytes: number, initrdSize: number | null = null, cmdline = 'console=ttyS0') =>
  planDirectBoot(image, { initrdSize, cmdline, memoryBytes, cpus: 2, hostMemoryBytes: 64 * GiB });

describe('bzImage parsing', () => {
  it("reads Debian's kernel header: protocol, 64-bit entry, sizes, preferred address", () => {
    expect(image.protocol).toBeGreaterThanOrEqual(0x020c);
    expect(image.xloadflags & 1).toBe(1);
    expect(image.relocatable).toBe(true);
    expect(image.kernelAlignment).toBe(2 * MiB);
    expect(image.preferredLoadAddress).toBe(16 * MiB);
    expect(image.cmdlineSize).toBeGreaterThanOrEqual(255);
    expect(image.initSize).toBeGreaterThan(image.protectedModeKernel.length);
    expect(image.protectedModeKernel.length).toBe(kernel.length - (image.setupSectors + 1) * 512);
    expect(new TextDecoder().decode(image.setupHeader.subarray(0x202 - 0x1f1, 0x206 - 0x1f1))).toBe(
      'HdrS',
    );
  });

  it.each<[string, (b: Uint8Array, v: DataView) => Uint8Array | void, DirectBootErrorCode]>([
    ['empty file', () => new Uint8Array(0), 'kernel-not-bzimage'],
    ['setup header only', (b) => b.slice(0, 0x300), 'kernel-not-bzimage'],
    ['no HdrS', (_b, v) => v.setUint32(0x202, 0x12345678, true), 'kernel-not-bzimage'],
    ['no 0xAA55', (_b, v) => v.setUint16(0x1fe, 0, true), 'kernel-not-bzimage'],
    ['zImage (not loaded high)', (b) => void (b[0x211] = 0), 'kernel-not-bzimage'],
    ['protocol 2.05', (_b, v) => v.setUint16(0x206, 0x0205, true), 'kernel-protocol-too-old'],
    ['protocol 2.11', (_b, v) => v.setUint16(0x206, 0x020b, true), 'kernel-not-64bit'],
    ['32-bit only', (_b, v) => v.setUint16(0x236, 0, true), 'kernel-not-64bit'],
    ['cut after the setup sectors', (b) => b.slice(0, 40 * 512), 'kernel-truncated'],
    ['cut in the middle', (b) => b.slice(0, b.length >> 1), 'kernel-truncated'],
    ['setup_sects 255', (b) => void (b[0x1f1] = 255), 'kernel-truncated'],
    ['alignment 3', (_b, v) => v.setUint32(0x230, 3, true), 'kernel-corrupt'],
    ['init_size 1', (_b, v) => v.setUint32(0x260, 1, true), 'kernel-corrupt'],
    ['setup header cut short by its jump', (b) => void (b[0x201] = 0x10), 'kernel-corrupt'],
  ])('refuses a damaged kernel: %s', (_name, edit, code) => {
    expect(errorCode(() => parseBzImage(variant(edit)))).toBe(code);
  });

  it('says what to do in its messages', () => {
    expect(() => parseBzImage(new Uint8Array(10))).toThrow(/not a Linux bzImage.*choose/);
    expect(() => parseBzImage(variant((_b, v) => v.setUint16(0x236, 0, true)))).toThrow(
      /no 64-bit entry point: use a 64-bit/,
    );
  });

  it('treats setup_sects 0 as 4 (boot.rst)', () => {
    const b = variant((bytes) => void (bytes[0x1f1] = 0));
    // The real header is 39 sectors, so with 4 the kernel part merely starts earlier.
    expect(parseBzImage(b).setupSectors).toBe(4);
  });
});

describe('E820 map and RAM regions', () => {
  const usable = (m: number) =>
    directE820Map(m)
      .filter((e) => e.type === 1)
      .reduce((n, e) => n + e.size, 0);

  it('128 MiB: low RAM, reserved EBDA..1 MiB, RAM to the end', () => {
    expect(directE820Map(128 * MiB)).toEqual([
      { address: 0, size: 0x9fc00, type: 1 },
      { address: 0x9fc00, size: 0x100000 - 0x9fc00, type: 2 },
      { address: 0x100000, size: 127 * MiB, type: 1 },
    ]);
  });

  it('3 GiB: ends exactly at the PCI hole', () => {
    const map = directE820Map(3 * GiB);
    expect(map.at(-1)).toEqual({ address: MiB, size: 3 * GiB - MiB, type: 1 });
    expect(map).toHaveLength(3);
  });

  it('8 GiB: splits around the 32-bit PCI hole, nothing in 0xC0000000-0xFFFFFFFF', () => {
    const map = directE820Map(8 * GiB);
    expect(map.slice(2)).toEqual([
      { address: MiB, size: 3 * GiB - MiB, type: 1 },
      { address: 4 * GiB, size: 5 * GiB, type: 1 },
    ]);
    for (const e of map)
      expect(e.address + e.size <= 0xc0000000 || e.address >= 4 * GiB).toBe(true);
    expect(usable(8 * GiB)).toBe(8 * GiB - (0x100000 - 0x9fc00));
    expect(plan(8 * GiB).ramRegions).toEqual([
      { guestPhysical: 0, size: 3 * GiB, memoryOffset: 0 },
      { guestPhysical: 4 * GiB, size: 5 * GiB, memoryOffset: 3 * GiB },
    ]);
  });
});

describe('boot plan', () => {
  it('loads the kernel at pref_address and the initrd at the top of low RAM, page aligned', () => {
    const p = plan(256 * MiB, 5 * MiB + 123);
    expect(p.kernelLoadAddress).toBe(16 * MiB);
    expect(p.entryPoint).toBe(16 * MiB + 0x200);
    expect(p.initrd!.address % 4096).toBe(0);
    expect(p.initrd!.address + p.initrd!.size).toBeLessThanOrEqual(256 * MiB);
    expect(p.initrd!.address + p.initrd!.size).toBeGreaterThan(256 * MiB - 4096);
    expect(p.initrd!.address).toBeGreaterThanOrEqual(p.kernelEnd);
  });

  it('keeps the initrd under initrd_addr_max on a big machine', () => {
    const p = plan(3 * GiB, 10 * MiB);
    expect(p.initrd!.address + p.initrd!.size).toBeLessThanOrEqual(image.initrdAddrMax + 1);
  });

  it('refuses memory too small for kernel + initrd, too large, odd sizes and CPU counts', () => {
    expect(errorCode(() => plan(64 * MiB))).toBe('memory-too-small');
    const needed = image.preferredLoadAddress + image.initSize;
    expect(errorCode(() => plan(Math.ceil(needed / MiB) * MiB + MiB, 200 * MiB))).toBe(
      'memory-too-small',
    );
    expect(() => plan(64 * MiB)).toThrow(/give the VM at least/);
    expect(errorCode(() => plan(256 * MiB + 1))).toBe('memory-too-small');
    expect(errorCode(() => plan(48 * GiB))).toBe('memory-too-large');
    const host = () =>
      planDirectBoot(image, {
        initrdSize: null,
        cmdline: '',
        memoryBytes: 4 * GiB,
        cpus: 1,
        hostMemoryBytes: 2 * GiB,
      });
    expect(errorCode(host)).toBe('memory-too-large');
    expect(host).toThrow(/more than this host has/);
    for (const cpus of [0, 256, 1.5]) {
      expect(
        errorCode(() =>
          planDirectBoot(image, {
            initrdSize: null,
            cmdline: '',
            memoryBytes: 256 * MiB,
            cpus,
            hostMemoryBytes: 64 * GiB,
          }),
        ),
      ).toBe('cpus-out-of-range');
    }
  });

  it('refuses a command line longer than cmdline_size or with a NUL', () => {
    expect(errorCode(() => plan(256 * MiB, null, 'x'.repeat(image.cmdlineSize + 1)))).toBe(
      'cmdline-invalid',
    );
    expect(errorCode(() => plan(256 * MiB, null, 'a\0b'))).toBe('cmdline-invalid');
    expect(plan(256 * MiB, null, 'x'.repeat(image.cmdlineSize)).cmdlineBytes.length).toBe(
      image.cmdlineSize + 1,
    );
  });
});

describe('prepareDirectBoot', () => {
  const memoryBytes = 256 * MiB;
  let memory: GuestMemory;
  let layout: ReturnType<typeof prepareDirectBoot>;
  const initrd = Uint8Array.from({ length: 3 * 4096 + 17 }, (_, i) => (i * 7) & 0xff);

  beforeAll(() => {
    memory = GuestMemory.allocate(memoryBytes, () => 0);
    layout = prepareDirectBoot(memory, {
      kernel,
      initrd,
      cmdline: 'console=ttyS0 reboot=k',
      cpus: 4,
    });
  });

  it('fills the zero page as boot.rst asks', () => {
    const zp = 0x7000;
    expect(memory.readU16(zp + 0x1fe)).toBe(0xaa55);
    expect(memory.readU32(zp + 0x202)).toBe(0x53726448);
    expect(memory.readU16(zp + 0x206)).toBe(image.protocol);
    expect(memory.readU8(zp + 0x210)).toBe(0xff);
    expect(memory.readU8(zp + 0x211) & 0x81).toBe(0x81);
    expect(memory.readU32(zp + 0x218)).toBe(layout.plan.initrd!.address);
    expect(memory.readU32(zp + 0x21c)).toBe(initrd.length);
    expect(memory.readU32(zp + 0x228)).toBe(0x20000);
    expect(Number(memory.readU64(zp + 0x70))).toBe(0xe0000);
    expect(memory.readU8(zp + 0x1e8)).toBe(3);
    const e820 = [0, 1, 2].map((i) => ({
      address: Number(memory.readU64(zp + 0x2d0 + i * 20)),
      size: Number(memory.readU64(zp + 0x2d0 + i * 20 + 8)),
      type: memory.readU32(zp + 0x2d0 + i * 20 + 16),
    }));
    expect(e820).toEqual(directE820Map(memoryBytes));
  });

  it('copies kernel, initrd and NUL-terminated command line to their addresses', () => {
    const k = memory.slice(16 * MiB, image.protectedModeKernel.length);
    expect(Buffer.from(k).equals(Buffer.from(image.protectedModeKernel))).toBe(true);
    expect([...memory.slice(layout.plan.initrd!.address, initrd.length)]).toEqual([...initrd]);
    const cmd = memory.slice(0x20000, 23);
    expect(new TextDecoder().decode(cmd)).toBe('console=ttyS0 reboot=k\0');
  });

  it('writes ACPI tables the RSDP scan finds, with the MADT listing 4 CPUs', () => {
    expect(new TextDecoder().decode(memory.slice(0xe0000, 8))).toBe('RSD PTR ');
    expect(byteSum(memory.slice(0xe0000, 36))).toBe(0);
    const madt = layout.acpi.tables.find((t) => t.signature === 'APIC')!;
    expect(madt.length).toBe(36 + 8 + 4 * 8 + 12 + 10 + 6);
    expect(byteSum(memory.slice(madt.address, madt.length))).toBe(0);
  });

  it('identity-maps the first 4 GiB with 2 MiB pages and nothing above', () => {
    const cr3 = Number(layout.bsp.sregs!.cr3);
    for (const va of [0n, 0x7000n, 0x1000200n, 0x0fff_ffffn, 0xc000_1234n, 0xffff_ffffn]) {
      expect(walkPageTables(memory, cr3, va)).toBe(va);
    }
    expect(walkPageTables(memory, cr3, 0x1_0000_0000n)).toBeNull();
    expect(walkPageTables(memory, cr3, 0x80_0000_0000n)).toBeNull();
  });

  it('builds the GDT Linux expects: 0x10 64-bit code, 0x18 flat data', () => {
    expect(encodeDescriptor(BOOT_CODE_SEGMENT)).toBe(0x00af9b000000ffffn);
    expect(encodeDescriptor(BOOT_DATA_SEGMENT)).toBe(0x00cf93000000ffffn);
    expect(memory.readU64(0x500 + 0x10)).toBe(0x00af9b000000ffffn);
    expect(memory.readU64(0x500 + 0x18)).toBe(0x00cf93000000ffffn);
    expect(memory.readU64(0x500)).toBe(0n);
  });

  it('returns the BSP in long mode at load address + 0x200 with RSI = zero page', () => {
    const { regs, sregs } = layout.bsp;
    expect(regs!.rip).toBe(BigInt(16 * MiB + 0x200));
    expect(regs!.rsi).toBe(0x7000n);
    expect(regs!.rflags).toBe(2n);
    expect(sregs!.cr0! & 0x8000_0001n).toBe(0x8000_0001n);
    expect(sregs!.cr4! & 0x20n).toBe(0x20n);
    expect(sregs!.efer).toBe(0x500n);
    expect(sregs!.cs!.selector).toBe(0x10);
    expect(sregs!.cs!.l).toBe(true);
    expect(sregs!.cs!.db).toBe(false);
    expect(sregs!.ss!.selector).toBe(0x18);
    expect(sregs!.gdt!.base).toBe(0x500n);
  });

  it('refuses memory that does not match a plan made elsewhere', () => {
    const small = GuestMemory.allocate(128 * MiB, () => 0);
    expect(
      errorCode(() =>
        prepareDirectBoot(small, { kernel, initrd: null, cmdline: '', cpus: 1, plan: layout.plan }),
      ),
    ).toBe('memory-too-small');
  });
});

describe('validateDirectBoot (before any VM exists)', () => {
  const request = (over: Partial<Parameters<typeof validateDirectBoot>[0]>) => ({
    kernelPath,
    initrdPath: null,
    cmdline: 'console=ttyS0',
    memoryBytes: 256 * MiB,
    cpus: 1,
    hostMemoryBytes: 64 * GiB,
    ...over,
  });

  it('accepts the real kernel with an initrd and returns the bytes and plan', () => {
    const initrdPath = path.join(work, 'initrd.img');
    writeFileSync(initrdPath, new Uint8Array(12345));
    const v = validateDirectBoot(request({ initrdPath }));
    expect(v.kernel.length).toBe(kernel.length);
    expect(v.initrd!.length).toBe(12345);
    expect(v.plan.initrd!.size).toBe(12345);
  });

  it('names each failure', () => {
    const dir = path.join(work, 'folder');
    mkdirSync(dir, { recursive: true });
    const notKernel = path.join(work, 'not-a-kernel');
    writeFileSync(notKernel, 'hello, I am a text file\n'.repeat(100));
    expect(
      errorCode(() => validateDirectBoot(request({ kernelPath: path.join(work, 'nope') }))),
    ).toBe('kernel-unreadable');
    expect(errorCode(() => validateDirectBoot(request({ kernelPath: dir })))).toBe(
      'kernel-unreadable',
    );
    expect(errorCode(() => validateDirectBoot(request({ kernelPath: notKernel })))).toBe(
      'kernel-not-bzimage',
    );
    expect(
      errorCode(() => validateDirectBoot(request({ initrdPath: path.join(work, 'missing') }))),
    ).toBe('initrd-missing');
    expect(() => validateDirectBoot(request({ initrdPath: path.join(work, 'missing') }))).toThrow(
      /does not exist: choose an existing initrd/,
    );
    expect(errorCode(() => validateDirectBoot(request({ initrdPath: dir })))).toBe(
      'initrd-unreadable',
    );
    expect(errorCode(() => validateDirectBoot(request({ memoryBytes: 32 * MiB })))).toBe(
      'memory-too-small',
    );
    expect(errorCode(() => validateDirectBoot(request({ hostMemoryBytes: 128 * MiB })))).toBe(
      'memory-too-large',
    );
  });

  it('refuses a FIFO as kernel or initrd without blocking', () => {
    const fifo = path.join(work, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(errorCode(() => validateDirectBoot(request({ kernelPath: fifo })))).toBe(
      'kernel-unreadable',
    );
    expect(errorCode(() => validateDirectBoot(request({ initrdPath: fifo })))).toBe(
      'initrd-unreadable',
    );
  });
});

describe('direct machine devices', () => {
  it('registers every legacy device on an I/O bus without overlap and routes their IRQs', () => {
    const irqs = new Map<number, IrqRecorder>();
    const events: string[] = [];
    const out: number[] = [];
    const devices = createDirectMachineDevices({
      irq: (n) => {
        const line = new IrqRecorder();
        irqs.set(n, line);
        return line;
      },
      onSerialOutput: (b) => out.push(b),
      onPowerOff: () => events.push('off'),
      onReset: () => events.push('reset'),
      memoryBytes: 512 * MiB,
      cpus: 2,
    });
    const bus = new Bus('io');
    for (const r of devices.portRanges) bus.register(r.base, r.length, r.device, r.name);
    expect([...irqs.keys()].sort((a, b) => a - b)).toEqual([1, 4, 9, 12]);
    const io = (port: number, v?: number) => {
      const data = Uint8Array.of(v ?? 0);
      if (v === undefined) bus.read(port, data);
      else bus.write(port, data);
      return data[0]!;
    };
    io(0x3f8, 0x41);
    expect(out).toEqual([0x41]);
    io(0x64, 0xaa);
    expect(io(0x60)).toBe(0x55);
    io(0x70, 0x0d);
    expect(io(0x71)).toBe(0x80);
    writePort({ write: (o, d) => void bus.write(0x604 + o, d) }, 0, (5 << 10) | (1 << 13), 2);
    io(0x60c, 0x0f);
    io(0x64, 0xfe);
    expect(events).toEqual(['off', 'reset', 'reset']);
    expect(readPort({ read: (o, d) => void bus.read(0x3f8 + o, d) }, 5) & 0x60).toBe(0x60);
  });
});

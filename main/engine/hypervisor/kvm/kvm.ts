/**
 * The KVM backend of the hypervisor interface (../types.ts), on the device thread: /dev/kvm,
 * the VM fd (in-kernel irqchip and PIT, TSS and identity-map addresses, memory slots, IRQ
 * lines) and one worker_thread per vCPU (./vcpu-worker.ts), which it kicks out of KVM_RUN with
 * `immediate_exit` plus a signal (api.rst 5, "immediate_exit").
 *
 * Guest RAM is a SharedArrayBuffer whose address we register with KVM_SET_USER_MEMORY_REGION:
 * it lives inside V8's heap, which Electron's memory cage requires, and every worker sees it.
 *
 * Runtime: engine (device thread).
 */
import { Worker } from 'node:worker_threads';
import type { Bus, IrqLine } from '../../bus.js';
import { GUEST_RAM_ALIGNMENT, GuestMemory } from '../../memory.js';
import { serveMailbox } from '../exit-dispatch.js';
import {
  CONTROL_PAUSE,
  CONTROL_RUN,
  CONTROL_STOP,
  MB_CONTROL,
  MB_EXITED,
  MB_PARKED,
  MB_STATE,
  STATE_RESPONSE,
  createMailbox,
  readExitCounts,
  type ExitMailbox,
  type VcpuExitCounts,
  waitAsync,
} from '../exit-mailbox.js';
import type {
  Hypervisor,
  MemoryRegion,
  MemorySlot,
  Vcpu,
  VcpuFault,
  VcpuStartOptions,
  Vm,
} from '../types.js';
import { cpuidForVcpu } from './cpuid.js';
import { KvmDoorbells } from './doorbells.js';
import { KvmUnavailableError, kvmOpenError } from './errors.js';
import {
  E2BIG,
  KVM_API_VERSION,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_NR_VCPUS,
  KVM_CAP_IOEVENTFD,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_IRQCHIP,
  KVM_CREATE_PIT2,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_SUPPORTED_CPUID,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_IRQ_LINE,
  KVM_MEM_READONLY,
  KVM_SIGNAL_MSI,
  KVM_PIT_SPEAKER_DUMMY,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_SET_TSS_ADDR,
  KVM_SET_USER_MEMORY_REGION,
  REQUIRED_CAPABILITIES,
  RUN_IMMEDIATE_EXIT,
  SIZEOF_KVM_PIT_CONFIG,
} from './kvm-abi.js';
import {
  cpuidBuffer,
  decodeCpuid,
  encodeCpuid,
  encodeMemoryRegion,
  type CpuidEntry,
} from './kvm-structs.js';
import { O_CLOEXEC, O_RDWR, SIGUSR2, SyscallError, addressOf, check, libc } from './libc.js';
import { PORT_CLAIMED, PORT_POSTED, PORT_SHARED_READ } from './vcpu-protocol.js';
import type { VcpuWorkerData, VcpuWorkerMessage } from './vcpu-protocol.js';

/**
 * Where KVM's TSS (3 pages) and identity-map page go: just below the 4 GiB boundary's BIOS area,
 * where QEMU puts them (0xfeffc000 / 0xfeffd000 less 3 pages: 0xfffbc000 is QEMU's identity map);
 * we follow Firecracker: TSS at 0xfffbd000, identity map at 0xfffbc000. Neither may overlap RAM
 * or MMIO the machine uses.
 */
export const KVM_TSS_ADDRESS = 0xfffbd000;
export const KVM_IDENTITY_MAP_ADDRESS = 0xfffbc000;

export interface KvmOptions {
  /** Path of the device node (tests point it elsewhere to see the error messages). */
  devicePath?: string;
  /** URL or path of the bundled vCPU worker (out/engine/vcpu-worker.js). */
  workerUrl: URL | string;
  /** Device-thread burst window for exits (exit-dispatch.ts BURST_WINDOW_MS); 0 disables it. */
  exitBurstMs?: number;
}

export class KvmHypervisor implements Hypervisor {
  readonly name = 'kvm';
  readonly maxVcpus: number;
  private readonly supportedCpuid: CpuidEntry[];
  private readonly runSize: number;

  private constructor(
    private readonly kvmFd: number,
    private readonly options: KvmOptions,
  ) {
    const c = libc();
    const version = c.ioctlValue(kvmFd, KVM_GET_API_VERSION, 0);
    if (version !== KVM_API_VERSION) {
      throw new KvmUnavailableError(
        `/dev/kvm speaks API version ${version}, Vireo needs ${KVM_API_VERSION}: the kernel's KVM is too old or not Linux KVM.`,
      );
    }
    const missing = REQUIRED_CAPABILITIES.filter(
      ([cap]) => c.ioctlValue(kvmFd, KVM_CHECK_EXTENSION, cap) <= 0,
    ).map(([, what]) => what);
    if (missing.length > 0) {
      throw new KvmUnavailableError(
        `this kernel's KVM lacks ${missing.join(', ')}: update the kernel (Linux 4.11 or later).`,
      );
    }
    const max = c.ioctlValue(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    const recommended = c.ioctlValue(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    this.maxVcpus = max > 0 ? max : recommended > 0 ? recommended : 4;
    this.runSize = check('KVM_GET_VCPU_MMAP_SIZE', c.ioctlValue(kvmFd, KVM_GET_VCPU_MMAP_SIZE, 0));
    this.supportedCpuid = KvmHypervisor.readSupportedCpuid(kvmFd);
  }

  /** Opens /dev/kvm and checks what the engine needs; throws KvmUnavailableError with advice. */
  static open(options: KvmOptions): KvmHypervisor {
    const c = libc();
    const path = options.devicePath ?? '/dev/kvm';
    const fd = c.open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) throw kvmOpenError(c.errno(), path);
    try {
      return new KvmHypervisor(fd, options);
    } catch (e) {
      c.close(fd);
      throw e;
    }
  }

  /** KVM_GET_SUPPORTED_CPUID, growing the table until it fits (E2BIG means too small). */
  private static readSupportedCpuid(kvmFd: number): CpuidEntry[] {
    const c = libc();
    for (let capacity = 64; capacity <= 4096; capacity *= 2) {
      const buf = cpuidBuffer(capacity);
      if (c.ioctlBuffer(kvmFd, KVM_GET_SUPPORTED_CPUID, buf) >= 0) return decodeCpuid(buf);
      const errno = c.errno();
      if (errno !== E2BIG) throw new SyscallError('KVM_GET_SUPPORTED_CPUID', errno);
    }
    throw new Error('KVM_GET_SUPPORTED_CPUID: more than 4096 entries');
  }

  createVm(): KvmVm {
    const vmFd = check('KVM_CREATE_VM', libc().ioctlValue(this.kvmFd, KVM_CREATE_VM, 0));
    return new KvmVm(vmFd, this.runSize, this.supportedCpuid, this.options);
  }

  close(): void {
    libc().close(this.kvmFd);
  }
}

const IMMEDIATE_EXIT_ON = new Uint8Array([1]);

/** Kicks need a handler for the signal, or its default action would kill the process. */
let kickHandlerInstalled = false;
function installKickHandler(): void {
  if (kickHandlerInstalled) return;
  process.on('SIGUSR2', () => {});
  kickHandlerInstalled = true;
}

interface KvmVcpu extends Vcpu {
  worker: Worker;
  mailbox: ExitMailbox;
  thread: number;
  runAddress: number;
  stopped: Promise<void>;
  /** Set once the thread has ended: never signal a thread id that may have been reused. */
  exited: boolean;
}

export class KvmVm implements Vm {
  private memory: GuestMemory | undefined;
  private nextSlot = 0;
  private readonly freeSlots: number[] = [];
  private vcpus: KvmVcpu[] = [];
  private readonly serving = new AbortController();
  private readonly irqBuf = Buffer.alloc(8);
  private readonly msiBuf = Buffer.alloc(32);
  private destroyed = false;
  private doorbells: KvmDoorbells | undefined;
  private doorbellLog: ((line: string) => void) | undefined;
  /** One byte per I/O port: 1 when a device on the port bus claims it (filled at startVcpus). */
  private readonly claimedPorts = new SharedArrayBuffer(65536);

  constructor(
    private readonly vmFd: number,
    private readonly runSize: number,
    private readonly supportedCpuid: readonly CpuidEntry[],
    private readonly options: KvmOptions,
  ) {
    const c = libc();
    try {
      // Order per api.rst: TSS and identity map before vCPUs; irqchip before vCPUs; PIT after irqchip.
      check('KVM_SET_TSS_ADDR', c.ioctlValue(vmFd, KVM_SET_TSS_ADDR, KVM_TSS_ADDRESS));
      const identity = Buffer.alloc(8);
      identity.writeBigUInt64LE(BigInt(KVM_IDENTITY_MAP_ADDRESS));
      check('KVM_SET_IDENTITY_MAP_ADDR', c.ioctlBuffer(vmFd, KVM_SET_IDENTITY_MAP_ADDR, identity));
      check('KVM_CREATE_IRQCHIP', c.ioctlValue(vmFd, KVM_CREATE_IRQCHIP, 0));
      const pit = Buffer.alloc(SIZEOF_KVM_PIT_CONFIG);
      // Speaker port 0x61 is emulated as a dummy in the kernel, so its reads never exit to us.
      pit.writeUInt32LE(KVM_PIT_SPEAKER_DUMMY, 0);
      check('KVM_CREATE_PIT2', c.ioctlBuffer(vmFd, KVM_CREATE_PIT2, pit));
    } catch (e) {
      c.close(vmFd);
      throw e;
    }
  }

  allocateMemory(bytes: number): GuestMemory {
    if (this.memory) throw new Error('guest RAM is already allocated for this VM');
    this.memory = GuestMemory.allocate(bytes, (buffer) => {
      const base = addressOf(new Uint8Array(buffer));
      return (GUEST_RAM_ALIGNMENT - (base % GUEST_RAM_ALIGNMENT)) % GUEST_RAM_ALIGNMENT;
    });
    return this.memory;
  }

  mapMemory(region: MemoryRegion): MemorySlot {
    const memory = this.memory;
    if (!memory) throw new Error('allocate guest RAM before mapping it');
    const { guestPhysical, memoryOffset, size } = region;
    if (size <= 0 || size % 4096 !== 0 || guestPhysical % 4096 !== 0 || memoryOffset % 4096 !== 0) {
      throw new RangeError(
        `memory region 0x${guestPhysical.toString(16)}+0x${size.toString(16)} must be page aligned`,
      );
    }
    memory.check(memoryOffset, size);
    const base = addressOf(new Uint8Array(memory.buffer)) + memory.offset;
    const slot = this.freeSlots.pop() ?? this.nextSlot++;
    const flags = region.readOnly ? KVM_MEM_READONLY : 0;
    const encoded = encodeMemoryRegion({
      slot,
      flags,
      guestPhysical,
      size,
      userAddress: base + memoryOffset,
    });
    check(
      'KVM_SET_USER_MEMORY_REGION',
      libc().ioctlBuffer(this.vmFd, KVM_SET_USER_MEMORY_REGION, encoded),
    );
    let mapped = true;
    return {
      region: { ...region },
      unmap: () => {
        if (!mapped || this.destroyed) return;
        mapped = false;
        // "memory_size 0 deletes the slot" (Documentation/virt/kvm/api.rst, 4.35).
        const remove = encodeMemoryRegion({
          slot,
          flags,
          guestPhysical,
          size: 0,
          userAddress: base + memoryOffset,
        });
        check(
          'KVM_SET_USER_MEMORY_REGION',
          libc().ioctlBuffer(this.vmFd, KVM_SET_USER_MEMORY_REGION, remove),
        );
        this.freeSlots.push(slot);
      },
    };
  }

  signalMsi(address: number, data: number): boolean {
    // struct kvm_msi { u32 address_lo, address_hi, data, flags, devid; u8 pad[12]; }
    this.msiBuf.fill(0);
    this.msiBuf.writeUInt32LE(address % 2 ** 32, 0);
    this.msiBuf.writeUInt32LE(Math.floor(address / 2 ** 32) >>> 0, 4);
    this.msiBuf.writeUInt32LE(data >>> 0, 8);
    // > 0 delivered, 0 blocked by the guest (e.g. a masked LAPIC), < 0 refused.
    return libc().ioctlBuffer(this.vmFd, KVM_SIGNAL_MSI, this.msiBuf) >= 0;
  }

  irqLine(gsi: number): IrqLine {
    if (!Number.isInteger(gsi) || gsi < 0 || gsi > 23) {
      throw new RangeError(`GSI ${gsi} is outside the IOAPIC's 24 pins`);
    }
    return {
      set: (level: boolean) => {
        // struct kvm_irq_level { u32 irq; u32 level; }
        this.irqBuf.writeUInt32LE(gsi, 0);
        this.irqBuf.writeUInt32LE(level ? 1 : 0, 4);
        check('KVM_IRQ_LINE', libc().ioctlBuffer(this.vmFd, KVM_IRQ_LINE, this.irqBuf));
      },
    };
  }

  async startVcpus(count: number, options: VcpuStartOptions): Promise<readonly Vcpu[]> {
    if (this.vcpus.length > 0) throw new Error('vCPUs already started');
    installKickHandler();
    this.markClaimedPorts(options.buses.ports);
    // Ports claimed later (an I/O BAR the guest places: the IDE bus master) must reach the
    // device thread too, not be answered as unclaimed by the vCPU threads.
    // (VIREO_TRACE_EXITS sends every port to the device thread already: keep it so.)
    if (!process.env.VIREO_TRACE_EXITS)
      options.buses.ports.onChange(() => this.markClaimedPorts(options.buses.ports));
    let faulted = false;
    const onFault = (fault: VcpuFault): void => {
      if (faulted || this.destroyed) return;
      faulted = true;
      options.onFault(fault);
    };
    // Doorbells (virtio queue notify addresses) become ioeventfds: a kick stays in the kernel.
    // VIREO_NO_IOEVENTFD=1 keeps them as exits (for comparison: bench/, docs/engine.md).
    if (
      !process.env.VIREO_NO_IOEVENTFD &&
      libc().ioctlValue(this.vmFd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0
    ) {
      const doorbells = new KvmDoorbells(this.vmFd, {
        onLog: (line) => options.onLog?.(line),
        onError: (e) =>
          onFault({
            reason: 'device fault',
            detail: `a device failed on a doorbell (ioeventfd): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
          }),
      });
      this.doorbells = doorbells;
      this.doorbellLog = (line) => options.onLog?.(line);
      doorbells.sync(options.buses.mmio);
      options.buses.mmio.onChange(() => doorbells.sync(options.buses.mmio));
    }

    const started: Promise<KvmVcpu>[] = [];
    for (let index = 0; index < count; index++) {
      const mailbox = createMailbox();
      Atomics.store(mailbox.words, MB_CONTROL, CONTROL_PAUSE); // parked until every vCPU is ready
      const workerData: VcpuWorkerData = {
        index,
        vmFd: this.vmFd,
        runSize: this.runSize,
        cpuid: encodeCpuid(cpuidForVcpu(this.supportedCpuid, index, count)),
        initialState: options.initialStates[index],
        mailbox: mailbox.buffer,
        claimedPorts: this.claimedPorts,
        sharedReads: options.buses.ports.sharedReads.buffer,
        sharedInterruptStatus: options.buses.mmio.sharedInterruptStatus.map((r) => ({ ...r })),
        postedMmio: options.buses.mmio
          .list()
          .filter((r) => r.posted)
          .flatMap((r) => [r.base, r.base + r.length]),
      };
      const worker = new Worker(this.options.workerUrl, { workerData });
      started.push(
        new Promise<KvmVcpu>((resolve, reject) => {
          let resolveStopped!: () => void;
          const stopped = new Promise<void>((r) => (resolveStopped = r));
          let ready = false;
          let vcpu: KvmVcpu | undefined;
          const markExited = (): void => {
            if (vcpu) vcpu.exited = true;
            resolveStopped();
          };
          worker.on('message', (m: VcpuWorkerMessage) => {
            if (m.type === 'ready') {
              ready = true;
              vcpu = {
                index,
                worker,
                mailbox,
                thread: m.thread,
                runAddress: m.runAddress,
                stopped,
                exited: false,
                exitCounts: (): VcpuExitCounts => readExitCounts(mailbox),
              };
              resolve(vcpu);
            } else if (m.type === 'fault') {
              const fault: VcpuFault = { reason: m.reason, detail: m.detail, vcpu: index };
              if (m.regs) fault.regs = m.regs;
              if (m.sregs) fault.sregs = m.sregs;
              if (!ready) reject(new Error(`vCPU ${index}: ${m.reason}: ${m.detail}`));
              else onFault(fault);
            } else if (m.type === 'posted-writes') {
              // In order, as the guest wrote them; a device that throws ends the VM as any fault.
              try {
                for (const w of m.writes)
                  (w.mmio ? options.buses.mmio : options.buses.ports).write(w.port, w.data);
              } catch (e) {
                onFault({
                  reason: 'device fault',
                  detail: e instanceof Error ? (e.stack ?? e.message) : String(e),
                  vcpu: index,
                });
              }
            } else if (m.type === 'system-event') {
              options.onSystemEvent?.(m.event);
            } else {
              markExited();
            }
          });
          worker.on('error', (e) => {
            if (!ready) reject(e);
            else
              onFault({
                reason: 'engine exception in vCPU thread',
                detail: e.stack ?? String(e),
                vcpu: index,
              });
          });
          worker.on('exit', () => {
            markExited();
            if (!ready) reject(new Error(`vCPU ${index} thread exited before it was ready`));
          });
          void serveMailbox(
            mailbox,
            options.buses,
            this.serving.signal,
            (e) =>
              onFault({
                reason: 'device fault',
                detail: e instanceof Error ? (e.stack ?? e.message) : String(e),
                vcpu: index,
              }),
            this.options.exitBurstMs,
          );
        }),
      );
    }
    const results = await Promise.allSettled(started);
    this.vcpus = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      await this.destroy();
      throw failed.reason;
    }
    this.resume();
    return this.vcpus;
  }

  /**
   * Brings the shared claimed-port map in line with the bus. Built aside and copied byte by
   * byte where it differs, so a vCPU thread reading it meanwhile never sees a claimed port
   * pass through "unclaimed".
   */
  private markClaimedPorts(ports: Bus): void {
    const next = new Uint8Array(65536);
    for (const r of ports.list())
      next.fill(
        r.posted ? PORT_POSTED : r.sharedRead ? PORT_SHARED_READ : PORT_CLAIMED,
        r.base,
        Math.min(r.base + r.length, 65536),
      );
    const claimed = new Uint8Array(this.claimedPorts);
    for (let port = 0; port < 65536; port++)
      if (claimed[port] !== next[port]) claimed[port] = next[port]!;
  }

  /** Makes every vCPU leave KVM_RUN soon: immediate_exit for the next entry, a signal for now. */
  private kick(vcpu: KvmVcpu): void {
    // The worker unmaps kvm_run and exits after it parks for good: touch neither once it has.
    if (vcpu.exited || Atomics.load(vcpu.mailbox.words, MB_EXITED) === 1) return;
    const c = libc();
    c.copyToNative(vcpu.runAddress + RUN_IMMEDIATE_EXIT, IMMEDIATE_EXIT_ON, 1);
    c.tgkill(process.pid, vcpu.thread, SIGUSR2);
  }

  async pause(): Promise<void> {
    for (const v of this.vcpus) {
      Atomics.store(v.mailbox.words, MB_CONTROL, CONTROL_PAUSE);
      this.kick(v);
    }
    // Wait (without blocking this thread, which serves the vCPUs' exits) until each is parked.
    await Promise.all(
      this.vcpus.map(async (v) => {
        while (Atomics.load(v.mailbox.words, MB_PARKED) === 0) {
          const w = waitAsync(v.mailbox.words, MB_PARKED, 0, 100);
          // A signal can land just before the vCPU re-enters KVM_RUN; immediate_exit covers
          // that, but kick again after a quiet 100 ms rather than trust a single shot.
          if (w.async && (await w.value) === 'timed-out') this.kick(v);
        }
      }),
    );
  }

  resume(): void {
    for (const v of this.vcpus) {
      Atomics.store(v.mailbox.words, MB_CONTROL, CONTROL_RUN);
      Atomics.notify(v.mailbox.words, MB_CONTROL);
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const v of this.vcpus) {
      const w = v.mailbox.words;
      Atomics.store(w, MB_CONTROL, CONTROL_STOP);
      Atomics.notify(w, MB_CONTROL);
      // Release a vCPU waiting for an exit answer; it sees STOP before entering the guest again.
      Atomics.store(w, MB_STATE, STATE_RESPONSE);
      Atomics.notify(w, MB_STATE);
      this.kick(v);
    }
    this.serving.abort();
    if (this.doorbells) {
      this.doorbellLog?.(`ioeventfd: ${this.doorbells.rings} doorbell rings`);
      this.doorbells.close();
    }
    await Promise.all(
      this.vcpus.map(async (v) => {
        await Promise.race([v.stopped, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
        await v.worker.terminate();
        v.exited = true;
        libc().munmap(v.runAddress, this.runSize);
      }),
    );
    libc().close(this.vmFd);
  }
}

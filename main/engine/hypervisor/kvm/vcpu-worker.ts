/**
 * One vCPU: a worker_thread that creates the vCPU, loads its state and loops on KVM_RUN.
 * KVM wants every vCPU ioctl from the thread that created the vCPU (api.rst, "vcpu ioctls"),
 * so creation and the run loop live here, synchronously; koffi's .async pool is never used.
 *
 * After each exit the worker copies the head of kvm_run into a Buffer it owns (one memcpy; no
 * koffi.view, which Electron's memory cage forbids). Port exits to ports no device claims are
 * answered here (reads all-ones, writes dropped, as an ISA bus without a decoder); the rest go
 * to the device thread through the exit mailbox (../exit-mailbox.ts).
 *
 * Bundled to out/engine/vcpu-worker.js (scripts/build.mjs).
 *
 * Runtime: engine (vCPU worker thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  CONTROL_PAUSE,
  CONTROL_STOP,
  KIND_MMIO,
  KIND_PIO,
  MB_ADDRESS_HI,
  MB_ADDRESS_LO,
  MB_CONTROL,
  MB_COUNT,
  MB_DATA_SIZE,
  MB_EXITED,
  MB_EXITS,
  MB_IO_EXITS,
  MB_IS_WRITE,
  MB_KIND,
  MB_LOCAL_EXITS,
  MB_MMIO_EXITS,
  MB_PARKED,
  MB_SIZE,
  MB_STATE,
  STATE_IDLE,
  STATE_REQUEST,
  createMailbox,
  spinWhileEquals,
} from '../exit-mailbox.js';
import {
  EAGAIN,
  EINTR,
  INTERNAL_ERROR_NAMES,
  KVM_CREATE_VCPU,
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_INTR,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_IRQ_WINDOW_OPEN,
  KVM_EXIT_MMIO,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_IRQ_LINE,
  KVM_RUN,
  KVM_SET_CPUID2,
  KVM_SET_MSRS,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SYSTEM_EVENT_CRASH,
  KVM_SYSTEM_EVENT_RESET,
  KVM_SYSTEM_EVENT_SHUTDOWN,
  RUN_EXIT_REASON,
  RUN_FAIL_ENTRY_REASON,
  RUN_HEADER_COPY,
  RUN_IMMEDIATE_EXIT,
  RUN_INTERNAL_DATA,
  RUN_INTERNAL_NDATA,
  RUN_INTERNAL_SUBERROR,
  RUN_IO_COUNT,
  RUN_IO_DATA_OFFSET,
  RUN_IO_DIRECTION,
  RUN_IO_PORT,
  RUN_IO_SIZE,
  RUN_MMIO_DATA,
  RUN_MMIO_IS_WRITE,
  RUN_MMIO_LEN,
  RUN_MMIO_PHYS_ADDR,
  RUN_SYSTEM_EVENT_TYPE,
  SIZEOF_KVM_REGS,
  SIZEOF_KVM_SREGS,
  exitReasonName,
} from './kvm-abi.js';
import { decodeRegs, decodeSregs, encodeMsrs, patchRegs, patchSregs } from './kvm-structs.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE, SyscallError, check, libc } from './libc.js';
import { PORT_POSTED, PORT_SHARED_READ } from './vcpu-protocol.js';
import { SHARED_READ_VALID } from '../../bus.js';
import type { VcpuWorkerData, VcpuWorkerMessage } from './vcpu-protocol.js';

const data = workerData as VcpuWorkerData;
const port = parentPort!;
const c = libc();
const mailbox = createMailbox(data.mailbox);
const words = mailbox.words;
const claimedPorts = new Uint8Array(data.claimedPorts);
const sharedReads = new Uint16Array(data.sharedReads);
/** With VIREO_TRACE_EXITS every port exit goes to the device thread, so the trace sees it. */
if (process.env.VIREO_TRACE_EXITS) claimedPorts.fill(1);

function post(message: VcpuWorkerMessage): void {
  port.postMessage(message);
}

const vcpuFd = check('KVM_CREATE_VCPU', c.ioctlValue(data.vmFd, KVM_CREATE_VCPU, data.index));
const runAddress = c.mmap(0, data.runSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpuFd, 0);
if (runAddress < 0) throw new SyscallError('mmap of kvm_run', c.errno());

const regsBuf = Buffer.alloc(SIZEOF_KVM_REGS);
const sregsBuf = Buffer.alloc(SIZEOF_KVM_SREGS);

function loadInitialState(): void {
  check('KVM_SET_CPUID2', c.ioctlBuffer(vcpuFd, KVM_SET_CPUID2, data.cpuid));
  const state = data.initialState;
  if (!state) return;
  if (state.sregs) {
    check('KVM_GET_SREGS', c.ioctlBuffer(vcpuFd, KVM_GET_SREGS, sregsBuf));
    patchSregs(sregsBuf, state.sregs);
    check('KVM_SET_SREGS', c.ioctlBuffer(vcpuFd, KVM_SET_SREGS, sregsBuf));
  }
  if (state.regs) {
    check('KVM_GET_REGS', c.ioctlBuffer(vcpuFd, KVM_GET_REGS, regsBuf));
    patchRegs(regsBuf, state.regs);
    check('KVM_SET_REGS', c.ioctlBuffer(vcpuFd, KVM_SET_REGS, regsBuf));
  }
  if (state.msrs && state.msrs.size > 0) {
    // KVM_SET_MSRS returns how many it set; fewer than asked means one index was refused.
    const done = check('KVM_SET_MSRS', c.ioctlBuffer(vcpuFd, KVM_SET_MSRS, encodeMsrs(state.msrs)));
    if (done !== state.msrs.size) {
      const refused = [...state.msrs.keys()][done]!;
      throw new Error(`KVM_SET_MSRS refused MSR 0x${refused.toString(16)}`);
    }
  }
}

/** Registers at the time of a fault, best effort: a dead vCPU may refuse even these. */
function snapshot(): Pick<Extract<VcpuWorkerMessage, { type: 'fault' }>, 'regs' | 'sregs'> {
  try {
    check('KVM_GET_REGS', c.ioctlBuffer(vcpuFd, KVM_GET_REGS, regsBuf));
    check('KVM_GET_SREGS', c.ioctlBuffer(vcpuFd, KVM_GET_SREGS, sregsBuf));
    return { regs: decodeRegs(regsBuf), sregs: decodeSregs(sregsBuf) };
  } catch {
    return {};
  }
}

const zeroByte = new Uint8Array(1);

/** Parks while the device thread says PAUSE; returns the control word it ended with. */
function parkWhilePaused(): number {
  let control = Atomics.load(words, MB_CONTROL);
  while (control === CONTROL_PAUSE) {
    Atomics.store(words, MB_PARKED, 1);
    Atomics.notify(words, MB_PARKED);
    Atomics.wait(words, MB_CONTROL, CONTROL_PAUSE);
    control = Atomics.load(words, MB_CONTROL);
  }
  Atomics.store(words, MB_PARKED, 0);
  // The kick set immediate_exit; clear it so the next KVM_RUN enters the guest.
  c.copyToNative(runAddress + RUN_IMMEDIATE_EXIT, zeroByte, 1);
  return control;
}

/**
 * Writes to posted ports not yet sent, in guest order. Sent when a line ends (byte 0x0A), when
 * {@link POSTED_BATCH} pile up, and before any other exit is handled, so a device never sees
 * them after a later access of the same vCPU.
 */
let posted: { port: number; data: Uint8Array }[] = [];
const postedMmio = data.postedMmio;

const sharedStatus = data.sharedInterruptStatus.map((r) => ({
  ...r,
  word: new Int32Array(r.buffer, 0, 1),
}));
const irqLevel = Buffer.alloc(8);
const mmioWord = Buffer.alloc(4);

function setIrq(gsi: number, level: boolean): void {
  // struct kvm_irq_level { u32 irq; u32 level; } on the VM fd (thread-safe in KVM).
  irqLevel.writeUInt32LE(gsi, 0);
  irqLevel.writeUInt32LE(level ? 1 : 0, 4);
  check('KVM_IRQ_LINE', c.ioctlBuffer(data.vmFd, KVM_IRQ_LINE, irqLevel));
}

/**
 * Answers an interrupt status read or ACK write from shared memory (bus.ts
 * SharedInterruptStatus); false when `address` is not such a register. After lowering the line
 * the word is read again: a completion that raced the ACK raises it once more.
 */
function answerSharedStatus(address: number, isWrite: boolean): boolean {
  for (const r of sharedStatus) {
    if (!isWrite && address === r.statusAddress) {
      mmioWord.writeUInt32LE(Atomics.load(r.word, 0) >>> 0, 0);
      c.copyToNative(runAddress + RUN_MMIO_DATA, mmioWord, 4);
      return true;
    }
    if (isWrite && address === r.ackAddress) {
      const ack = run.readUInt32LE(RUN_MMIO_DATA) | 0;
      const before = Atomics.and(r.word, 0, ~ack);
      if ((before & ~ack) === 0) {
        setIrq(r.gsi, false);
        if (Atomics.load(r.word, 0) !== 0) setIrq(r.gsi, true);
      }
      return true;
    }
  }
  return false;
}

function isPostedMmio(address: number): boolean {
  for (let i = 0; i < postedMmio.length; i += 2)
    if (address >= postedMmio[i]! && address < postedMmio[i + 1]!) return true;
  return false;
}
const POSTED_BATCH = 256;

function flushPosted(): void {
  if (posted.length === 0) return;
  post({ type: 'posted-writes', writes: posted });
  posted = [];
}

/** Hands the exit in the mailbox to the device thread and waits for its answer. */
function roundTrip(): void {
  Atomics.store(words, MB_STATE, STATE_REQUEST);
  Atomics.notify(words, MB_STATE);
  // Most answers take a few microseconds: poll first, sleep only if the device thread is slow.
  spinWhileEquals(words, MB_STATE, STATE_REQUEST);
  while (Atomics.load(words, MB_STATE) === STATE_REQUEST) {
    Atomics.wait(words, MB_STATE, STATE_REQUEST);
  }
  Atomics.store(words, MB_STATE, STATE_IDLE);
}

const run = Buffer.alloc(RUN_HEADER_COPY);

function fault(reason: string, detail: string): void {
  flushPosted();
  post({ type: 'fault', reason, detail, ...snapshot() });
}

/** The run loop. Returns when told to stop or after reporting a fault. */
function runLoop(): void {
  const pageData = mailbox.data;
  for (;;) {
    const control = Atomics.load(words, MB_CONTROL);
    if (control === CONTROL_STOP) return;
    if (control === CONTROL_PAUSE && parkWhilePaused() === CONTROL_STOP) return;

    const result = c.ioctlValue(vcpuFd, KVM_RUN, 0);
    if (result < 0) {
      const errno = c.errno();
      // EINTR: kicked (immediate_exit or our signal); EAGAIN: an AP still waiting for SIPI.
      if (errno === EINTR || errno === EAGAIN) continue;
      fault('KVM_RUN failed', new SyscallError('KVM_RUN', errno).message);
      return;
    }
    c.copyFromNative(run, runAddress, RUN_HEADER_COPY);
    const reason = run.readUInt32LE(RUN_EXIT_REASON);
    words[MB_EXITS] = (words[MB_EXITS]! + 1) | 0;

    if (reason !== KVM_EXIT_IO) flushPosted();
    switch (reason) {
      case KVM_EXIT_IO: {
        words[MB_IO_EXITS] = (words[MB_IO_EXITS]! + 1) | 0;
        const isWrite = run.readUInt8(RUN_IO_DIRECTION) === KVM_EXIT_IO_OUT;
        const size = run.readUInt8(RUN_IO_SIZE);
        const ioPort = run.readUInt16LE(RUN_IO_PORT);
        const count = run.readUInt32LE(RUN_IO_COUNT);
        const bytes = size * count;
        const dataAddress = runAddress + Number(run.readBigUInt64LE(RUN_IO_DATA_OFFSET));
        if (bytes > MB_DATA_SIZE) {
          fault('bad I/O exit', `port 0x${ioPort.toString(16)}: ${count} x ${size} bytes`);
          return;
        }
        if (claimedPorts[ioPort] === PORT_POSTED && isWrite) {
          // A log port: hand the bytes over without waiting for the device thread.
          c.copyFromNative(pageData, dataAddress, bytes);
          for (let i = 0; i < count; i++)
            posted.push({ port: ioPort, data: pageData.slice(i * size, (i + 1) * size) });
          const lineEnd = size === 1 && pageData[bytes - 1] === 0x0a;
          if (posted.length >= POSTED_BATCH || lineEnd) flushPosted();
          break;
        }
        flushPosted();
        const shared =
          claimedPorts[ioPort] === PORT_SHARED_READ && !isWrite && bytes === 1
            ? Atomics.load(sharedReads, ioPort)
            : 0;
        if (shared & SHARED_READ_VALID) {
          // A register the device keeps current in shared memory while reading it has no side
          // effect (an IDE alternate status polled between PIO blocks, COM1's LSR polled before
          // every console byte): no round trip.
          words[MB_LOCAL_EXITS] = (words[MB_LOCAL_EXITS]! + 1) | 0;
          pageData[0] = shared & 0xff;
          c.copyToNative(dataAddress, pageData, 1);
          break;
        }
        if (claimedPorts[ioPort] === 0) {
          // No device decodes this port: reads float high, writes vanish (no round trip).
          words[MB_LOCAL_EXITS] = (words[MB_LOCAL_EXITS]! + 1) | 0;
          if (!isWrite) {
            pageData.fill(0xff, 0, bytes);
            c.copyToNative(dataAddress, pageData, bytes);
          }
          break;
        }
        words[MB_KIND] = KIND_PIO;
        words[MB_IS_WRITE] = isWrite ? 1 : 0;
        words[MB_SIZE] = size;
        words[MB_COUNT] = count;
        words[MB_ADDRESS_LO] = ioPort;
        words[MB_ADDRESS_HI] = 0;
        if (isWrite) c.copyFromNative(pageData, dataAddress, bytes);
        roundTrip();
        if (!isWrite) c.copyToNative(dataAddress, pageData, bytes);
        break;
      }
      case KVM_EXIT_MMIO: {
        words[MB_MMIO_EXITS] = (words[MB_MMIO_EXITS]! + 1) | 0;
        const address = run.readBigUInt64LE(RUN_MMIO_PHYS_ADDR);
        const len = run.readUInt32LE(RUN_MMIO_LEN);
        const isWrite = run.readUInt8(RUN_MMIO_IS_WRITE) !== 0;
        if (len < 1 || len > 8) {
          fault('bad MMIO exit', `length ${len} at 0x${address.toString(16)}`);
          return;
        }
        if (len === 4 && answerSharedStatus(Number(address), isWrite)) break;
        if (isWrite && isPostedMmio(Number(address))) {
          // A doorbell (virtio QueueNotify): the device thread gets it, the vCPU runs on.
          flushPosted();
          post({
            type: 'posted-writes',
            writes: [
              {
                port: Number(address),
                data: run.subarray(RUN_MMIO_DATA, RUN_MMIO_DATA + len).slice(),
                mmio: true,
              },
            ],
          });
          break;
        }
        words[MB_KIND] = KIND_MMIO;
        words[MB_IS_WRITE] = isWrite ? 1 : 0;
        words[MB_SIZE] = len;
        words[MB_COUNT] = 1;
        words[MB_ADDRESS_LO] = Number(address & 0xffffffffn) | 0;
        words[MB_ADDRESS_HI] = Number(address >> 32n) | 0;
        if (isWrite) pageData.set(run.subarray(RUN_MMIO_DATA, RUN_MMIO_DATA + len));
        roundTrip();
        if (!isWrite) c.copyToNative(runAddress + RUN_MMIO_DATA, pageData, len);
        break;
      }
      case KVM_EXIT_INTR:
      case KVM_EXIT_IRQ_WINDOW_OPEN:
        break;
      case KVM_EXIT_HLT:
        // With the in-kernel LAPIC, KVM handles HLT itself; seeing it means interrupts are off
        // forever (cli; hlt): the guest has stopped itself. Report it rather than spin.
        fault('guest halted with interrupts disabled', 'KVM_EXIT_HLT with the in-kernel irqchip');
        return;
      case KVM_EXIT_SHUTDOWN:
        // A triple fault (Intel SDM vol. 3A 6.15, "double fault" -> shutdown).
        fault('triple fault', 'KVM_EXIT_SHUTDOWN: the guest triple-faulted (CPU shutdown)');
        return;
      case KVM_EXIT_FAIL_ENTRY: {
        const code = run.readBigUInt64LE(RUN_FAIL_ENTRY_REASON);
        fault(
          'KVM_EXIT_FAIL_ENTRY',
          `the CPU refused to enter the guest: hardware_entry_failure_reason 0x${code.toString(16)}`,
        );
        return;
      }
      case KVM_EXIT_INTERNAL_ERROR: {
        const sub = run.readUInt32LE(RUN_INTERNAL_SUBERROR);
        const n = Math.min(run.readUInt32LE(RUN_INTERNAL_NDATA), 16);
        const extra: string[] = [];
        for (let i = 0; i < n; i++)
          extra.push(`0x${run.readBigUInt64LE(RUN_INTERNAL_DATA + i * 8).toString(16)}`);
        fault(
          'KVM_EXIT_INTERNAL_ERROR',
          `${INTERNAL_ERROR_NAMES[sub] ?? `suberror ${sub}`}${extra.length ? `; data ${extra.join(' ')}` : ''}`,
        );
        return;
      }
      case KVM_EXIT_SYSTEM_EVENT: {
        const type = run.readUInt32LE(RUN_SYSTEM_EVENT_TYPE);
        if (type === KVM_SYSTEM_EVENT_SHUTDOWN || type === KVM_SYSTEM_EVENT_RESET) {
          post({
            type: 'system-event',
            event: type === KVM_SYSTEM_EVENT_RESET ? 'reset' : 'shutdown',
          });
          return;
        }
        fault(
          'KVM_EXIT_SYSTEM_EVENT',
          type === KVM_SYSTEM_EVENT_CRASH ? 'the guest reported a crash' : `event type ${type}`,
        );
        return;
      }
      default:
        fault('unexpected exit', `${exitReasonName(reason)} is not handled by the engine`);
        return;
    }
  }
}

try {
  loadInitialState();
  post({ type: 'ready', thread: c.gettid(), runAddress });
  runLoop();
  flushPosted();
} catch (e) {
  post({
    type: 'fault',
    reason: 'engine exception in vCPU thread',
    detail: e instanceof Error ? (e.stack ?? e.message) : String(e),
    ...snapshot(),
  });
} finally {
  // kvm_run stays mapped: the device thread may still write immediate_exit into it during a
  // last kick, so KvmVm.destroy unmaps it once this thread has ended.
  Atomics.store(words, MB_EXITED, 1);
  Atomics.store(words, MB_PARKED, 1);
  Atomics.notify(words, MB_PARKED);
  c.close(vcpuFd);
  post({ type: 'stopped' });
}

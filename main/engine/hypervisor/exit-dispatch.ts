/**
 * Exit dispatch on the device thread: answers the port I/O and MMIO exits vCPU threads post in
 * their mailboxes by calling the one port bus or the one MMIO bus. Devices see `read(offset,
 * data)` / `write(offset, data)` only; nothing here knows which backend produced the exit.
 *
 * Waiting uses Atomics.waitAsync, so the device thread's event loop stays free for timers,
 * the serial console and IPC between exits.
 *
 * Runtime: engine (device thread).
 */
import type { Bus } from '../bus.js';
import {
  KIND_MMIO,
  KIND_PIO,
  MB_ADDRESS_HI,
  MB_ADDRESS_LO,
  MB_COUNT,
  MB_IS_WRITE,
  MB_KIND,
  MB_SIZE,
  MB_STATE,
  STATE_REQUEST,
  STATE_RESPONSE,
  type ExitMailbox,
  spinWhileEquals,
  waitAsync,
} from './exit-mailbox.js';

export interface ExitBuses {
  ports: Bus;
  mmio: Bus;
}

/**
 * How long (ms) the device thread keeps waiting synchronously for the next exit of a burst
 * before it returns to its event loop. VIREO_EXIT_BURST_MS overrides it (0 turns it off).
 */
export const BURST_WINDOW_MS = Number(process.env.VIREO_EXIT_BURST_MS ?? 2);

/** A device model threw while handling an exit: the VM must end as "aborted". */
export class DeviceFaultError extends Error {
  constructor(
    readonly access: string,
    override readonly cause: unknown,
  ) {
    super(
      `device model failed on ${access}: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`,
    );
    this.name = 'DeviceFaultError';
  }
}

/**
 * The last exits answered on the device thread, oldest first, when VIREO_TRACE_EXITS=N asks for
 * N of them: a fault report then shows what the guest did just before (a debugging aid; off by
 * default because formatting every exit costs time).
 */
export const exitTrace: string[] = [];
const TRACE_LENGTH = Math.max(
  0,
  Math.min(100_000, Number(process.env.VIREO_TRACE_EXITS ?? 0) || 0),
);

function traceExit(kind: number, isWrite: boolean, address: number, data: Uint8Array): void {
  let value = 0;
  for (let i = data.length - 1; i >= 0; i--) value = value * 256 + data[i]!;
  exitTrace.push(
    `${kind === KIND_PIO ? 'port' : 'mmio'} ${isWrite ? 'write' : 'read '} 0x${address.toString(16)} = 0x${value.toString(16)} (${data.length})`,
  );
  if (exitTrace.length > TRACE_LENGTH) exitTrace.shift();
}

/** Answers the request currently in `mailbox` (STATE must be REQUEST). Exported for tests. */
export function answerExit(mailbox: ExitMailbox, buses: ExitBuses): void {
  const w = mailbox.words;
  const kind = w[MB_KIND]!;
  const isWrite = w[MB_IS_WRITE] !== 0;
  const size = w[MB_SIZE]!;
  const count = w[MB_COUNT]!;
  const address = (w[MB_ADDRESS_LO]! >>> 0) + (w[MB_ADDRESS_HI]! >>> 0) * 2 ** 32;
  const bus = kind === KIND_PIO ? buses.ports : kind === KIND_MMIO ? buses.mmio : undefined;
  if (!bus || size < 1 || size > 8 || count < 1 || size * count > mailbox.data.length) {
    throw new DeviceFaultError(
      `malformed exit (kind ${kind}, size ${size}, count ${count})`,
      new Error('the vCPU thread posted an exit the dispatcher cannot decode'),
    );
  }
  try {
    // String I/O (rep ins/outs) arrives as `count` elements of `size` bytes, all at one port:
    // one call for devices that take whole strings (a disk's data port), else one per element.
    if (count > 1 && TRACE_LENGTH === 0) {
      const data = mailbox.data.subarray(0, count * size);
      if (isWrite) bus.writeString(address, size, data);
      else bus.readString(address, size, data);
    } else {
      for (let i = 0; i < count; i++) {
        const data = mailbox.data.subarray(i * size, (i + 1) * size);
        if (isWrite) bus.write(address, data);
        else bus.read(address, data);
        if (TRACE_LENGTH > 0) traceExit(kind, isWrite, address, data);
      }
    }
  } catch (e) {
    const what = kind === KIND_PIO ? 'port' : 'MMIO';
    throw new DeviceFaultError(
      `${isWrite ? 'write to' : 'read from'} ${what} 0x${address.toString(16)} (size ${size})`,
      e,
    );
  }
}

/**
 * Serves one vCPU's mailbox until `signal` aborts. A device fault is passed to `onFault` and
 * stops serving that mailbox (the VM is going down).
 */
export async function serveMailbox(
  mailbox: ExitMailbox,
  buses: ExitBuses,
  signal: AbortSignal,
  onFault: (e: unknown) => void,
  burstWindowMs = BURST_WINDOW_MS,
): Promise<void> {
  const w = mailbox.words;
  let burstUntil = 0;
  while (!signal.aborted) {
    const state = Atomics.load(w, MB_STATE);
    if (state === STATE_REQUEST) {
      try {
        answerExit(mailbox, buses);
      } catch (e) {
        onFault(e);
        return;
      }
      Atomics.store(w, MB_STATE, STATE_RESPONSE);
      Atomics.notify(w, MB_STATE);
      if (burstUntil === 0) burstUntil = performance.now() + burstWindowMs;
      continue;
    }
    // Exits come in bursts (a UART driver reads LSR, then writes THR; string output is one
    // exit per byte). For a short window after an answer, wait for the next request with a
    // blocking futex wait: one wake-up instead of the event loop's (epoll + task queue),
    // which measured several times slower. The window bounds how long timers and IPC wait.
    const left = burstUntil - performance.now();
    if (left > 0) {
      // The next exit of a burst usually follows within microseconds: poll before sleeping.
      if (!spinWhileEquals(w, MB_STATE, state)) Atomics.wait(w, MB_STATE, state, left);
      continue;
    }
    if (burstUntil !== 0) {
      // The burst is over: let timers, console input and IPC run before waiting again.
      burstUntil = 0;
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    // Wake on the next notify (a new request), or re-check every second so `signal` is seen.
    const waited = waitAsync(w, MB_STATE, state, 1000);
    if (waited.async) await waited.value;
  }
}

/**
 * The mailbox through which a vCPU thread hands a port I/O or MMIO exit to the device thread
 * and waits for the answer: one small SharedArrayBuffer per vCPU, driven with Atomics.
 *
 * Handshake (one exit round trip):
 *   vCPU thread:   fill kind/address/size/count (+ data for writes); STATE := REQUEST;
 *                  Atomics.notify(STATE); Atomics.wait(STATE, REQUEST)
 *   device thread: woken by Atomics.waitAsync; dispatch to the bus; (fill data for reads);
 *                  STATE := RESPONSE; Atomics.notify(STATE)
 *   vCPU thread:   copy read data back into kvm_run; STATE := IDLE; KVM_RUN again.
 * The same slots carry the run-control word (run/pause/stop) the device thread sets before
 * kicking the vCPU out of KVM_RUN, and counters the vCPU thread bumps for diagnostics.
 *
 * Backend-neutral: an HVF backend would fill the same mailbox from hv_vcpu_run exits.
 *
 * Runtime: engine (device thread and vCPU workers).
 */

/** Int32 slot indices. */
export const MB_STATE = 0;
export const MB_CONTROL = 1;
export const MB_KIND = 2;
export const MB_IS_WRITE = 3;
export const MB_SIZE = 4;
export const MB_COUNT = 5;
export const MB_ADDRESS_LO = 6;
export const MB_ADDRESS_HI = 7;
/** 1 while the vCPU thread is parked (paused) or has stopped: the device thread waits for it. */
export const MB_PARKED = 8;
/**
 * Set by the vCPU thread before it unmaps kvm_run and ends. There is still a window between
 * the device thread reading 0 here and signalling; immediate_exit writes then land in a page
 * the worker unmaps only after setting this, and the signal goes by thread id (ESRCH if gone).
 */
export const MB_EXITED = 9;
export const MB_EXITS = 12;
export const MB_IO_EXITS = 13;
export const MB_MMIO_EXITS = 14;
/** Port exits answered in the vCPU thread (no device claims the port) without a round trip. */
export const MB_LOCAL_EXITS = 15;

export const STATE_IDLE = 0;
export const STATE_REQUEST = 1;
export const STATE_RESPONSE = 2;

export const CONTROL_RUN = 0;
export const CONTROL_PAUSE = 1;
export const CONTROL_STOP = 2;

export const KIND_PIO = 1;
export const KIND_MMIO = 2;

/** Byte offset of the data area: room for one page of string I/O (rep outsb/insw). */
export const MB_DATA = 64;
export const MB_DATA_SIZE = 4096;
export const MAILBOX_BYTES = MB_DATA + MB_DATA_SIZE;

export interface ExitMailbox {
  readonly buffer: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly data: Uint8Array;
}

export function createMailbox(buffer = new SharedArrayBuffer(MAILBOX_BYTES)): ExitMailbox {
  return {
    buffer,
    words: new Int32Array(buffer, 0, MB_DATA / 4),
    data: new Uint8Array(buffer, MB_DATA, MB_DATA_SIZE),
  };
}

/** Exit counters a vCPU thread has recorded so far. */
export interface VcpuExitCounts {
  exits: number;
  ioExits: number;
  mmioExits: number;
  localExits: number;
}

export function readExitCounts(mailbox: ExitMailbox): VcpuExitCounts {
  const w = mailbox.words;
  return {
    exits: Atomics.load(w, MB_EXITS) >>> 0,
    ioExits: Atomics.load(w, MB_IO_EXITS) >>> 0,
    mmioExits: Atomics.load(w, MB_MMIO_EXITS) >>> 0,
    localExits: Atomics.load(w, MB_LOCAL_EXITS) >>> 0,
  };
}

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

/**
 * Atomics.waitAsync (ES2024; in V8 and Node since 16), typed here because the project's
 * TypeScript lib predates it. Waits without blocking the calling thread's event loop.
 */
export function waitAsync(
  words: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
): WaitAsyncResult {
  return (
    Atomics as unknown as {
      waitAsync(a: Int32Array, i: number, v: number, t: number): WaitAsyncResult;
    }
  ).waitAsync(words, index, value, timeoutMs);
}

/**
 * How long (microseconds) a thread polls a mailbox word before it falls back to a futex wait.
 * A futex wake-up costs a trip through the host scheduler (measured ~250 us per direction in
 * the nested test machine); an exit answered within the spin never pays it. Both sides spin:
 * the vCPU thread for the answer, the device thread for the next request of a burst.
 * VIREO_EXIT_SPIN_US overrides it (0 turns spinning off).
 */
export const SPIN_MICROSECONDS = Number(process.env.VIREO_EXIT_SPIN_US ?? 60);

/**
 * Polls `words[index]` until it differs from `value` or `microseconds` passed. Returns true
 * when it changed. The clock is read every 64 polls: performance.now() is not free.
 */
export function spinWhileEquals(
  words: Int32Array,
  index: number,
  value: number,
  microseconds = SPIN_MICROSECONDS,
): boolean {
  if (microseconds <= 0) return Atomics.load(words, index) !== value;
  const until = performance.now() + microseconds / 1000;
  for (;;) {
    for (let i = 0; i < 64; i++) if (Atomics.load(words, index) !== value) return true;
    if (performance.now() >= until) return false;
  }
}

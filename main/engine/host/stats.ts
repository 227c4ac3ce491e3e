/**
 * The VM host's 1 Hz sampler: CPU time of each vCPU thread, resident memory, and exits per
 * second by kind, as {@link VmStatsSample}s for the live charts (preload/contract.ts).
 *
 * CPU time comes from Linux's per-thread accounting: `/proc/self/task/<tid>/schedstat`, whose
 * first field is the time spent on a CPU in nanoseconds (Documentation/scheduler/sched-stats.rst),
 * falling back to utime + stime of `/proc/self/task/<tid>/stat` (proc(5), fields 14 and 15, in
 * USER_HZ ticks, 100 on x86 Linux). Time spent inside KVM_RUN is the guest's: the kernel
 * accounts it to the vCPU thread, so a busy guest reads as a busy thread.
 *
 * Runtime: engine (device thread).
 */
import { readFileSync } from 'node:fs';
import type { VmStatsSample } from '../../../preload/contract.js';
import type { VcpuExitCounts } from '../hypervisor/exit-mailbox.js';
import type { BlockStats } from '../devices/virtio-blk/index.js';

/** USER_HZ on Linux/x86 (proc(5): "clock ticks", sysconf(_SC_CLK_TCK)). */
const USER_HZ = 100;

/** CPU time a thread of this process has used, in nanoseconds, or null if it is gone. */
export function threadCpuNanoseconds(tid: number, procRoot = '/proc/self'): number | null {
  try {
    const schedstat = readFileSync(`${procRoot}/task/${tid}/schedstat`, 'utf8');
    const ns = Number(schedstat.split(' ')[0]);
    if (Number.isFinite(ns)) return ns;
  } catch {
    // No schedstat (kernel without CONFIG_SCHED_INFO): fall back to ticks below.
  }
  try {
    const stat = readFileSync(`${procRoot}/task/${tid}/stat`, 'utf8');
    // Fields after "(comm)" start at field 3; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
    return Number.isFinite(ticks) ? (ticks * 1e9) / USER_HZ : null;
  } catch {
    return null;
  }
}

/** Resident set size of this process in bytes (proc(5) statm field 2, in pages). */
function residentBytes(): number {
  try {
    const pages = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    if (Number.isFinite(pages)) return pages * 4096;
  } catch {
    // Not Linux: Node's own figure.
  }
  return process.memoryUsage().rss;
}

export interface SamplerInputs {
  /** OS thread ids of the vCPUs, in vCPU order (undefined where the backend has none). */
  vcpuThreads(): readonly (number | undefined)[];
  exitCounts(): VcpuExitCounts;
  guestMemoryBytes: number;
  /** Disks whose counters are taken (and reset) at every sample. */
  disks?(): readonly { name: string; takeStats(): BlockStats }[];
}

/** Turns successive readings into per-interval rates. One per running VM. */
export class VmStatsSampler {
  private last: { at: number; cpu: (number | null)[]; exits: VcpuExitCounts } | undefined;
  private readonly bootedAt: number;

  constructor(
    private readonly inputs: SamplerInputs,
    now = performance.now(),
  ) {
    this.bootedAt = now;
  }

  /** Takes a reading; the first call only sets the baseline and returns null. */
  sample(now = performance.now(), wallClock = Date.now()): VmStatsSample | null {
    const cpu = this.inputs
      .vcpuThreads()
      .map((t) => (t === undefined ? null : threadCpuNanoseconds(t)));
    const exits = this.inputs.exitCounts();
    const previous = this.last;
    this.last = { at: now, cpu, exits };
    if (!previous) return null;
    const seconds = Math.max((now - previous.at) / 1000, 1e-3);
    const vcpuPercent = cpu.map((ns, i) => {
      const before = previous.cpu[i];
      if (ns === null || before === null || before === undefined) return 0;
      return Math.max(0, ((ns - before) / 1e9 / seconds) * 100);
    });
    // Counters are uint32 in the mailbox: a wrap shows as a negative delta, read as 0.
    const rate = (a: number, b: number): number => Math.max(0, (a - b) / seconds);
    const io = rate(exits.ioExits, previous.exits.ioExits);
    const mmio = rate(exits.mmioExits, previous.exits.mmioExits);
    const all = rate(exits.exits, previous.exits.exits);
    return {
      time: wallClock,
      uptimeSeconds: (now - this.bootedAt) / 1000,
      cpuPercent: vcpuPercent.reduce((a, b) => a + b, 0),
      vcpuPercent,
      memory: {
        guestMiB: this.inputs.guestMemoryBytes / 2 ** 20,
        residentMiB: residentBytes() / 2 ** 20,
      },
      exitsPerSecond: { io, mmio, other: Math.max(0, all - io - mmio) },
      disks: (this.inputs.disks?.() ?? []).map((d) => diskFigures(d.name, d.takeStats(), seconds)),
      network: [],
    };
  }
}

/** One disk's figures over an interval: IOPS, throughput, mean and p99 latency, queue depth. */
export function diskFigures(
  name: string,
  s: BlockStats,
  seconds: number,
): VmStatsSample['disks'][number] {
  const sorted = [...s.latenciesMs].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0;
  const p99 = sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!
    : 0;
  return {
    name,
    readIops: s.reads / seconds,
    writeIops: s.writes / seconds,
    readBytesPerSecond: s.bytesRead / seconds,
    writeBytesPerSecond: s.bytesWritten / seconds,
    latencyMeanMs: mean,
    latencyP99Ms: p99,
    queueDepth: s.inFlight,
  };
}

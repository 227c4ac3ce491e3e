/**
 * What the Performance tab shows, computed from the VM host's 1 Hz samples: the latest figures
 * (disks summed) and one chart row per sample, its time in seconds relative to the newest.
 */
import type { VmStatsSample } from '../../../../preload/contract';

const MIB = 1024 * 1024;

export interface LatestFigures {
  uptimeSeconds: number;
  cpuPercent: number;
  guestMiB: number;
  residentMiB: number;
  readIops: number;
  writeIops: number;
  readMiBps: number;
  writeMiBps: number;
  /** Mean over disks weighted by their operations; p99 the worst disk's. */
  latencyMeanMs: number;
  latencyP99Ms: number;
  exitsPerSecond: number;
}

function diskTotals(s: VmStatsSample) {
  let readIops = 0;
  let writeIops = 0;
  let readBytes = 0;
  let writeBytes = 0;
  let weighted = 0;
  let p99 = 0;
  for (const d of s.disks) {
    readIops += d.readIops;
    writeIops += d.writeIops;
    readBytes += d.readBytesPerSecond;
    writeBytes += d.writeBytesPerSecond;
    weighted += d.latencyMeanMs * (d.readIops + d.writeIops);
    p99 = Math.max(p99, d.latencyP99Ms);
  }
  const ops = readIops + writeIops;
  return {
    readIops,
    writeIops,
    readMiBps: readBytes / MIB,
    writeMiBps: writeBytes / MIB,
    latencyMeanMs: ops > 0 ? weighted / ops : 0,
    latencyP99Ms: p99,
  };
}

export function latestFigures(samples: readonly VmStatsSample[]): LatestFigures {
  const s = samples.at(-1);
  if (!s)
    return {
      uptimeSeconds: 0,
      cpuPercent: 0,
      guestMiB: 0,
      residentMiB: 0,
      readIops: 0,
      writeIops: 0,
      readMiBps: 0,
      writeMiBps: 0,
      latencyMeanMs: 0,
      latencyP99Ms: 0,
      exitsPerSecond: 0,
    };
  return {
    uptimeSeconds: s.uptimeSeconds,
    cpuPercent: s.cpuPercent,
    guestMiB: s.memory.guestMiB,
    residentMiB: s.memory.residentMiB,
    ...diskTotals(s),
    exitsPerSecond: s.exitsPerSecond.io + s.exitsPerSecond.mmio + s.exitsPerSecond.other,
  };
}

export function toChartRows(samples: readonly VmStatsSample[]): Record<string, number>[] {
  const newest = samples.at(-1)?.time ?? 0;
  return samples.map((s) => {
    const row: Record<string, number> = {
      t: (s.time - newest) / 1000,
      cpu: s.cpuPercent,
      guestMiB: s.memory.guestMiB,
      residentMiB: s.memory.residentMiB,
      io: s.exitsPerSecond.io,
      mmio: s.exitsPerSecond.mmio,
      other: s.exitsPerSecond.other,
    };
    s.vcpuPercent.forEach((p, i) => (row[`vcpu${i}`] = p));
    const d = diskTotals(s);
    row.readIops = d.readIops;
    row.writeIops = d.writeIops;
    row.readMiBps = d.readMiBps;
    row.writeMiBps = d.writeMiBps;
    return row;
  });
}

/** "1 h 02 min 05 s", "3 min 07 s", "12 s". */
export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h} h ${pad(m)} min ${pad(r)} s`;
  if (m > 0) return `${m} min ${pad(r)} s`;
  return `${r} s`;
}

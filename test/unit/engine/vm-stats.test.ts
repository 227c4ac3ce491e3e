/**
 * The VM host's 1 Hz sampler (main/engine/host/stats.ts) against this very process: the main
 * thread stands in for a vCPU thread (its tid is the pid), so burning CPU between two samples
 * must show as CPU percent, and exit counters become rates.
 */
import { describe, expect, it } from 'vitest';
import { threadCpuNanoseconds, VmStatsSampler } from '../../../main/engine/host/stats.js';

function burn(ms: number): void {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  expect(x).toBeGreaterThan(0);
}

describe('VmStatsSampler', () => {
  it('reads per-thread CPU time from /proc', () => {
    const before = threadCpuNanoseconds(process.pid);
    expect(before).not.toBeNull();
    burn(50);
    expect(threadCpuNanoseconds(process.pid)!).toBeGreaterThan(before! + 20e6);
    expect(threadCpuNanoseconds(2 ** 30)).toBeNull();
  });

  it('turns thread CPU time and exit counters into per-second rates', () => {
    const exits = { exits: 100, ioExits: 60, mmioExits: 10, localExits: 5 };
    const sampler = new VmStatsSampler({
      vcpuThreads: () => [process.pid, undefined],
      exitCounts: () => ({ ...exits }),
      guestMemoryBytes: 256 * 2 ** 20,
    });
    const t0 = performance.now();
    expect(sampler.sample(t0)).toBeNull(); // baseline
    burn(300);
    exits.exits += 500;
    exits.ioExits += 300;
    exits.mmioExits += 100;
    const t1 = performance.now();
    const s = sampler.sample(t1, 1234)!;
    const seconds = (t1 - t0) / 1000;
    expect(s.time).toBe(1234);
    expect(s.vcpuPercent).toHaveLength(2);
    expect(s.vcpuPercent[0]).toBeGreaterThan(50);
    expect(s.vcpuPercent[0]).toBeLessThan(110);
    expect(s.vcpuPercent[1]).toBe(0);
    expect(s.cpuPercent).toBeCloseTo(s.vcpuPercent[0]!, 6);
    expect(s.exitsPerSecond.io).toBeCloseTo(300 / seconds, 6);
    expect(s.exitsPerSecond.mmio).toBeCloseTo(100 / seconds, 6);
    expect(s.exitsPerSecond.other).toBeCloseTo(100 / seconds, 6);
    expect(s.memory.guestMiB).toBe(256);
    expect(s.memory.residentMiB).toBeGreaterThan(10);
    expect(s.uptimeSeconds).toBeGreaterThan(0.29);
  });

  it('reads a counter that went backwards (guest reset: new vCPUs) as zero, not negative', () => {
    let exits = { exits: 1000, ioExits: 900, mmioExits: 0, localExits: 0 };
    const sampler = new VmStatsSampler({
      vcpuThreads: () => [],
      exitCounts: () => exits,
      guestMemoryBytes: 0,
    });
    sampler.sample(0);
    exits = { exits: 10, ioExits: 5, mmioExits: 0, localExits: 0 };
    const s = sampler.sample(1000)!;
    expect(s.exitsPerSecond).toEqual({ io: 0, mmio: 0, other: 0 });
    expect(s.cpuPercent).toBe(0);
  });
});

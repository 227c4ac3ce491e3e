/**
 * Shared pieces of the storage tests: temporary folders, a seeded PRNG (so a failure names the
 * seed that reproduces it), and qemu-img (Debian qemu-utils) as the reference implementation.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const QEMU_IMG = '/usr/bin/qemu-img';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-storage-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** mulberry32: small, fast, good enough to drive workloads reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInt(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

export function qemuImg(...args: string[]): string {
  return execFileSync(QEMU_IMG, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function qemuIo(...args: string[]): string {
  return execFileSync('/usr/bin/qemu-io', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface QemuCheck {
  status: number;
  corruptions: number;
  leaks: number;
  checkErrors: number;
  output: string;
}

/** `qemu-img check --output=json`: exit 0 clean, 2 corrupt, 3 leaks only. */
export function qemuCheck(file: string): QemuCheck {
  const r = spawnSync(QEMU_IMG, ['check', '--output=json', file], { encoding: 'utf8' });
  let parsed: { corruptions?: number; leaks?: number; 'check-errors'?: number } = {};
  try {
    parsed = JSON.parse(r.stdout) as typeof parsed;
  } catch {
    // exit status and stderr tell the story
  }
  return {
    status: r.status ?? -1,
    corruptions: parsed.corruptions ?? 0,
    leaks: parsed.leaks ?? 0,
    checkErrors: parsed['check-errors'] ?? 0,
    output: r.stdout + r.stderr,
  };
}

/** Fills a buffer with seeded bytes. */
export function randomBytes(rand: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) {
    const v = (rand() * 4294967296) >>> 0;
    out[i] = v;
    out[i + 1] = v >>> 8;
    out[i + 2] = v >>> 16;
    out[i + 3] = v >>> 24;
  }
  return out;
}

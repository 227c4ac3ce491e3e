// Shared pieces of the engine benchmarks (bench/engine-boot.mjs, bench/engine-exit-path.mjs):
// the guest (Debian's kernel + a busybox initramfs whose /init is given), the two VMMs' command
// lines for the same files, a process runner that timestamps a console marker, and a sampler
// of KVM's per-VM debugfs exit counters (read ~1 Hz while the VM lives: KVM removes the folder
// when the VM closes; shared recipes/nested-kvm.md).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBusyboxInitramfs } from '../test/fixtures/busybox-initramfs.mjs';
import { cacheRoot, ensureDebianKernel } from '../test/fixtures/debian-kernel.mjs';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const INIT_MARKER = 'VIREO-INIT-REACHED';
export const APPEND = 'console=ttyS0 quiet panic=-1 i8042.noaux';
const DEBUGFS = '/sys/kernel/debug/kvm';

export function guestFiles(init, name, files = {}) {
  return {
    kernel: ensureDebianKernel().vmlinuz,
    initrd: ensureBusyboxInitramfs({ init, name, files }),
  };
}

/** Command lines of both VMMs for the same kernel, initrd, command line, memory and vCPUs. */
export function commands({ kernel, initrd, append = APPEND, memoryMiB = 256, cpus = 1 }) {
  return {
    vireo: [
      process.execPath,
      [
        path.join(projectRoot, 'bin/vireo.js'),
        'run',
        '--kernel',
        kernel,
        '--initrd',
        initrd,
        '--append',
        append,
        '--memory',
        String(memoryMiB),
        '--cpus',
        String(cpus),
        '--reboot-action',
        'exit',
      ],
    ],
    // microvm: QEMU's firmware-less direct-boot machine, the closest peer to Vireo's direct machine.
    qemu: [
      'qemu-system-x86_64',
      [
        '-M',
        'microvm',
        '-enable-kvm',
        '-cpu',
        'host',
        '-m',
        String(memoryMiB),
        '-smp',
        String(cpus),
        '-nographic',
        '-no-reboot',
        '-nodefaults',
        '-serial',
        'stdio',
        '-kernel',
        kernel,
        '-initrd',
        initrd,
        '-append',
        append,
      ],
    ],
  };
}

export function ensureDebugfs() {
  if (existsSync(DEBUGFS)) return true;
  try {
    execFileSync('mount', ['-t', 'debugfs', 'none', '/sys/kernel/debug'], { stdio: 'ignore' });
  } catch {
    /* not root, or no debugfs: counters are reported as unavailable */
  }
  return existsSync(DEBUGFS);
}

function readCounters(pid) {
  let dirs;
  try {
    dirs = readdirSync(DEBUGFS).filter((d) => d.startsWith(`${pid}-`));
  } catch {
    return null;
  }
  if (dirs.length === 0) return null;
  const sum = { exits: 0, io_exits: 0, mmio_exits: 0, halt_exits: 0 };
  for (const d of dirs) {
    for (const k of Object.keys(sum)) {
      try {
        sum[k] += Number(readFileSync(path.join(DEBUGFS, d, k), 'utf8').trim());
      } catch {
        /* a counter this kernel lacks */
      }
    }
  }
  return sum;
}

/**
 * Runs one VMM process until it exits; resolves with the time the marker appeared (ms from
 * spawn), the full console text, the exit status and the last counters sampled.
 */
export function runOnce([cmd, args], { marker = INIT_MARKER, timeoutMs = 600_000, onLine } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let text = '';
    let markerAt = null;
    let counters = null;
    const sampler = setInterval(() => {
      counters = readCounters(child.pid) ?? counters;
    }, 1000);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      text += chunk;
      if (markerAt === null && text.includes(marker)) {
        markerAt = performance.now() - started;
        counters = readCounters(child.pid) ?? counters;
      }
      onLine?.(text, child);
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (status) => {
      clearInterval(sampler);
      clearTimeout(timer);
      resolve({ markerAt, status, text, stderr, counters, totalMs: performance.now() - started });
    });
  });
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Compiles bench/guest/outloop.c statically (gcc, libc6-dev) into .cache/. */
export function buildOutloop() {
  const out = path.join(cacheRoot, 'bench', 'outloop');
  mkdirSync(path.dirname(out), { recursive: true });
  const src = path.join(projectRoot, 'bench/guest/outloop.c');
  execFileSync('gcc', ['-O2', '-static', '-o', out, src]);
  return out;
}

#!/usr/bin/env node
// Disk throughput measured by the guest, Vireo vs QEMU in one run:
//   test/harness/with-kvm node bench/pc-cdrom-read.mjs [ROUNDS]
// Both boot the same live CD (test/fixtures/busybox-iso.mjs: SeaBIOS, isolinux, Debian's
// kernel) on the PC machine with 512 MiB and a fresh 64 MiB qcow2 disk on virtio-pci. Its /init
// reads all of /dev/sr0 with `dd bs=64k` through Linux's ata_piix + sr_mod (bus-master DMA on
// both), installs a 10 MiB system onto /dev/vda and reads all of /dev/vda the same way
// (virtio-blk on virtio-pci, MSI-X on both), printing byte counts and the guest's uptime around
// each read on COM1. Also reported: time from process start to "vireo-ready" (boot from CD).
// A third arm, "vireo-exits", is Vireo with VIREO_NO_IOEVENTFD=1: virtio queue kicks as MMIO
// exits instead of ioeventfd doorbells, to show what the doorbells change.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBusyboxIso } from '../test/fixtures/busybox-iso.mjs';

const rounds = Number(process.argv[2] ?? 2);
const { iso } = ensureBusyboxIso();
const work = mkdtempSync(path.join(os.tmpdir(), 'vireo-bench-disk-'));
/** A fresh blank 64 MiB qcow2 per run, so both VMMs start from the same empty disk. */
function blankDisk(name) {
  const file = path.join(work, `${name}.qcow2`);
  rmSync(file, { force: true });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '64M']);
  return file;
}
const commands = {
  vireo: () => [
    process.execPath,
    [
      ...['bin/vireo.js', 'run', '--cdrom', iso, '--memory', '512'],
      ...['--disk', blankDisk('vireo'), '--disk-bus', 'virtio'],
    ],
  ],
  'vireo-exits': () => [
    process.execPath,
    [
      ...['bin/vireo.js', 'run', '--cdrom', iso, '--memory', '512'],
      ...['--disk', blankDisk('vireo-exits'), '--disk-bus', 'virtio'],
    ],
    { VIREO_NO_IOEVENTFD: '1' },
  ],
  qemu: () => [
    'qemu-system-x86_64',
    [
      '-enable-kvm',
      '-cpu',
      'host',
      '-m',
      '512',
      '-cdrom',
      iso,
      '-drive',
      `file=${blankDisk('qemu')},if=virtio`,
      '-vga',
      'std',
      '-display',
      'none',
      '-serial',
      'stdio',
      '-net',
      'none',
      '-monitor',
      'none',
    ],
  ],
};

function once(command) {
  const [cmd, args, env = {}] = command();
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let text = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.stdout.on('data', (d) => {
      text += d;
      if (text.includes('vireo-ready')) {
        const readyMs = Date.now() - started;
        const m = /vireo-sr0: bytes=(\d+) start=([\d.]+) end=([\d.]+)/.exec(text);
        const d = /vireo-vda: bytes=(\d+) start=([\d.]+) end=([\d.]+)/.exec(text);
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve(
          m && d
            ? {
                bytes: Number(m[1]),
                seconds: Number(m[3]) - Number(m[2]),
                diskBytes: Number(d[1]),
                diskSeconds: Number(d[3]) - Number(d[2]),
                readyMs,
              }
            : { error: text.slice(-500) },
        );
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve({ error: `exited before vireo-ready: ${text.slice(-500)}` });
    });
  });
}

const results = { vireo: [], 'vireo-exits': [], qemu: [] };
for (let i = 0; i < rounds; i++)
  for (const who of ['vireo', 'vireo-exits', 'qemu']) {
    const r = await once(commands[who]);
    results[who].push(r);
    console.log(
      `round ${i + 1} ${who.padEnd(11)} ` +
        (r.error
          ? `FAILED ${r.error}`
          : `CD ${(r.bytes / r.seconds / 2 ** 20).toFixed(1)} MiB/s (${r.bytes} bytes in ${r.seconds.toFixed(2)} s), ` +
            `virtio disk ${(r.diskBytes / r.diskSeconds / 2 ** 20).toFixed(1)} MiB/s (${r.diskSeconds.toFixed(2)} s), ` +
            `ready after ${(r.readyMs / 1000).toFixed(1)} s`),
    );
  }
const best = (xs, f) => Math.max(...xs.filter((x) => !x.error).map(f));
rmSync(work, { recursive: true, force: true });
const v = best(results.vireo, (r) => r.bytes / r.seconds / 2 ** 20);
const q = best(results.qemu, (r) => r.bytes / r.seconds / 2 ** 20);
const vd = best(results.vireo, (r) => r.diskBytes / r.diskSeconds / 2 ** 20);
const ed = best(results['vireo-exits'], (r) => r.diskBytes / r.diskSeconds / 2 ** 20);
const qd = best(results.qemu, (r) => r.diskBytes / r.diskSeconds / 2 ** 20);
console.log(
  `\nATAPI read in the guest (best of ${rounds}): Vireo ${v.toFixed(1)} MiB/s, QEMU ${q.toFixed(1)} MiB/s, ratio ${(v / q).toFixed(2)}`,
);
console.log(
  `virtio-pci disk read in the guest (best of ${rounds}): Vireo ${vd.toFixed(1)} MiB/s, QEMU ${qd.toFixed(1)} MiB/s, ratio ${(vd / qd).toFixed(2)}`,
);
console.log(
  `virtio-pci kicks (best of ${rounds}): with ioeventfd doorbells ${vd.toFixed(1)} MiB/s, as MMIO exits (VIREO_NO_IOEVENTFD=1) ${ed.toFixed(1)} MiB/s, ratio ${(vd / ed).toFixed(2)}`,
);

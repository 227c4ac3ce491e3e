#!/usr/bin/env node
// ISO read throughput through the ATAPI CD-ROM, measured by the guest, Vireo vs QEMU in one run:
//   test/harness/with-kvm node bench/pc-cdrom-read.mjs [ROUNDS]
// Both boot the same live CD (test/fixtures/busybox-iso.mjs: SeaBIOS, isolinux, Debian's
// kernel) on the PC machine with 512 MiB; its /init reads all of /dev/sr0 with
// `dd bs=64k` through Linux's ata_piix + sr_mod (PIO on both: QEMU's PIIX IDE offers DMA, ours
// does not, so QEMU's figure includes that advantage) and prints the byte count and the guest's uptime before and after on COM1.
// Also reported: time from process start to the guest's "vireo-ready" line (boot from CD).
import { spawn } from 'node:child_process';
import { ensureBusyboxIso } from '../test/fixtures/busybox-iso.mjs';

const rounds = Number(process.argv[2] ?? 2);
const { iso } = ensureBusyboxIso();
const commands = {
  vireo: [process.execPath, ['bin/vireo.js', 'run', '--cdrom', iso, '--memory', '512']],
  qemu: [
    'qemu-system-x86_64',
    [
      '-enable-kvm',
      '-cpu',
      'host',
      '-m',
      '512',
      '-cdrom',
      iso,
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

function once([cmd, args]) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let text = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.stdout.on('data', (d) => {
      text += d;
      if (text.includes('vireo-ready')) {
        const readyMs = Date.now() - started;
        const m = /vireo-sr0: bytes=(\d+) start=([\d.]+) end=([\d.]+)/.exec(text);
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve(
          m
            ? { bytes: Number(m[1]), seconds: Number(m[3]) - Number(m[2]), readyMs }
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

const results = { vireo: [], qemu: [] };
for (let i = 0; i < rounds; i++)
  for (const who of ['vireo', 'qemu']) {
    const r = await once(commands[who]);
    results[who].push(r);
    console.log(
      `round ${i + 1} ${who.padEnd(5)} ` +
        (r.error
          ? `FAILED ${r.error}`
          : `${(r.bytes / r.seconds / 2 ** 20).toFixed(1)} MiB/s (${r.bytes} bytes in ${r.seconds} s), ready after ${(r.readyMs / 1000).toFixed(1)} s`),
    );
  }
const best = (xs, f) => Math.max(...xs.filter((x) => !x.error).map(f));
const v = best(results.vireo, (r) => r.bytes / r.seconds / 2 ** 20);
const q = best(results.qemu, (r) => r.bytes / r.seconds / 2 ** 20);
console.log(
  `\nATAPI read in the guest (best of ${rounds}): Vireo ${v.toFixed(1)} MiB/s, QEMU ${q.toFixed(1)} MiB/s, ratio ${(v / q).toFixed(2)}`,
);

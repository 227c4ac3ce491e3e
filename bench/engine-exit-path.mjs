#!/usr/bin/env node
// The exit path, Vireo vs QEMU on the same port in the same run:
//   test/harness/with-kvm node bench/engine-exit-path.mjs [N]
// A static guest program (bench/guest/outloop.c) does N `out` instructions to one port and
// times them inside the guest, so each VMM's start-up does not count. Two ports:
// - 0x3ff, the COM1 scratch register: a device model answers (Vireo: a round trip from the
//   vCPU thread to the device thread; QEMU: its serial model on the vCPU thread);
// - 0x4f0, a port no device claims (Vireo answers it in the vCPU thread).
import { commands, guestFiles, median, runOnce, buildOutloop } from './engine-common.mjs';

const n = Number(process.argv[2] ?? 20000);
const outloop = buildOutloop();
const init = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
/outloop 0x3ff ${n}
/outloop 0x4f0 ${n}
/outloop 0x3ff ${n}
/outloop 0x4f0 ${n}
/bin/busybox echo EXIT-PATH-DONE
/bin/busybox poweroff -f
`;
const files = guestFiles(init, 'bench-exit-path', { '/outloop': outloop });
const cmds = commands(files);
const rates = { vireo: {}, qemu: {} };
for (const who of ['vireo', 'qemu', 'vireo', 'qemu']) {
  const r = await runOnce(cmds[who], { marker: 'EXIT-PATH-DONE' });
  for (const m of r.text.matchAll(
    /OUTLOOP port=(0x[0-9a-f]+) n=\d+ seconds=[\d.]+ exits_per_second=(\d+)/g,
  )) {
    (rates[who][m[1]] ??= []).push(Number(m[2]));
  }
  console.log(
    `${who}: exit ${r.status}, ${[...r.text.matchAll(/OUTLOOP.*/g)].map((m) => m[0].trim()).join(' | ')}`,
  );
  if (r.markerAt === null)
    console.log(`  console tail: ${r.text.slice(-400)}\n  stderr: ${r.stderr.slice(-400)}`);
}
console.log(`\n| port | Vireo exits/s (median) | QEMU exits/s (median) | Vireo / QEMU |`);
console.log('| --- | --- | --- | --- |');
for (const port of ['0x3ff', '0x4f0']) {
  const v = median(rates.vireo[port] ?? [NaN]);
  const q = median(rates.qemu[port] ?? [NaN]);
  console.log(`| ${port} | ${v.toFixed(0)} | ${q.toFixed(0)} | ${(v / q).toFixed(2)} |`);
}

#!/usr/bin/env node
// Boot time and userspace exits, Vireo vs QEMU, side by side in one run:
//   test/harness/with-kvm node bench/engine-boot.mjs [ROUNDS]
// Same files for both: Debian's kernel, a busybox initramfs whose /init prints a marker and
// powers off, the same kernel command line, 256 MiB, 1 vCPU. Runs alternate (Vireo, QEMU,
// Vireo, ...) so drift in the nested machine hits both alike; we report the median time from
// process start to the /init marker, the ratio of medians, and KVM's debugfs counters for the
// guest (io_exits + mmio_exits reach userspace; the last ~1 Hz sample before the VM closed).
import {
  APPEND,
  INIT_MARKER,
  commands,
  ensureDebugfs,
  guestFiles,
  median,
  runOnce,
} from './engine-common.mjs';

const rounds = Number(process.argv[2] ?? 3);
const init = `#!/bin/busybox sh
/bin/busybox echo ${INIT_MARKER}
/bin/busybox poweroff -f
`;
const files = guestFiles(init, 'bench-boot');
const cmds = commands(files);
const debugfs = ensureDebugfs();
console.log(
  `kernel ${files.kernel}\ninitrd ${files.initrd}\nappend "${APPEND}"; ${rounds} rounds; debugfs ${debugfs ? 'on' : 'unavailable'}`,
);

const results = { vireo: [], qemu: [] };
for (let i = 0; i < rounds; i++) {
  for (const who of ['vireo', 'qemu']) {
    const r = await runOnce(cmds[who]);
    results[who].push(r);
    const c = r.counters;
    console.log(
      `round ${i + 1} ${who.padEnd(5)} marker ${r.markerAt === null ? 'NOT SEEN' : `${(r.markerAt / 1000).toFixed(2)} s`}` +
        ` exit ${r.status} total ${(r.totalMs / 1000).toFixed(2)} s` +
        (c
          ? ` exits ${c.exits} io_exits ${c.io_exits} mmio_exits ${c.mmio_exits}`
          : ' (no counters)'),
    );
    if (r.markerAt === null)
      console.log(`  console tail: ${r.text.slice(-500)}\n  stderr: ${r.stderr.slice(-500)}`);
  }
}

const summary = {};
for (const who of ['vireo', 'qemu']) {
  const ok = results[who].filter((r) => r.markerAt !== null);
  const last = (k) => median(ok.filter((r) => r.counters).map((r) => r.counters[k]));
  summary[who] = {
    medianMarkerS: ok.length ? median(ok.map((r) => r.markerAt)) / 1000 : NaN,
    userspaceExits: last('io_exits') + last('mmio_exits'),
    ioExits: last('io_exits'),
    mmioExits: last('mmio_exits'),
    exits: last('exits'),
    runs: ok.length,
  };
}
console.log('\n| VMM | median start->/init (s) | io_exits | mmio_exits | all exits | runs |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const who of ['vireo', 'qemu']) {
  const s = summary[who];
  console.log(
    `| ${who} | ${s.medianMarkerS.toFixed(2)} | ${s.ioExits} | ${s.mmioExits} | ${s.exits} | ${s.runs} |`,
  );
}
console.log(
  `\nratio of medians (Vireo / QEMU): ${(summary.vireo.medianMarkerS / summary.qemu.medianMarkerS).toFixed(2)}; ` +
    `userspace exits Vireo ${summary.vireo.userspaceExits} vs QEMU ${summary.qemu.userspaceExits}`,
);

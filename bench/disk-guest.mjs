#!/usr/bin/env node
// In-guest sequential disk throughput, Vireo vs QEMU in the same run (issue "Disks"):
//   test/harness/with-kvm node bench/disk-guest.mjs [ROUNDS]
// Same kernel (Debian's), same busybox initramfs, same image files: the guest loads
// virtio_mmio + virtio_blk, then times `dd` of 64 MiB from and to /dev/vda with O_DIRECT (1 MiB
// requests) using /proc/uptime. Vireo: `vireo run --disk` (virtio-blk over virtio-mmio, DSDT).
// QEMU: `-M microvm` with `virtio-blk-device` on the same file (its DSDT also lists
// virtio-mmio), cache=writeback as Vireo uses the page cache. Raw and qcow2 images, VMMs
// alternating; we print MB/s medians and the Vireo/QEMU ratio.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBusyboxInitramfs } from '../test/fixtures/busybox-initramfs.mjs';
import { ensureDebianKernel } from '../test/fixtures/debian-kernel.mjs';
import { APPEND, commands, median, runOnce } from './engine-common.mjs';

const rounds = Number(process.argv[2] ?? 2);
const MIB = 64;
const init = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_mmio virtio_blk; do insmod /mods/$m.ko; done
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 1; done
ms() { read up rest < /proc/uptime; echo \${up%.*}\${up#*.}0; }
a=$(ms); dd if=/dev/vda of=/dev/null bs=1048576 count=${MIB} iflag=direct 2>/dev/null; b=$(ms)
echo "READ-MS $((b - a))"
a=$(ms); dd if=/dev/zero of=/dev/vda bs=1048576 count=${MIB} oflag=direct conv=fsync 2>/dev/null; b=$(ms)
echo "WRITE-MS $((b - a))"
poweroff -f
`;
const kernel = ensureDebianKernel().vmlinuz;
const initrd = ensureBusyboxInitramfs({
  init,
  name: 'bench-disk-guest',
  modules: [
    'drivers/virtio/virtio_ring',
    'drivers/virtio/virtio',
    'drivers/virtio/virtio_mmio',
    'drivers/block/virtio_blk',
  ],
});
const work = mkdtempSync(path.join(os.tmpdir(), 'vireo-disk-guest-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const raw = path.join(work, 'disk.raw');
const data = Buffer.alloc((MIB + 16) * 1024 * 1024);
for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
writeFileSync(raw, data);
const qcow2 = path.join(work, 'disk.qcow2');
execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);

const results = {};
for (let r = 0; r < rounds; r++) {
  for (const [format, file] of [
    ['raw', raw],
    ['qcow2', qcow2],
  ]) {
    const base = commands({ kernel, initrd, append: APPEND });
    const vireo = [base.vireo[0], [...base.vireo[1], '--disk', file]];
    const qemu = [
      base.qemu[0],
      [
        ...base.qemu[1],
        '-drive',
        `file=${file},format=${format},if=none,id=d0,cache=writeback`,
        '-device',
        'virtio-blk-device,drive=d0',
      ],
    ];
    for (const [vmm, cmd] of [
      ['vireo', vireo],
      ['qemu', qemu],
    ]) {
      const run = await runOnce(cmd, { marker: 'WRITE-MS' });
      const read = /READ-MS (\d+)/.exec(run.text);
      const write = /WRITE-MS (\d+)/.exec(run.text);
      if (!read || !write) {
        console.log(
          `${vmm} ${format}: no figures (exit ${run.status})\n${run.text.slice(-1500)}\n${run.stderr.slice(-800)}`,
        );
        continue;
      }
      const key = `${format} ${vmm}`;
      results[key] ??= { read: [], write: [] };
      results[key].read.push((MIB * 1000) / Number(read[1]));
      results[key].write.push((MIB * 1000) / Number(write[1]));
      console.log(`round ${r + 1} ${key}: read ${read[1]} ms, write ${write[1]} ms for ${MIB} MiB`);
    }
  }
}
console.log('\n| image | direction | Vireo MiB/s | QEMU MiB/s | Vireo / QEMU |');
console.log('| --- | --- | --- | --- | --- |');
for (const format of ['raw', 'qcow2']) {
  for (const dir of ['read', 'write']) {
    const v = results[`${format} vireo`]?.[dir];
    const q = results[`${format} qemu`]?.[dir];
    if (!v?.length || !q?.length) continue;
    console.log(
      `| ${format} | ${dir} | ${median(v).toFixed(1)} | ${median(q).toFixed(1)} | ${(median(v) / median(q)).toFixed(2)} |`,
    );
  }
}

/**
 * virtio-blk on real KVM with Linux's own drivers: `vireo run --disk` gives Debian's kernel two
 * disks over virtio-mmio (found through the DSDT), a raw image the test filled and a qcow2 image
 * made by qemu-img. The guest loads virtio_mmio and virtio_blk from its initramfs, reads the
 * raw disk's pattern back (checksum), writes a pattern to the qcow2 disk with O_DIRECT and
 * fsync, and powers off. Afterwards `qemu-img check` finds the qcow2 image clean and
 * `qemu-img convert` shows exactly what the guest wrote.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBusyboxInitramfs } from '../fixtures/busybox-initramfs.mjs';
import { ensureDebianKernel } from '../fixtures/debian-kernel.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-vblk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_mmio virtio_blk; do insmod /mods/$m.ko || echo "INSMOD-FAILED $m"; done
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vdb ] && break; sleep 1; done
echo "DISKS $(cat /sys/block/vda/size) $(cat /sys/block/vdb/size)"
echo "SERIAL $(cat /sys/block/vda/serial 2>/dev/null)"
echo "RAWSUM $(dd if=/dev/vda bs=65536 count=16 2>/dev/null | md5sum)"
yes vireo-wrote-this | head -c 1048576 > /tmp/pattern
dd if=/tmp/pattern of=/dev/vdb bs=65536 seek=3 oflag=direct conv=fsync 2>/dev/null && echo WRITE-OK
echo "BACKSUM $(dd if=/dev/vdb bs=65536 skip=3 count=16 2>/dev/null | md5sum)"
poweroff -f
`;

describe('virtio-blk over virtio-mmio (real KVM)', () => {
  it("serves Linux's virtio_blk from raw and qcow2 images", async () => {
    const kernel = ensureDebianKernel().vmlinuz;
    const initrd = ensureBusyboxInitramfs({
      init: INIT,
      name: 'virtio-blk-guest',
      modules: [
        'drivers/virtio/virtio_ring',
        'drivers/virtio/virtio',
        'drivers/virtio/virtio_mmio',
        'drivers/block/virtio_blk',
      ],
    });
    const raw = path.join(dir, 'a.raw');
    const pattern = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeFileSync(raw, pattern);
    const qcow2 = path.join(dir, 'b.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', qcow2, '32M']);

    const child = spawn(
      process.execPath,
      [
        path.resolve('bin/vireo.js'),
        'run',
        '--kernel',
        kernel,
        '--initrd',
        initrd,
        '--append',
        'console=ttyS0 quiet panic=-1 i8042.noaux',
        '--memory',
        '256',
        '--disk',
        raw,
        '--disk',
        qcow2,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    // A guest that stops making progress must fail this test with its console, not hang the run.
    const deadline = setTimeout(() => {
      out += '\n[test] no exit after 180 s: killing the VM\n';
      child.kill('SIGKILL');
    }, 180_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(deadline);
    expect(code, out.slice(-3000)).toBe(0);
    expect(out).not.toContain('INSMOD-FAILED');
    expect(out).toMatch(/DISKS 32768 65536/);
    expect(out).toContain('SERIAL vireo-vda');
    const rawSum = createHash('md5')
      .update(pattern.subarray(0, 1 << 20))
      .digest('hex');
    expect(out).toContain(`RAWSUM ${rawSum}`);
    expect(out).toContain('WRITE-OK');
    const wrote = Buffer.alloc(1 << 20);
    const line = Buffer.from('vireo-wrote-this\n');
    for (let i = 0; i < wrote.length; i++) wrote[i] = line[i % line.length]!;
    const wroteSum = createHash('md5').update(wrote).digest('hex');
    expect(out).toContain(`BACKSUM ${wroteSum}`);

    // The qcow2 image after the guest: consistent, and holding what the guest wrote.
    execFileSync('qemu-img', ['check', '-q', qcow2]);
    const back = path.join(dir, 'b.raw');
    execFileSync('qemu-img', ['convert', '-O', 'raw', qcow2, back]);
    const image = readFileSync(back);
    expect(image.subarray(3 * 65536, 3 * 65536 + wrote.length).equals(wrote)).toBe(true);
    expect(image.subarray(0, 3 * 65536).every((b) => b === 0)).toBe(true);
  });
});

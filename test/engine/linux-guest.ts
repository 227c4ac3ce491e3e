/**
 * The Linux guest the engine tests and benchmarks boot: Debian's own kernel (its linux-image
 * package, test/fixtures/debian-kernel.mjs) and a busybox initramfs built here
 * (test/fixtures/busybox-initramfs.mjs), whose /init prints a marker line and then runs a
 * shell on the serial console.
 */
import { ensureBusyboxInitramfs } from '../fixtures/busybox-initramfs.mjs';
import { ensureDebianKernel } from '../fixtures/debian-kernel.mjs';

/** The line /init prints first: the benchmarks time "start to /init" up to it. */
export const INIT_MARKER = 'VIREO-INIT-REACHED';

export const GUEST_INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo ${INIT_MARKER}
export PS1='guest# '
exec sh
`;

/** Kernel command line: serial console, quiet, no reboot on panic, skip slow probes. */
export const GUEST_APPEND = 'console=ttyS0 quiet panic=-1 i8042.noaux';

export function linuxGuest(): { kernel: string; initrd: string } {
  const kernel = ensureDebianKernel().vmlinuz;
  const initrd = ensureBusyboxInitramfs({ init: GUEST_INIT, name: 'engine-guest' });
  return { kernel, initrd };
}

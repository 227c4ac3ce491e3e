// The L1 guest's initramfs for the nested-KVM harness: busybox-static, the /init script below and
// the kernel modules it loads (kvm-amd, virtio, 9p, overlay), built once per content into
// .cache/initramfs/ and reused. Recipe: shared recipes/nested-kvm.md; docs/testing.md.
import path from 'node:path';
import { ensureBusyboxInitramfs } from '../fixtures/busybox-initramfs.mjs';

/**
 * Modules L1 loads, in dependency order. Debian does not ship modules.dep in the .deb, so the
 * order comes from each module's `depends=` (`strings X.ko | grep ^depends=`) in Debian 12's 6.1
 * kernel: kvm needs irqbypass; kvm-amd needs kvm and ccp; 9p needs 9pnet, netfs, fscache.
 */
export const L1_MODULES = [
  'virt/lib/irqbypass',
  'arch/x86/kvm/kvm',
  'drivers/crypto/ccp/ccp',
  'arch/x86/kvm/kvm-amd',
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci',
  'fs/netfs/netfs',
  'fs/fscache/fscache',
  'net/9p/9pnet',
  'net/9p/9pnet_virtio',
  'fs/9p/9p',
  'fs/overlayfs/overlay',
  'drivers/net/dummy',
];

/**
 * The L1 /init (busybox sh). It talks to the harness only through lines
 * `VIREO-HARNESS-<nonce>: <what> ...` on the serial console; the nonce comes from the kernel
 * command line (`vireo.nonce=`), fresh per boot, so no output of the command under test can
 * pass for a marker. `vireo.run=` names this boot's folder under the results export's
 * `.harness/`, where the harness left `mountpoint` (the results folder's host path, which may
 * hold spaces: it never goes through the kernel command line) and `command.sh`.
 */
export function l1InitScript() {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
arg() { tr ' ' '\\n' < /proc/cmdline | sed -n "s/^vireo\\.$1=//p"; }
nonce=$(arg nonce); run=$(arg run)
say() { echo "VIREO-HARNESS-$nonce: $*"; }
say l1-init "$(cut -d' ' -f1 /proc/uptime)"
for m in ${L1_MODULES.map((m) => path.basename(m)).join(' ')}; do
  insmod /mods/$m.ko || say note "insmod $m failed"
done
# Loopback up, and one dummy interface with an address: Chromium (the end-to-end tests) treats
# a machine with only loopback as offline and refuses even http://127.0.0.1 (ERR_INTERNET_DISCONNECTED).
ip link set lo up
ip link add dummy0 type dummy 2>/dev/null
ip link set dummy0 up && ip addr add 10.254.0.1/24 dev dummy0 || say note "no dummy network interface"
# The host's root, read-only over 9p, under a tmpfs overlay: COMMAND may write anywhere (caches,
# node_modules/.vite-temp, HOME) but only the results export reaches the host.
mkdir -p /lower /rw /host /out
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || say note "9p hostroot failed"
mount -t tmpfs -o size=50% tmpfs /rw; mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /host || { say note "overlay failed, using the read-only root"; mount --bind /lower /host; mount -t tmpfs -o size=75% tmpfs /host/tmp; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || say note "9p results export failed"
dir="/out/.harness/$run"
out=$(cat "$dir/mountpoint")
mount --bind /dev /host/dev; mount -t proc proc /host/proc; mount -t sysfs sys /host/sys
mount -t debugfs none /host/sys/kernel/debug
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts; mount -t tmpfs -o size=25% shm /host/dev/shm
# No separate tmpfs on /tmp: the overlay already makes it writable, and a checkout or results
# folder under /tmp (CI clones often live there) must stay visible.
mkdir -p "/host$out"
mount --bind /out "/host$out" || say note "cannot mount the results folder at $out"
if [ -c /dev/kvm ]; then say kvm "$(cut -d' ' -f1 /proc/uptime)"; else say note "no /dev/kvm in L1"; fi
say begin "$(cut -d' ' -f1 /proc/uptime)"
chroot /host /bin/sh "$out/.harness/$run/command.sh"
code=$?
echo "$code" > "$dir/exit-code"
sync
# A command whose last line lacks a newline would swallow the marker: start a fresh line.
echo
say exit "$code"
poweroff -f
`;
}

/** The cached L1 initramfs (busybox-static, the init above, L1_MODULES) for Debian's kernel. */
export function ensureL1Initrd() {
  return ensureBusyboxInitramfs({ init: l1InitScript(), modules: L1_MODULES, name: 'l1-harness' });
}

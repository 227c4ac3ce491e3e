/**
 * Doorbells as ioeventfds (KVM API documentation, 4.59 KVM_IOEVENTFD): a guest write of the
 * doorbell's size to its address makes KVM add 1 to an eventfd and re-enter the guest at once,
 * without returning from KVM_RUN. The vCPU thread never waits for the device thread, and the
 * VM host sees no exit at all; the device thread learns of the write when the eventfd reads.
 *
 * One eventfd serves every doorbell of the VM (KVM allows one file for many entries: an entry is
 * matched by address, length and datamatch). The device thread keeps one blocking read(2) of it
 * outstanding in libuv's thread pool; when it completes, every doorbell rings. A spurious ring
 * costs a device one look at a queue with nothing new, which is cheaper than an eventfd, a
 * pending read and a pool thread per doorbell. Devices check their own state in `ring()`.
 *
 * Entries follow the MMIO bus: `sync()` assigns the doorbells of ranges that appeared (a BAR the
 * firmware placed) and deassigns those of ranges that went away or moved.
 *
 * Runtime: engine (device thread).
 */
import { read as fsRead } from 'node:fs';
import type { Bus, Doorbell } from '../../bus.js';
import { KVM_IOEVENTFD, KVM_IOEVENTFD_FLAG_DEASSIGN } from './kvm-abi.js';
import { EFD_CLOEXEC, libc, SyscallError } from './libc.js';

interface Assigned {
  address: number;
  size: number;
  doorbell: Doorbell;
}

export class KvmDoorbells {
  private readonly eventFd: number;
  private readonly assigned = new Map<string, Assigned>();
  private readonly counter = Buffer.alloc(8);
  /** struct kvm_ioeventfd { u64 datamatch; u64 addr; u32 len; s32 fd; u32 flags; u8 pad[36]; } */
  private readonly request = Buffer.alloc(64);
  private reading = false;
  private closed = false;
  /** Rings the kernel counted (several writes between two reads add up). */
  rings = 0;

  constructor(
    private readonly vmFd: number,
    private readonly events: {
      onLog(line: string): void;
      /** A device threw while handling a ring: the VM must end. */
      onError(e: unknown): void;
    },
  ) {
    const c = libc();
    this.eventFd = c.eventfd(0, EFD_CLOEXEC);
    if (this.eventFd < 0) throw new SyscallError('eventfd', c.errno());
  }

  /** Brings the VM's ioeventfd entries in line with the doorbells on `mmio`. */
  sync(mmio: Bus): void {
    if (this.closed) return;
    const wanted = new Map<string, Assigned>();
    for (const r of mmio.list())
      for (const d of r.device.doorbells ?? []) {
        if (d.offset < 0 || d.offset + d.size > r.length) continue;
        const address = r.base + d.offset;
        wanted.set(`${address}:${d.size}`, { address, size: d.size, doorbell: d });
      }
    for (const [key, a] of this.assigned)
      if (!wanted.has(key)) {
        this.ioctl(a, KVM_IOEVENTFD_FLAG_DEASSIGN);
        this.assigned.delete(key);
      }
    const added: string[] = [];
    for (const [key, w] of wanted) {
      const current = this.assigned.get(key);
      if (current) {
        current.doorbell = w.doorbell;
        continue;
      }
      const rc = this.ioctl(w, 0);
      if (rc < 0) {
        // The write still reaches the device as an MMIO exit; only slower.
        this.events.onLog(
          `ioeventfd at 0x${w.address.toString(16)} refused (${libc().strerror(-rc)}): that doorbell stays an exit`,
        );
        continue;
      }
      this.assigned.set(key, w);
      added.push(`0x${w.address.toString(16)}`);
    }
    if (added.length > 0) this.events.onLog(`ioeventfd doorbells at ${added.join(', ')}`);
    if (this.assigned.size > 0) this.readNext();
  }

  /** Stops reading and closes the eventfd (the VM's entries go with the VM's file). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A read blocked in the pool would hold its thread forever: wake it, and close after it.
    if (this.reading) libc().write(this.eventFd, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), 8);
    else libc().close(this.eventFd);
  }

  /** Returns 0 or -errno. */
  private ioctl(a: { address: number; size: number }, flags: number): number {
    const r = this.request;
    r.fill(0);
    r.writeBigUInt64LE(BigInt(a.address), 8);
    r.writeUInt32LE(a.size, 16);
    r.writeInt32LE(this.eventFd, 20);
    r.writeUInt32LE(flags, 24);
    const c = libc();
    return c.ioctlBuffer(this.vmFd, KVM_IOEVENTFD, r) < 0 ? -c.errno() : 0;
  }

  private readNext(): void {
    if (this.reading || this.closed) return;
    this.reading = true;
    // position null: read(2), not pread (an eventfd has no offsets).
    fsRead(this.eventFd, this.counter, 0, 8, null, (err, bytes) => {
      this.reading = false;
      if (this.closed) {
        libc().close(this.eventFd);
        return;
      }
      if (err || bytes !== 8) {
        this.events.onLog(
          `ioeventfd read failed (${err?.message ?? `${bytes} bytes`}): doorbells stop`,
        );
        return;
      }
      this.rings += Number(this.counter.readBigUInt64LE(0));
      try {
        for (const a of this.assigned.values()) a.doorbell.ring();
      } catch (e) {
        this.events.onError(e);
        return;
      }
      this.readNext();
    });
  }
}

/**
 * Start from the GUI, as the bridge does it: the control plane's `vm.start` on a VM whose boot
 * source is "Linux kernel" spawns its own VM host process on real KVM; the run file makes the
 * state visible to every Vireo process; serial input and output go through the supervisor;
 * pause, resume, reset and power off act on that process; Logs/serial.log keeps the console.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createControlPlane } from '../../main/control/index.js';
import { RUN_FILE } from '../../main/control/supervisor.js';
import { GUEST_APPEND, INIT_MARKER, linuxGuest } from './linux-guest.js';

const home = mkdtempSync(path.join(os.tmpdir(), 'vireo-start-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

let tail: () => string = () => '';
async function until<T>(what: string, probe: () => Promise<T | null> | T | null): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${tail()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('vm.start on a Linux-kernel VM (real KVM)', () => {
  it('runs the VM in its own host process and controls it from the bridge', async () => {
    const guest = linuxGuest();
    const plane = await createControlPlane({ home, mode: 'browser', watch: false });
    const h = plane.handlers;
    let serialEvents = '';
    plane.onEvent((name, payload) => {
      if (name === 'vm.serial')
        serialEvents += Buffer.from((payload as { data: string }).data, 'base64').toString();
    });
    const created = await h['vm.create']({
      name: 'direct',
      folder: null,
      os: { family: 'linux', id: 'debian-12' },
      cpus: 2,
      memoryMiB: 256,
      disk: null,
      iso: null,
    });
    await h['vm.update']({
      id: created.id,
      changes: {
        boot: {
          source: 'linux-kernel',
          kernel: guest.kernel,
          initrd: guest.initrd,
          append: GUEST_APPEND,
        },
      },
    });
    const started = await h['vm.start']({ id: created.id });
    expect(['starting', 'running']).toContain(started.state);
    const folder = started.folder;
    const sup = plane.library.supervisor;
    const serial = (): string => Buffer.from(sup.serialScrollback(folder) ?? []).toString('utf8');
    tail = () => serial().slice(-3000);

    await until('running', async () => (await h['vm.get']({ id: created.id })).state === 'running');
    const run = JSON.parse(readFileSync(path.join(folder, RUN_FILE), 'utf8')) as { pid: number };
    expect(run.pid).not.toBe(process.pid);

    await until('the shell prompt', () => serial().includes('guest# '));
    expect(sup.sendSerialInput(folder, Buffer.from('cat /sys/devices/system/cpu/online\n'))).toBe(
      true,
    );
    await until('the CPU list', () => /\r?\n0-1\r?\n/.test(serial()));
    expect(serialEvents).toContain('guest# ');
    const scrollback = await h['vm.serialScrollback']({ id: created.id });
    expect(scrollback.running).toBe(true);
    expect(Buffer.from(scrollback.data, 'base64').toString()).toContain('0-1');
    await h['vm.serialInput']({
      id: created.id,
      data: Buffer.from('echo in=$((3*3))\n').toString('base64'),
    });
    await until('an answer to bridge input', () => serial().includes('in=9'));

    // Live statistics: 1 Hz samples with rising uptime and the boot's CPU time.
    const { samples } = await until('two samples', async () => {
      const r = await h['vm.stats']({ id: created.id });
      return r.samples.length >= 2 ? r : null;
    });
    expect(samples.at(-1)!.uptimeSeconds).toBeGreaterThan(samples[0]!.uptimeSeconds);
    expect(samples.at(-1)!.vcpuPercent).toHaveLength(2);
    expect(samples.at(-1)!.memory.guestMiB).toBe(256);
    expect(samples.some((x) => x.cpuPercent > 0)).toBe(true);
    expect(samples.some((x) => x.exitsPerSecond.io > 0)).toBe(true);

    expect((await h['vm.pause']({ id: created.id })).state).toBe('paused');
    expect((await h['vm.resume']({ id: created.id })).state).toBe('running');
    sup.sendSerialInput(folder, Buffer.from('echo after=$((40+2))\n'));
    await until('an answer after resume', () => serial().includes('after=42'));

    // Reset (the console's Reset button): the same VM host rebuilds the machine and the guest
    // boots again to a prompt; the VM stays "running" throughout.
    const boots = (): number => serial().split(INIT_MARKER).length - 1;
    expect(boots()).toBe(1);
    expect((await h['vm.reset']({ id: created.id })).state).toBe('running');
    await until('the second boot to a prompt', () => {
      const text = serial();
      return boots() === 2 && text.lastIndexOf('guest# ') > text.lastIndexOf(INIT_MARKER);
    });
    const runAfter = JSON.parse(readFileSync(path.join(folder, RUN_FILE), 'utf8')) as {
      pid: number;
    };
    expect(runAfter.pid).toBe(run.pid);
    expect((await h['vm.get']({ id: created.id })).state).toBe('running');

    // The PS/2 keyboard from another process: `vireo sendkey` through the control socket. Each
    // key is a make and a break code, each one IRQ 1 the guest's i8042 driver takes.
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [path.resolve('bin/vireo.js'), '--home', home, ...args], {
        encoding: 'utf8',
      });
    const irq1 = async (mark: string): Promise<number> => {
      sup.sendSerialInput(folder, Buffer.from(`echo ${mark}; grep i8042 /proc/interrupts\n`));
      const m = await until(`IRQ 1 count ${mark}`, () =>
        new RegExp(`\\n${mark}\\r?\\n\\s*1:\\s+(\\d+)\\s+(\\d+)`).exec(serial()),
      );
      return Number(m[1]) + Number(m[2]);
    };
    const before = await irq1('IRQ-BEFORE');
    const keys = cli('sendkey', 'direct', 'v', 'i', 'r', 'e', 'o', 'ret');
    expect(keys.status, keys.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await irq1('IRQ-AFTER')) - before).toBe(12);
    expect(cli('sendkey', 'direct', 'nosuchkey').status).toBe(2);
    // A direct-boot VM has no screen: a clear error, exit 1.
    const shot = cli('screenshot', 'direct', path.join(home, 'x.png'));
    expect(shot.status).toBe(1);
    expect(shot.stderr).toContain('no display');

    const off = await h['vm.powerOff']({ id: created.id });
    expect(off.state).toBe('powered-off');
    expect(existsSync(path.join(folder, RUN_FILE))).toBe(false);
    expect(readFileSync(path.join(folder, 'Logs', 'serial.log'), 'utf8')).toContain('after=42');
    await plane.close();
  });
});

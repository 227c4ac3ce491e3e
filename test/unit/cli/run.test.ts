/**
 * `vireo run` refuses bad launches before any VM exists: a kernel that is not a bzImage, a
 * missing initrd, more memory than the host has, bad flags. On this host without /dev/kvm a
 * launch that passed validation would fail on /dev/kvm instead, so each message here also shows
 * that validation came first. Runs the built CLI (bin/vireo.js) as a real process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const work = mkdtempSync(path.join(tmpdir(), 'vireo-run-'));
let kernel = '';

beforeAll(() => {
  const out = execFileSync('node', [path.join(root, 'test/fixtures/debian-kernel.mjs')], {
    encoding: 'utf8',
  });
  kernel = (JSON.parse(out) as { vmlinuz: string }).vmlinuz;
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function vireoRun(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/vireo.js'), 'run', ...args], {
    encoding: 'utf8',
    input: '',
    timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr };
}

describe('vireo run validation', () => {
  it('refuses a kernel file that is not a bzImage', () => {
    const fake = path.join(work, 'vmlinux');
    writeFileSync(fake, Buffer.alloc(8192, 0x7f));
    const r = vireoRun('--kernel', fake);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a Linux bzImage/);
    expect(r.stderr).not.toContain('/dev/kvm');
  });

  it('refuses a missing initrd', () => {
    const r = vireoRun('--kernel', kernel, '--initrd', path.join(work, 'no-such-initrd'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/initrd .*no-such-initrd does not exist/);
    expect(r.stderr).not.toContain('/dev/kvm');
  });

  it('refuses more memory than the host has', () => {
    const tooMuch = Math.ceil(totalmem() / 2 ** 20) + 1024;
    const r = vireoRun('--kernel', kernel, '--memory', String(tooMuch));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/more than (this host has|Vireo can give one VM)/);
    expect(r.stderr).not.toContain('/dev/kvm');
  });

  it('refuses bad flags with usage (exit 2)', () => {
    expect(vireoRun('--kernel', kernel, '--cpus', 'two').status).toBe(2);
    expect(vireoRun('--kernel', kernel, '--cdrom', kernel).stderr).toContain(
      '--cdrom and --bios are for the PC machine',
    );
    expect(vireoRun('--initrd', kernel).status).toBe(2);
    expect(vireoRun('--screenshot', 'soon.png').stderr).toContain('SECONDS:FILE.png');
    expect(vireoRun('--stop-after', '-3').status).toBe(2);
    expect(vireoRun('--kernel', kernel, '--reboot-action', 'halt').stderr).toContain(
      '--reboot-action must be reset or exit',
    );
    const badBus = vireoRun('--disk', kernel, '--disk-bus', 'scsi');
    expect(badBus.status).toBe(2);
    expect(badBus.stderr).toContain('--disk-bus wants ide or virtio, not "scsi"');
    expect(vireoRun('--kernel', kernel, '--disk-bus', 'virtio').stderr).toContain(
      '--disk-bus is for the PC machine',
    );
    // Four IDE disks do not fit the IDE controller; four virtio disks pass the usage checks
    // (and then stop at the missing ISO, exit 1, before any VM exists).
    const disks = ['--disk', kernel, '--disk', kernel, '--disk', kernel, '--disk', kernel];
    expect(vireoRun(...disks).stderr).toContain('the PC machine takes at most 3 disks');
    const virtio = vireoRun(...disks, '--disk-bus', 'virtio', '--cdrom', '/no/such.iso');
    expect(virtio.status).toBe(1);
    expect(virtio.stderr).toContain('/no/such.iso does not exist');
    // The firmware's boot menu: the PC machine only, a wait SeaBIOS can hold (16 bits of ms).
    expect(vireoRun('--kernel', kernel, '--boot-menu', '1000').stderr).toContain(
      '--boot-menu is for the PC machine',
    );
    expect(vireoRun('--boot-menu', '70000').stderr).toContain('0 to 65535 milliseconds');
    expect(vireoRun('--boot-menu', 'soon').stderr).toContain('--boot-menu needs a whole number');
    const menu = vireoRun('--boot-menu', '3000', '--cdrom', '/no/such.iso');
    expect(menu.status).toBe(1);
    expect(menu.stderr).toContain('/no/such.iso does not exist');
  });

  it('refuses a PC launch that cannot start, before any VM exists (exit 1)', () => {
    const missing = vireoRun('--cdrom', '/no/such/disc.iso');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('ISO image /no/such/disc.iso does not exist');
    const notBios = vireoRun('--bios', kernel);
    expect(notBios.status).toBe(1);
    expect(notBios.stderr).toMatch(/a PC BIOS image is a multiple of 64 KiB/);
    const big = vireoRun('--memory', '8192');
    expect(big.status).toBe(1);
    expect(big.stderr).toContain('the PC machine takes at most 3072 MiB');
    for (const r of [missing, notBios, big]) expect(r.stderr).not.toContain('/dev/kvm');
  });
});

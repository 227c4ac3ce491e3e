/** The `vireo` CLI, in-process through main(), on a temporary library. */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../main/cli/index';

let home: string;
async function vireo(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--home', home, ...args], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'vireo-cli-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('vireo', () => {
  it('prints help everywhere', async () => {
    expect((await vireo('--help')).out).toContain('createvm');
    for (const verb of [
      'list',
      'createvm',
      'modifyvm',
      'showvminfo',
      'deletevm',
      'serve',
      'ostypes',
    ]) {
      const r = await vireo(verb, '--help');
      expect(r.code, verb).toBe(0);
      expect(r.out, verb).toContain(`vireo ${verb}`);
    }
  });

  it('creates, lists, modifies, shows and deletes', async () => {
    const created = await vireo(
      'createvm',
      '--name',
      'cli-vm',
      '--ostype',
      'alpine',
      '--disk-size',
      '2048',
      '--disk-format',
      'raw',
    );
    expect(created.code).toBe(0);
    expect(created.out).toContain('is created and registered');
    const list = JSON.parse((await vireo('list', '--json')).out) as {
      config: { name: string; memoryMiB: number; disks: { format: string }[] };
    }[];
    expect(list.map((v) => v.config.name)).toEqual(['cli-vm']);
    expect(list[0]!.config.memoryMiB).toBe(512);
    expect(list[0]!.config.disks[0]!.format).toBe('raw');
    expect(
      (await vireo('modifyvm', 'cli-vm', '--memory', '768', '--cpus', '1', '--boot', 'disk,cdrom'))
        .code,
    ).toBe(0);
    const info = await vireo('showvminfo', 'cli-vm');
    expect(info.out).toMatch(/Memory:\s+768 MiB/);
    expect(info.out).toMatch(/Boot:\s+firmware \(disk, cdrom\)/);
    // createvm made the image: showvminfo no longer says "image file not created yet".
    expect(info.out).toMatch(/Disk 0:\s+cli-vm\.raw \(raw, 2048 MiB, thin, virtio\)\n/);
    expect(statSync(path.join(home, 'cli-vm', 'cli-vm.raw')).size).toBe(2048 * 1024 * 1024);
    const dry = await vireo('deletevm', 'cli-vm');
    expect(dry.code).toBe(1);
    expect(dry.err).toContain('cli-vm.vireo.json');
    expect((await vireo('deletevm', 'cli-vm', '--yes')).code).toBe(0);
    expect((await vireo('list')).out).toBe('');
  });

  it('exits 2 on usage errors and 1 on failures, with a message', async () => {
    expect((await vireo('frobnicate')).code).toBe(2);
    expect((await vireo('createvm')).err).toContain('--name is required');
    expect((await vireo('createvm', '--name', 'x', '--memory', 'lots')).code).toBe(2);
    expect((await vireo('createvm', '--name', 'x', '--bogus')).code).toBe(2);
    expect((await vireo('createvm', '--name', 'bad/name')).code).toBe(2);
    const missing = await vireo('showvminfo', 'ghost');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('No VM "ghost"');
    expect((await vireo('createvm', '--name', 'y', '--cdrom', '/no/such.iso')).err).toContain(
      'ISO image not found',
    );
  });

  it('modifyvm changes OS type, direct kernel boot, NIC and video memory', async () => {
    const kernel = path.join(home, 'bzImage');
    writeFileSync(kernel, 'kernel');
    expect((await vireo('createvm', '--name', 'k-vm')).code).toBe(0);
    const needsKernel = await vireo('modifyvm', 'k-vm', '--append', 'quiet');
    expect(needsKernel.code).toBe(2);
    expect(needsKernel.err).toContain('give --kernel');
    const r = await vireo(
      'modifyvm',
      'k-vm',
      '--ostype',
      'debian-12',
      '--kernel',
      kernel,
      '--append',
      'console=ttyS0 quiet',
      '--nic',
      'none',
      '--vram',
      '32',
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect((await vireo('modifyvm', 'k-vm', '--append', 'console=ttyS0')).code).toBe(0);
    const vm = JSON.parse((await vireo('showvminfo', 'k-vm', '--json')).out) as {
      config: Record<string, unknown>;
    };
    expect(vm.config.os).toEqual({ family: 'linux', id: 'debian-12' });
    expect(vm.config.boot).toEqual({
      source: 'linux-kernel',
      kernel,
      initrd: null,
      append: 'console=ttyS0',
    });
    expect((vm.config.network as { adapter: string }).adapter).toBe('none');
    expect(vm.config.display).toEqual({ vramMiB: 32 });
    expect((await vireo('modifyvm', 'k-vm', '--boot', 'cdrom', '--kernel', kernel)).code).toBe(2);
    expect((await vireo('modifyvm', 'k-vm', '--nic', 'e1000')).code).toBe(2);
    expect((await vireo('modifyvm', 'k-vm')).err).toContain('nothing to change');
  });

  it('modifyvm turns the firmware boot menu on with its wait, and refuses bad values', async () => {
    expect((await vireo('createvm', '--name', 'menu-vm')).code).toBe(0);
    // A config from before the setting reads as off.
    expect((await vireo('showvminfo', 'menu-vm')).out).toMatch(/Boot menu:\s+off/);
    expect((await vireo('modifyvm', 'menu-vm', '--boot-menu', 'on')).code).toBe(0);
    expect((await vireo('showvminfo', 'menu-vm')).out).toMatch(
      /Boot menu:\s+on, waits 2500 ms for ESC/,
    );
    // The wait alone keeps the menu on; it is merged with what the VM has.
    expect((await vireo('modifyvm', 'menu-vm', '--boot-menu-timeout', '10000')).code).toBe(0);
    const vm = JSON.parse((await vireo('showvminfo', 'menu-vm', '--json')).out) as {
      config: { bootMenu: unknown };
    };
    expect(vm.config.bootMenu).toEqual({ enabled: true, timeoutMs: 10000 });
    for (const bad of [
      ['--boot-menu', 'yes'],
      ['--boot-menu-timeout', '70000'],
      ['--boot-menu-timeout', '-1'],
      ['--boot-menu-timeout', '1.5'],
    ]) {
      const r = await vireo('modifyvm', 'menu-vm', ...bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.err).toMatch(/boot-menu/);
    }
    expect((await vireo('modifyvm', 'menu-vm', '--boot-menu', 'off')).code).toBe(0);
    expect((await vireo('showvminfo', 'menu-vm')).out).toMatch(/Boot menu:\s+off/);
  });

  it('createvm refuses disk details without a disk size, and cpus beyond the host', async () => {
    const r = await vireo('createvm', '--name', 'd', '--disk-format', 'raw');
    expect(r.code).toBe(2);
    expect(r.err).toContain('give --disk-size too');
    const cpus = await vireo(
      'createvm',
      '--name',
      'd',
      '--cpus',
      String(os.availableParallelism() + 1),
    );
    expect(cpus.code).not.toBe(0);
    expect(cpus.err).toContain(`this host has ${os.availableParallelism()}`);
    expect((await vireo('list')).out).not.toContain('"d"');
  });

  it('deletevm --keep-files forgets the VM and keeps its folder; --yes keeps files it did not make', async () => {
    expect((await vireo('createvm', '--name', 'keep')).code).toBe(0);
    const kept = await vireo('deletevm', 'keep', '--keep-files');
    expect(kept.code).toBe(0);
    expect(kept.out).toContain(`its files stay in ${path.join(home, 'keep')}`);
    expect(readdirSync(path.join(home, 'keep'))).toEqual(['keep.vireo.json']);
    expect((await vireo('list')).out).not.toContain('"keep"');

    expect((await vireo('createvm', '--name', 'mixed')).code).toBe(0);
    writeFileSync(path.join(home, 'mixed', 'notes.txt'), 'mine');
    const gone = await vireo('deletevm', 'mixed', '--yes');
    expect(gone.out).toContain('1 file removed');
    expect(gone.out).toContain('also holds notes.txt');
    expect(readdirSync(path.join(home, 'mixed'))).toEqual(['notes.txt']);
  });

  it('createvm detects the OS type from the --cdrom ISO when no --ostype is given', async () => {
    const iso = (label: string): string => {
      const tree = mkdtempSync(path.join(home, 'tree-'));
      writeFileSync(path.join(tree, 'README'), 'x');
      const file = `${tree}.iso`;
      execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', label, '-o', file, tree], {
        stdio: 'ignore',
      });
      return file;
    };
    const ubuntu = await vireo(
      'createvm',
      '--name',
      'u',
      '--memory',
      '512',
      '--cdrom',
      iso('Ubuntu 24.04 LTS amd64'),
    );
    expect(ubuntu.code).toBe(0);
    expect(ubuntu.out).toContain(
      'Detected Ubuntu 24.04 LTS (64-bit) from the ISO\'s volume label "Ubuntu 24.04 LTS amd64"',
    );
    const u = JSON.parse((await vireo('showvminfo', 'u', '--json')).out) as {
      config: { os: unknown };
    };
    expect(u.config.os).toEqual({ family: 'linux', id: 'ubuntu-24.04' });

    const unknown = await vireo('createvm', '--name', 'n', '--cdrom', iso('MY_BACKUP'));
    expect(unknown.out).toContain('names no OS Vireo knows: using "other"');
    // --ostype wins over the label.
    const forced = await vireo(
      'createvm',
      '--name',
      'f',
      '--ostype',
      'alpine',
      '--cdrom',
      iso('Debian 12.5.0 amd64 n'),
    );
    expect(forced.out).not.toContain('Detected');

    const notIso = path.join(home, 'not.iso');
    writeFileSync(notIso, Buffer.alloc(64 * 1024));
    const bad = await vireo('createvm', '--name', 'b', '--cdrom', notIso);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('is not an ISO 9660 image');
    expect((await vireo('list')).out).not.toContain('"b"');
  });
});

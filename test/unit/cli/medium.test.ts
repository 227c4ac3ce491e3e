/**
 * `vireo createmedium`, `modifymedium` and `showmediuminfo` on real images, checked by the peer
 * that must agree with us (Debian's qemu-img): formats, sizes, growth only, never overwriting,
 * the VMs that use an image, and bad arguments refused with exit status 2.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../main/cli/index';

let home: string;
let dir: string;

async function vireo(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--home', home, ...args], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const qemuInfo = (file: string) =>
  JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as {
    format: string;
    'virtual-size': number;
  };

beforeAll(() => {
  home = mkdtempSync(path.join(os.tmpdir(), 'vireo-medium-home-'));
  dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-medium-'));
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('disk image commands', () => {
  it('creates qcow2 and fixed raw images that qemu-img reads, and never overwrites', async () => {
    const q = path.join(dir, 'a.qcow2');
    const r = await vireo('createmedium', 'disk', '--filename', q, '--size', '64');
    expect(r.code, r.err).toBe(0);
    expect(qemuInfo(q)).toMatchObject({ format: 'qcow2', 'virtual-size': 64 * 2 ** 20 });
    execFileSync('qemu-img', ['check', q]);
    const raw = path.join(dir, 'b.raw');
    expect(
      (
        await vireo(
          'createmedium',
          'disk',
          '--filename',
          raw,
          '--size',
          '4',
          '--format',
          'raw',
          '--variant',
          'Fixed',
        )
      ).code,
    ).toBe(0);
    expect(statSync(raw).size).toBe(4 * 2 ** 20);
    expect(statSync(raw).blocks * 512).toBeGreaterThanOrEqual(4 * 2 ** 20);
    const again = await vireo('createmedium', 'disk', '--filename', q, '--size', '8');
    expect(again.code).toBe(1);
    expect(again.err).toContain('already exists');
    expect(qemuInfo(q)['virtual-size']).toBe(64 * 2 ** 20);
  });

  it('grows an image, refuses to shrink it, and shows its information and users', async () => {
    const q = path.join(dir, 'grow.qcow2');
    await vireo('createmedium', 'disk', '--filename', q, '--size', '32');
    const grown = await vireo('modifymedium', q, '--resize', '96');
    expect(grown.code, grown.err).toBe(0);
    expect(qemuInfo(q)['virtual-size']).toBe(96 * 2 ** 20);
    execFileSync('qemu-img', ['check', q]);
    const shrink = await vireo('modifymedium', q, '--resize', '16');
    expect(shrink.code).toBe(1);
    expect(shrink.err).toContain('only grow');
    expect(qemuInfo(q)['virtual-size']).toBe(96 * 2 ** 20);

    // A VM whose disk is this image is named as its user.
    expect((await vireo('createvm', '--name', 'web', '--disk-size', '16')).code).toBe(0);
    const vmDisk = path.join(home, 'web', 'web.qcow2');
    const info = await vireo('showmediuminfo', vmDisk);
    expect(info.code, info.err).toBe(0);
    expect(info.out).toMatch(/Format:\s+qcow2/);
    expect(info.out).toMatch(/Capacity:\s+16\.0 MiB/);
    expect(info.out).toMatch(/State:\s+consistent/);
    expect(info.out).toMatch(/In use by VMs:\s+web/);
    const json = JSON.parse((await vireo('showmediuminfo', q, '--json')).out) as {
      virtualSize: number;
      usedBy: unknown[];
    };
    expect(json.virtualSize).toBe(96 * 2 ** 20);
    expect(json.usedBy).toEqual([]);
  });

  it('attaches and detaches an image with modifyvm, and names its user', async () => {
    const q = path.join(dir, 'attach.qcow2');
    await vireo('createmedium', 'disk', '--filename', q, '--size', '64');
    expect((await vireo('createvm', '--name', 'db')).code).toBe(0);
    const attached = await vireo('modifyvm', 'db', '--attach-disk', q, '--disk-bus', 'ide');
    expect(attached.code, attached.err).toBe(0);
    expect((await vireo('showmediuminfo', q)).out).toMatch(/In use by VMs:\s+db/);
    expect((await vireo('showvminfo', 'db')).out).toContain(q);
    // A second VM may not write the same image.
    expect((await vireo('createvm', '--name', 'db2')).code).toBe(0);
    const shared = await vireo('modifyvm', 'db2', '--attach-disk', q);
    expect(shared.code).toBe(1);
    expect(shared.err).toMatch(/attached to "db"/);
    const bus = await vireo('modifyvm', 'db', '--attach-disk', q, '--disk-bus', 'scsi');
    expect(bus.code).toBe(2);
    const detached = await vireo('modifyvm', 'db', '--detach-disk', q);
    expect(detached.code, detached.err).toBe(0);
    expect((await vireo('showmediuminfo', q)).out).toMatch(/In use by VMs:\s+none/);
  });

  it('refuses bad arguments and files that are not images', async () => {
    expect(
      (await vireo('createmedium', 'disk', '--filename', path.join(dir, 'x.qcow2'), '--size', '0'))
        .code,
    ).toBe(2);
    expect(
      (
        await vireo(
          'createmedium',
          'disk',
          '--filename',
          path.join(dir, 'x.qcow2'),
          '--size',
          '8',
          '--format',
          'vmdk',
        )
      ).code,
    ).toBe(2);
    expect(
      (await vireo('createmedium', 'floppy', '--filename', path.join(dir, 'x.img'), '--size', '8'))
        .code,
    ).toBe(2);
    expect((await vireo('modifymedium', path.join(dir, 'none.qcow2'), '--resize', '8')).code).toBe(
      1,
    );
    const text = path.join(dir, 'notes.vmdk');
    writeFileSync(text, 'KDMV not really');
    const r = await vireo('showmediuminfo', text);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/VMDK/);
  });
});

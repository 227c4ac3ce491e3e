/** The `vireo` CLI, in-process through main(), on a temporary library. */
import { mkdtempSync, rmSync } from 'node:fs';
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
});

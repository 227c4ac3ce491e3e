import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeFailure, type NewVmRequest } from '../../../preload/contract';
import { writeFileAtomic } from '../../../main/control/atomic-write';
import { Library } from '../../../main/control/library';
import { RUN_FILE } from '../../../main/control/supervisor';

let root: string;
let library: Library;
const request = (over: Partial<NewVmRequest> = {}): NewVmRequest => ({
  name: 'alpha',
  folder: null,
  os: { family: 'linux', id: 'debian-12' },
  cpus: 1,
  memoryMiB: 512,
  disk: { sizeMiB: 1024, format: 'qcow2', allocation: 'thin', bus: 'virtio' },
  iso: null,
  ...over,
});

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'vireo-lib-'));
  library = new Library(root, { cores: 4, memoryMiB: 8192 });
  await library.init();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<BridgeFailure> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BridgeFailure);
  return e as BridgeFailure;
}

describe('the VM library', () => {
  it('creates a VM as a folder with a readable, versioned config', async () => {
    const vm = await library.create(request());
    expect(vm.accessible).toBe(true);
    const file = path.join(root, 'alpha', 'alpha.vireo.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(config.version).toBe(1);
    expect(config.memoryMiB).toBe(512);
    expect(config.disks).toEqual([
      { path: 'alpha.qcow2', format: 'qcow2', sizeMiB: 1024, allocation: 'thin', bus: 'virtio' },
    ]);
    expect((await library.list()).map((v) => v.id)).toEqual([vm.id]);
  });

  it('refuses duplicate names, host-exceeding hardware and missing ISOs with clear messages', async () => {
    await library.create(request());
    expect((await failure(library.create(request({ name: 'ALPHA' })))).message).toContain(
      'already exists',
    );
    expect((await failure(library.create(request({ name: 'b', cpus: 5 })))).message).toContain(
      'this host has 4',
    );
    expect(
      (await failure(library.create(request({ name: 'c', memoryMiB: 9000 })))).message,
    ).toContain('8192 MiB');
    const iso = await failure(library.create(request({ name: 'd', iso: '/nonexistent.iso' })));
    expect(iso.code).toBe('not-found');
    expect(readdirSync(root).sort()).toEqual(['alpha']);
  });

  it('keeps VMs in other folders through the registry', async () => {
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'vireo-else-'));
    try {
      const vm = await library.create(request({ name: 'outside', folder: elsewhere }));
      expect(vm.folder).toBe(path.join(elsewhere, 'outside'));
      expect((await new Library(root).list()).map((v) => v.id)).toContain(vm.id);
      await library.delete(vm.id, true);
      expect(readdirSync(elsewhere)).toEqual([]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('updates settings, renames folder and file with the VM', async () => {
    const vm = await library.create(request());
    const renamed = await library.update(vm.id, {
      name: 'beta',
      memoryMiB: 1024,
      bootOrder: ['disk', 'cdrom'],
    });
    expect(renamed.accessible && renamed.config.memoryMiB).toBe(1024);
    expect(readdirSync(root)).toEqual(['beta']);
    expect(readdirSync(path.join(root, 'beta'))).toEqual(['beta.vireo.json']);
    expect(renamed.accessible && renamed.config.boot).toEqual({
      source: 'firmware',
      order: ['disk', 'cdrom'],
    });
  });

  it('refuses edits that need the VM off while it runs', async () => {
    const vm = await library.create(request());
    writeFileSync(
      path.join(vm.folder, RUN_FILE),
      JSON.stringify({ pid: process.pid, state: 'running', startedAt: new Date().toISOString() }),
    );
    expect((await library.get(vm.id)).state).toBe('running');
    const e = await failure(library.update(vm.id, { memoryMiB: 1024 }));
    expect(e.code).toBe('invalid-state');
    expect(e.message).toContain('Power off');
    expect((await failure(library.delete(vm.id, true))).code).toBe('invalid-state');
    // The description may change while it runs.
    await library.update(vm.id, { description: 'live edit' });
  });

  it('shows a dead run file as aborted', async () => {
    const vm = await library.create(request());
    writeFileSync(
      path.join(vm.folder, RUN_FILE),
      JSON.stringify({ pid: 2 ** 22 + 7, state: 'running', startedAt: '' }),
    );
    const again = await library.get(vm.id);
    expect(again.state).toBe('aborted');
    expect(again.stateReason).toContain('ended without powering the VM off');
  });

  it.each([
    ['bad JSON', '{"version": 1, ', 'not valid JSON'],
    ['an unknown version', JSON.stringify({ version: 99, name: 'x' }), 'newer Vireo'],
    [
      'a schema error',
      JSON.stringify({ version: 1, id: 'not-a-uuid', name: 'x' }),
      'does not match the schema',
    ],
  ])(
    'lists a config with %s as inaccessible, with the reason, and never rewrites it',
    async (_what, content, reason) => {
      mkdirSync(path.join(root, 'broken'));
      const file = path.join(root, 'broken', 'broken.vireo.json');
      writeFileSync(file, content);
      await library.create(request());
      const list = await library.list();
      const broken = list.find((v) => !v.accessible);
      expect(broken?.stateReason).toContain(reason);
      expect(list.filter((v) => v.accessible)).toHaveLength(1);
      expect((await failure(library.update(broken!.id, { cpus: 1 }))).code).toBe('invalid-state');
      expect(readFileSync(file, 'utf8')).toBe(content);
    },
  );

  it('lists the files a delete removes, and "remove only" keeps them', async () => {
    const vm = await library.create(request());
    writeFileSync(path.join(vm.folder, 'alpha.qcow2'), 'disk');
    expect(await library.deletePlan(vm.id)).toEqual([
      path.join(vm.folder, 'alpha.qcow2'),
      path.join(vm.folder, 'alpha.vireo.json'),
    ]);
    await library.delete(vm.id, false);
    expect(await library.list()).toEqual([]);
    expect(readdirSync(vm.folder).sort()).toEqual(['alpha.qcow2', 'alpha.vireo.json']);
  });
});

describe('atomic writes', () => {
  it('replaces the file whole and leaves no temp file', async () => {
    const file = path.join(root, 'f.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(root)).toEqual(['f.json']);
  });

  it('leaves the old content and no temp file when the final rename fails', async () => {
    const target = path.join(root, 'busy');
    mkdirSync(target);
    writeFileSync(path.join(target, 'keep'), 'old');
    await expect(writeFileAtomic(target, 'new')).rejects.toThrow();
    expect(readFileSync(path.join(target, 'keep'), 'utf8')).toBe('old');
    expect(readdirSync(root)).toEqual(['busy']);
  });
});

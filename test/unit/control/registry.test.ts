/** library.json: concurrent changes from several writers, stale and held locks, damage. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeFailure } from '../../../preload/contract';
import { Library } from '../../../main/control/library';
import { LibraryRegistry, LOCK_FILE, REGISTRY_FILE } from '../../../main/control/registry';

let root: string;
let elsewhere: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'vireo-reg-'));
  elsewhere = mkdtempSync(path.join(os.tmpdir(), 'vireo-reg-else-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

describe('the library registry', () => {
  it('loses no entry when two writers (app and CLI) create VMs elsewhere at once', async () => {
    // Two Library objects have separate in-process queues, so only the lock file keeps them apart.
    const app = new Library(root, { cores: 2, memoryMiB: 4096 });
    const cli = new Library(root, { cores: 2, memoryMiB: 4096 });
    const create = (library: Library, name: string) =>
      library.create({
        name,
        folder: elsewhere,
        os: { family: 'other', id: 'other' },
        cpus: 1,
        memoryMiB: 64,
        disk: null,
        iso: null,
      });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => [
        create(app, `app-${i}`),
        create(cli, `cli-${i}`),
      ]).flat(),
    );
    const registry = JSON.parse(readFileSync(path.join(root, REGISTRY_FILE), 'utf8')) as {
      external: string[];
    };
    expect(registry.external).toHaveLength(16);
    expect((await app.list()).filter((v) => v.accessible)).toHaveLength(16);
  });

  it('takes over a lock left by a process that died', async () => {
    writeFileSync(path.join(root, LOCK_FILE), `${2 ** 22 + 11}\n`);
    await new LibraryRegistry(root).update((r) => void r.hidden.push('/x'));
    expect((await new LibraryRegistry(root).read()).hidden).toEqual(['/x']);
  });

  it('gives up on a lock a live process holds, saying what to do', async () => {
    writeFileSync(path.join(root, LOCK_FILE), `${process.pid}\n`);
    const e = await new LibraryRegistry(root, 100).update(() => undefined).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BridgeFailure);
    expect((e as BridgeFailure).message).toContain(`pid ${process.pid}`);
    expect((e as BridgeFailure).message).toContain(LOCK_FILE);
  });

  it('refuses relative paths in a hand-edited registry', async () => {
    writeFileSync(
      path.join(root, REGISTRY_FILE),
      JSON.stringify({ version: 1, external: ['vms/a'], hidden: [] }),
    );
    const e = await new LibraryRegistry(root).read().catch((x: unknown) => x);
    expect((e as BridgeFailure).message).toContain('external.0: must be an absolute path');
  });
});

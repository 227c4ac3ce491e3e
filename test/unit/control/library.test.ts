import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  statSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeFailure, type NewVmRequest } from '../../../preload/contract';
import { Library } from '../../../main/control/library';
import { RUN_FILE } from '../../../main/control/supervisor';
import { serveControlSocket } from '../../../main/engine/host/control-socket';
import { AtapiCdrom } from '../../../main/engine/devices/ide/atapi-cdrom';

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
    expect(config.version).toBe(2);
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

  it('keeps a VM made on a bigger host editable, checking only what changes', async () => {
    const vm = await library.create(request({ cpus: 4 }));
    const small = new Library(root, { cores: 2, memoryMiB: 8192 });
    await small.update(vm.id, { description: 'moved to a laptop' });
    expect((await failure(small.update(vm.id, { cpus: 3 }))).message).toContain('this host has 2');
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
    // The image keeps its name (the config points at it relative to the folder).
    expect(readdirSync(path.join(root, 'beta')).sort()).toEqual(['alpha.qcow2', 'beta.vireo.json']);
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

  it('shares run state through the run file the supervisor writes', async () => {
    const vm = await library.create(request());
    await library.supervisor.recordRun(vm.folder, { pid: process.pid, state: 'paused' });
    // Another Library (another process, in effect) sees it.
    expect((await new Library(root).get(vm.id)).state).toBe('paused');
    expect(readdirSync(vm.folder).sort()).toEqual([
      '.vireo-run.json',
      'alpha.qcow2',
      'alpha.vireo.json',
    ]);
    await library.supervisor.clearRun(vm.folder);
    expect((await library.get(vm.id)).state).toBe('powered-off');
  });

  it('does not mistake a reused pid for the VM host process', async () => {
    const vm = await library.create(request());
    await library.supervisor.recordRun(vm.folder, { pid: process.pid, state: 'running' });
    const file = path.join(vm.folder, RUN_FILE);
    const run = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(typeof run.bootId).toBe('string');
    expect(typeof run.startTicks).toBe('number');
    expect((await library.get(vm.id)).state).toBe('running');
    // Same pid, other start time: another process got the pid.
    writeFileSync(file, JSON.stringify({ ...run, startTicks: (run.startTicks as number) + 1 }));
    expect((await library.get(vm.id)).state).toBe('aborted');
    // Same pid and start time, other boot: the run file survived a reboot.
    writeFileSync(file, JSON.stringify({ ...run, bootId: 'another-boot' }));
    expect((await library.get(vm.id)).state).toBe('aborted');
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

  it('reads a version 1 config (before the boot menu) as version 2, and rewrites it only on a change', async () => {
    const vm = await library.create(request());
    const file = path.join(root, 'alpha', 'alpha.vireo.json');
    const v2 = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(v2.version).toBe(2);
    expect(v2.bootMenu).toEqual({ enabled: false, timeoutMs: 2500 });
    const { bootMenu: _dropped, ...rest } = v2;
    const v1 = JSON.stringify({ ...rest, version: 1 }, null, 2);
    writeFileSync(file, v1);
    const listed = (await library.list()).find((v) => v.id === vm.id);
    expect(listed?.accessible).toBe(true);
    if (!listed?.accessible) return;
    expect(listed.config.version).toBe(2);
    expect(listed.config.bootMenu).toEqual({ enabled: false, timeoutMs: 2500 });
    expect(readFileSync(file, 'utf8')).toBe(v1);
    await library.update(vm.id, { bootMenu: { enabled: true, timeoutMs: 4000 } });
    const after = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(after.version).toBe(2);
    expect(after.bootMenu).toEqual({ enabled: true, timeoutMs: 4000 });
  });

  it('creates the disk image the request asks for, as qemu-img reads it', async () => {
    const vm = await library.create(request());
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', path.join(vm.folder, 'alpha.qcow2')], {
        encoding: 'utf8',
      }),
    ) as { format: string; 'virtual-size': number };
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(1024 * 1024 * 1024);
    execFileSync('qemu-img', ['check', path.join(vm.folder, 'alpha.qcow2')]);
    const fixed = await library.create(
      request({
        name: 'fixed',
        disk: { sizeMiB: 8, format: 'raw', allocation: 'preallocated', bus: 'ide' },
      }),
    );
    const raw = path.join(fixed.folder, 'fixed.raw');
    expect(statSync(raw).size).toBe(8 * 1024 * 1024);
    // Preallocated: the blocks are on disk, not a sparse file.
    expect(statSync(raw).blocks * 512).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(await library.deletePlan(fixed.id)).toContain(raw);
    await library.delete(fixed.id, true);
    expect(existsSync(raw)).toBe(false);
  });

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

describe('the VM library against hostile or damaged folders', () => {
  it('shows an external VM whose folder went missing as inaccessible, and lists the rest', async () => {
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'vireo-else-'));
    try {
      const vm = await library.create(request({ name: 'roamer', folder: elsewhere }));
      await library.create(request());
      renameSync(vm.folder, `${vm.folder}-moved`);
      const list = await library.list();
      expect(list.map((v) => v.accessible)).toEqual([true, false]);
      expect(list[1]!.stateReason).toContain('is missing: it was moved or deleted');
      // Removing it from the library forgets the registry entry and touches no file.
      await library.delete(list[1]!.id, false);
      expect((await library.list()).map((v) => v.accessible)).toEqual([true]);
      expect(readdirSync(`${vm.folder}-moved`).sort()).toEqual([
        'roamer.qcow2',
        'roamer.vireo.json',
      ]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it.each([
    ['no version', JSON.stringify({ name: 'x' }), 'no "version" field'],
    ['a string version', JSON.stringify({ version: '1' }), 'version "1"'],
    ['JSON that is not an object', 'null', 'no "version" field'],
    ['a config far too big', `{"pad": "${'x'.repeat(1100 * 1024)}"}`, 'it is not a Vireo config'],
  ])('reports %s as inaccessible without rewriting it', async (_what, content, reason) => {
    mkdirSync(path.join(root, 'odd'));
    const file = path.join(root, 'odd', 'odd.vireo.json');
    writeFileSync(file, content);
    const [vm] = await library.list();
    expect(vm?.accessible).toBe(false);
    expect(vm?.stateReason).toContain(reason);
    expect((await failure(library.update(vm!.id, { cpus: 1 }))).code).toBe('invalid-state');
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('shows a copied VM folder (same id) as inaccessible, keeping the original usable', async () => {
    const vm = await library.create(request());
    mkdirSync(path.join(root, 'alpha copy'));
    const copy = path.join(root, 'alpha copy', 'alpha copy.vireo.json');
    writeFileSync(copy, readFileSync(vm.configPath));
    const list = await library.list();
    expect(list.map((v) => [v.folder, v.accessible])).toEqual([
      [vm.folder, true],
      [path.join(root, 'alpha copy'), false],
    ]);
    expect(list[1]!.stateReason).toContain(`same id as the VM in ${vm.folder}`);
    expect((await library.get(vm.id)).folder).toBe(vm.folder);
    await library.update(vm.id, { cpus: 2 });
    expect(readFileSync(copy, 'utf8')).not.toContain('"cpus": 2');
  });

  it('does not hang on a FIFO planted as a config file', async () => {
    mkdirSync(path.join(root, 'pipe'));
    execFileSync('mkfifo', [path.join(root, 'pipe', 'pipe.vireo.json')]);
    const [vm] = await library.list();
    expect(vm?.stateReason).toContain('is not a regular file');
  });

  it('ignores folders without a config and refuses folders with several', async () => {
    mkdirSync(path.join(root, 'photos'));
    writeFileSync(path.join(root, 'photos', 'a.jpg'), '');
    mkdirSync(path.join(root, 'twins'));
    writeFileSync(path.join(root, 'twins', 'a.vireo.json'), '{}');
    writeFileSync(path.join(root, 'twins', 'b.vireo.json'), '{}');
    const list = await library.list();
    expect(list).toHaveLength(1);
    expect(list[0]!.stateReason).toContain('several config files');
  });

  it('says clearly that a damaged registry is damaged, and never overwrites it', async () => {
    const registry = path.join(root, 'library.json');
    writeFileSync(registry, '{"version": 1, "external": [');
    const e = await failure(library.list());
    expect(e.code).toBe('io');
    expect(e.message).toContain('library.json is not valid JSON');
    await failure(library.create(request()));
    expect(readFileSync(registry, 'utf8')).toBe('{"version": 1, "external": [');
    writeFileSync(registry, JSON.stringify({ version: 1, external: [7], hidden: [] }));
    expect((await failure(library.list())).message).toContain('external.0');
  });

  it('deletes only the files Vireo made, and keeps the folder when the user put others there', async () => {
    const vm = await library.create(request());
    writeFileSync(path.join(vm.folder, 'alpha.qcow2'), 'disk');
    writeFileSync(path.join(vm.folder, 'notes.txt'), 'mine');
    mkdirSync(path.join(vm.folder, 'Logs'));
    writeFileSync(path.join(vm.folder, 'Logs', 'vm.log'), 'log');
    const plan = await library.deletePlan(vm.id);
    expect(plan).toEqual([
      path.join(vm.folder, 'Logs', 'vm.log'),
      path.join(vm.folder, 'alpha.qcow2'),
      path.join(vm.folder, 'alpha.vireo.json'),
    ]);
    expect(await library.delete(vm.id, true)).toEqual(plan);
    expect(readdirSync(vm.folder)).toEqual(['notes.txt']);
    expect(await library.list()).toEqual([]);
  });

  it('never deletes outside the VM folder, even when a hostile registry points at a home', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'vireo-home-'));
    try {
      writeFileSync(path.join(home, 'thesis.tex'), 'precious');
      writeFileSync(path.join(home, 'home.vireo.json'), 'not json');
      writeFileSync(
        path.join(root, 'library.json'),
        JSON.stringify({ version: 1, external: [home], hidden: [] }),
      );
      const [vm] = await library.list();
      expect(vm?.accessible).toBe(false);
      expect(await library.delete(vm!.id, true)).toEqual([path.join(home, 'home.vireo.json')]);
      expect(readFileSync(path.join(home, 'thesis.tex'), 'utf8')).toBe('precious');
      // A disk path that climbs out of the folder is not deleted either.
      const outside = path.join(home, 'shared.qcow2');
      writeFileSync(outside, 'shared');
      const ok = await library.create(request({ name: 'climber' }));
      const file = ok.configPath;
      const config = JSON.parse(readFileSync(file, 'utf8')) as { disks: { path: string }[] };
      rmSync(path.join(ok.folder, config.disks[0]!.path));
      config.disks[0]!.path = outside;
      writeFileSync(file, JSON.stringify(config));
      await library.delete(ok.id, true);
      expect(existsSync(outside)).toBe(true);
      expect(existsSync(ok.folder)).toBe(false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('boot settings', () => {
  it('checks and records a direct Linux kernel boot, and a boot order switches back to firmware', async () => {
    const kernel = path.join(root, 'bzImage');
    writeFileSync(kernel, 'kernel');
    const missing = await failure(
      library.create(
        request({
          name: 'k',
          boot: { source: 'linux-kernel', kernel: '/no/bzImage', initrd: null, append: '' },
        }),
      ),
    );
    expect(missing.message).toContain('Kernel image not found at /no/bzImage');
    expect(existsSync(path.join(root, 'k'))).toBe(false);
    const vm = await library.create(
      request({
        name: 'k',
        boot: { source: 'linux-kernel', kernel, initrd: null, append: 'console=ttyS0' },
      }),
    );
    expect(vm.accessible && vm.config.boot).toEqual({
      source: 'linux-kernel',
      kernel,
      initrd: null,
      append: 'console=ttyS0',
    });
    const back = await library.update(vm.id, { bootOrder: ['disk'] });
    expect(back.accessible && back.config.boot).toEqual({ source: 'firmware', order: ['disk'] });
    const dup = await failure(library.update(vm.id, { bootOrder: ['disk', 'disk'] }));
    expect(dup.message).toContain('appear once');
  });

  it('may change the ISO of a running VM, live through its control socket, but not its network adapter', async () => {
    const iso = path.join(root, 'x.iso');
    writeFileSync(iso, Buffer.alloc(4 * 2048));
    const vm = await library.create(request());
    // A running VM as the supervisor records it: this process stands in for its VM host and
    // serves the real control socket with a real ATAPI drive behind it.
    const drive = new AtapiCdrom();
    const socket = path.join(root, 'vm.sock');
    const closeSocket = await serveControlSocket(socket, {
      screenshot: () => null,
      sendKeys: () => Promise.resolve(),
      changeMedium: (p) => (p === null ? drive.eject() : drive.insert(p)),
    });
    try {
      const runFile = path.join(vm.folder, RUN_FILE);
      const run = { pid: process.pid, state: 'paused', startedAt: new Date().toISOString() };
      writeFileSync(runFile, JSON.stringify({ ...run, control: socket }));
      const live = await library.update(vm.id, { iso });
      expect(live.accessible && live.config.optical.iso).toBe(iso);
      expect(drive.current?.path).toBe(iso);
      // The drive refuses a file that is not a disc: the config keeps the old ISO.
      const bad = path.join(root, 'tiny.iso');
      writeFileSync(bad, 'x');
      const refused = await failure(library.update(vm.id, { iso: bad }));
      expect(refused.message).toMatch(/did not take the disc: .*not an ISO image/);
      const after = await library.get(vm.id);
      expect(after.accessible && after.config.optical.iso).toBe(iso);
      // No reachable VM host: refused with what to do, nothing changed.
      writeFileSync(runFile, JSON.stringify(run));
      const unreachable = await failure(library.update(vm.id, { iso: null }));
      expect(unreachable.message).toMatch(/cannot be reached/);
      const e = await failure(
        library.update(vm.id, { network: { adapter: 'none', mac: '52:54:00:00:00:01' } }),
      );
      expect(e.message).toContain('network cannot change while it is paused');
    } finally {
      closeSocket();
    }
  });
});

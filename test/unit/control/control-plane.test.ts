/**
 * The control plane as the app and `vireo serve` use it: handlers, the supervisor seam, the
 * library root resolution, and events, including those for changes another process made on disk.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BridgeFailure,
  calls,
  type EventName,
  type EventPayload,
  type NewVmRequest,
} from '../../../preload/contract';
import {
  createControlPlane,
  resolveLibraryRoot,
  type ControlPlane,
} from '../../../main/control/index';
import { hypervisorStatus } from '../../../main/control/host-info';
import { Library } from '../../../main/control/library';
import { RUN_FILE } from '../../../main/control/supervisor';

let root: string;
/** Debian's bzImage (test/fixtures/debian-kernel.mjs; cached in .cache/). */
function debianKernel(): string {
  const out = execFileSync('node', [path.resolve('test/fixtures/debian-kernel.mjs')], {
    encoding: 'utf8',
  });
  return (JSON.parse(out) as { vmlinuz: string }).vmlinuz;
}
let control: ControlPlane;
const events: { name: EventName; payload: EventPayload<EventName> }[] = [];
const request: NewVmRequest = {
  name: 'alpha',
  folder: null,
  os: { family: 'linux', id: 'alpine' },
  cpus: 1,
  memoryMiB: 256,
  disk: null,
  iso: null,
};

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'vireo-cp-'));
  control = await createControlPlane({ home: root, mode: 'browser' });
  events.length = 0;
  control.onEvent((name, payload) => events.push({ name, payload }));
});
afterEach(async () => {
  await control.close();
  rmSync(root, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<BridgeFailure> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BridgeFailure);
  return e as BridgeFailure;
}

/** Waits (up to 5 s) until an event matching `match` arrives. */
async function eventually(match: (e: (typeof events)[number]) => boolean): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 25) {
    if (events.some(match)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no such event; got ${JSON.stringify(events.map((e) => e.name))}`);
}

describe('resolveLibraryRoot', () => {
  it('takes --home, then VIREO_HOME, then XDG_DATA_HOME, then ~/.local/share', () => {
    const env = { VIREO_HOME: '/v', XDG_DATA_HOME: '/x' };
    expect(resolveLibraryRoot('/flag', env)).toBe('/flag');
    expect(resolveLibraryRoot(undefined, env)).toBe('/v');
    expect(resolveLibraryRoot(undefined, { XDG_DATA_HOME: '/x' })).toBe('/x/vireo');
    // XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and ignored.
    expect(resolveLibraryRoot(undefined, { XDG_DATA_HOME: 'rel' })).toBe(
      path.join(os.homedir(), '.local', 'share', 'vireo'),
    );
    expect(resolveLibraryRoot('rel/lib', {})).toBe(path.resolve('rel/lib'));
  });
});

describe('the control plane', () => {
  it('answers every bridge call with values its result schema accepts', async () => {
    const host = await control.handlers['host.info']({});
    expect(calls['host.info'].result.parse(host).libraryRoot).toBe(root);
    expect(host.cores).toBe(os.availableParallelism());
    calls['os.catalog'].result.parse(await control.handlers['os.catalog']({}));
    const vm = await control.handlers['vm.create'](request);
    calls['vm.create'].result.parse(vm);
    calls['vm.list'].result.parse(await control.handlers['vm.list']({}));
    calls['vm.get'].result.parse(await control.handlers['vm.get']({ id: vm.id }));
    calls['vm.deletePlan'].result.parse(await control.handlers['vm.deletePlan']({ id: vm.id }));
    expect(events.map((e) => e.name)).toEqual(['vm.changed']);
    await control.handlers['vm.delete']({ id: vm.id, deleteFiles: true });
    expect(events.map((e) => e.name)).toEqual(['vm.changed', 'vm.removed']);
  });

  it('keeps going when a listener throws', async () => {
    control.onEvent(() => {
      throw new Error('window closed');
    });
    const vm = await control.handlers['vm.create'](request);
    expect(events.map((e) => e.name)).toEqual(['vm.changed']);
    expect(vm.accessible).toBe(true);
  });

  it('refuses a firmware boot from a missing ISO and controls of a VM that is not running', async () => {
    const vm = await control.handlers['vm.create'](request);
    // The ISO was there when it was chosen and went away afterwards (an unplugged USB disk).
    const missing = path.join(root, 'gone.iso');
    writeFileSync(missing, Buffer.alloc(2048 * 20));
    await control.library.update(vm.id, { iso: missing });
    rmSync(missing);
    const start = await failure(control.handlers['vm.start']({ id: vm.id }));
    expect(start.code).toBe('invalid-state');
    expect(start.message).toContain(`The ISO ${missing} in the optical drive does not exist`);
    for (const call of [
      'vm.pause',
      'vm.resume',
      'vm.powerOff',
      'vm.shutdown',
      'vm.reset',
    ] as const) {
      const e = await failure(control.handlers[call]({ id: vm.id }));
      expect(e.code, call).toBe('invalid-state');
      expect(e.message, call).toContain('powered off');
    }
  });

  it('starts a Linux-kernel VM in its own host process, which ends "aborted" with advice where KVM is missing', async () => {
    if (existsSync('/dev/kvm')) return; // the booting case is test/engine/control-plane-start.test.ts
    const kernel = path.join(root, 'bzImage');
    // The host validates the kernel before it opens /dev/kvm: a real bzImage gets that far.
    copyFileSync(debianKernel(), kernel);
    const vm = await control.handlers['vm.create']({
      ...request,
      boot: { source: 'linux-kernel', kernel, initrd: null, append: 'console=ttyS0' },
    });
    const started = await control.handlers['vm.start']({ id: vm.id });
    expect(['starting', 'aborted']).toContain(started.state);
    let now = started;
    for (let i = 0; i < 100 && now.state !== 'aborted'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = await control.handlers['vm.get']({ id: vm.id });
    }
    expect(now.state).toBe('aborted');
    expect(now.stateReason).toMatch(/modprobe kvm_intel/);
    // A new start is allowed after an abort.
    expect(control.library.supervisor.isActive(now.state)).toBe(false);
  });

  it('starts a firmware-boot VM (the PC machine) in its own host process, which ends "aborted" with advice where KVM is missing', async () => {
    if (existsSync('/dev/kvm')) return; // the booting case is test/engine/pc-cdrom.test.ts
    const vm = await control.handlers['vm.create'](request);
    expect(vm.accessible && vm.config.boot.source).toBe('firmware');
    const started = await control.handlers['vm.start']({ id: vm.id });
    let now = started;
    for (let i = 0; i < 100 && now.state !== 'aborted'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = await control.handlers['vm.get']({ id: vm.id });
    }
    expect(now.state).toBe('aborted');
    expect(now.stateReason).toMatch(/modprobe kvm_intel/);
  });

  it('tells listeners about changes another process makes on disk', async () => {
    // A second Library on the same root stands for the CLI in another process.
    const other = new Library(root);
    const made = await other.create(request);
    await eventually((e) => e.name === 'vm.changed');
    await other.update(made.id, { memoryMiB: 512 });
    await eventually(
      (e) =>
        e.name === 'vm.changed' &&
        'vm' in e.payload &&
        e.payload.vm.accessible &&
        e.payload.vm.config.memoryMiB === 512,
    );
    // A VM host process appearing (its run file) is a state change too.
    writeFileSync(
      path.join(made.folder, RUN_FILE),
      JSON.stringify({ pid: process.pid, state: 'running', startedAt: new Date().toISOString() }),
    );
    await eventually(
      (e) => e.name === 'vm.changed' && 'vm' in e.payload && e.payload.vm.state === 'running',
    );
    rmSync(path.join(made.folder, RUN_FILE));
    await other.delete(made.id, true);
    await eventually(
      (e) => e.name === 'vm.removed' && 'id' in e.payload && e.payload.id === made.id,
    );
  });

  it('notices edits to VMs in folders outside the library root', async () => {
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'vireo-cp-else-'));
    try {
      const vm = await control.handlers['vm.create']({ ...request, folder: elsewhere });
      // Restart so the external folder is watched from a fresh baseline, as after an app restart.
      await control.close();
      control = await createControlPlane({ home: root, mode: 'browser' });
      events.length = 0;
      control.onEvent((name, payload) => events.push({ name, payload }));
      await new Library(root).update(vm.id, { description: 'edited elsewhere' });
      await eventually(
        (e) =>
          e.name === 'vm.changed' &&
          'vm' in e.payload &&
          e.payload.vm.accessible &&
          e.payload.vm.config.description === 'edited elsewhere',
      );
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('turns a damaged ISO into a clear invalid-arguments failure', async () => {
    const junk = path.join(root, 'junk.iso');
    writeFileSync(junk, Buffer.alloc(64 * 1024, 1));
    const e = await failure(control.handlers['iso.inspect']({ path: junk }));
    expect(e.code).toBe('invalid-arguments');
    expect(e.message).toContain('not an ISO 9660 image');
  });
});

describe('files.list (browser-mode file picker)', () => {
  it('lists folders first, then files with the wanted extensions, hiding dot files', async () => {
    const dir = path.join(root, 'pick');
    mkdirSync(path.join(dir, 'sub'), { recursive: true });
    for (const f of ['b.iso', 'A.ISO', 'notes.txt', '.hidden.iso'])
      writeFileSync(path.join(dir, f), 'x');
    const listing = await control.handlers['files.list']({ path: dir, extensions: ['iso'] });
    expect(listing.path).toBe(dir);
    expect(listing.parent).toBe(root);
    expect(listing.entries.map((e) => `${e.kind}:${e.name}`)).toEqual([
      'directory:sub',
      'file:A.ISO',
      'file:b.iso',
    ]);
    const all = await control.handlers['files.list']({ path: dir, extensions: [] });
    expect(all.entries.map((e) => e.name)).toContain('notes.txt');
  });

  it('follows symlinks to folders and ISOs, and skips dangling ones', async () => {
    const dir = path.join(root, 'links');
    mkdirSync(path.join(dir, 'real'), { recursive: true });
    writeFileSync(path.join(dir, 'real', 'd.iso'), 'iso');
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'to-folder'));
    symlinkSync(path.join(dir, 'real', 'd.iso'), path.join(dir, 'to.iso'));
    symlinkSync(path.join(dir, 'gone'), path.join(dir, 'dangling.iso'));
    const listing = await control.handlers['files.list']({ path: dir, extensions: ['.iso'] });
    expect(listing.entries.map((e) => `${e.kind}:${e.name}:${e.sizeBytes}`)).toEqual([
      'directory:real:0',
      'directory:to-folder:0',
      'file:to.iso:3',
    ]);
  });

  it('starts in the home folder and fails clearly on a missing folder or a file', async () => {
    expect((await control.handlers['files.list']({ path: null, extensions: [] })).path).toBe(
      os.homedir(),
    );
    expect(
      (await failure(control.handlers['files.list']({ path: '/no/such', extensions: [] }))).code,
    ).toBe('not-found');
    const file = path.join(root, 'f');
    writeFileSync(file, '');
    expect(
      (await failure(control.handlers['files.list']({ path: file, extensions: [] }))).message,
    ).toContain('is not a folder');
  });
});

describe('host facts', () => {
  it('says what to do when /dev/kvm is missing or is not a device', () => {
    const missing = hypervisorStatus(path.join(root, 'kvm'));
    expect(missing.available).toBe(false);
    expect(missing.reason).toContain('load kvm-intel or kvm-amd');
    const plain = path.join(root, 'plain');
    writeFileSync(plain, '');
    chmodSync(plain, 0o666);
    expect(hypervisorStatus(plain).reason).toContain('is not a device file');
  });
});

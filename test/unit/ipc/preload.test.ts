/**
 * The preload as the sandbox will load it: bundled by esbuild the way scripts/build.mjs does,
 * then run in a fresh V8 context whose `require` knows only 'electron' (a sandboxed preload can
 * require nothing else). Electron itself cannot start here, so 'electron' is a recorder of what
 * the preload exposes and sends: enough to check that it exposes only `vireo`, never
 * ipcRenderer, and that `on` filters by event name.
 */
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPC_CHANNEL_CALL, IPC_CHANNEL_EVENT } from '../../../preload/contract';

let dir: string;
let bundle: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-preload-'));
  const outfile = path.join(dir, 'index.cjs');
  await build({
    entryPoints: [path.resolve(import.meta.dirname, '../../../preload/index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['electron'],
    logLevel: 'silent',
  });
  bundle = readFileSync(outfile, 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Handler = (event: unknown, ...args: unknown[]) => void;

function load() {
  const exposed: Record<string, unknown> = {};
  const handlers = new Map<string, Handler>();
  const invoked: unknown[][] = [];
  const sentToMain: unknown[][] = [];
  const postedToPage: unknown[][] = [];
  const electron = {
    contextBridge: {
      exposeInMainWorld: (key: string, api: unknown) => (exposed[key] = api),
    },
    webUtils: { getPathForFile: (file: { name: string }) => `/dropped/${file.name}` },
    ipcRenderer: {
      on: (channel: string, handler: Handler) => handlers.set(channel, handler),
      send: (...args: unknown[]) => sentToMain.push(args),
      invoke: (...args: unknown[]) => {
        invoked.push(args);
        return Promise.resolve({ ok: true, value: [] });
      },
    },
  };
  const required: string[] = [];
  const module = { exports: {} };
  const context = vm.createContext({
    module,
    exports: module.exports,
    console,
    postMessage: (...args: unknown[]) => postedToPage.push(args),
    require: (name: string) => {
      required.push(name);
      if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
      return electron;
    },
  });
  vm.runInContext(bundle, context);
  const emit = (...args: unknown[]) => handlers.get(IPC_CHANNEL_EVENT)?.({ sender: 'x' }, ...args);
  return { exposed, handlers, invoked, required, emit, sentToMain, postedToPage };
}

interface Bridge {
  call(name: string, args: unknown): Promise<unknown>;
  on(name: string, listener: (p: unknown) => void): () => void;
}

describe('the preload', () => {
  it('bundles small, with nothing but electron to require (no zod, no schemas)', () => {
    expect(bundle.length).toBeLessThan(8 * 1024);
    expect(bundle).not.toContain('ZodError');
    expect([...bundle.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
  });

  it('exposes only window.vireo with call and on, window.vireoFiles with pathForFile and window.vireoConsole with open and connect', () => {
    const { exposed, required } = load();
    expect(Object.keys(exposed)).toEqual(['vireo', 'vireoFiles', 'vireoConsole']);
    expect(Object.keys(exposed.vireoConsole as object).sort()).toEqual(['connect', 'open']);
    expect(Object.keys(exposed.vireo as object).sort()).toEqual(['call', 'on']);
    const files = exposed.vireoFiles as { pathForFile(f: { name: string }): string };
    expect(Object.keys(files)).toEqual(['pathForFile']);
    expect(files.pathForFile({ name: 'debian.iso' })).toBe('/dropped/debian.iso');
    expect(required).toEqual(['electron']);
  });

  it('asks main for console windows and screen ports by VM id, and hands ports to the page', () => {
    const { exposed, handlers, sentToMain, postedToPage } = load();
    const consoles = exposed.vireoConsole as {
      open(id: unknown): void;
      connect(id: unknown): void;
    };
    consoles.open('vm-1');
    consoles.connect({ toString: () => 'vm-2' });
    // Only strings cross, on the two console channels.
    expect(sentToMain).toEqual([
      ['vireo:console-open', 'vm-1'],
      ['vireo:display', 'vm-2'],
    ]);
    const port = { a: 'port' };
    handlers.get('vireo:display-port')!({ ports: [port] }, { vmId: 'vm-2' });
    handlers.get('vireo:display-port')!({ ports: [] }, 'garbage');
    expect(postedToPage).toEqual([
      [{ vireoDisplayPort: 'vm-2' }, '*', [port]],
      [{ vireoDisplayPort: '' }, '*', []],
    ]);
  });

  it('calls through the one invoke channel with the name and arguments only', async () => {
    const { exposed, invoked } = load();
    const vireo = exposed.vireo as Bridge;
    await expect(vireo.call('vm.list', {})).resolves.toEqual({ ok: true, value: [] });
    expect(invoked).toEqual([[IPC_CHANNEL_CALL, 'vm.list', {}]]);
  });

  it('delivers events by name, isolates a failing listener, and unsubscribes', () => {
    const { exposed, emit } = load();
    const vireo = exposed.vireo as Bridge;
    const changed: unknown[] = [];
    const removed: unknown[] = [];
    const offChanged = vireo.on('vm.changed', (p) => changed.push(p));
    vireo.on('vm.removed', () => {
      throw new Error('listener bug');
    });
    vireo.on('vm.removed', (p) => removed.push(p));
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...a: unknown[]) => errors.push(a);
    try {
      emit('vm.changed', { vm: 1 });
      emit('vm.removed', { id: 'a' });
      emit(42, { bogus: true });
    } finally {
      console.error = original;
    }
    expect(changed).toEqual([{ vm: 1 }]);
    expect(removed).toEqual([{ id: 'a' }]);
    expect(errors).toHaveLength(1);
    offChanged();
    emit('vm.changed', { vm: 2 });
    expect(changed).toEqual([{ vm: 1 }]);
    expect(() => vireo.on('vm.changed', 'not a function' as never)).toThrow('listener');
  });
});

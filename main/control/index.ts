/**
 * The control plane: one object that the Electron app, the browser-mode server and the CLI all
 * drive. Its `handlers` implement every bridge call (preload/contract.ts) with arguments already
 * validated by the caller (main/ipc/router.ts); its events tell every window what changed,
 * including changes another process (the CLI) made on disk.
 *
 * Runtime: Node (no Electron: main/app binds it to IPC, main/serve to WebSocket).
 */
import { createDisk, deleteMedium, listMedia, resizeDisk } from './media.js';
import { watch, type FSWatcher } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BridgeHandlers, EventName, EventPayload, VmSummary } from '../../preload/contract.js';
import { BridgeFailure } from '../../preload/contract.js';
import { listFolder } from './files.js';
import { hostInfo } from './host-info.js';
import { inspectIso, IsoError } from './iso-inspect.js';
import { Library } from './library.js';
import { OS_CATALOG } from './os-catalog.js';

export interface ControlPlaneOptions {
  home: string;
  mode: 'electron' | 'browser';
  version?: string;
  /** Watch the library folder for changes made by other processes (default true). */
  watch?: boolean;
}

/** Editors save in bursts (temp file, rename); one rescan after the burst is enough. */
const RESCAN_DEBOUNCE_MS = 150;
/** How often a library with an active VM is re-read to notice a VM host process that died. */
const ACTIVE_POLL_MS = 2000;

export type EventListener = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

export interface ControlPlane {
  readonly library: Library;
  readonly handlers: BridgeHandlers;
  onEvent(listener: EventListener): () => void;
  close(): Promise<void>;
}

/** --home flag, then VIREO_HOME, then $XDG_DATA_HOME/vireo, then ~/.local/share/vireo. */
export function resolveLibraryRoot(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return path.resolve(flag);
  if (env.VIREO_HOME) return path.resolve(env.VIREO_HOME);
  if (env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME))
    return path.join(env.XDG_DATA_HOME, 'vireo');
  return path.join(os.homedir(), '.local', 'share', 'vireo');
}

export async function createControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const library = new Library(options.home);
  await library.init();
  const listeners = new Set<EventListener>();
  const emit: EventListener = (name, payload) => {
    for (const l of listeners) {
      // One broken listener (a closed window's sender) must not stop the others or the caller.
      try {
        l(name, payload);
      } catch (e) {
        process.stderr.write(
          `vireo: a ${name} listener failed: ${e instanceof Error ? e.message : String(e)}\n`,
        );
      }
    }
  };

  /** What each VM looked like at the last notice, so disk changes become precise events. */
  const known = new Map<string, string>();
  const remember = (vm: VmSummary): void => {
    known.set(vm.id, JSON.stringify(vm));
  };
  const changed = (vm: VmSummary): VmSummary => {
    remember(vm);
    emit('vm.changed', { vm });
    return vm;
  };
  const watching = options.watch !== false;
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  let closed = false;
  const scheduleRescan = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void rescan(), RESCAN_DEBOUNCE_MS);
  };
  const watchFolder = (folder: string, recursive: boolean): void => {
    if (watchers.has(folder)) return;
    try {
      const w = watch(folder, { recursive }, scheduleRescan);
      w.on('error', () => {
        w.close();
        watchers.delete(folder);
      });
      watchers.set(folder, w);
    } catch {
      // Folder gone or unwatchable: the periodic rescan below still notices changes.
    }
  };
  /**
   * Compares the library on disk with what listeners were last told and emits the difference.
   * Also watches VM folders outside the root (the root's recursive watch does not reach them),
   * and keeps polling while a VM is active, because a VM host process dying changes no file.
   */
  const rescan = async (baseline = false): Promise<void> => {
    const all = await library.list().catch(() => null);
    if (!all || closed) return;
    const seen = new Set<string>();
    for (const vm of all) {
      seen.add(vm.id);
      if (baseline) remember(vm);
      else if (known.get(vm.id) !== JSON.stringify(vm)) changed(vm);
      if (path.dirname(vm.folder) !== options.home) watchFolder(vm.folder, false);
    }
    for (const id of [...known.keys()]) {
      if (!seen.has(id)) {
        known.delete(id);
        emit('vm.removed', { id });
      }
    }
    clearTimeout(poll);
    if (all.some((vm) => vm.accessible && library.supervisor.isActive(vm.state)))
      poll = setTimeout(() => void rescan(), ACTIVE_POLL_MS);
  };
  library.supervisor.listener = {
    onSerialOutput: (id, bytes) =>
      emit('vm.serial', { id, data: Buffer.from(bytes).toString('base64') }),
    onStats: (id, sample) => emit('vm.stats', { id, sample }),
  };
  if (watching) {
    // The baseline costs a full list; the CLI (watch: false) never needs it.
    watchFolder(options.home, true);
    await rescan(true);
  }

  const version = options.version ?? '0.1.0';
  const handlers: BridgeHandlers = {
    'host.info': () => Promise.resolve(hostInfo(options.home, options.mode, version)),
    'os.catalog': () => Promise.resolve([...OS_CATALOG]),
    'iso.inspect': async ({ path: file }) => {
      try {
        return await inspectIso(file);
      } catch (e) {
        if (e instanceof IsoError) throw new BridgeFailure('invalid-arguments', e.message);
        throw e;
      }
    },
    'files.list': ({ path: folder, extensions }) => listFolder(folder, extensions),
    'media.list': () => listMedia(library),
    'media.createDisk': async (request) => ({ path: await createDisk(library, request) }),
    'media.resize': async ({ path: file, sizeMiB }) => {
      await resizeDisk(library, path.resolve(file), sizeMiB);
      return {};
    },
    'media.delete': async ({ path: file }) => {
      await deleteMedium(library, path.resolve(file));
      return {};
    },
    'vm.list': () => library.list(),
    'vm.get': ({ id }) => library.get(id),
    'vm.create': async (request) => changed(await library.create(request)),
    'vm.update': async ({ id, changes }) => changed(await library.update(id, changes)),
    'vm.deletePlan': async ({ id }) => ({ files: await library.deletePlan(id) }),
    'vm.delete': async ({ id, deleteFiles }) => {
      const vm = await library.get(id);
      const removed = await library.delete(vm.id, deleteFiles);
      known.delete(vm.id);
      emit('vm.removed', { id: vm.id });
      return { removed };
    },
    'vm.start': async ({ id }) => {
      const vm = await library.get(id);
      if (!vm.accessible)
        throw new BridgeFailure(
          'invalid-state',
          `VM "${vm.name}" is inaccessible: ${vm.stateReason}`,
        );
      if (library.supervisor.isActive(vm.state))
        throw new BridgeFailure('invalid-state', `"${vm.config.name}" is already ${vm.state}.`);
      await library.supervisor.start(vm.folder, vm.config);
      return changed(await library.get(vm.id));
    },
    'vm.pause': async ({ id }) => {
      await library.supervisor.control((await library.get(id)).folder, 'pause');
      return changed(await library.get(id));
    },
    'vm.resume': async ({ id }) => {
      await library.supervisor.control((await library.get(id)).folder, 'resume');
      return changed(await library.get(id));
    },
    'vm.powerOff': async ({ id }) => {
      await library.supervisor.control((await library.get(id)).folder, 'powerOff');
      return changed(await library.get(id));
    },
    'vm.shutdown': async ({ id }) => {
      await library.supervisor.control((await library.get(id)).folder, 'shutdown');
      return changed(await library.get(id));
    },
    'vm.reset': async ({ id }) => {
      await library.supervisor.control((await library.get(id)).folder, 'reset');
      return changed(await library.get(id));
    },
    'vm.stats': async ({ id }) => ({
      samples: library.supervisor.stats((await library.get(id)).folder),
    }),
    'vm.serialScrollback': async ({ id }) => {
      const data = library.supervisor.serialScrollback((await library.get(id)).folder);
      return { data: Buffer.from(data ?? []).toString('base64'), running: data !== null };
    },
    'vm.serialInput': async ({ id, data }) => {
      const vm = await library.get(id);
      if (!library.supervisor.sendSerialInput(vm.folder, Buffer.from(data, 'base64')))
        throw new BridgeFailure(
          'invalid-state',
          `This VM is not running in this Vireo process: start it to use its serial console.`,
        );
      return {};
    },
  };

  return {
    library,
    handlers,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      library.supervisor.powerOffAll();
      clearTimeout(timer);
      clearTimeout(poll);
      for (const w of watchers.values()) w.close();
      watchers.clear();
      listeners.clear();
      return Promise.resolve();
    },
  };
}

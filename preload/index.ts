/**
 * The Electron preload: exposes one small object, `window.vireo` ({@link VireoBridge}), through
 * contextBridge under context isolation and the sandbox (Electron security checklist, items 3-4
 * and 20: "do not expose Electron APIs to untrusted web content"). It never exposes ipcRenderer
 * or the IPC event object: `call` can reach only the bridge's one invoke channel, `on` only
 * delivers the contract's events. Main checks every call's sender and arguments
 * (main/app/ipc-binding.ts, main/ipc/router.ts), so nothing here is trusted for security.
 *
 * Sandboxed preloads can `require` only 'electron' (and a few polyfilled modules), so
 * scripts/build.mjs bundles this into one CommonJS file. It imports values only from
 * ./channels.js (two strings); everything from the contract is type-only, which keeps zod and
 * the schemas out of the bundle (test/unit/ipc/preload.test.ts checks both).
 *
 * Runtime: Electron preload (sandboxed).
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { IPC_CHANNEL_CALL, IPC_CHANNEL_EVENT } from './channels.js';
import type { CallName, CallResult, EventName, VireoBridge } from './contract.js';

type Listener = (payload: unknown) => void;

/** Renderer listeners by event name; one IPC subscription serves them all. */
const listeners = new Map<string, Set<Listener>>();

ipcRenderer.on(IPC_CHANNEL_EVENT, (_event: IpcRendererEvent, name: unknown, payload: unknown) => {
  if (typeof name !== 'string') return;
  for (const listener of [...(listeners.get(name) ?? [])]) {
    // One failing listener must not starve the others of the event.
    try {
      listener(payload);
    } catch (error) {
      console.error(`vireo: a listener for ${name} threw`, error);
    }
  }
});

const vireo: VireoBridge = {
  call<N extends CallName>(name: N, args: unknown): Promise<CallResult<N>> {
    // Only the two values cross: no callback, no IPC event, no channel name chosen by the page.
    return ipcRenderer.invoke(IPC_CHANNEL_CALL, name, args) as Promise<CallResult<N>>;
  },
  on<E extends EventName>(event: E, listener: (payload: never) => void): () => void {
    if (typeof event !== 'string' || typeof listener !== 'function')
      throw new TypeError('vireo.on(event, listener): event must be a name, listener a function');
    const set = listeners.get(event) ?? new Set<Listener>();
    listeners.set(event, set);
    const entry = listener as Listener;
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0) listeners.delete(event);
    };
  },
};

contextBridge.exposeInMainWorld('vireo', vireo);

/**
 * The path of a file dropped on the window (an ISO for the wizard or a VM's optical drive):
 * since Electron 32 `File.path` is gone and `webUtils.getPathForFile` is the way. The path is
 * only a string to main, which checks it like any other (`iso.inspect`, `vm.update`).
 */
contextBridge.exposeInMainWorld('vireoFiles', {
  pathForFile: (file: Parameters<typeof webUtils.getPathForFile>[0]): string =>
    webUtils.getPathForFile(file),
});

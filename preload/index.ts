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
import {
  IPC_CHANNEL_CALL,
  IPC_CHANNEL_CONSOLE_OPEN,
  IPC_CHANNEL_DISPLAY,
  IPC_CHANNEL_DISPLAY_PORT,
  IPC_CHANNEL_EVENT,
} from './channels.js';
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

/**
 * Console windows (main/app/console-window.ts): `open` asks main for a VM's console window,
 * `connect` for its screen stream. The stream arrives as a MessagePort, which cannot cross the
 * context bridge, so it is handed to the page with window.postMessage (Electron's "MessagePorts
 * in Electron", communicating with the main world of a context-isolated page). Main checks the
 * sender and the id; the page checks the message came from its own window.
 */
contextBridge.exposeInMainWorld('vireoConsole', {
  open: (vmId: string): void => ipcRenderer.send(IPC_CHANNEL_CONSOLE_OPEN, String(vmId)),
  connect: (vmId: string): void => ipcRenderer.send(IPC_CHANNEL_DISPLAY, String(vmId)),
});
ipcRenderer.on(IPC_CHANNEL_DISPLAY_PORT, (event: IpcRendererEvent, info: unknown) => {
  const vmId =
    typeof info === 'object' &&
    info !== null &&
    typeof (info as { vmId?: unknown }).vmId === 'string'
      ? (info as { vmId: string }).vmId
      : '';
  // The preload's `window` (typed here without the DOM library, which this project's Node
  // tsconfig leaves out).
  const page = globalThis as unknown as {
    postMessage(message: unknown, targetOrigin: string, transfer: readonly unknown[]): void;
  };
  page.postMessage({ vireoDisplayPort: vmId }, '*', Array.from(event.ports as readonly unknown[]));
});

/**
 * The Electron preload: exposes one small object, `window.vireo` (VireoBridge), through
 * contextBridge under context isolation and the sandbox. It never exposes ipcRenderer; `on`
 * only delivers the contract's events. Main validates every call's sender and arguments.
 *
 * Runtime: Electron preload (sandboxed: bundled into one CommonJS file by scripts/build.mjs).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  IPC_CHANNEL_CALL,
  IPC_CHANNEL_EVENT,
  type EventName,
  type VireoBridge,
} from './contract.js';

const listeners = new Map<string, Set<(payload: unknown) => void>>();
ipcRenderer.on(IPC_CHANNEL_EVENT, (_event: IpcRendererEvent, name: string, payload: unknown) => {
  for (const l of listeners.get(name) ?? []) l(payload);
});

const vireo: VireoBridge = {
  call: (name, args) => ipcRenderer.invoke(IPC_CHANNEL_CALL, name, args) as Promise<never>,
  on(event: EventName, listener: (payload: never) => void) {
    const set = listeners.get(event) ?? new Set();
    listeners.set(event, set);
    const l = listener as (payload: unknown) => void;
    set.add(l);
    return () => set.delete(l);
  },
};

contextBridge.exposeInMainWorld('vireo', vireo);

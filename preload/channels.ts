/**
 * The Electron IPC channel names of the bridge, in a module of their own with no imports, so the
 * sandboxed preload can import them without pulling zod and every schema into its bundle
 * (esbuild cannot drop contract.ts's top-level `z.object(...)` calls: they are not marked pure).
 * preload/contract.ts re-exports them; everything else imports them from there.
 *
 * Runtime: shared (no Node, no DOM, no Electron).
 */

/** Renderer -> main: `ipcRenderer.invoke(IPC_CHANNEL_CALL, name, args)` -> CallResult. */
export const IPC_CHANNEL_CALL = 'vireo:call';
/** Main -> renderer: `webContents.send(IPC_CHANNEL_EVENT, name, payload)`. */
export const IPC_CHANNEL_EVENT = 'vireo:event';

/** Renderer -> main: `ipcRenderer.send(IPC_CHANNEL_CONSOLE_OPEN, vmId)` opens its console window. */
export const IPC_CHANNEL_CONSOLE_OPEN = 'vireo:console-open';
/** Renderer -> main: `ipcRenderer.send(IPC_CHANNEL_DISPLAY, vmId)` asks for its screen stream. */
export const IPC_CHANNEL_DISPLAY = 'vireo:display';
/** Main -> renderer: `webContents.postMessage(IPC_CHANNEL_DISPLAY_PORT, { vmId }, [port])`. */
export const IPC_CHANNEL_DISPLAY_PORT = 'vireo:display-port';

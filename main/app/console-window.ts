/**
 * Console windows in Electron: one BrowserWindow per VM showing the renderer's console route
 * (`index.html#console=<id>`, renderer/src/features/console/ConsoleWindow.tsx), and its screen
 * stream on a MessagePort (Electron's MessageChannelMain) joined to the VM host's control socket
 * by the relay browser mode uses too (main/control/display-relay.ts). Only the stream's bytes
 * pass through main, never the bridge's router.
 *
 * Messages on the port, both ways, are those of the WebSocket in browser mode: text (the hello,
 * then the console's input) and binary updates (Uint8Array). A relay's close is one last text
 * message `{"closed":"reason"}`, then the port closes.
 *
 * Both IPC channels check the sender as the bridge does (Electron security checklist, item 17)
 * and the VM id's shape; the control plane says whether such a VM runs.
 *
 * Runtime: Electron main.
 */
import { ipcMain, MessageChannelMain, type BrowserWindow, type IpcMainEvent } from 'electron';
import {
  IPC_CHANNEL_CONSOLE_OPEN,
  IPC_CHANNEL_DISPLAY,
  IPC_CHANNEL_DISPLAY_PORT,
} from '../../preload/contract.js';
import { displaySocketOf, relayDisplay } from '../control/display-relay.js';
import type { ControlPlane } from '../control/index.js';
import { trusted } from './ipc-binding.js';
import { APP_ENTRY_URL } from './sender-policy.js';
import { createAppWindow } from './window.js';

/** VM ids are UUIDs; anything far from that shape is refused before the control plane. */
const VM_ID = /^[A-Za-z0-9-]{1,64}$/;

/** Open console windows by VM id: a second open brings the first forward, as VirtualBox does. */
const consoles = new Map<string, BrowserWindow>();

export function openConsoleWindow(vmId: string, preloadPath: string): BrowserWindow {
  const open = consoles.get(vmId);
  if (open && !open.isDestroyed()) {
    if (open.isMinimized()) open.restore();
    open.focus();
    return open;
  }
  const win = createAppWindow(`${APP_ENTRY_URL}#console=${encodeURIComponent(vmId)}`, preloadPath, {
    width: 1040,
    height: 860,
    minWidth: 480,
    minHeight: 360,
    title: 'Vireo console',
  });
  consoles.set(vmId, win);
  win.on('closed', () => {
    if (consoles.get(vmId) === win) consoles.delete(vmId);
  });
  return win;
}

/** Gives the asking console a port carrying its VM's screen stream. */
async function connectDisplay(event: IpcMainEvent, vmId: string, control: ControlPlane) {
  const { port1, port2 } = new MessageChannelMain();
  event.sender.postMessage(IPC_CHANNEL_DISPLAY_PORT, { vmId }, [port2]);
  let open = true;
  const close = (reason: string): void => {
    if (!open) return;
    open = false;
    port1.postMessage(JSON.stringify({ closed: reason }));
    port1.close();
  };
  let socketPath: string;
  try {
    socketPath = await displaySocketOf(control, vmId);
  } catch (e) {
    port1.postMessage(
      JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) }),
    );
    return close('no display');
  }
  const relay = relayDisplay(
    {
      sendText: (text) => open && port1.postMessage(text),
      // A copy with its own buffer: a view would carry its whole backing buffer across.
      sendUpdate: (update) => open && port1.postMessage(Uint8Array.prototype.slice.call(update)),
      close: (_kind, reason) => close(reason),
    },
    socketPath,
  );
  port1.on('message', ({ data }: { data: unknown }) => {
    if (typeof data === 'string') relay.text(data);
    else relay.binary();
  });
  port1.on('close', () => {
    open = false;
    relay.closed();
  });
  port1.start();
}

/** Listens for console requests from our windows; returns a function that stops listening. */
export function bindConsoleWindows(control: ControlPlane, preloadPath: string): () => void {
  const onOpen = (event: IpcMainEvent, vmId: unknown): void => {
    if (!trusted(event) || typeof vmId !== 'string' || !VM_ID.test(vmId)) return;
    openConsoleWindow(vmId, preloadPath);
  };
  const onDisplay = (event: IpcMainEvent, vmId: unknown): void => {
    if (!trusted(event) || typeof vmId !== 'string' || !VM_ID.test(vmId)) return;
    void connectDisplay(event, vmId, control);
  };
  ipcMain.on(IPC_CHANNEL_CONSOLE_OPEN, onOpen);
  ipcMain.on(IPC_CHANNEL_DISPLAY, onDisplay);
  return () => {
    ipcMain.removeListener(IPC_CHANNEL_CONSOLE_OPEN, onOpen);
    ipcMain.removeListener(IPC_CHANNEL_DISPLAY, onDisplay);
    for (const win of consoles.values()) if (!win.isDestroyed()) win.close();
  };
}

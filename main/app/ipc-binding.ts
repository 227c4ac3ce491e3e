/**
 * Binds the bridge to Electron IPC: one `ipcMain.handle` for every call, whose sender is checked
 * (main/app/sender-policy.ts) before the router (main/ipc/router.ts) validates the arguments and
 * runs the handler; control-plane events go to our windows only.
 *
 * Runtime: Electron main.
 */
import { BrowserWindow, ipcMain, type IpcMainEvent, type IpcMainInvokeEvent } from 'electron';
import {
  IPC_CHANNEL_CALL,
  IPC_CHANNEL_EVENT,
  type CallName,
  type CallResult,
} from '../../preload/contract.js';
import type { ControlPlane } from '../control/index.js';
import type { Dispatch } from '../ipc/router.js';
import { isTrustedSender } from './sender-policy.js';
import { ourWindows } from './window.js';

/** The sender is the top frame of one of our windows, on our origin (sender-policy.ts). */
export function trusted(event: IpcMainInvokeEvent | IpcMainEvent): boolean {
  const frame = event.senderFrame;
  const win = BrowserWindow.fromWebContents(event.sender);
  return isTrustedSender({
    frameUrl: frame?.url ?? null,
    isTopFrame: frame !== null && frame.parent === null,
    fromOurWindow: win !== null && ourWindows.has(win),
  });
}

const FORBIDDEN: CallResult<CallName> = {
  ok: false,
  error: { code: 'forbidden', message: 'This page may not use the Vireo bridge.' },
};

/** Returns a function that undoes the binding (on quit). */
export function bindBridgeToIpc(dispatch: Dispatch, control: ControlPlane): () => void {
  ipcMain.handle(IPC_CHANNEL_CALL, (event, name: unknown, args: unknown) => {
    if (!trusted(event)) return FORBIDDEN;
    // The router answers non-string names as unknown calls.
    return dispatch(typeof name === 'string' ? name : '', args);
  });
  const unsubscribe = control.onEvent((name, payload) => {
    for (const win of ourWindows)
      if (!win.isDestroyed()) win.webContents.send(IPC_CHANNEL_EVENT, name, payload);
  });
  return () => {
    ipcMain.removeHandler(IPC_CHANNEL_CALL);
    unsubscribe();
  };
}

/**
 * The Electron main process: thin glue around the control plane (main/control) and the router
 * (main/ipc). Follows Electron's security checklist: context isolation, sandbox, no Node in the
 * renderer, a CSP, content only from our own `vireo://app/` protocol, navigation and new windows
 * denied, permission requests denied, and every IPC call's sender checked before the router
 * validates its arguments.
 *
 * Runtime: Electron main.
 */
import {
  app,
  BrowserWindow,
  ipcMain,
  Menu,
  net,
  protocol,
  session,
  shell,
  type IpcMainInvokeEvent,
} from 'electron';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IPC_CHANNEL_CALL, IPC_CHANNEL_EVENT } from '../../preload/contract.js';
import { createControlPlane, resolveLibraryRoot, type ControlPlane } from '../control/index.js';
import { createRouter, type Dispatch } from '../ipc/router.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // out/main
const rendererDir = path.resolve(here, '..', 'renderer');
const preload = path.resolve(here, '..', 'preload', 'index.cjs');
const APP_ORIGIN = 'vireo://app';
const CSP =
  "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'";

protocol.registerSchemesAsPrivileged([
  { scheme: 'vireo', privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

const windows = new Set<BrowserWindow>();

function homeFlag(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--home');
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith('--home='))?.slice(7);
}

/** Only our own windows, showing our own protocol's top frame, may call the bridge. */
function trustedSender(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  const win = BrowserWindow.fromWebContents(event.sender);
  return (
    !!frame &&
    !!win &&
    windows.has(win) &&
    frame === event.sender.mainFrame &&
    frame.url.startsWith(`${APP_ORIGIN}/`)
  );
}

function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1200,
    height: 780,
    title: 'Vireo',
    show: false,
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  windows.add(win);
  win.on('closed', () => windows.delete(win));
  win.once('ready-to-show', () => win.show());
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

async function start(): Promise<void> {
  await app.whenReady();
  // Serve the renderer bundle from our own scheme, never from outside rendererDir.
  protocol.handle('vireo', (request) => {
    const url = new URL(request.url);
    const file = path.normalize(path.join(rendererDir, decodeURIComponent(url.pathname)));
    if (url.host !== 'app' || !file.startsWith(rendererDir + path.sep))
      return new Response('Not found', { status: 404 });
    return net.fetch(pathToFileURL(file).toString());
  });
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) =>
    callback(false),
  );

  const control: ControlPlane = await createControlPlane({
    home: resolveLibraryRoot(homeFlag(process.argv), process.env),
    mode: 'electron',
    version: app.getVersion(),
  });
  const dispatch: Dispatch = createRouter(control.handlers);
  ipcMain.handle(IPC_CHANNEL_CALL, (event, name: unknown, args: unknown) => {
    if (!trustedSender(event))
      return {
        ok: false,
        error: { code: 'forbidden', message: 'This frame may not use the Vireo bridge.' },
      };
    return dispatch(String(name), args);
  });
  control.onEvent((name, payload) => {
    for (const w of windows) w.webContents.send(IPC_CHANNEL_EVENT, name, payload);
  });

  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      { label: 'File', submenu: [{ role: 'quit' }] },
      {
        label: 'View',
        submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { role: 'togglefullscreen' }],
      },
      { role: 'help', submenu: [{ role: 'about' }] },
    ]),
  );
  createMainWindow();
  app.on('activate', () => windows.size === 0 && createMainWindow());
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', () => void control.close());
}

void start();

/**
 * The Electron main process (built to out/main/app.js): thin glue around the control plane
 * (main/control) and the router (main/ipc). In order:
 *   before ready - one instance per user, sandbox everywhere, the `vireo://` scheme's privileges;
 *   after ready  - session hardening, the app protocol, the control plane on the library
 *                  (--home, then VIREO_HOME, then XDG), the IPC binding, the menu, the window;
 *   on quit      - the control plane closes before the process exits.
 * The security checklist items each module covers are listed in its own header.
 *
 * Runtime: Electron main.
 */
import { app, dialog } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createControlPlane, resolveLibraryRoot, type ControlPlane } from '../control/index.js';
import { createRouter } from '../ipc/router.js';
import { registerAppScheme, serveAppProtocol } from './app-protocol.js';
import { enableSandboxEverywhere, guardEveryWebContents, hardenSession } from './hardening.js';
import { bindConsoleWindows } from './console-window.js';
import { bindBridgeToIpc } from './ipc-binding.js';
import { installApplicationMenu } from './menu.js';
import { activeWindow, createMainWindow, ourWindows } from './window.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // out/main
const rendererDir = path.resolve(here, '..', 'renderer');
const preloadPath = path.resolve(here, '..', 'preload', 'index.cjs');

/** `--home DIR` or `--home=DIR`; an empty value is an error rather than "use the default". */
function homeFlag(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--home');
  const value =
    i >= 0
      ? (argv[i + 1] ?? '')
      : argv.find((a) => a.startsWith('--home='))?.slice('--home='.length);
  if (value === '') throw new Error('--home needs a folder: vireo --home /path/to/library');
  return value;
}

/** Start-up failures are sentences (missing bundle, unreadable library): show one, exit 1. */
function fail(title: string, error: unknown): void {
  dialog.showErrorBox(title, error instanceof Error ? error.message : String(error));
  app.exit(1);
}

async function start(): Promise<void> {
  await app.whenReady();
  hardenSession();
  let control: ControlPlane;
  try {
    await serveAppProtocol(rendererDir);
    control = await createControlPlane({
      home: resolveLibraryRoot(homeFlag(process.argv), process.env),
      mode: 'electron',
      version: app.getVersion(),
    });
  } catch (error) {
    return fail('Vireo cannot start', error);
  }
  const unbindBridge = bindBridgeToIpc(createRouter(control.handlers), control);
  const unbindConsoles = bindConsoleWindows(control, preloadPath);
  const unbind = (): void => {
    unbindConsoles();
    unbindBridge();
  };
  installApplicationMenu();
  createMainWindow(preloadPath);

  app.on('second-instance', () => {
    const win = activeWindow();
    if (!win) return void createMainWindow(preloadPath);
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('activate', () => {
    if (ourWindows.size === 0) createMainWindow(preloadPath);
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  // Quitting waits for the control plane to close (watchers, locks), then quits for real.
  let closed = false;
  app.on('will-quit', (event) => {
    if (closed) return;
    event.preventDefault();
    unbind();
    void control
      .close()
      .catch(() => undefined)
      .finally(() => {
        closed = true;
        app.quit();
      });
  });
}

// One Vireo per user: a second launch focuses the first window instead of opening the library twice.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  enableSandboxEverywhere();
  registerAppScheme();
  guardEveryWebContents();
  start().catch((error: unknown) => fail('Vireo cannot start', error));
}

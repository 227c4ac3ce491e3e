/**
 * The main window: the renderer bundle under context isolation and the sandbox, with no Node
 * (Electron security checklist, items 2-4 and 6). `ourWindows` is the set the IPC sender check
 * and the event fan-out consult: a web contents outside it never reaches the bridge.
 *
 * Runtime: Electron main.
 */
import { BrowserWindow } from 'electron';
import { APP_ENTRY_URL } from './sender-policy.js';

/** Every window main/app created and that is still open. */
export const ourWindows = new Set<BrowserWindow>();

/** Every window of ours: the preload, context isolation, the sandbox, no Node, no webview. */
export function secureWebPreferences(preloadPath: string): Electron.WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
  };
}

/** Opens `url` (of the app's origin) in a new window of ours, shown once it has painted. */
export function createAppWindow(
  url: string,
  preloadPath: string,
  size: { width: number; height: number; minWidth: number; minHeight: number; title: string },
): BrowserWindow {
  const win = new BrowserWindow({
    ...size,
    show: false,
    webPreferences: secureWebPreferences(preloadPath),
  });
  ourWindows.add(win);
  win.on('closed', () => ourWindows.delete(win));
  win.once('ready-to-show', () => win.show());
  void win.loadURL(url);
  return win;
}

export function createMainWindow(preloadPath: string): BrowserWindow {
  return createAppWindow(APP_ENTRY_URL, preloadPath, {
    width: 1200,
    height: 780,
    minWidth: 720,
    minHeight: 480,
    title: 'Vireo',
  });
}

/** The window a menu command is for: the focused one of ours, else the first. */
export function activeWindow(): BrowserWindow | undefined {
  const focused = BrowserWindow.getFocusedWindow();
  if (focused && ourWindows.has(focused)) return focused;
  return [...ourWindows][0];
}

/**
 * The Electron main process wiring (main/app), run for real against a recording stand-in for the
 * 'electron' module: the Electron binary cannot start on this machine, so this is the closest we
 * can get. The app is bundled by esbuild exactly like scripts/build.mjs does (so out/main's
 * layout, with renderer/ and preload/ beside it, is reproduced in a temp folder), then imported.
 * The control plane, router, protocol handler and sender policy behind the stand-in are real.
 */
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Fn = (...args: unknown[]) => unknown;

/** What the app did to Electron, in order. */
interface Recorded {
  log: string[];
  appHandlers: Map<string, Fn>;
  protocolHandlers: Map<string, (request: Request) => Promise<Response>>;
  schemes: unknown[];
  ipcHandlers: Map<string, Fn>;
  ipcListeners: Map<string, Fn>;
  channels: { port1: FakePort; port2: FakePort }[];
  windows: FakeWindow[];
  menu: MenuItem[] | null;
  permissionRequest: Fn | null;
  permissionCheck: Fn | null;
  beforeRequest: { filter: { urls: string[] }; listener: Fn } | null;
  errors: string[];
}
interface MenuItem {
  label?: string;
  role?: string;
  submenu?: MenuItem[];
  click?: () => void;
}
interface FakeFrame {
  url: string;
  parent: FakeFrame | null;
}
interface FakeWindow {
  options: { webPreferences: Record<string, unknown> };
  loaded: string[];
  sent: unknown[][];
  /** webContents.postMessage calls: channel, message, transferred ports. */
  posted: unknown[][];
  focused: number;
  webContents: {
    send: (...a: unknown[]) => void;
    postMessage: (...a: unknown[]) => void;
    mainFrame: FakeFrame;
  };
}
/** A MessagePortMain stand-in: what was posted on it, its listeners, whether it closed. */
class FakePort {
  posted: unknown[] = [];
  started = false;
  closed = false;
  private readonly listeners = new Map<string, ((e: unknown) => void)[]>();
  on(event: string, fn: (e: unknown) => void) {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
  }
  postMessage(message: unknown) {
    this.posted.push(message);
  }
  start() {
    this.started = true;
  }
  close() {
    this.closed = true;
  }
}

const rec: Recorded = {
  log: [],
  appHandlers: new Map(),
  protocolHandlers: new Map(),
  schemes: [],
  ipcHandlers: new Map(),
  ipcListeners: new Map(),
  channels: [],
  windows: [],
  menu: null,
  permissionRequest: null,
  permissionCheck: null,
  beforeRequest: null,
  errors: [],
};

function electronStandIn() {
  let ready!: () => void;
  const whenReady = new Promise<void>((r) => (ready = r));
  class BrowserWindow {
    static all: BrowserWindow[] = [];
    readonly webContents;
    readonly record: FakeWindow;
    constructor(options: FakeWindow['options']) {
      const sent: unknown[][] = [];
      const posted: unknown[][] = [];
      this.webContents = {
        send: (...a: unknown[]) => sent.push(a),
        postMessage: (...a: unknown[]) => posted.push(a),
        mainFrame: { url: 'vireo://app/index.html', parent: null },
      };
      this.record = {
        options,
        loaded: [],
        sent,
        posted,
        focused: 0,
        webContents: this.webContents,
      };
      rec.windows.push(this.record);
      BrowserWindow.all.push(this);
    }
    static fromWebContents(wc: unknown) {
      return BrowserWindow.all.find((w) => w.webContents === wc) ?? null;
    }
    static getFocusedWindow() {
      return null;
    }
    on() {}
    once() {}
    isDestroyed() {
      return false;
    }
    isMinimized() {
      return false;
    }
    restore() {}
    focus() {
      this.record.focused++;
    }
    close() {
      rec.log.push('window closed');
    }
    loadURL(url: string) {
      this.record.loaded.push(url);
      return Promise.resolve();
    }
  }
  return {
    ready,
    module: {
      app: {
        requestSingleInstanceLock: () => (rec.log.push('singleInstanceLock'), true),
        enableSandbox: () => rec.log.push('enableSandbox'),
        whenReady: () => whenReady.then(() => void rec.log.push('ready')),
        getVersion: () => '9.9.9',
        isPackaged: false,
        on: (event: string, fn: Fn) => rec.appHandlers.set(event, fn),
        quit: () => rec.log.push('quit'),
        exit: (code: number) => rec.log.push(`exit ${code}`),
      },
      protocol: {
        registerSchemesAsPrivileged: (s: unknown[]) => {
          rec.log.push('registerSchemes');
          rec.schemes.push(...s);
        },
        handle: (scheme: string, fn: (r: Request) => Promise<Response>) =>
          rec.protocolHandlers.set(scheme, fn),
      },
      session: {
        defaultSession: {
          setPermissionRequestHandler: (fn: Fn) => (rec.permissionRequest = fn),
          setPermissionCheckHandler: (fn: Fn) => (rec.permissionCheck = fn),
          webRequest: {
            onBeforeRequest: (filter: { urls: string[] }, listener: Fn) =>
              (rec.beforeRequest = { filter, listener }),
          },
        },
      },
      ipcMain: {
        handle: (channel: string, fn: Fn) => rec.ipcHandlers.set(channel, fn),
        removeHandler: (channel: string) => rec.ipcHandlers.delete(channel),
        on: (channel: string, fn: Fn) => rec.ipcListeners.set(channel, fn),
        removeListener: (channel: string) => rec.ipcListeners.delete(channel),
      },
      MessageChannelMain: class {
        readonly port1 = new FakePort();
        readonly port2 = new FakePort();
        constructor() {
          rec.channels.push(this);
        }
      },
      BrowserWindow,
      Menu: {
        buildFromTemplate: (t: MenuItem[]) => t,
        setApplicationMenu: (m: MenuItem[]) => (rec.menu = m),
      },
      dialog: {
        showErrorBox: (title: string, text: string) => rec.errors.push(`${title}: ${text}`),
      },
    },
  };
}

let base: string;
let savedHome: string | undefined;

beforeAll(async () => {
  base = mkdtempSync(path.join(os.tmpdir(), 'vireo-electron-'));
  // out/ as scripts/build.mjs lays it out: main/app.js, preload/index.cjs, renderer/.
  const out = path.join(base, 'out');
  mkdirSync(path.join(out, 'renderer'), { recursive: true });
  mkdirSync(path.join(out, 'preload'), { recursive: true });
  writeFileSync(path.join(out, 'renderer', 'index.html'), '<!doctype html><title>Vireo</title>');
  writeFileSync(path.join(base, 'secret.txt'), 'SECRET');
  const standIn = electronStandIn();
  (globalThis as { __electronStandIn?: unknown }).__electronStandIn = standIn.module;
  await build({
    entryPoints: [path.resolve(import.meta.dirname, '../../../main/app/index.ts')],
    outfile: path.join(out, 'main', 'app.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    banner: {
      js: "import { createRequire as __vireoCreateRequire } from 'node:module'; const require = __vireoCreateRequire(import.meta.url);",
    },
    plugins: [
      {
        // As in scripts/build.mjs, koffi (native) stays outside the bundle; from this temp
        // folder it is imported by its absolute path in the project's node_modules.
        name: 'koffi-external',
        setup(b) {
          b.onResolve({ filter: /^koffi$/ }, () => ({
            path: createRequire(import.meta.url).resolve('koffi'),
            external: true,
          }));
        },
      },
      {
        name: 'electron-stand-in',
        setup(b) {
          b.onResolve({ filter: /^electron$/ }, () => ({
            path: 'electron',
            namespace: 'stand-in',
          }));
          b.onLoad({ filter: /.*/, namespace: 'stand-in' }, () => ({
            contents:
              'const e = globalThis.__electronStandIn; export const { app, protocol, session, ipcMain, BrowserWindow, Menu, dialog, MessageChannelMain } = e;',
            loader: 'js',
          }));
        },
      },
    ],
  });
  savedHome = process.env.VIREO_HOME;
  process.env.VIREO_HOME = path.join(base, 'library');
  await import(pathToFileURL(path.join(out, 'main', 'app.js')).href);
  expect(rec.log).toEqual(['singleInstanceLock', 'enableSandbox', 'registerSchemes']);
  standIn.ready();
  for (let i = 0; i < 200 && rec.windows.length === 0; i++)
    await new Promise((r) => setTimeout(r, 10));
});
afterAll(() => {
  if (savedHome === undefined) delete process.env.VIREO_HOME;
  else process.env.VIREO_HOME = savedHome;
  rmSync(base, { recursive: true, force: true });
});

const call = (frame: FakeFrame | null, sender: unknown, name: unknown, args: unknown) =>
  rec.ipcHandlers.get('vireo:call')!({ sender, senderFrame: frame }, name, args) as Promise<{
    ok: boolean;
    error?: { code: string };
    value?: unknown;
  }>;

describe('the Electron main process', () => {
  it('starts without errors and opens one secure window on vireo://app/', () => {
    expect(rec.errors).toEqual([]);
    expect(rec.windows).toHaveLength(1);
    const prefs = rec.windows[0]!.options.webPreferences;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      webviewTag: false,
    });
    expect(prefs.preload).toBe(path.join(base, 'out', 'preload', 'index.cjs'));
    expect(rec.windows[0]!.loaded).toEqual(['vireo://app/index.html']);
    expect(rec.schemes).toEqual([
      { scheme: 'vireo', privileges: { standard: true, secure: true, supportFetchAPI: true } },
    ]);
  });

  it('serves the bundle on vireo://app/ with a CSP, and nothing else', async () => {
    const handle = rec.protocolHandlers.get('vireo')!;
    const page = await handle(new Request('vireo://app/index.html'));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Vireo');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    for (const url of [
      'vireo://other/index.html',
      'vireo://app/%2e%2e/%2e%2e/secret.txt',
      'vireo://app/..%2f..%2fsecret.txt',
      'vireo://app/missing.js',
    ]) {
      const res = await handle(new Request(url));
      expect(res.status, url).toBe(404);
      expect(await res.text(), url).not.toContain('SECRET');
    }
  });

  it('denies permissions, remote requests, navigation away, new windows and webviews', () => {
    const answers: boolean[] = [];
    rec.permissionRequest!(null, 'media', (granted: boolean) => answers.push(granted));
    expect(answers).toEqual([false]);
    expect(rec.permissionCheck!(null, 'clipboard-read')).toBe(false);
    expect(rec.beforeRequest!.filter.urls).toEqual(
      expect.arrayContaining(['http://*/*', 'https://*/*', 'file:///*']),
    );
    const cancelled: unknown[] = [];
    rec.beforeRequest!.listener({ url: 'https://example.com' }, (r: unknown) => cancelled.push(r));
    expect(cancelled).toEqual([{ cancel: true }]);

    const listeners = new Map<string, Fn>();
    let openHandler: Fn | undefined;
    rec.appHandlers.get('web-contents-created')!(
      {},
      {
        on: (event: string, fn: Fn) => listeners.set(event, fn),
        setWindowOpenHandler: (fn: Fn) => (openHandler = fn),
      },
    );
    const attempt = (event: string, url?: string) => {
      let prevented = false;
      listeners.get(event)!({ url, preventDefault: () => (prevented = true) });
      return prevented;
    };
    expect(attempt('will-navigate', 'https://evil.example/')).toBe(true);
    expect(attempt('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(attempt('will-navigate', 'vireo://app/index.html')).toBe(false);
    expect(attempt('will-frame-navigate', 'https://evil.example/')).toBe(true);
    expect(attempt('will-redirect', 'vireo://app/')).toBe(true);
    expect(attempt('will-attach-webview')).toBe(true);
    expect(openHandler!({ url: 'https://example.com' })).toEqual({ action: 'deny' });
  });

  it('routes IPC calls only from the top frame of our window on our origin', async () => {
    const win = rec.windows[0]!;
    const top = win.webContents.mainFrame;
    const ok = await call(top, win.webContents, 'host.info', {});
    expect(ok).toMatchObject({ ok: true, value: { mode: 'electron', version: '9.9.9' } });
    const forbidden = { ok: false, error: { code: 'forbidden' } };
    expect(
      await call({ url: 'vireo://app/x', parent: top }, win.webContents, 'host.info', {}),
    ).toMatchObject(forbidden);
    expect(
      await call({ url: 'https://evil/', parent: null }, win.webContents, 'host.info', {}),
    ).toMatchObject(forbidden);
    expect(await call(top, { stranger: true }, 'host.info', {})).toMatchObject(forbidden);
    expect(await call(null, win.webContents, 'host.info', {})).toMatchObject(forbidden);
    // Trusted sender, bad arguments: the router refuses them.
    expect(await call(top, win.webContents, 'vm.get', { id: 5 })).toMatchObject({
      ok: false,
      error: { code: 'invalid-arguments' },
    });
    expect(await call(top, win.webContents, { not: 'a name' }, {})).toMatchObject({
      ok: false,
      error: { code: 'invalid-arguments' },
    });
  });

  it('opens one console window per VM and hands it a screen port, for trusted senders only', async () => {
    const win = rec.windows[0]!;
    const top = win.webContents.mainFrame;
    const open = rec.ipcListeners.get('vireo:console-open')!;
    const display = rec.ipcListeners.get('vireo:display')!;
    const id = '6f1c2a52-0d5e-4a43-9d3c-0c6c1f3f2b11';
    const windows = rec.windows.length;
    // Not from our window, or not an id: nothing happens.
    open({ sender: { stranger: true }, senderFrame: top }, id);
    open({ sender: win.webContents, senderFrame: top }, '../../etc/passwd');
    expect(rec.windows.length).toBe(windows);
    open({ sender: win.webContents, senderFrame: top }, id);
    expect(rec.windows.length).toBe(windows + 1);
    const consoleWindow = rec.windows.at(-1)!;
    expect(consoleWindow.loaded).toEqual([`vireo://app/index.html#console=${id}`]);
    expect(consoleWindow.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    });
    // A second open brings the same window forward.
    open({ sender: win.webContents, senderFrame: top }, id);
    expect(rec.windows.length).toBe(windows + 1);
    expect(consoleWindow.focused).toBe(1);

    // The screen stream: an untrusted sender gets no port; a VM that does not run gets one
    // that says why and closes.
    display({ sender: { stranger: true }, senderFrame: top }, id);
    expect(rec.channels).toHaveLength(0);
    display({ sender: consoleWindow.webContents, senderFrame: top }, id);
    expect(rec.channels).toHaveLength(1);
    const { port1, port2 } = rec.channels[0]!;
    expect(consoleWindow.posted).toEqual([['vireo:display-port', { vmId: id }, [port2]]]);
    for (let i = 0; i < 100 && !port1.closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(port1.closed).toBe(true);
    const [hello, last] = port1.posted.map((m) => JSON.parse(String(m)) as Record<string, unknown>);
    expect(hello).toMatchObject({ ok: false });
    expect(String(hello!.error)).toMatch(/no VM|not found|unknown/i);
    expect(last).toEqual({ closed: 'no display' });
  });

  it('sends control-plane events to our windows', async () => {
    const win = rec.windows[0]!;
    const created = await call(win.webContents.mainFrame, win.webContents, 'vm.create', {
      name: 'electron-vm',
      folder: null,
      os: { family: 'linux', id: 'alpine' },
      cpus: 1,
      memoryMiB: 256,
      disk: null,
      iso: null,
    });
    expect(created.ok).toBe(true);
    const event = win.sent.find((m) => m[0] === 'vireo:event' && m[1] === 'vm.changed');
    expect(event?.[2]).toMatchObject({ vm: { config: { name: 'electron-vm' } } });
  });

  it('has File, Machine, View and Help menus; Machine items reach the renderer', () => {
    expect(rec.menu!.map((m) => m.label ?? m.role)).toEqual(['File', 'Machine', 'View', 'help']);
    const start = rec.menu![1]!.submenu!.find((i) => i.label === 'Start')!;
    start.click!();
    expect(rec.windows[0]!.sent.at(-1)).toEqual([
      'vireo:event',
      'menu.command',
      { command: 'vm.start' },
    ]);
  });

  it('closes the control plane before quitting', async () => {
    let prevented = 0;
    rec.appHandlers.get('will-quit')!({ preventDefault: () => prevented++ });
    expect(prevented).toBe(1);
    for (let i = 0; i < 100 && !rec.log.includes('quit'); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(rec.log).toContain('quit');
    expect(rec.ipcHandlers.has('vireo:call')).toBe(false);
    // The console channels are unbound and the console window opened earlier is closed.
    expect(rec.ipcListeners.size).toBe(0);
    expect(rec.log).toContain('window closed');
    rec.appHandlers.get('will-quit')!({ preventDefault: () => prevented++ });
    expect(prevented).toBe(1);
  });
});

/**
 * App-wide guards from Electron's security checklist
 * (https://www.electronjs.org/docs/latest/tutorial/security), applied to every web contents the
 * app ever creates, not only the windows main/app/window.ts opens:
 *   4  sandbox every renderer (app.enableSandbox)
 *   5  deny every permission request and check (camera, notifications, clipboard, ...)
 *   12 no <webview>
 *   13 no navigation away from `vireo://app/` (will-navigate, will-frame-navigate), no redirects
 *   14 no new windows (window.open and target=_blank are denied)
 *   and no remote content at all: http(s), ws(s) and file requests are cancelled; the renderer
 *   only ever loads `vireo://app/` and talks to main over IPC.
 *
 * Runtime: Electron main.
 */
import { app, session } from 'electron';
import { isAppUrl } from './sender-policy.js';

/** Before `ready`: sandbox every renderer process, whatever a window's options say. */
export function enableSandboxEverywhere(): void {
  app.enableSandbox();
}

/** After `ready`: deny permissions and remote requests in the default session. */
export function hardenSession(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onBeforeRequest(
    { urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*', 'file:///*'] },
    (_details, callback) => callback({ cancel: true }),
  );
}

/** Guards every web contents as it is created (windows, devtools, anything a page may spawn). */
export function guardEveryWebContents(): void {
  app.on('web-contents-created', (_event, contents) => {
    // Our own pages may reload or move between routes; any other destination is refused.
    contents.on('will-navigate', (event) => {
      if (!isAppUrl(event.url)) event.preventDefault();
    });
    contents.on('will-frame-navigate', (event) => {
      if (!isAppUrl(event.url)) event.preventDefault();
    });
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

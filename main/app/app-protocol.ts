/**
 * The `vireo://app/` protocol: serves the renderer bundle (out/renderer) to our windows with a
 * Content-Security-Policy, through the same hostile-path checks as browser mode
 * (main/serve/static-files.ts). A privileged standard scheme gives the page a real origin
 * (`vireo://app`) for the CSP's 'self' and for the IPC sender check, unlike file://, where every
 * local file shares one origin (Electron security checklist, item 18: "avoid the file protocol").
 *
 * Runtime: Electron main.
 */
import { protocol } from 'electron';
import { readFile } from 'node:fs/promises';
import { openStaticRoot } from '../serve/static-files.js';
import { APP_HOST, APP_SCHEME } from './sender-policy.js';

/**
 * Scripts only from the bundle, no inline scripts or eval, no network: the renderer talks to main
 * through the preload's IPC bridge only. Inline styles stay allowed for React's style props.
 */
export const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Must run before the app is ready (Electron requires scheme privileges up front). */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: APP_SCHEME,
      privileges: { standard: true, secure: true, supportFetchAPI: true },
    },
  ]);
}

/** Starts answering `vireo://app/...` from `rendererDir`; throws a sentence if it is missing. */
export async function serveAppProtocol(rendererDir: string): Promise<void> {
  const root = await openStaticRoot(rendererDir);
  const headers = (contentType: string): Record<string, string> => ({
    'Content-Type': contentType,
    'Content-Security-Policy': APP_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
  const refuse = (status: number, text: string): Response =>
    new Response(text, { status, headers: headers('text/plain; charset=utf-8') });

  protocol.handle(APP_SCHEME, async (request) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return refuse(400, 'Bad request.');
    }
    if (url.host !== APP_HOST) return refuse(404, 'Not found.');
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return refuse(405, 'Method not allowed.');
    const file = await root.resolve(url.pathname);
    if (!file) return refuse(404, 'Not found.');
    try {
      const body = request.method === 'HEAD' ? null : await readFile(file.path);
      return new Response(body, { status: 200, headers: headers(file.contentType) });
    } catch {
      return refuse(500, 'Could not read the file.');
    }
  });
}

/**
 * Browser mode (`vireo serve`): the control plane behind an HTTP + WebSocket server, serving the
 * same renderer bundle as the Electron app. Like Jupyter or Cockpit on a headless host.
 *
 * Security (docs/bridge.md):
 * - binds loopback unless `allowRemote` (the CLI's `--allow-remote`);
 * - a random token (32 bytes, base64url) is required on every HTTP request (the `token` query
 *   parameter, or the HttpOnly SameSite=Strict cookie set on the first valid request) and on the
 *   WebSocket upgrade; comparisons are constant-time;
 * - the Host header must name this server (DNS-rebinding defence); the WebSocket Origin must be
 *   this server's own origin;
 * - static files come only from `rendererDir`: paths are decoded once, normalised, refused if they
 *   contain NUL or leave the root, and resolved through realpath so a symlink cannot escape;
 * - a Content-Security-Policy and nosniff on every response; no directory listings.
 *
 * Runtime: Node.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { promises as fs } from 'node:fs';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { WireCall, type WireMessage } from '../../preload/contract.js';
import type { ControlPlane } from '../control/index.js';
import { createRouter } from '../ipc/router.js';

export interface ServeOptions {
  control: ControlPlane;
  host: string;
  port: number;
  rendererDir: string;
  allowRemote?: boolean;
  token?: string;
}

export interface RunningServer {
  url: string;
  token: string;
  close(): Promise<void>;
}

const COOKIE = 'vireo_token';
const MAX_MESSAGE_BYTES = 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export class ServeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServeError';
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return null;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const { control, host } = options;
  if (!LOOPBACK.has(host) && !options.allowRemote) {
    throw new ServeError(
      `Refusing to listen on ${host}: browser mode gives full control of this host's VMs, so it binds loopback only. Pass --allow-remote to listen on ${host} anyway.`,
    );
  }
  const token = options.token ?? randomBytes(32).toString('base64url');
  const rootReal = await fs.realpath(options.rendererDir).catch(() => {
    throw new ServeError(
      `The renderer bundle is missing at ${options.rendererDir}: run \`npm run build\` first.`,
    );
  });
  const dispatch = createRouter(control.handlers);
  let origin = '';
  let allowedHosts = new Set<string>();

  const securityHeaders = (res: ServerResponse): void => {
    const wsOrigin = origin.replace(/^http/, 'ws');
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; script-src 'self'; connect-src 'self' ${wsOrigin}; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
  };
  const refuse = (res: ServerResponse, status: number, message: string): void => {
    securityHeaders(res);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`${message}\n`);
  };
  const authorized = (req: IncomingMessage, url: URL): { ok: boolean; viaQuery: boolean } => {
    const q = url.searchParams.get('token');
    if (q !== null && sameSecret(q, token)) return { ok: true, viaQuery: true };
    const c = cookieToken(req);
    return { ok: c !== null && sameSecret(c, token), viaQuery: false };
  };
  const hostAllowed = (req: IncomingMessage): boolean =>
    allowedHosts.has((req.headers.host ?? '').toLowerCase());

  /** Maps a URL path to a file inside the root, or null if it would leave the root. */
  const resolveStatic = async (pathname: string): Promise<string | null> => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return null;
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return null;
    const relative = path.posix.normalize(decoded).replace(/^\/+/, '');
    if (relative.startsWith('..') || path.isAbsolute(relative)) return null;
    const candidate = path.join(rootReal, relative === '' ? 'index.html' : relative);
    let real: string;
    try {
      real = await fs.realpath(candidate);
    } catch {
      // Not a file: routes without an extension are the single-page app's (the console route later).
      return path.extname(relative) === '' ? path.join(rootReal, 'index.html') : null;
    }
    if (real !== rootReal && !real.startsWith(rootReal + path.sep)) return null;
    const stat = await fs.stat(real);
    if (stat.isDirectory()) return null;
    return real;
  };

  const server = createServer((req, res) => {
    void (async () => {
      if (!hostAllowed(req)) return refuse(res, 421, 'Unknown host.');
      const url = new URL(req.url ?? '/', origin);
      const auth = authorized(req, url);
      if (!auth.ok)
        return refuse(
          res,
          403,
          'Forbidden: open the URL with the token that `vireo serve` printed.',
        );
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return refuse(res, 405, 'Method not allowed.');
      const file = await resolveStatic(url.pathname);
      if (!file) return refuse(res, 404, 'Not found.');
      const body = await fs.readFile(file);
      securityHeaders(res);
      if (auth.viaQuery)
        res.setHeader('Set-Cookie', `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      res.writeHead(200, {
        'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch(() => {
      if (!res.headersSent) refuse(res, 500, 'Internal error.');
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    const deny = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!hostAllowed(req)) return deny('421 Misdirected Request');
    if (url.pathname !== '/ws') return deny('404 Not Found');
    if (!authorized(req, url).ok) return deny('403 Forbidden');
    // The page's own origin only: same host (one of ours) as the Host header, plain http.
    if (req.headers.origin !== `http://${(req.headers.host ?? '').toLowerCase()}`)
      return deny('403 Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const send = (message: WireMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const unsubscribe = control.onEvent((name, payload) => send({ type: 'event', name, payload }));
    ws.on('close', unsubscribe);
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'binary messages are not accepted');
      let call;
      try {
        call = WireCall.parse(
          JSON.parse(
            Buffer.isBuffer(data)
              ? data.toString('utf8')
              : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8'),
          ),
        );
      } catch {
        return ws.close(1008, 'malformed message');
      }
      void dispatch(call.name, call.args).then((result) =>
        send({ type: 'result', id: call.id, result }),
      );
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new ServeError(
          e.code === 'EADDRINUSE'
            ? `Port ${options.port} is in use: choose another with --port, or 0 for any free port.`
            : `Cannot listen on ${host}:${options.port}: ${e.message}`,
        ),
      ),
    );
    server.listen(options.port, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  origin = `http://${hostForUrl}:${port}`;
  allowedHosts = new Set(
    [`${hostForUrl}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`].map((h) =>
      h.toLowerCase(),
    ),
  );

  return {
    url: `${origin}/?token=${token}`,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

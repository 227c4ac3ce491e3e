/**
 * Browser mode (`vireo serve`): the control plane behind an HTTP + WebSocket server, serving the
 * same renderer bundle as the Electron app - a headless host managed from a browser, like
 * Jupyter or Cockpit. docs/bridge.md describes the transport; this module wires it together:
 *
 * - binds loopback unless `allowRemote` (the CLI's `--allow-remote`);
 * - every HTTP request and the WebSocket upgrade need the token (main/serve/access.ts), a Host
 *   header naming this server, and for the upgrade an Origin equal to this server's own origin;
 * - static files come only from `rendererDir` (main/serve/static-files.ts), with a
 *   Content-Security-Policy, nosniff and no-referrer (the token is in the first URL) on every
 *   response; no directory listings; unknown extensionless routes get index.html;
 * - `/ws` carries the bridge (main/ipc/wire-endpoint.ts): JSON `WireCall`s in, results and
 *   pushed events out, text frames of at most 1 MiB;
 * - `/display?vm=ID` carries one console's screen and input (main/serve/display-relay.ts);
 * - `POST /media?name=F.iso` stores an ISO dropped on the page (main/serve/media-upload.ts).
 *
 * Runtime: Node.
 */
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ControlPlane } from '../control/index.js';
import { createRouter } from '../ipc/router.js';
import { openWireEndpoint } from '../ipc/wire-endpoint.js';
import {
  allowedHostHeaders,
  checkToken,
  cookieName,
  generateToken,
  isLoopbackHost,
  isWildcardHost,
  readCookie,
  sameToken,
  setCookieHeader,
  urlHost,
} from './access.js';
import { openStaticRoot, type StaticRoot } from './static-files.js';
import { displaySocketOf } from '../control/display-relay.js';
import { relayDisplay } from './display-relay.js';
import { receiveMedia, UploadRefused } from './media-upload.js';

export interface ServeOptions {
  control: ControlPlane;
  host: string;
  port: number;
  rendererDir: string;
  /** Allow a non-loopback `host` (the CLI's `--allow-remote`). */
  allowRemote?: boolean;
  /** A fixed token (tests, scripted set-ups); by default 32 fresh random bytes. */
  token?: string;
}

export interface RunningServer {
  /** `http://HOST:PORT/?token=...`: what the CLI prints first. */
  url: string;
  token: string;
  close(): Promise<void>;
}

/** Thrown by startServer with a sentence that says what to do. */
export class ServeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServeError';
  }
}

/** Largest WebSocket message accepted (a call's arguments are small; 1 MiB is generous). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** A console's input message (a key, a mouse move, a frame request) is tiny. */
const MAX_CONSOLE_MESSAGE_BYTES = 4096;
/** Browser tabs connected at once; each holds an event subscription. */
const MAX_CLIENTS = 64;
/** WebSocket close code for binary frames (RFC 6455 section 7.4.1, "unsupported data"). */
const CLOSE_UNSUPPORTED_DATA = 1003;

/**
 * The name the printed URL uses: the bound address, or for a wildcard bind (0.0.0.0, ::) this
 * machine's first external IPv4 address, since a browser elsewhere cannot open 0.0.0.0.
 */
function publicHost(host: string): string {
  if (!isWildcardHost(host)) return urlHost(host);
  for (const addresses of Object.values(os.networkInterfaces()))
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

/** The request target's path as sent, percent-escapes and all (parseTarget checked its form). */
function rawPath(req: IncomingMessage): string {
  const target = req.url ?? '/';
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const { control, host } = options;
  if (!isLoopbackHost(host) && !options.allowRemote) {
    throw new ServeError(
      `Refusing to listen on ${host}: browser mode gives full control of this host's VMs, so it listens on loopback (127.0.0.1) only. Pass --allow-remote to listen on ${host} anyway, and share the URL only with people you trust.`,
    );
  }
  if (options.token !== undefined) {
    const problem = checkToken(options.token);
    if (problem) throw new ServeError(problem);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
    throw new ServeError(
      `Port ${options.port} is not a port: choose 1-65535, or 0 for any free port.`,
    );
  const token = options.token ?? generateToken();
  let root: StaticRoot;
  try {
    root = await openStaticRoot(options.rendererDir);
  } catch (e) {
    throw new ServeError((e as Error).message);
  }
  const dispatch = createRouter(control.handlers);

  // Known once listening (port 0 picks one).
  let port = 0;
  let origin = '';
  let allowedHosts = new Set<string>();

  /**
   * Own scripts only, inline styles (React style props), and the bridge socket named explicitly:
   * CSP level 3 lets 'self' cover ws: on the same host, but older engines (Safari before 15.4)
   * need the ws:// origin spelled out - under the name the page was opened with.
   */
  const securityHeaders = (res: ServerResponse, req: IncomingMessage): void => {
    const host = hostAllowed(req) ? (req.headers.host ?? '').toLowerCase() : new URL(origin).host;
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; connect-src 'self' ws://${host}; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
  };
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    message: string,
  ): void => {
    securityHeaders(res, req);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`${message}\n`);
  };
  /** Which proof of the token the request carries, if any. */
  const tokenProof = (req: IncomingMessage, url: URL): 'query' | 'cookie' | null => {
    const fromQuery = url.searchParams.get('token');
    if (fromQuery !== null && fromQuery !== '' && sameToken(fromQuery, token)) return 'query';
    const fromCookie = readCookie(req.headers.cookie, cookieName(port));
    return fromCookie !== null && sameToken(fromCookie, token) ? 'cookie' : null;
  };
  const hostAllowed = (req: IncomingMessage): boolean =>
    allowedHosts.has((req.headers.host ?? '').toLowerCase());
  /** The request's path and query; null for a request target that is not a plain path. */
  const parseTarget = (req: IncomingMessage): URL | null => {
    const target = req.url ?? '';
    if (!target.startsWith('/') || target.startsWith('//')) return null;
    try {
      return new URL(target, origin);
    } catch {
      return null;
    }
  };

  /** An ISO dropped on the page (./media-upload.ts); JSON answers, `{path}` or `{error}`. */
  const uploadMedia = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
  ): Promise<void> => {
    const answer = (status: number, body: object): void => {
      securityHeaders(res, req);
      res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify(body));
    };
    // Only the page itself may upload (a cross-site form post carries another Origin, or none).
    if (req.headers.origin !== `http://${(req.headers.host ?? '').toLowerCase()}`)
      return answer(403, { error: 'Uploads are accepted from the Vireo page only.' });
    try {
      const saved = await receiveMedia(req, control.library.root, url.searchParams.get('name'));
      answer(201, { path: saved });
    } catch (e) {
      // Refused before or while reading: the rest of the body is not wanted.
      if (e instanceof UploadRefused) answer(e.status, { error: e.message });
      else answer(500, { error: `Cannot store the upload: ${(e as Error).message}` });
      req.resume();
    }
  };

  const serveRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostAllowed(req))
      return refuse(
        req,
        res,
        421,
        'Unknown host: open the URL exactly as `vireo serve` printed it.',
      );
    const url = parseTarget(req);
    if (!url) return refuse(req, res, 400, 'Bad request target.');
    const proof = tokenProof(req, url);
    if (!proof)
      return refuse(
        req,
        res,
        403,
        'Forbidden: open the URL with the token that `vireo serve` printed.',
      );
    if (req.method === 'POST' && url.pathname === '/media') return uploadMedia(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return refuse(req, res, 405, 'Method not allowed: this server only serves files.');
    }
    // The raw path, not url.pathname: URL parsing would quietly resolve `..` segments first,
    // and a request that names a place above the root is refused, not reinterpreted.
    const file = await root.resolve(rawPath(req));
    if (!file) return refuse(req, res, 404, 'Not found.');
    securityHeaders(res, req);
    if (proof === 'query') res.setHeader('Set-Cookie', setCookieHeader(port, token));
    res.writeHead(200, { 'Content-Type': file.contentType, 'Content-Length': file.sizeBytes });
    if (req.method === 'HEAD') return void res.end();
    await pipeline(createReadStream(file.path), res);
  };

  const server: Server = createServer((req, res) => {
    serveRequest(req, res).catch(() => {
      if (!res.headersSent) refuse(req, res, 500, 'Internal error while reading the file.');
      else res.destroy();
    });
  });
  // After listening, a socket-level error must be logged, never thrown out of the event loop.
  server.on('clientError', (_error, socket: Duplex) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  // Console streams: small text messages in (input), large binary updates out.
  const displayWss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CONSOLE_MESSAGE_BYTES,
    perMessageDeflate: false,
  });
  const openConsole = async (ws: WebSocket, vmId: string): Promise<void> => {
    const refuseConsole = (error: string): void => {
      ws.send(JSON.stringify({ ok: false, error }));
      ws.close(1000, 'no display');
    };
    try {
      relayDisplay(ws, await displaySocketOf(control, vmId));
    } catch (e) {
      refuseConsole(e instanceof Error ? e.message : String(e));
    }
  };
  const denyUpgrade = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!hostAllowed(req)) return denyUpgrade(socket, '421 Misdirected Request');
    const url = parseTarget(req);
    if (!url) return denyUpgrade(socket, '400 Bad Request');
    // The token before anything else, so a caller without it learns nothing (not even which paths exist).
    if (!tokenProof(req, url)) return denyUpgrade(socket, '403 Forbidden');
    // The page's own origin, under the name the Host header used (both already checked as ours).
    if (req.headers.origin !== `http://${(req.headers.host ?? '').toLowerCase()}`)
      return denyUpgrade(socket, '403 Forbidden');
    if (url.pathname === '/display') {
      if (displayWss.clients.size >= MAX_CLIENTS)
        return denyUpgrade(socket, '503 Service Unavailable');
      const vmId = url.searchParams.get('vm') ?? '';
      if (vmId.length === 0 || vmId.length > 256) return denyUpgrade(socket, '400 Bad Request');
      try {
        displayWss.handleUpgrade(req, socket, head, (ws) => void openConsole(ws, vmId));
      } catch {
        denyUpgrade(socket, '400 Bad Request');
      }
      return;
    }
    if (url.pathname !== '/ws') return denyUpgrade(socket, '404 Not Found');
    if (wss.clients.size >= MAX_CLIENTS) return denyUpgrade(socket, '503 Service Unavailable');
    try {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } catch {
      denyUpgrade(socket, '400 Bad Request');
    }
  });

  wss.on('connection', (ws: WebSocket) => {
    const endpoint = openWireEndpoint(
      {
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        bufferedBytes: () => ws.bufferedAmount,
      },
      dispatch,
      (listener) => control.onEvent(listener),
    );
    ws.on('close', () => endpoint.dispose());
    // ws reports protocol errors (too large, bad frames) here, then closes with 1009/1002.
    ws.on('error', () => endpoint.dispose());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        endpoint.dispose();
        return ws.close(CLOSE_UNSUPPORTED_DATA, 'binary messages are not accepted');
      }
      const text = Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.from(data).toString('utf8');
      endpoint.receive(text);
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void =>
      reject(
        new ServeError(
          e.code === 'EADDRINUSE'
            ? `Port ${options.port} is in use: choose another with --port, or 0 for any free port.`
            : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
              ? `${host} is not an address of this machine: choose one with --host (default 127.0.0.1).`
              : `Cannot listen on ${host}:${options.port}: ${e.message}`,
        ),
      );
    server.once('error', onError);
    server.listen(options.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (e) => process.stderr.write(`vireo serve: ${e.message}\n`));
  port = (server.address() as AddressInfo).port;
  origin = `http://${publicHost(host)}:${port}`;
  allowedHosts = allowedHostHeaders(host, port);

  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/?token=${token}`,
    token,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        for (const client of displayWss.clients) client.terminate();
        wss.close();
        displayWss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

/**
 * Browser-mode security and transport, against a real server and a real control plane on a
 * temporary library (VIREO_HOME-style temp folder), over real HTTP and WebSocket connections.
 * The renderer folder is a tiny real one made here (the real bundle may not be built).
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createControlPlane, type ControlPlane } from '../../../main/control/index';
import { MAX_MESSAGE_BYTES, startServer, type RunningServer } from '../../../main/serve/index';
import { calls } from '../../../preload/contract';

let base: string;
let root: string;
let control: ControlPlane;
let server: RunningServer;
let origin: string;
let port: number;

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A raw HTTP request: paths with ../ and %2e reach the server exactly as written. */
function get(
  pathAndQuery: string,
  headers: Record<string, string> = {},
  method = 'GET',
  at = origin,
): Promise<Reply> {
  const url = new URL(at);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port,
        path: pathAndQuery,
        headers,
        method,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Bytes straight onto a TCP socket, for requests no HTTP client would send. */
function raw(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.setTimeout(3000, () => socket.destroy(new Error('no reply')));
  });
}

function connect(
  query: string,
  headers: Record<string, string> = { Origin: origin },
  options: WebSocket.ClientOptions = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws${query}`, {
      headers,
      ...options,
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

type Message = {
  type: string;
  id?: number;
  name?: string;
  payload?: { vm?: unknown };
  result?: { ok: boolean; value?: unknown; error?: { code: string } };
};

function collect(ws: WebSocket): {
  messages: Message[];
  until(pred: (m: Message) => boolean): Promise<Message>;
} {
  const messages: Message[] = [];
  ws.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString('utf8')) as Message));
  return {
    messages,
    async until(pred) {
      for (let i = 0; i < 250; i++) {
        const found = messages.find(pred);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('message never came');
    },
  };
}

const closeCode = (ws: WebSocket): Promise<number> =>
  new Promise((r) => ws.once('close', (code) => r(code)));

beforeAll(async () => {
  base = mkdtempSync(path.join(os.tmpdir(), 'vireo-serve-'));
  root = path.join(base, 'renderer');
  mkdirSync(path.join(root, 'assets', 'nested'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>Vireo</title>');
  writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(path.join(root, 'assets', 'app.css'), 'body{}');
  writeFileSync(path.join(root, 'assets', 'icon.svg'), '<svg/>');
  writeFileSync(path.join(base, 'secret.txt'), 'SECRET');
  symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'assets', 'escape.js'));
  symlinkSync(base, path.join(root, 'up'));
  symlinkSync(path.join(root, 'assets', 'app.js'), path.join(root, 'alias.js'));
  control = await createControlPlane({
    home: path.join(base, 'library'),
    mode: 'browser',
    watch: false,
  });
  server = await startServer({ control, host: '127.0.0.1', port: 0, rendererDir: root });
  origin = new URL(server.url).origin;
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server.close();
  await control.close();
  rmSync(base, { recursive: true, force: true });
});

describe('browser mode HTTP', () => {
  it('prints a loopback URL with a 32-byte base64url token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(server.token, 'base64url')).toHaveLength(32);
  });

  it('refuses every request without the token', async () => {
    for (const p of [
      '/',
      '/index.html',
      '/assets/app.js',
      '/?token=wrong',
      '/?token=',
      '/nothing',
      '/ws',
    ]) {
      const res = await get(p);
      expect(res.status, p).toBe(403);
      expect(res.body).not.toContain('<title>Vireo');
      expect(res.headers['set-cookie'], p).toBeUndefined();
    }
    // A near miss (same length, one character off) is refused too.
    const near = server.token.slice(0, -1) + (server.token.endsWith('A') ? 'B' : 'A');
    expect((await get(`/?token=${near}`)).status).toBe(403);
    // The cookie of another port's server is not ours.
    expect((await get('/', { Cookie: `vireo_token_1=${server.token}` })).status).toBe(403);
  });

  it('serves with the token and sets a strict HttpOnly cookie that works afterwards', async () => {
    const first = await get(`/?token=${server.token}`);
    expect(first.status).toBe(200);
    expect(first.body).toContain('<title>Vireo');
    expect(first.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(first.headers['content-security-policy']).toContain(
      `default-src 'self'; connect-src 'self' ws://127.0.0.1:${port}; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'`,
    );
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    expect(first.headers['referrer-policy']).toBe('no-referrer');
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toBe(`vireo_token_${port}=${server.token}; HttpOnly; SameSite=Strict; Path=/`);
    const jar = { Cookie: `other=1; ${cookie.split(';')[0]!}` };
    const js = await get('/assets/app.js', jar);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['set-cookie']).toBeUndefined();
    expect((await get('/assets/app.css', jar)).headers['content-type']).toBe(
      'text/css; charset=utf-8',
    );
    expect((await get('/assets/icon.svg', jar)).headers['content-type']).toBe('image/svg+xml');
    // A symlink that stays inside the root is fine.
    expect((await get('/alias.js', jar)).body).toBe('console.log(1)');
    const head = await get('/assets/app.js', jar, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('14');
    expect(head.body).toBe('');
  });

  it('falls back to index.html for app routes, never for missing files or folders', async () => {
    const t = `?token=${server.token}`;
    expect((await get(`/vm/1234/console${t}`)).body).toContain('<title>Vireo');
    expect((await get(`/assets/missing.js${t}`)).status).toBe(404);
    // No directory listings.
    for (const p of ['/assets', '/assets/', '/assets/nested/']) {
      const res = await get(`${p}${t}`);
      expect(res.status, p).toBe(404);
      expect(res.body, p).not.toContain('app.js');
    }
  });

  it('serves files only: other methods are refused', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await get(`/?token=${server.token}`, {}, method);
      expect(res.status, method).toBe(405);
    }
  });

  it('cannot be made to read outside its root', async () => {
    const t = `token=${server.token}`;
    for (const p of [
      '/../secret.txt',
      '/../../../../etc/passwd',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/assets/..%5c..%5csecret.txt',
      `/${base}/secret.txt`,
      `/%2f${base.slice(1)}/secret.txt`,
      '//etc/passwd',
      '/assets/escape.js',
      '/up/secret.txt',
      '/index.html%00.js',
      '/secret.txt%00',
      '/%c0%ae%c0%ae/secret.txt',
      '/%E0%A4%A',
    ]) {
      const res = await get(`${p}?${t}`);
      expect(res.body, p).not.toContain('SECRET');
      expect(res.body, p).not.toContain('root:');
      expect([400, 404], p).toContain(res.status);
    }
    // Absolute-form and odd request targets, sent raw.
    for (const target of [`http://127.0.0.1:${port}/../secret.txt?${t}`, `*`]) {
      const reply = await raw(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
      );
      expect(reply, target).not.toContain('SECRET');
      expect(reply, target).toMatch(/^HTTP\/1\.1 400/);
    }
  });

  it('refuses a foreign or missing Host header (DNS rebinding)', async () => {
    const t = `/?token=${server.token}`;
    expect((await get(t, { Host: 'evil.example' })).status).toBe(421);
    expect((await get(t, { Host: `evil.example:${port}` })).status).toBe(421);
    expect((await get(t, { Host: `127.0.0.1:${port + 1}` })).status).toBe(421);
    const viaName = await get(t, { Host: `localhost:${port}` });
    expect(viaName.status).toBe(200);
    // The CSP names the socket under the name the page was opened with.
    expect(viaName.headers['content-security-policy']).toContain(
      `connect-src 'self' ws://localhost:${port};`,
    );
    const noHost = await raw(`GET ${t} HTTP/1.0\r\n\r\n`);
    expect(noHost).toMatch(/^HTTP\/1\.1 421/);
  });

  it('survives garbage on the socket', async () => {
    const reply = await raw('\x00\x01 not http at all\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await get(`/?token=${server.token}`)).status).toBe(200);
  });
});

describe('browser mode start-up', () => {
  it('refuses to bind a non-loopback address unless allowed, naming the flag', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.1', 'example.com']) {
      await expect(
        startServer({ control, host, port: 0, rendererDir: root }),
        host,
      ).rejects.toThrow('--allow-remote');
    }
  });

  it('binds every interface with allowRemote, still answering only to its own names', async () => {
    const remote = await startServer({
      control,
      host: '0.0.0.0',
      port: 0,
      rendererDir: root,
      allowRemote: true,
    });
    try {
      const p = new URL(remote.url).port;
      const at = `http://127.0.0.1:${p}`;
      expect((await get(`/?token=${remote.token}`, {}, 'GET', at)).status).toBe(200);
      expect(
        (await get(`/?token=${remote.token}`, { Host: `evil.example:${p}` }, 'GET', at)).status,
      ).toBe(421);
      expect((await get('/', {}, 'GET', at)).status).toBe(403);
    } finally {
      await remote.close();
    }
  });

  it('accepts loopback aliases and an IPv6 loopback without the flag', async () => {
    const v6 = await startServer({ control, host: '::1', port: 0, rendererDir: root });
    try {
      expect(v6.url).toMatch(/^http:\/\/\[::1\]:\d+\/\?token=/);
      const res = await get(`/?token=${v6.token}`, {}, 'GET', new URL(v6.url).origin);
      expect(res.status).toBe(200);
    } finally {
      await v6.close();
    }
  });

  it('says what to do when the bundle is missing, the port is taken or the token is weak', async () => {
    await expect(
      startServer({ control, host: '127.0.0.1', port: 0, rendererDir: path.join(base, 'none') }),
    ).rejects.toThrow('npm run build');
    await expect(
      startServer({ control, host: '127.0.0.1', port, rendererDir: root }),
    ).rejects.toThrow(`Port ${port} is in use`);
    await expect(
      startServer({ control, host: '127.0.0.1', port: 0, rendererDir: root, token: 'short' }),
    ).rejects.toThrow('43 to 256 characters');
    await expect(
      startServer({ control, host: '127.0.0.1', port: 70000, rendererDir: root }),
    ).rejects.toThrow('not a port');
    for (const host of ['192.0.2.1', 'no-such-host.invalid'])
      await expect(
        startServer({ control, host, port: 0, rendererDir: root, allowRemote: true }),
        host,
      ).rejects.toThrow(`${host} is not an address of this machine`);
  });
});

describe('browser mode WebSocket', () => {
  it('refuses upgrades without the token, from another origin, or with a foreign Host', async () => {
    await expect(connect('')).rejects.toThrow('refused 403');
    await expect(connect('?token=nope')).rejects.toThrow('refused 403');
    await expect(
      connect(`?token=${server.token}`, { Origin: 'http://evil.example' }),
    ).rejects.toThrow('refused 403');
    await expect(
      connect(`?token=${server.token}`, { Origin: `http://127.0.0.1:${port + 1}` }),
    ).rejects.toThrow('refused 403');
    await expect(connect(`?token=${server.token}`, { Origin: 'null' })).rejects.toThrow(
      'refused 403',
    );
    // Node clients send no Origin; browsers always do. No Origin, no socket.
    await expect(connect(`?token=${server.token}`, {})).rejects.toThrow('refused 403');
    await expect(
      connect(`?token=${server.token}`, { Origin: origin, Host: `evil.example:${port}` }),
    ).rejects.toThrow('refused 421');
  });

  it('accepts the cookie instead of the query token, and only on /ws', async () => {
    const ws = await connect('', { Origin: origin, Cookie: `vireo_token_${port}=${server.token}` });
    ws.close();
    const upgrade = (target: string) =>
      raw(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
    expect(await upgrade(`/other?token=${server.token}`)).toMatch(/^HTTP\/1\.1 404/);
    // Without the token, even a wrong path says only "forbidden".
    expect(await upgrade('/other')).toMatch(/^HTTP\/1\.1 403/);
    expect(await upgrade(`http://[?token=${server.token}`)).toMatch(/^HTTP\/1\.1 400/);
    expect(await upgrade(`//evil/ws?token=${server.token}`)).toMatch(/^HTTP\/1\.1 400/);
  });

  it('carries a real call round trip and pushes an event after vm.create', async () => {
    const ws = await connect(`?token=${server.token}`);
    const observer = await connect(`?token=${server.token}`);
    const mine = collect(ws);
    const theirs = collect(observer);
    ws.send(JSON.stringify({ type: 'call', id: 1, name: 'host.info', args: {} }));
    const info = await mine.until((m) => m.type === 'result' && m.id === 1);
    expect(info.result?.ok).toBe(true);
    expect(calls['host.info'].result.parse(info.result?.value)).toMatchObject({ mode: 'browser' });
    ws.send(
      JSON.stringify({
        type: 'call',
        id: 2,
        name: 'vm.create',
        args: {
          name: 'ws-vm',
          folder: null,
          os: { family: 'linux', id: 'alpine' },
          cpus: 1,
          memoryMiB: 256,
          disk: null,
          iso: null,
        },
      }),
    );
    const created = await mine.until((m) => m.type === 'result' && m.id === 2);
    expect(created.result?.ok).toBe(true);
    const event = await theirs.until((m) => m.type === 'event' && m.name === 'vm.changed');
    expect(calls['vm.get'].result.parse(event.payload?.vm)).toMatchObject({
      config: { name: 'ws-vm' },
    });
    ws.send(JSON.stringify({ type: 'call', id: 3, name: 'vm.create', args: { name: '../evil' } }));
    const refused = await mine.until((m) => m.id === 3);
    expect(refused.result?.error?.code).toBe('invalid-arguments');
    ws.close();
    observer.close();
  });

  it('closes on malformed, binary or oversized messages, and keeps serving others', async () => {
    const notJson = await connect(`?token=${server.token}`);
    const c1 = closeCode(notJson);
    notJson.send('not json');
    expect(await c1).toBe(1008);

    const binary = await connect(`?token=${server.token}`);
    const c2 = closeCode(binary);
    binary.send(Buffer.from('{"type":"call"}'));
    expect(await c2).toBe(1003);

    const huge = await connect(`?token=${server.token}`);
    const c3 = closeCode(huge);
    huge.send('x'.repeat(MAX_MESSAGE_BYTES + 1));
    expect(await c3).toBe(1009);

    const healthy = await connect(`?token=${server.token}`);
    const inbox = collect(healthy);
    healthy.send(JSON.stringify({ type: 'call', id: 9, name: 'vm.list', args: {} }));
    expect((await inbox.until((m) => m.id === 9)).result?.ok).toBe(true);
    healthy.close();
  });

  it('closes every connection on close()', async () => {
    const extra = await startServer({ control, host: '127.0.0.1', port: 0, rendererDir: root });
    const saved = origin;
    origin = new URL(extra.url).origin;
    try {
      const ws = await connect(`?token=${extra.token}`);
      const closed = closeCode(ws);
      await extra.close();
      expect(await closed).toBe(1006);
      await extra.close();
    } finally {
      origin = saved;
    }
  });
});

/** A POST with a body, as the page's XMLHttpRequest sends an ISO dropped on it. */
function post(
  pathAndQuery: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: pathAndQuery,
        method: 'POST',
        headers: { 'Content-Length': String(body.length), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }),
        );
      },
    );
    // The server may answer (and close) before taking the body: that is a refusal, not an error.
    req.on('error', (e) =>
      String(e).includes('EPIPE') || String(e).includes('ECONNRESET') ? undefined : reject(e),
    );
    req.end(body);
  });
}

describe('browser mode media upload (an ISO dropped on the page)', () => {
  const media = () => path.join(base, 'library', 'Media');
  const leftovers = () => readdirSync(media()).filter((n) => n.endsWith('.tmp'));
  // A real ISO 9660 image, made by xorriso.
  const isoBytes = (() => {
    const tree = mkdtempSync(path.join(os.tmpdir(), 'vireo-upload-'));
    writeFileSync(path.join(tree, 'hello.txt'), 'hello\n');
    const out = path.join(tree, '..', `${path.basename(tree)}.iso`);
    execFileSync('xorriso', ['-as', 'mkisofs', '-V', 'UPLOADED', '-o', out, tree], {
      stdio: 'ignore',
    });
    const bytes = readFileSync(out);
    rmSync(tree, { recursive: true, force: true });
    rmSync(out, { force: true });
    return bytes;
  })();

  it('stores a real ISO in the library media folder, never replacing a file', async () => {
    const headers = { Origin: origin };
    const first = await post(`/media?name=disc.iso&token=${server.token}`, isoBytes, headers);
    expect(first.status, first.body).toBe(201);
    const saved = (JSON.parse(first.body) as { path: string }).path;
    expect(saved).toBe(path.join(media(), 'disc.iso'));
    expect(readFileSync(saved).equals(isoBytes)).toBe(true);
    const second = await post(`/media?name=disc.iso&token=${server.token}`, isoBytes, headers);
    expect((JSON.parse(second.body) as { path: string }).path).toBe(
      path.join(media(), 'disc (2).iso'),
    );
    expect(leftovers()).toEqual([]);
  });

  it('refuses what is not an ISO, a foreign origin, hostile names and oversized uploads', async () => {
    const t = `token=${server.token}`;
    const own = { Origin: origin };
    const notIso = Buffer.alloc(64 * 1024, 0x41);
    const refused = await post(`/media?name=fake.iso&${t}`, notIso, own);
    expect(refused.status).toBe(415);
    expect(refused.body).toMatch(/not an ISO 9660 image/);
    expect(existsSync(path.join(media(), 'fake.iso'))).toBe(false);
    // A page elsewhere (CSRF) or no Origin at all.
    expect(
      (await post(`/media?name=x.iso&${t}`, isoBytes, { Origin: 'http://evil.example' })).status,
    ).toBe(403);
    expect((await post(`/media?name=x.iso&${t}`, isoBytes)).status).toBe(403);
    // No token: refused before anything else.
    expect((await post('/media?name=x.iso', isoBytes, own)).status).toBe(403);
    for (const name of ['../escape.iso', 'a/b.iso', '.hidden.iso', 'notes.txt', '']) {
      const res = await post(`/media?name=${encodeURIComponent(name)}&${t}`, isoBytes, own);
      expect([400, 415], name).toContain(res.status);
    }
    expect(existsSync(path.join(base, 'library', 'escape.iso'))).toBe(false);
    // Claims 100 GiB: refused from the header, with the reason.
    const huge = await post(`/media?name=huge.iso&${t}`, Buffer.alloc(0), {
      ...own,
      'Content-Length': String(100 * 1024 ** 3),
    });
    expect(huge.status).toBe(413);
    expect(huge.body).toMatch(/largest ISO this server takes/);
    expect(leftovers()).toEqual([]);
  });
});

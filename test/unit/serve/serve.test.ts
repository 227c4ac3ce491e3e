/**
 * Browser-mode security and transport, against a real server and a real control plane on a
 * temporary library, over real HTTP and WebSocket connections.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createControlPlane, type ControlPlane } from '../../../main/control/index';
import { startServer, type RunningServer } from '../../../main/serve/index';

let base: string;
let control: ControlPlane;
let server: RunningServer;
let origin: string;

function get(
  pathAndQuery: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    // Raw paths (with ../ and %2e) must reach the server unnormalised, so no URL object here.
    const req = request(
      { host: url.hostname, port: url.port, path: pathAndQuery, headers },
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

function connect(
  query: string,
  headers: Record<string, string> = { Origin: origin },
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws${query}`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

beforeAll(async () => {
  base = mkdtempSync(path.join(os.tmpdir(), 'vireo-serve-'));
  const root = path.join(base, 'renderer');
  mkdirSync(path.join(root, 'assets'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>Vireo</title>');
  writeFileSync(path.join(root, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(path.join(base, 'secret.txt'), 'SECRET');
  symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'assets', 'escape.js'));
  control = await createControlPlane({
    home: path.join(base, 'library'),
    mode: 'browser',
    watch: false,
  });
  server = await startServer({ control, host: '127.0.0.1', port: 0, rendererDir: root });
  origin = new URL(server.url).origin;
});
afterAll(async () => {
  await server.close();
  await control.close();
  rmSync(base, { recursive: true, force: true });
});

describe('browser mode HTTP', () => {
  it('prints a loopback URL with a random token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
  });

  it('refuses every request without the token', async () => {
    for (const p of ['/', '/index.html', '/assets/app.js', '/?token=wrong', '/nothing']) {
      const res = await get(p);
      expect(res.status, p).toBe(403);
      expect(res.body).not.toContain('<title>Vireo');
    }
  });

  it('serves with the token and sets a strict HttpOnly cookie that works afterwards', async () => {
    const first = await get(`/?token=${server.token}`);
    expect(first.status).toBe(200);
    expect(first.body).toContain('<title>Vireo');
    expect(first.headers['content-security-policy']).toContain("default-src 'self'");
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const js = await get('/assets/app.js', { Cookie: cookie.split(';')[0]! });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toContain('text/javascript');
  });

  it('cannot be made to read outside its root', async () => {
    const t = `token=${server.token}`;
    for (const p of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%2fsecret.txt',
      `/${base}/secret.txt`,
      '/assets/escape.js',
      '/index.html%00.js',
      '/assets/..%5c..%5csecret.txt',
    ]) {
      const res = await get(`${p}?${t}`);
      expect(res.body, p).not.toContain('SECRET');
      expect([400, 404], p).toContain(res.status);
    }
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const res = await get(`/?token=${server.token}`, { Host: 'evil.example:80' });
    expect(res.status).toBe(421);
  });

  it('refuses to bind a non-loopback address unless allowed', async () => {
    await expect(
      startServer({ control, host: '0.0.0.0', port: 0, rendererDir: path.join(base, 'renderer') }),
    ).rejects.toThrow('--allow-remote');
  });
});

describe('browser mode WebSocket', () => {
  it('refuses connections without the token or from another origin', async () => {
    await expect(connect('')).rejects.toThrow('refused 403');
    await expect(connect('?token=nope')).rejects.toThrow('refused 403');
    await expect(
      connect(`?token=${server.token}`, { Origin: 'http://evil.example' }),
    ).rejects.toThrow('refused 403');
    await expect(connect(`?token=${server.token}`, {})).rejects.toThrow('refused 403');
  });

  it('carries calls and pushes events', async () => {
    const ws = await connect(`?token=${server.token}`);
    const messages: {
      type: string;
      id?: number;
      name?: string;
      result?: { ok: boolean; error?: { code: string } };
    }[] = [];
    ws.on('message', (d: Buffer) =>
      messages.push(JSON.parse(d.toString('utf8')) as (typeof messages)[number]),
    );
    const until = async (pred: () => boolean) => {
      for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(pred()).toBe(true);
    };
    ws.send(
      JSON.stringify({
        type: 'call',
        id: 1,
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
    await until(() => messages.some((m) => m.type === 'result' && m.id === 1));
    expect(messages.find((m) => m.id === 1)?.result?.ok).toBe(true);
    await until(() => messages.some((m) => m.type === 'event' && m.name === 'vm.changed'));
    ws.send(JSON.stringify({ type: 'call', id: 2, name: 'vm.create', args: { name: '../evil' } }));
    await until(() => messages.some((m) => m.id === 2));
    expect(messages.find((m) => m.id === 2)?.result?.error?.code).toBe('invalid-arguments');
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send('not json');
    expect(await closed).toBe(1008);
  });
});

/**
 * The VM host's control socket (main/engine/host/control-socket.ts) over a real Unix socket:
 * requests answered, hostile lines refused without taking the server down, mode 0600.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { controlRequest, serveControlSocket } from '../../../main/engine/host/control-socket.js';
import { AtapiCdrom } from '../../../main/engine/devices/ide/atapi-cdrom.js';

let dir: string;
let close: () => void = () => {};
const typed: string[][] = [];
let drive: AtapiCdrom;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-ctl-'));
  typed.length = 0;
  drive = new AtapiCdrom();
  close = await serveControlSocket(path.join(dir, 'vm.sock'), {
    screenshot: () => Uint8Array.from([0x89, 0x50, 0x4e, 0x47]),
    sendKeys: (chords) => {
      if (chords.includes('bogus')) return Promise.reject(new Error('unknown key "bogus"'));
      typed.push([...chords]);
      return Promise.resolve();
    },
    changeMedium: (iso) => (iso === null ? drive.eject() : drive.insert(iso)),
  });
});
afterEach(() => {
  close();
  rmSync(dir, { recursive: true, force: true });
});

function rawExchange(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.createConnection(path.join(dir, 'vm.sock'));
    let got = '';
    s.on('connect', () => s.write(text));
    s.on('data', (b) => {
      got += b.toString();
      if (got.includes('\n')) s.end();
    });
    s.on('close', () => resolve(got));
  });
}

describe('VM host control socket', () => {
  it('answers screenshot and sendkey requests', async () => {
    const sock = path.join(dir, 'vm.sock');
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const shot = await controlRequest(sock, { command: 'screenshot' });
    expect(shot.ok && Buffer.from(shot.png!, 'base64')).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    );
    expect(
      await controlRequest(sock, { command: 'sendkey', chords: ['ctrl-alt-delete', 'a'] }),
    ).toEqual({ ok: true });
    expect(typed).toEqual([['ctrl-alt-delete', 'a']]);
    expect(await controlRequest(sock, { command: 'sendkey', chords: ['bogus'] })).toEqual({
      ok: false,
      error: 'unknown key "bogus"',
    });
  });

  it('refuses malformed lines and oversized input, and keeps serving', async () => {
    expect(JSON.parse(await rawExchange('not json\n'))).toEqual({
      ok: false,
      error: 'a request is one JSON object per line',
    });
    expect(JSON.parse(await rawExchange('{"command":"format-disk"}\n'))).toEqual({
      ok: false,
      error: 'malformed request',
    });
    expect(
      (JSON.parse(await rawExchange('{"command":"sendkey","chords":[]}\n')) as { ok: boolean }).ok,
    ).toBe(false);
    // 100 KiB without a newline: the connection is closed, the server lives on.
    expect(await rawExchange('x'.repeat(100 * 1024))).toBe('');
    const again = await controlRequest(path.join(dir, 'vm.sock'), { command: 'screenshot' });
    expect(again.ok).toBe(true);
  });

  it('changes the optical medium live, and refuses what is not an ISO', async () => {
    const sock = path.join(dir, 'vm.sock');
    const iso = path.join(dir, 'disc.iso');
    writeFileSync(iso, Buffer.alloc(4 * 2048));
    expect(await controlRequest(sock, { command: 'medium', iso })).toEqual({ ok: true });
    expect(drive.current).toEqual({ path: iso, sectors: 4 });
    const tiny = path.join(dir, 'tiny.iso');
    writeFileSync(tiny, 'not a disc');
    const refused = await controlRequest(sock, { command: 'medium', iso: tiny });
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error).toMatch(/not an ISO image/);
    expect(drive.current?.path).toBe(iso); // the old disc stays in
    const missing = await controlRequest(sock, {
      command: 'medium',
      iso: path.join(dir, 'no.iso'),
    });
    expect(missing.ok).toBe(false);
    // Relative paths are refused by the schema: the VM host's working folder is not the caller's.
    expect(JSON.parse(await rawExchange('{"command":"medium","iso":"disc.iso"}\n'))).toEqual({
      ok: false,
      error: 'malformed request',
    });
    expect(await controlRequest(sock, { command: 'medium', iso: null })).toEqual({ ok: true });
    expect(drive.current).toBeUndefined();
  });

  it('reports a VM whose socket is gone', async () => {
    await expect(
      controlRequest(path.join(dir, 'none.sock'), { command: 'screenshot' }),
    ).rejects.toThrow(/cannot reach the VM's control socket/);
  });
});

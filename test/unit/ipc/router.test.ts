/** The router against the real control plane on a temporary library. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../../main/control/index';
import { createRouter, type Dispatch } from '../../../main/ipc/router';

let home: string;
let control: ControlPlane;
let dispatch: Dispatch;
const logged: string[] = [];

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'vireo-router-'));
  control = await createControlPlane({ home, mode: 'browser', watch: false });
  dispatch = createRouter(control.handlers, (m) => logged.push(m));
});
afterAll(async () => {
  await control.close();
  rmSync(home, { recursive: true, force: true });
});

describe('the bridge router', () => {
  it('refuses unknown calls', async () => {
    expect(await dispatch('fs.deleteEverything', {})).toEqual({
      ok: false,
      error: { code: 'invalid-arguments', message: 'Unknown call "fs.deleteEverything".' },
    });
    expect((await dispatch('__proto__', {})).ok).toBe(false);
    expect((await dispatch('constructor', {})).ok).toBe(false);
  });

  it('validates arguments and names the bad fields', async () => {
    const r = await dispatch('vm.create', {
      name: 'x/y',
      folder: null,
      os: { family: 'linux', id: 'alpine' },
      cpus: 0,
      memoryMiB: 256,
      disk: null,
      iso: null,
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('invalid-arguments');
      expect(r.error.message).toContain('name:');
      expect(r.error.message).toContain('cpus:');
    }
    const extra = await dispatch('vm.list', { sneaky: true });
    expect(extra.ok).toBe(false);
    expect((await dispatch('vm.get', null)).ok).toBe(false);
  });

  it('returns handler failures as values and hides internal errors', async () => {
    const missing = await dispatch('vm.get', { id: 'no-such-vm' });
    expect(missing).toEqual({
      ok: false,
      error: {
        code: 'not-found',
        message: expect.stringContaining('No VM "no-such-vm"') as unknown,
      },
    });
    const crashing = createRouter(
      { ...control.handlers, 'vm.list': () => Promise.reject(new Error('secret stack detail')) },
      (m) => logged.push(m),
    );
    const r = await crashing('vm.list', {});
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('internal');
      expect(r.error.message).not.toContain('secret');
    }
    expect(logged.join('\n')).toContain('secret stack detail');
  });

  it('runs a valid call through to the library', async () => {
    const r = await dispatch('os.catalog', {});
    expect(r.ok).toBe(true);
    const ids = r.ok ? (r.value as { id: string }[]).map((o) => o.id) : [];
    expect(ids).toContain('debian-12');
  });
});

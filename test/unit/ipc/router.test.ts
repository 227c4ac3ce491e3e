/**
 * The router against the real control plane on a temporary library: unknown names, argument
 * validation, error values, and results that match the contract's own result schemas.
 * Router-only behaviour (a handler that crashes) uses handlers written here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../../main/control/index';
import { createRouter, type Dispatch } from '../../../main/ipc/router';
import { BridgeFailure, calls, type BridgeHandlers } from '../../../preload/contract';

let home: string;
let control: ControlPlane;
let dispatch: Dispatch;
const logged: string[] = [];

const newVm = (name: string) => ({
  name,
  folder: null,
  os: { family: 'linux', id: 'alpine' },
  cpus: 1,
  memoryMiB: 256,
  disk: null,
  iso: null,
});

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
  it('refuses unknown calls, including inherited property names and non-strings', async () => {
    expect(await dispatch('fs.deleteEverything', {})).toEqual({
      ok: false,
      error: {
        code: 'invalid-arguments',
        message: 'Unknown call "fs.deleteEverything": this version of Vireo has no such call.',
      },
    });
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '']) {
      const r = await dispatch(name, {});
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('invalid-arguments');
    }
    const r = await dispatch(42 as unknown as string, {});
    expect(r).toMatchObject({ ok: false, error: { code: 'invalid-arguments' } });
    const long = await dispatch('x'.repeat(10_000), {});
    expect(!long.ok && long.error.message.length).toBeLessThan(200);
  });

  it('validates arguments and names each bad field', async () => {
    const r = await dispatch('vm.create', { ...newVm('x/y'), cpus: 0 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('invalid-arguments');
      expect(r.error.message).toMatch(/^Invalid arguments for vm\.create: /);
      expect(r.error.message).toContain('name:');
      expect(r.error.message).toContain('cpus:');
    }
    // Unknown fields are refused (strict schemas), so a typo cannot be silently ignored.
    const extra = await dispatch('vm.list', { sneaky: true });
    expect(extra).toMatchObject({ ok: false, error: { code: 'invalid-arguments' } });
    for (const bad of [null, undefined, 'str', 7, [], { id: 5 }]) {
      const res = await dispatch('vm.get', bad);
      expect(res.ok, JSON.stringify(bad)).toBe(false);
    }
    // Nothing was created by the refused call.
    const list = await dispatch('vm.list', {});
    expect(list.ok && list.value).toEqual([]);
  });

  it('returns results that match the contract result schemas', async () => {
    for (const name of ['host.info', 'os.catalog', 'vm.list'] as const) {
      const r = await dispatch(name, {});
      expect(r.ok, name).toBe(true);
      if (r.ok) expect(calls[name].result.safeParse(r.value).success, name).toBe(true);
    }
    const created = await dispatch('vm.create', newVm('router-vm'));
    expect(created.ok).toBe(true);
    if (!created.ok) return;
    const vm = calls['vm.create'].result.parse(created.value);
    expect(vm).toMatchObject({ accessible: true, config: { name: 'router-vm' } });
    const got = await dispatch('vm.get', { id: vm.id });
    expect(got.ok && calls['vm.get'].result.parse(got.value).id).toBe(vm.id);
    const clash = await dispatch('vm.create', newVm('router-vm'));
    expect(clash).toMatchObject({ ok: false, error: { code: 'conflict' } });
  });

  it('turns BridgeFailure into its code and message', async () => {
    const missing = await dispatch('vm.get', { id: 'no-such-vm' });
    expect(missing).toEqual({
      ok: false,
      error: { code: 'not-found', message: expect.stringContaining('no-such-vm') as unknown },
    });
    const handlers: BridgeHandlers = {
      ...control.handlers,
      'vm.list': () => Promise.reject(new BridgeFailure('unavailable', 'Library is busy.')),
    };
    expect(await createRouter(handlers)('vm.list', {})).toEqual({
      ok: false,
      error: { code: 'unavailable', message: 'Library is busy.' },
    });
  });

  it('hides internal errors from the caller and logs them on this side', async () => {
    const crashing: BridgeHandlers = {
      ...control.handlers,
      'vm.list': () => Promise.reject(new Error('secret stack detail /home/someone')),
      'os.catalog': () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- a careless dependency might
        throw 'a thrown string';
      },
    };
    const route = createRouter(crashing, (m) => logged.push(m));
    const r = await route('vm.list', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(JSON.stringify(r)).not.toContain('secret');
    expect(logged.join('\n')).toContain('secret stack detail');
    // A synchronous throw of a non-Error is caught too; a broken log does not make it reject.
    const brokenLog = createRouter(crashing, () => {
      throw new Error('stderr closed');
    });
    await expect(brokenLog('os.catalog', {})).resolves.toMatchObject({
      ok: false,
      error: { code: 'internal' },
    });
  });
});

/**
 * The VM host process (out/engine/host.js) as the control plane starts it: a bad launch ends
 * as "aborted" with the validation message before any VM exists, and on this host without
 * /dev/kvm a good launch ends "aborted" with the advice to load the KVM module. (Booting
 * through it on real KVM: test/engine/host-process.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnVmHost } from '../../../main/engine/host/spawn.js';

const root = path.resolve(import.meta.dirname, '../../..');
const hostScript = path.join(root, 'out/engine/host.js');
let kernel = '';

beforeAll(() => {
  kernel = (
    JSON.parse(
      execFileSync('node', [path.join(root, 'test/fixtures/debian-kernel.mjs')], {
        encoding: 'utf8',
      }),
    ) as { vmlinuz: string }
  ).vmlinuz;
}, 300_000);

function runHost(launch: Parameters<typeof spawnVmHost>[1]) {
  expect(existsSync(hostScript), 'run npm run build first').toBe(true);
  return new Promise<{ outcome: string; reason: string; states: string[] }>((resolve) => {
    const states: string[] = [];
    spawnVmHost(hostScript, launch, {
      onState: (s) => states.push(s),
      onEnded: (outcome, reason) => resolve({ outcome, reason, states }),
    });
  });
}

describe('VM host process', () => {
  it('ends "aborted" with the validation message for a missing initrd', async () => {
    const r = await runHost({ kernel, initrd: '/no/such/initrd', memoryMiB: 64, cpus: 1 });
    expect(r.outcome).toBe('aborted');
    expect(r.reason).toMatch(/initrd \/no\/such\/initrd does not exist/);
    expect(r.states).toEqual([]);
  });

  it('ends "aborted" with advice when KVM is unavailable', async () => {
    if (existsSync('/dev/kvm')) return; // the message under test needs a host without KVM
    const r = await runHost({ kernel, memoryMiB: 256, cpus: 1 });
    expect(r.outcome).toBe('aborted');
    expect(r.reason).toMatch(/modprobe kvm_intel/);
  });

  it('refuses malformed launch options', async () => {
    const r = await runHost({ kernel, memoryMiB: -5, cpus: 1 });
    expect(r.outcome).toBe('aborted');
    expect(r.reason).toMatch(/memoryMiB/);
  });
});

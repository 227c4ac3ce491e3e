/**
 * The VM host process as the control plane drives it, on real KVM: launch over IPC, serial
 * output and input as messages, pause and resume, and a power-off from the parent ending it
 * "powered-off".
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnVmHost } from '../../main/engine/host/spawn.js';
import { GUEST_APPEND, linuxGuest } from './linux-guest.js';

describe('VM host process (real KVM)', () => {
  it('boots, talks over serial messages, pauses, resumes and powers off', async () => {
    const guest = linuxGuest();
    let console = '';
    const states: string[] = [];
    let wake: () => void = () => {};
    const ended = new Promise<{ outcome: string; reason: string }>((resolve) => {
      const host = spawnVmHost(
        path.resolve('out/engine/host.js'),
        { ...guest, append: GUEST_APPEND, memoryMiB: 256, cpus: 1 },
        {
          onState: (s) => {
            states.push(s);
            wake();
          },
          onSerialOutput: (b) => {
            console += Buffer.from(b).toString('utf8');
            wake();
          },
          onEnded: (outcome, reason) => resolve({ outcome, reason }),
        },
      );
      const until = async (ok: () => boolean, what: string): Promise<void> => {
        const deadline = Date.now() + 300_000;
        while (!ok()) {
          if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${console.slice(-2000)}`);
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 1000);
          });
        }
      };
      void (async () => {
        await until(() => console.includes('guest# '), 'shell prompt');
        host.send({
          type: 'serial-input',
          data: Buffer.from('echo v=$((6*7))\n').toString('base64'),
        });
        await until(() => console.includes('v=42'), 'answer');
        host.send({ type: 'pause' });
        await until(() => states.at(-1) === 'paused', 'paused');
        host.send({ type: 'resume' });
        await until(() => states.at(-1) === 'running', 'running again');
        host.send({
          type: 'serial-input',
          data: Buffer.from('echo w=$((2*3))\n').toString('base64'),
        });
        await until(() => console.includes('w=6'), 'answer after resume');
        host.send({ type: 'power-off' });
      })().catch((e: unknown) => resolve({ outcome: 'test failed', reason: String(e) }));
    });
    const r = await ended;
    expect(r).toEqual({ outcome: 'powered-off', reason: 'powered off from Vireo' });
    expect(states.slice(0, 2)).toEqual(['starting', 'running']);
  });
});

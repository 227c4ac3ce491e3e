/**
 * Parent side of the VM host process: starts out/engine/host.js with an IPC channel, sends
 * the launch message, validates what comes back and reduces it to callbacks. Used by the
 * control plane's supervisor (one VM host process per running VM).
 *
 * Runtime: control plane / CLI (Node; no Electron).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HostToParent, type ParentToHost } from './host-protocol.js';
import type { VmLaunchInput } from '../vm-launch.js';
import type { VmStatsSample } from '../../../preload/contract.js';

export interface VmHostProcessEvents {
  onState(state: 'starting' | 'running' | 'paused' | 'stopping'): void;
  onSerialOutput?(bytes: Uint8Array): void;
  onLog?(line: string): void;
  onStats?(sample: VmStatsSample): void;
  /** Exactly once. `aborted` also covers a host process that died without saying why. */
  onEnded(outcome: 'powered-off' | 'aborted', reason: string, report: string | null): void;
}

export interface VmHostProcess {
  readonly pid: number;
  send(message: Exclude<ParentToHost, { type: 'launch' }>): void;
  kill(): void;
}

export function spawnVmHost(
  hostScript: string | URL,
  launch: VmLaunchInput,
  events: VmHostProcessEvents,
  options: { logFile?: number; controlSocket?: string } = {},
): VmHostProcess {
  const script = typeof hostScript === 'string' ? hostScript : fileURLToPath(hostScript);
  const child: ChildProcess = spawn(process.execPath, [script], {
    stdio: ['ignore', 'ignore', options.logFile ?? 'inherit', 'ipc'],
    // Under Electron process.execPath is the Electron binary: run it as plain Node.
    // The doorbells' blocking eventfd read holds one libuv pool thread (hypervisor/kvm/
    // doorbells.ts): a pool of 8 leaves the disk images more than the default 4 minus one.
    env: {
      ...process.env,
      ELECTRON_RUN_AS_NODE: '1',
      UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '8',
    },
    // Same process group: Ctrl-C in a terminal running `vireo serve` ends its VMs too, which
    // is what the IPC channel would do anyway (the host powers off when its parent is gone).
    detached: false,
  });
  let ended = false;
  const finish = (outcome: 'powered-off' | 'aborted', reason: string, report: string | null) => {
    if (ended) return;
    ended = true;
    events.onEnded(outcome, reason, report);
  };
  child.on('message', (raw) => {
    const parsed = HostToParent.safeParse(raw);
    if (!parsed.success) return;
    const m = parsed.data;
    if (m.type === 'state') events.onState(m.state);
    else if (m.type === 'serial-output') events.onSerialOutput?.(Buffer.from(m.data, 'base64'));
    else if (m.type === 'log') events.onLog?.(m.line);
    else if (m.type === 'stats') events.onStats?.(m.sample);
    else finish(m.outcome, m.reason, m.report);
  });
  // 'exit' can come before the last IPC messages are read (the host's "ended, powered off"
  // still in the pipe): judging there turned a clean power-off into "aborted" now and then in
  // CI. 'close' comes once the process has exited and its stdio and IPC channel are drained;
  // the timer only covers a channel held open by someone else (a grandchild).
  child.on('exit', (code, signal) => {
    const judge = () =>
      finish(
        'aborted',
        `the VM host process ended unexpectedly (${signal ? `signal ${signal}` : `exit status ${code}`})`,
        null,
      );
    child.once('close', judge);
    setTimeout(judge, 5000).unref();
  });
  child.on('error', (e) =>
    finish('aborted', `cannot start the VM host process: ${e.message}`, null),
  );
  // The host validates the options again (VmLaunchOptions): it trusts no one either.
  child.send({
    type: 'launch',
    options: launch,
    ...(options.controlSocket ? { controlSocket: options.controlSocket } : {}),
  });
  return {
    pid: child.pid ?? -1,
    send: (message) => {
      if (child.connected) child.send(message);
    },
    kill: () => void child.kill('SIGKILL'),
  };
}

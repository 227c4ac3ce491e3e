/**
 * The VM host process: one per running VM, started by the control plane with an IPC channel
 * (see ./host-protocol.ts and ./spawn.ts). It waits for one `launch` message, validates it
 * (nothing starts on a bad kernel, initrd or memory size), runs the VM (./vm-host.ts) and
 * reports states, serial output and logs, then a final `ended` message with the outcome.
 *
 * A crash in here ends this process and this VM only: the parent sees the channel close
 * without `ended` and marks the VM "aborted". Uncaught exceptions are reported as an `ended`
 * message with outcome "aborted" first, when the channel still works.
 *
 * Bundled to out/engine/host.js; its vCPU workers are out/engine/vcpu-worker.js beside it.
 *
 * Runtime: engine (VM host process, device thread).
 */
import { KvmUnavailableError } from '../hypervisor/kvm/errors.js';
import { LaunchError, validateLaunch } from '../vm-launch.js';
import type { HostToParent } from './host-protocol.js';
import { ParentToHost } from './host-protocol.js';
import { VmHost } from './vm-host.js';
import { serveControlSocket } from './control-socket.js';

const WORKER_URL = new URL('./vcpu-worker.js', import.meta.url);

function send(message: HostToParent): void {
  // After the parent went away there is nobody to tell; sending would throw.
  if (process.connected) process.send?.(message);
}

let ending = false;
function end(outcome: 'powered-off' | 'aborted', reason: string, report: string | null): void {
  if (ending) return;
  ending = true;
  send({ type: 'ended', outcome, reason, report });
  // Exit once the message is flushed to the parent; a short delay bounds a stuck channel.
  const code = outcome === 'aborted' ? 1 : 0;
  setTimeout(() => process.exit(code), 200).unref();
  if (process.connected) process.disconnect?.();
}

async function main(): Promise<void> {
  if (!process.send) {
    process.stderr.write(
      'out/engine/host.js is the VM host process the Vireo app starts; to boot a kernel ' +
        'from a terminal use: vireo run --kernel FILE [--initrd FILE] [--append "..."]\n',
    );
    process.exitCode = 2;
    return;
  }
  process.on('uncaughtException', (e) => end('aborted', 'engine exception', e.stack ?? String(e)));

  let host: VmHost | undefined;
  const pending: ParentToHost[] = [];
  const act = (m: ParentToHost): void => {
    if (!host) return void pending.push(m);
    if (m.type === 'serial-input') host.sendSerialInput(Buffer.from(m.data, 'base64'));
    else if (m.type === 'pause') void host.pause();
    else if (m.type === 'resume') host.resume();
    else if (m.type === 'shutdown') host.requestShutdown();
    else if (m.type === 'power-off') host.powerOff('powered off from Vireo');
    else if (m.type === 'reset') host.requestReset();
  };

  const launch = await new Promise<ParentToHost & { type: 'launch' }>((resolve) => {
    process.on('message', (raw) => {
      const parsed = ParentToHost.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue ? `${issue.path.join('.')}: ${issue.message}` : 'unreadable';
        // A launch that cannot be read ends this host; other bad messages are only logged.
        if ((raw as { type?: unknown } | null)?.type === 'launch') {
          end('aborted', `invalid launch options (${where})`, null);
        } else
          send({ type: 'log', line: `ignored a malformed message from the parent (${where})` });
        return;
      }
      if (parsed.data.type === 'launch') resolve(parsed.data);
      else act(parsed.data);
    });
    // The parent went away: nobody can see or control this VM any more.
    process.on('disconnect', () => host?.powerOff('the Vireo process that started this VM ended'));
    // Another Vireo process (the CLI, a second server) powers a VM off with SIGTERM to its pid.
    process.on('SIGTERM', () => {
      if (host) host.powerOff('powered off (SIGTERM)');
      else end('aborted', 'stopped (SIGTERM) before the VM started', null);
    });
  });

  try {
    const validated = validateLaunch(launch.options);
    host = await VmHost.start(
      validated,
      {
        onSerialOutput: (bytes) =>
          send({ type: 'serial-output', data: Buffer.from(bytes).toString('base64') }),
        onState: (state) => send({ type: 'state', state }),
        onLog: (line) => send({ type: 'log', line }),
        onStats: (sample) => send({ type: 'stats', sample }),
      },
      { workerUrl: process.env.VIREO_VCPU_WORKER ?? WORKER_URL },
    );
  } catch (e) {
    if (e instanceof LaunchError || e instanceof KvmUnavailableError) {
      end('aborted', e.message, null);
      return;
    }
    end(
      'aborted',
      'the VM could not start',
      e instanceof Error ? (e.stack ?? e.message) : String(e),
    );
    return;
  }
  for (const m of pending.splice(0)) act(m);
  let closeControl: (() => void) | undefined;
  if (launch.controlSocket) {
    const running = host;
    closeControl = await serveControlSocket(launch.controlSocket, {
      screenshot: () => running.screenshotPng(),
      sendKeys: (chords) => running.sendKeys(chords),
      changeMedium: (iso) => running.changeMedium(iso),
      openDisplay: (send) => {
        if (!running.hasDisplay) return null;
        const viewer = { send };
        const detach = running.display.attach(viewer);
        // Keys this console holds down: released when it goes away, so a closed window or a
        // dropped connection never leaves a key repeating in the guest.
        const held = new Set<string>();
        return {
          input: (m) => {
            if (m.t === 'next') running.display.request(viewer);
            else {
              running.display.wake();
              if (m.t === 'key') {
                if (m.down) held.add(m.code);
                else held.delete(m.code);
                running.keyEvent(m.code, m.down);
              } else if (m.t === 'mouse') running.mouseEvent(m.dx, m.dy, m.buttons);
              else running.pointerEvent(m.x, m.y, m.buttons, m.wheel);
            }
          },
          close: () => {
            for (const code of held) running.keyEvent(code, false);
            held.clear();
            detach();
          },
        };
      },
    }).catch((e: unknown) => {
      send({ type: 'log', line: `no control socket: ${String(e)}` });
      return undefined;
    });
  }
  const outcome = await host.outcome;
  closeControl?.();
  if (outcome.kind === 'aborted') end('aborted', outcome.reason, outcome.report);
  else end('powered-off', outcome.reason, null);
}

await main();

/**
 * The messages between a VM host process (./index.ts, bundled to out/engine/host.js) and the
 * process that started it (the control plane's supervisor), over Node's IPC channel
 * (child_process.fork / spawn with an 'ipc' stdio). Both directions are validated: the parent
 * does not trust the host process (it runs guest-facing code) and vice versa.
 *
 * Serial bytes travel base64-encoded (IPC messages are JSON).
 *
 * Runtime: engine and control plane (no Electron).
 */
import { z } from 'zod';
import { VmStatsSample } from '../../../preload/contract.js';
import { VmLaunchOptions } from '../vm-launch.js';

export const ParentToHost = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('launch'),
    options: VmLaunchOptions,
    /** Where to serve the control socket (./control-socket.ts), if anywhere. */
    controlSocket: z.string().min(1).max(107).optional(),
  }),
  z.object({ type: z.literal('serial-input'), data: z.base64().max(1 << 20) }),
  z.object({ type: z.literal('pause') }),
  z.object({ type: z.literal('resume') }),
  /** ACPI power button: an orderly shutdown if the guest listens. */
  z.object({ type: z.literal('shutdown') }),
  /** Pull the plug. */
  z.object({ type: z.literal('power-off') }),
  /** The reset button: a cold reset of the machine, whatever the reboot action says. */
  z.object({ type: z.literal('reset') }),
]);
export type ParentToHost = z.infer<typeof ParentToHost>;

export const HostToParent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('state'),
    state: z.enum(['starting', 'running', 'paused', 'stopping']),
  }),
  z.object({ type: z.literal('serial-output'), data: z.base64() }),
  z.object({ type: z.literal('log'), line: z.string() }),
  /** 1 Hz statistics for the live charts. */
  z.object({ type: z.literal('stats'), sample: VmStatsSample }),
  /** The last message: how the VM ended. The process exits right after (0, or 1 if aborted). */
  z.object({
    type: z.literal('ended'),
    outcome: z.enum(['powered-off', 'aborted']),
    reason: z.string(),
    /** The readable fault report (registers, exit reason) when aborted. */
    report: z.string().nullable(),
  }),
]);
export type HostToParent = z.infer<typeof HostToParent>;

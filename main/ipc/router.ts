/**
 * The bridge router: the one place a call from the (untrusted) renderer becomes a handler call.
 * Transport-independent: Electron IPC (main/app/ipc-binding.ts) and the browser-mode WebSocket
 * (main/ipc/wire-endpoint.ts, used by main/serve) both hand it a call name and raw arguments and
 * send back the value it returns. docs/bridge.md follows a call end to end.
 *
 * 1. Unknown call names are refused (`invalid-arguments`); inherited names such as `__proto__` or
 *    `constructor` are unknown, because only the contract's own keys count.
 * 2. Arguments are validated against the contract's zod schema (`calls[name].args`); the message
 *    names each bad field ("cpus: Too small: expected number to be >=1").
 * 3. The handler runs; a BridgeFailure becomes its code and message, anything else `internal`
 *    with a safe message (the stack goes to this side's log, never to the renderer).
 *
 * The returned promise never rejects, so transports need no error path of their own.
 *
 * Runtime: Node.
 */
import {
  BridgeFailure,
  calls,
  isCallName,
  type BridgeHandlers,
  type CallName,
  type CallResult,
} from '../../preload/contract.js';
import { describeIssues } from '../control/schema-messages.js';

export type Dispatch = (name: string, args: unknown) => Promise<CallResult<CallName>>;

/** Longest call name echoed back in an error (names come from the renderer). */
const MAX_ECHOED_NAME = 64;

export function createRouter(
  handlers: BridgeHandlers,
  log: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
): Dispatch {
  return async (name, args) => {
    if (typeof name !== 'string' || !isCallName(name)) {
      const shown = (typeof name === 'string' ? name : typeof name).slice(0, MAX_ECHOED_NAME);
      return {
        ok: false,
        error: {
          code: 'invalid-arguments',
          message: `Unknown call "${shown}": this version of Vireo has no such call.`,
        },
      };
    }
    const parsed = calls[name].args.safeParse(args);
    if (!parsed.success) {
      return {
        ok: false,
        error: {
          code: 'invalid-arguments',
          message: `Invalid arguments for ${name}: ${describeIssues(parsed.error)}.`,
        },
      };
    }
    try {
      const handler = handlers[name] as (a: unknown) => Promise<unknown>;
      const value = await handler(parsed.data);
      return { ok: true, value } as CallResult<CallName>;
    } catch (e) {
      if (e instanceof BridgeFailure)
        return { ok: false, error: { code: e.code, message: e.message } };
      try {
        log(
          `vireo: internal error in ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
        );
      } catch {
        // A broken log (closed stderr) must not turn an error value into a rejection.
      }
      return {
        ok: false,
        error: {
          code: 'internal',
          message: `Vireo hit an internal error while handling ${name}; the details are in Vireo's log.`,
        },
      };
    }
  };
}

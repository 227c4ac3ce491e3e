/**
 * The bridge router: the one place a call from the (untrusted) renderer becomes a handler call.
 * Transport-independent: Electron IPC (main/app) and the browser-mode WebSocket (main/serve)
 * both hand it a call name and raw arguments and send back what it returns.
 *
 * 1. Unknown call names are refused.
 * 2. Arguments are validated against the contract's zod schema; the error names the bad fields.
 * 3. The handler runs; a BridgeFailure becomes its code and message, anything else `internal`
 *    with a safe message (the stack goes to the log on this side, never to the renderer).
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
import { describeIssues } from '../control/library.js';

export type Dispatch = (name: string, args: unknown) => Promise<CallResult<CallName>>;

export function createRouter(
  handlers: BridgeHandlers,
  log: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
): Dispatch {
  return async (name, args) => {
    if (typeof name !== 'string' || !isCallName(name)) {
      return {
        ok: false,
        error: {
          code: 'invalid-arguments',
          message: `Unknown call "${String(name).slice(0, 64)}".`,
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
      log(
        `vireo: internal error in ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
      return {
        ok: false,
        error: {
          code: 'internal',
          message: `Vireo hit an internal error while handling ${name}; details are in the log.`,
        },
      };
    }
  };
}

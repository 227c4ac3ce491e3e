/**
 * One bridge connection over a text message channel: parses `WireCall` messages, runs them through
 * the router, sends back `{type:'result', id, result}`, and pushes every control-plane event as
 * `{type:'event', name, payload}` (the wire types live in preload/contract.ts). The browser-mode
 * WebSocket (main/serve) is one such channel; tests use an in-memory pair, the way VS Code tests
 * its IPC protocol without sockets.
 *
 * The peer is hostile: a message that is not JSON, or JSON that is not a call and carries no
 * usable id, closes the connection with 1008 (RFC 6455 section 7.4.1, "policy violation"); a call
 * with a usable id but a bad shape gets an `invalid-arguments` result, so the caller's promise
 * settles. Limits keep one peer from exhausting the server: calls in flight per connection, and
 * bytes queued for a peer that stopped reading.
 *
 * Runtime: Node (no Electron, no sockets: the channel is given).
 */
import {
  WireCall,
  type CallName,
  type CallResult,
  type EventName,
  type EventPayload,
  type WireMessage,
} from '../../preload/contract.js';
import type { Dispatch } from './router.js';

/** What the endpoint needs from a transport. */
export interface WireChannel {
  send(text: string): void;
  /** Ends the connection; `code` is a WebSocket close code. */
  close(code: number, reason: string): void;
  /** Bytes handed to send() and not yet written out. */
  bufferedBytes(): number;
}

export type EventSource = (
  listener: <E extends EventName>(name: E, payload: EventPayload<E>) => void,
) => () => void;

export interface WireLimits {
  /** Calls a peer may have running at once; more are answered `unavailable`. */
  maxInFlight: number;
  /** A peer with more than this many bytes queued is not reading: it is disconnected. */
  maxBufferedBytes: number;
}

export const DEFAULT_WIRE_LIMITS: WireLimits = {
  maxInFlight: 64,
  maxBufferedBytes: 16 * 1024 * 1024,
};

/** WebSocket close code for messages we refuse (RFC 6455 section 7.4.1). */
export const CLOSE_POLICY_VIOLATION = 1008;

export interface WireEndpoint {
  /** Hands the endpoint one text message from the peer. */
  receive(text: string): void;
  /** The channel closed: stop pushing events, drop results still running. */
  dispose(): void;
}

export function openWireEndpoint(
  channel: WireChannel,
  dispatch: Dispatch,
  subscribe: EventSource,
  limits: WireLimits = DEFAULT_WIRE_LIMITS,
): WireEndpoint {
  let open = true;
  let inFlight = 0;

  const send = (message: WireMessage): void => {
    if (!open) return;
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch {
      // A handler returned something JSON cannot carry (a bug on our side): say so, keep going.
      if (message.type !== 'result') return;
      text = JSON.stringify({
        type: 'result',
        id: message.id,
        result: {
          ok: false,
          error: { code: 'internal', message: 'Vireo could not encode the answer to this call.' },
        },
      } satisfies WireMessage);
    }
    channel.send(text);
    if (channel.bufferedBytes() > limits.maxBufferedBytes)
      shut(CLOSE_POLICY_VIOLATION, 'too much unread data: the client is not reading');
  };

  const unsubscribe = subscribe((name, payload) => send({ type: 'event', name, payload }));

  const shut = (code: number, reason: string): void => {
    if (!open) return;
    open = false;
    unsubscribe();
    channel.close(code, reason);
  };

  const answer = (id: number, result: CallResult<CallName>): void =>
    send({ type: 'result', id, result });

  return {
    receive(text) {
      if (!open) return;
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch {
        return shut(CLOSE_POLICY_VIOLATION, 'malformed message: not JSON');
      }
      const call = WireCall.safeParse(message);
      if (!call.success) {
        const id = (message as { id?: unknown } | null)?.id;
        if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0)
          return answer(id, {
            ok: false,
            error: {
              code: 'invalid-arguments',
              message: 'Malformed call: expected {"type":"call","id":N,"name":"...","args":{...}}.',
            },
          });
        return shut(CLOSE_POLICY_VIOLATION, 'malformed message: not a call');
      }
      const { id, name, args } = call.data;
      if (inFlight >= limits.maxInFlight)
        return answer(id, {
          ok: false,
          error: {
            code: 'unavailable',
            message: `Too many calls at once (more than ${limits.maxInFlight}): wait for some to finish and try again.`,
          },
        });
      inFlight++;
      // dispatch never rejects (the router turns every failure into a value).
      void dispatch(name, args).then((result) => {
        inFlight--;
        answer(id, result);
      });
    },
    dispose() {
      if (!open) return;
      open = false;
      unsubscribe();
    },
  };
}

/**
 * Browser mode's console stream: one WebSocket (`/display?vm=ID`) per open console, joined to
 * the VM host's control socket by the relay shared with the Electron console window
 * (main/control/display-relay.ts, which documents the messages). Updates go to the browser as
 * binary WebSocket messages, the hello as text; a relay's reason to close becomes a close code
 * (RFC 6455 §7.4).
 *
 * Runtime: Node (browser-mode server).
 */
import type { RawData, WebSocket } from 'ws';
import { relayDisplay as relay, type DisplayCloseKind } from '../control/display-relay.js';

/** RFC 6455 §7.4.1: 1000 normal, 1003 unsupported data, 1008 policy, 1011 server error. */
const CLOSE_CODES: Record<DisplayCloseKind, number> = {
  normal: 1000,
  'unsupported-data': 1003,
  policy: 1008,
  'server-error': 1011,
};

/** Joins `ws` to the control socket at `socketPath`. */
export function relayDisplay(ws: WebSocket, socketPath: string): void {
  const r = relay(
    {
      sendText: (text) => ws.send(text),
      sendUpdate: (update) => ws.send(update, { binary: true }),
      close: (kind, reason) => {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING)
          ws.close(CLOSE_CODES[kind], reason);
      },
    },
    socketPath,
  );
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return r.binary();
    r.text(
      Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.from(data).toString('utf8'),
    );
  });
  ws.on('close', () => r.closed());
  ws.on('error', () => r.closed());
}

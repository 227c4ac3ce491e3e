/**
 * Browser mode's console stream: one WebSocket (`/display?vm=ID`) per open console, relayed to
 * the VM host's control socket in display mode (main/engine/host/control-socket.ts). Screen
 * updates go to the browser as binary messages, one per update, exactly as the VM host encoded
 * them minus the length word (main/engine/host/display-stream.ts); the browser's text messages
 * (`next`, `key`, `mouse`: `DisplayInput`) are checked here before they reach the VM host.
 *
 * The browser pulls (it sends `next` after painting), so at most one update per console is in
 * flight and a slow tab gets fewer updates, never a queue.
 *
 * Runtime: Node (browser-mode server).
 */
import net from 'node:net';
import type { RawData, WebSocket } from 'ws';
import { DisplayInput } from '../engine/host/control-socket.js';

/** Larger than any update: a 4096x4096 RGBA surface plus headers. */
const MAX_UPDATE_BYTES = 4096 * 4096 * 4 + 64 * 1024;
/** WebSocket close codes (RFC 6455 §7.4): 1003 unsupported data, 1008 policy, 1011 server error. */
const CLOSE_NORMAL = 1000;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_POLICY = 1008;
const CLOSE_SERVER_ERROR = 1011;

/**
 * Joins `ws` to the control socket at `socketPath`. The browser gets a first text message
 * `{"ok":true}` or `{"ok":false,"error":"..."}` (then the close), then binary updates.
 */
export function relayDisplay(ws: WebSocket, socketPath: string): void {
  const socket = net.createConnection(socketPath);
  let hello = true;
  let pending: Buffer = Buffer.alloc(0);
  /** Chunks of an update still arriving, joined once it is whole (not once per chunk). */
  let chunks: Buffer[] = [];
  let chunkBytes = 0;
  let needed = 0;
  const closeBoth = (code: number, reason: string): void => {
    socket.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
  };

  socket.on('connect', () => socket.write(`${JSON.stringify({ command: 'display' })}\n`));
  socket.on('data', (chunk: Buffer) => {
    // An 8 MB update arrives in ~128 chunks: concatenating on each would copy it ~64 times.
    chunks.push(chunk);
    chunkBytes += chunk.length;
    if (chunkBytes < needed) return;
    pending =
      pending.length === 0 && chunks.length === 1 ? chunk : Buffer.concat([pending, ...chunks]);
    chunks = [];
    chunkBytes = 0;
    needed = 0;
    if (hello) {
      const nl = pending.indexOf(0x0a);
      if (nl < 0) {
        if (pending.length > 64 * 1024) closeBoth(CLOSE_SERVER_ERROR, 'unreadable VM host');
        return;
      }
      const line = pending.subarray(0, nl).toString('utf8');
      pending = pending.subarray(nl + 1);
      hello = false;
      let answer: { ok?: unknown; error?: unknown };
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        return closeBoth(CLOSE_SERVER_ERROR, 'unreadable VM host');
      }
      ws.send(JSON.stringify(answer));
      if (answer.ok !== true) return closeBoth(CLOSE_NORMAL, 'no display');
    }
    while (pending.length >= 4) {
      const length = pending.readUInt32LE(0);
      if (length > MAX_UPDATE_BYTES) return closeBoth(CLOSE_SERVER_ERROR, 'oversized update');
      if (pending.length < 4 + length) {
        needed = 4 + length - pending.length;
        break;
      }
      ws.send(pending.subarray(4, 4 + length), { binary: true });
      pending = pending.subarray(4 + length);
    }
  });
  socket.on('error', (e) => {
    if (ws.readyState === ws.OPEN)
      ws.send(JSON.stringify({ ok: false, error: `the VM is not running (${e.message})` }));
    closeBoth(CLOSE_NORMAL, 'the VM is not running');
  });
  socket.on('close', () => closeBoth(CLOSE_NORMAL, 'the VM stopped'));

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return closeBoth(CLOSE_UNSUPPORTED_DATA, 'binary messages are not accepted');
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    let input: DisplayInput;
    try {
      const parsed = DisplayInput.safeParse(JSON.parse(text));
      if (!parsed.success) return closeBoth(CLOSE_POLICY, 'malformed console message');
      input = parsed.data;
    } catch {
      return closeBoth(CLOSE_POLICY, 'malformed console message');
    }
    if (!hello && !socket.destroyed) socket.write(`${JSON.stringify(input)}\n`);
  });
  ws.on('close', () => socket.destroy());
  ws.on('error', () => socket.destroy());
}

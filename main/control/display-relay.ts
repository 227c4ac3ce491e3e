/**
 * One console's screen stream, relayed between a viewer and the VM host's control socket in
 * display mode (main/engine/host/control-socket.ts). Shared by both ways a console reaches a
 * VM: browser mode's WebSocket (main/serve/display-relay.ts) and the Electron console window's
 * MessagePort (main/app/console-window.ts); each adapts its transport to a {@link DisplayPeer}.
 *
 * - The viewer first gets one text message, `{"ok":true}` or `{"ok":false,"error":"..."}` (then
 *   the close), then one binary message per screen update, exactly as the VM host encoded it
 *   minus the length word (main/engine/host/display-stream.ts).
 * - The viewer's text messages (`next`, `key`, `mouse`, `pointer`: `DisplayInput`) are checked
 *   here before they reach the VM host; anything else closes this console and nothing else.
 * - The viewer pulls (it sends `next` after painting), so at most one update per console is in
 *   flight and a slow viewer gets fewer updates, never a queue.
 *
 * Runtime: Node (browser-mode server, Electron main).
 */
import net from 'node:net';
import { DisplayInput } from '../engine/host/control-socket.js';
import type { ControlPlane } from './index.js';

/** Larger than any update: a 4096x4096 RGBA surface plus headers. */
export const MAX_UPDATE_BYTES = 4096 * 4096 * 4 + 64 * 1024;

/** Why a relay closes its viewer (a WebSocket maps these to RFC 6455 §7.4 codes). */
export type DisplayCloseKind = 'normal' | 'unsupported-data' | 'policy' | 'server-error';

/** The viewer's end of the relay, as its transport offers it. */
export interface DisplayPeer {
  sendText(text: string): void;
  sendUpdate(update: Uint8Array): void;
  /** Closes the viewer's transport (idempotent). */
  close(kind: DisplayCloseKind, reason: string): void;
}

/** What the transport tells the relay. */
export interface DisplayRelay {
  /** A text message from the viewer. */
  text(message: string): void;
  /** A binary message from the viewer: not part of the protocol. */
  binary(): void;
  /** The viewer's transport closed or failed. */
  closed(): void;
}

/** Joins `peer` to the control socket at `socketPath`. */
export function relayDisplay(peer: DisplayPeer, socketPath: string): DisplayRelay {
  const socket = net.createConnection(socketPath);
  let hello = true;
  let peerOpen = true;
  let pending: Buffer = Buffer.alloc(0);
  /** Chunks of an update still arriving, joined once it is whole (not once per chunk). */
  let chunks: Buffer[] = [];
  let chunkBytes = 0;
  let needed = 0;
  const closeBoth = (kind: DisplayCloseKind, reason: string): void => {
    socket.destroy();
    if (!peerOpen) return;
    peerOpen = false;
    peer.close(kind, reason);
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
        if (pending.length > 64 * 1024) closeBoth('server-error', 'unreadable VM host');
        return;
      }
      const line = pending.subarray(0, nl).toString('utf8');
      pending = pending.subarray(nl + 1);
      hello = false;
      let answer: { ok?: unknown; error?: unknown };
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        return closeBoth('server-error', 'unreadable VM host');
      }
      if (peerOpen) peer.sendText(JSON.stringify(answer));
      if (answer.ok !== true) return closeBoth('normal', 'no display');
    }
    while (pending.length >= 4) {
      const length = pending.readUInt32LE(0);
      if (length > MAX_UPDATE_BYTES) return closeBoth('server-error', 'oversized update');
      if (pending.length < 4 + length) {
        needed = 4 + length - pending.length;
        break;
      }
      if (peerOpen) peer.sendUpdate(pending.subarray(4, 4 + length));
      pending = pending.subarray(4 + length);
    }
  });
  socket.on('error', (e) => {
    if (peerOpen)
      peer.sendText(JSON.stringify({ ok: false, error: `the VM is not running (${e.message})` }));
    closeBoth('normal', 'the VM is not running');
  });
  socket.on('close', () => closeBoth('normal', 'the VM stopped'));

  return {
    text: (message) => {
      let input: DisplayInput;
      try {
        const parsed = DisplayInput.safeParse(JSON.parse(message));
        if (!parsed.success) return closeBoth('policy', 'malformed console message');
        input = parsed.data;
      } catch {
        return closeBoth('policy', 'malformed console message');
      }
      if (!hello && !socket.destroyed) socket.write(`${JSON.stringify(input)}\n`);
    },
    binary: () => closeBoth('unsupported-data', 'binary messages are not accepted'),
    closed: () => {
      peerOpen = false;
      socket.destroy();
    },
  };
}

/**
 * The control socket of a running VM's host, for a console; throws an Error whose message is
 * the sentence to show when the VM is unknown or not running.
 */
export async function displaySocketOf(control: ControlPlane, vmId: string): Promise<string> {
  const vm = await control.handlers['vm.get']({ id: vmId });
  const socketPath = await control.library.supervisor.controlSocket(vm.folder);
  if (!socketPath) throw new Error(`"${vm.accessible ? vm.config.name : vm.id}" is not running.`);
  return socketPath;
}

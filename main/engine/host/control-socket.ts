/**
 * The VM host's control socket: a Unix socket (mode 0600, in a 0700 folder of this user) on
 * which other Vireo processes (the CLI's `vireo screenshot` and `vireo sendkey`, a second
 * `vireo serve`) ask a running VM for its screen or type keys into it, as QEMU's QMP socket
 * serves `screendump` and `send-key`. The supervisor records the path in the VM's run file.
 *
 * Protocol: one JSON object per line each way, zod-validated on both sides; a request line
 * longer than 64 KiB closes the connection. Requests: `{"command":"screenshot"}` answers
 * `{"ok":true,"png":"<base64>"}`; `{"command":"sendkey","chords":["ctrl-alt-delete","a"]}`
 * answers `{"ok":true}` once the keys were pressed and released; `{"command":"medium",
 * "iso":"/abs/path.iso"}` (or `"iso":null` to eject) changes the optical drive's disc live and
 * answers `{"ok":true}`. Errors: `{"ok":false, "error":"..."}`. `{"command":"display"}`
 * answers `{"ok":true}` and turns the connection into the display stream of a console window:
 * binary screen updates out (./display-stream.ts), {@link DisplayInput} lines in.
 *
 * Runtime: engine (VM host process) and CLI (client).
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';

export const ControlRequest = z.discriminatedUnion('command', [
  z.object({ command: z.literal('screenshot') }),
  z.object({
    command: z.literal('sendkey'),
    chords: z.array(z.string().min(1).max(100)).min(1).max(256),
  }),
  /** Switches the connection to the display stream (see {@link DisplayInput}). */
  z.object({ command: z.literal('display') }),
  /** Live medium change of the optical drive: an absolute ISO path, or null to eject. */
  z.object({
    command: z.literal('medium'),
    iso: z
      .string()
      .min(1)
      .max(4096)
      .refine((p) => path.isAbsolute(p), 'an absolute path')
      .nullable(),
  }),
]);
export type ControlRequest = z.infer<typeof ControlRequest>;

/**
 * What a viewer sends once the connection streams the display, one JSON object per line:
 * `next` asks for the next update (./display-stream.ts), `key` is a host key by
 * `KeyboardEvent.code`, `mouse` relative motion with buttons in PS/2 order (bit 0 left, 1 right,
 * 2 middle), `pointer` the absolute position over the screen (0..32767 on each axis, for the
 * tablet) with the same buttons and wheel clicks. Updates come back as binary, length-prefixed.
 */
export const DisplayInput = z.discriminatedUnion('t', [
  z.object({ t: z.literal('next') }),
  z.object({ t: z.literal('key'), code: z.string().min(1).max(32), down: z.boolean() }),
  z.object({
    t: z.literal('mouse'),
    dx: z.number().int().min(-4096).max(4096),
    dy: z.number().int().min(-4096).max(4096),
    buttons: z.number().int().min(0).max(7),
  }),
  z.object({
    t: z.literal('pointer'),
    x: z.number().int().min(0).max(0x7fff),
    y: z.number().int().min(0).max(0x7fff),
    buttons: z.number().int().min(0).max(7),
    wheel: z.number().int().min(-16).max(16),
  }),
]);
export type DisplayInput = z.infer<typeof DisplayInput>;

/** One viewer's end of the display stream, as the VM host serves it. */
export interface DisplaySession {
  input(message: DisplayInput): void;
  close(): void;
}

export const ControlResponse = z.union([
  z.object({ ok: z.literal(true), png: z.base64().optional() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type ControlResponse = z.infer<typeof ControlResponse>;

export interface ControlHandlers {
  /** PNG bytes of the screen, or null when the machine has none. */
  screenshot(): Uint8Array | null;
  /** Presses and releases each chord in turn; throws with a message for unknown keys. */
  sendKeys(chords: readonly string[]): Promise<void>;
  /** Inserts the ISO (or ejects, null); throws with a message when it cannot. */
  changeMedium(iso: string | null): void;
  /**
   * Starts streaming the display to `send` (binary updates); null when the VM has no display.
   * The session gets the viewer's input lines.
   */
  openDisplay?(send: (update: Uint8Array) => void): DisplaySession | null;
}

const MAX_LINE = 64 * 1024;

/** Unix socket paths are limited to 107 bytes (unix(7), sun_path). */
export const SOCKET_PATH_MAX = 107;

export function controlSocketFolder(): string {
  const base = process.env.XDG_RUNTIME_DIR ?? '/tmp';
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(base, `vireo-${uid}`);
}

/** Listens on `socketPath`; resolves with a function that closes it and removes the file. */
export async function serveControlSocket(
  socketPath: string,
  handlers: ControlHandlers,
): Promise<() => void> {
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  rmSync(socketPath, { force: true });
  const server = net.createServer((socket) => {
    let buffered = '';
    /** Set once the connection streams the display: later lines are viewer input. */
    let display: DisplaySession | null = null;
    socket.setEncoding('utf8');
    const reply = (r: ControlResponse): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(r)}\n`);
    };
    const startDisplay = (): void => {
      const session = handlers.openDisplay?.((update) => {
        if (!socket.destroyed) socket.write(update);
      });
      if (!session)
        return reply({
          ok: false,
          error: 'this VM has no display (it boots a Linux kernel directly)',
        });
      display = session;
      reply({ ok: true });
    };
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE) return void socket.destroy();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (display) {
          // A viewer that sends nonsense is cut off; the VM runs on.
          const input = parseLine(line, DisplayInput);
          if (!input) return void socket.destroy();
          try {
            display.input(input);
          } catch {
            // Whatever a viewer's input does to the machine, the VM host stays up.
            return void socket.destroy();
          }
        } else if (isDisplayRequest(line)) startDisplay();
        else void answer(line, handlers).then(reply);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => display?.close());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  return () => {
    server.close();
    rmSync(socketPath, { force: true });
  };
}

function parseLine<T>(line: string, schema: z.ZodType<T>): T | null {
  try {
    const parsed = schema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function isDisplayRequest(line: string): boolean {
  return parseLine(line, ControlRequest)?.command === 'display';
}

async function answer(line: string, handlers: ControlHandlers): Promise<ControlResponse> {
  let request: ControlRequest;
  try {
    const parsed = ControlRequest.safeParse(JSON.parse(line));
    if (!parsed.success) return { ok: false, error: 'malformed request' };
    request = parsed.data;
  } catch {
    return { ok: false, error: 'a request is one JSON object per line' };
  }
  try {
    if (request.command === 'screenshot') {
      const png = handlers.screenshot();
      if (!png)
        return { ok: false, error: 'this VM has no display (it boots a Linux kernel directly)' };
      return { ok: true, png: Buffer.from(png).toString('base64') };
    }
    if (request.command === 'display') return { ok: false, error: 'display is handled above' };
    if (request.command === 'medium') {
      handlers.changeMedium(request.iso);
      return { ok: true };
    }
    await handlers.sendKeys(request.chords);
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** One request to a VM host's control socket. Rejects with a readable message. */
export function controlRequest(
  socketPath: string,
  request: ControlRequest,
  timeoutMs = 30_000,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the VM did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        const parsed = ControlResponse.safeParse(JSON.parse(buffered.slice(0, nl)));
        if (parsed.success) resolve(parsed.data);
        else reject(new Error('the VM host answered something unreadable'));
      } catch {
        reject(new Error('the VM host answered something unreadable'));
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the VM's control socket ${socketPath}: ${e.message}`));
    });
  });
}

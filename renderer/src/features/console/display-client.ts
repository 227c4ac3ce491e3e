/**
 * The console's screen stream in browser mode: a WebSocket to `/display?vm=ID`
 * (main/serve/display-relay.ts) carrying screen updates from the VM host
 * (main/engine/host/display-stream.ts documents the format) and the console's keys, relative
 * mouse and absolute pointer (the tablet) back. Pull model, as VNC's FramebufferUpdateRequest: after painting an update the client asks
 * for the next on the next animation frame, so a tab that falls behind gets fewer updates
 * instead of a backlog.
 *
 * In Electron the same messages travel on a MessagePort brokered by main
 * (main/app/console-window.ts), handed over by the preload; see {@link messagePortTransport}.
 */

import { POINTER_MAX } from './pointer';
import { decodeScreenUpdate, type ScreenUpdateHeader } from './screen-update';

/** The console waits this many times its last paint's duration before asking for more. */
export const PAINT_SHARE_FACTOR = 3;

export interface DisplayStats {
  /** Updates painted since the connection opened. */
  updates: number;
  /** Sequence number of the last update (the VM host counts per viewer). */
  sequence: number;
  width: number;
  height: number;
  /** 0 text, 1 VGA graphics, 2 VBE linear framebuffer. */
  mode: number;
  /** The guest takes absolute pointer events (its tablet driver runs): no capture needed. */
  absolutePointer: boolean;
  /** Milliseconds the last update took to decode and paint. */
  paintMs: number;
  /** performance.now() of the last paint. */
  lastPaintAt: number;
}

export interface DisplayConnection {
  key(code: string, down: boolean): void;
  /** Relative motion and PS/2-order buttons (bit 0 left, 1 right, 2 middle). */
  mouse(dx: number, dy: number, buttons: number): void;
  /** The absolute position (0..{@link POINTER_MAX} per axis), buttons and wheel clicks. */
  pointer(x: number, y: number, buttons: number, wheel: number): void;
  close(): void;
}

export interface DisplayCallbacks {
  onOpen(): void;
  onError(message: string): void;
  onClosed(reason: string): void;
  onResize(width: number, height: number): void;
  onPaint(stats: DisplayStats): void;
}

export function displayUrl(vmId: string): string {
  const token =
    new URLSearchParams(location.search).get('token') ??
    sessionStorage.getItem('vireo-token') ??
    '';
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/display?vm=${encodeURIComponent(vmId)}&token=${encodeURIComponent(token)}`;
}

/**
 * Paints one update onto `ctx` (all its rectangles at once, after inflating, so no half-painted
 * screen shows); returns its header, or throws on a malformed update.
 */
export async function paintUpdate(
  buffer: ArrayBuffer,
  ctx: CanvasRenderingContext2D,
  resize: (width: number, height: number) => void,
): Promise<ScreenUpdateHeader> {
  const { rects, ...header } = await decodeScreenUpdate(buffer);
  if (ctx.canvas.width !== header.width || ctx.canvas.height !== header.height)
    resize(header.width, header.height);
  for (const r of rects) ctx.putImageData(new ImageData(r.rgba, r.w, r.h), r.x, r.y);
  return header;
}

/** What a console sends and receives, whichever way it reaches the VM host. */
interface DisplayTransport {
  send(text: string): void;
  close(): void;
}

interface TransportHandlers {
  text(message: string): void;
  update(bytes: ArrayBuffer): void;
  /** The stream ended; `reason` when the far end gave one. */
  closed(reason: string): void;
  /** The stream could not be set up. */
  failed(): void;
}

declare global {
  interface Window {
    /** Electron's preload: console windows and their screen stream (main/app/console-window.ts). */
    vireoConsole?: { open(vmId: string): void; connect(vmId: string): void };
  }
}

/** Browser mode: a WebSocket to `/display` (main/serve/display-relay.ts). */
function webSocketTransport(vmId: string, on: TransportHandlers): DisplayTransport {
  const ws = new WebSocket(displayUrl(vmId));
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
    if (typeof ev.data === 'string') on.text(ev.data);
    else on.update(ev.data);
  };
  ws.onclose = (ev) => on.closed(ev.reason);
  ws.onerror = () => on.failed();
  return {
    send: (text) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
    },
    close: () => ws.close(),
  };
}

/**
 * Electron: a MessagePort main brokers (main/app/console-window.ts), handed over by the preload
 * with window.postMessage. The same messages as the WebSocket; main's last text message
 * `{"closed":"reason"}` stands for the WebSocket's close.
 */
function messagePortTransport(
  vmId: string,
  api: NonNullable<Window['vireoConsole']>,
  on: TransportHandlers,
): DisplayTransport {
  let port: MessagePort | null = null;
  let closed = false;
  const receive = (ev: MessageEvent): void => {
    const data: unknown = ev.data;
    if (typeof data === 'string') {
      let parsed: { closed?: unknown } | null;
      try {
        parsed = JSON.parse(data) as { closed?: unknown };
      } catch {
        parsed = null;
      }
      if (parsed && typeof parsed.closed === 'string') {
        port?.close();
        return on.closed(parsed.closed);
      }
      return on.text(data);
    }
    if (data instanceof Uint8Array)
      on.update(
        data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? (data.buffer as ArrayBuffer)
          : data.slice().buffer,
      );
  };
  const adopt = (ev: MessageEvent): void => {
    const data = ev.data as { vireoDisplayPort?: unknown } | null;
    if (ev.source !== window || data?.vireoDisplayPort !== vmId || !ev.ports[0]) return;
    window.removeEventListener('message', adopt);
    if (closed) return ev.ports[0].close();
    port = ev.ports[0];
    port.onmessage = receive;
    port.start();
  };
  window.addEventListener('message', adopt);
  api.connect(vmId);
  return {
    send: (text) => port?.postMessage(text),
    close: () => {
      closed = true;
      window.removeEventListener('message', adopt);
      port?.close();
    },
  };
}

export function connectDisplay(
  vmId: string,
  canvas: HTMLCanvasElement,
  callbacks: DisplayCallbacks,
): DisplayConnection {
  const ctx = canvas.getContext('2d', { alpha: false });
  let ready = false;
  let closed = false;
  const stats: DisplayStats = {
    updates: 0,
    sequence: 0,
    width: 0,
    height: 0,
    mode: 0,
    absolutePointer: false,
    paintMs: 0,
    lastPaintAt: 0,
  };
  const send = (message: object): void => {
    if (ready) transport.send(JSON.stringify(message));
  };
  const resize = (width: number, height: number): void => {
    canvas.width = width;
    canvas.height = height;
    callbacks.onResize(width, height);
  };

  let painting = Promise.resolve();
  const paint = async (bytes: ArrayBuffer): Promise<void> => {
    if (!ctx || closed) return;
    const started = performance.now();
    try {
      const header = await paintUpdate(bytes, ctx, resize);
      if (closed) return;
      stats.updates++;
      stats.sequence = header.sequence;
      stats.width = header.width;
      stats.height = header.height;
      stats.mode = header.mode;
      stats.absolutePointer = header.absolutePointer;
      stats.lastPaintAt = performance.now();
      stats.paintMs = stats.lastPaintAt - started;
      callbacks.onPaint(stats);
    } catch (e) {
      callbacks.onError((e as Error).message);
      transport.close();
      return;
    }
    // Ask for the next update on the next frame; when painting is slow (a loaded machine, a
    // software-rendered canvas), wait a multiple of the paint time first, so the console
    // takes a bounded share of the CPU the VM also needs. A fast machine paints in a few ms
    // and is not slowed (the wait stays under one 16 ms frame).
    const wait = Math.max(0, stats.paintMs * PAINT_SHARE_FACTOR - 16);
    const next = (): void => {
      requestAnimationFrame(() => send({ t: 'next' }));
    };
    if (wait > 0) setTimeout(next, wait);
    else next();
  };

  const handlers: TransportHandlers = {
    text: (message) => {
      let hello: { ok?: boolean; error?: string };
      try {
        hello = JSON.parse(message) as typeof hello;
      } catch {
        return;
      }
      if (hello.ok === true) {
        ready = true;
        callbacks.onOpen();
        send({ t: 'next' });
      } else callbacks.onError(hello.error ?? 'The console could not connect.');
    },
    update: (bytes) => {
      // Decoding waits for inflating: chain the updates so they paint in order (the pull
      // model means there is one at a time anyway).
      painting = painting.then(() => paint(bytes));
    },
    closed: (reason) => {
      ready = false;
      if (!closed) callbacks.onClosed(reason || 'The connection to the VM closed.');
    },
    failed: () => {
      if (!ready && !closed) callbacks.onError('The console could not connect to the VM.');
    },
  };
  const transport = window.vireoConsole
    ? messagePortTransport(vmId, window.vireoConsole, handlers)
    : webSocketTransport(vmId, handlers);

  return {
    key: (code, down) => send({ t: 'key', code, down }),
    mouse: (dx, dy, buttons) =>
      send({
        t: 'mouse',
        dx: Math.max(-4096, Math.min(4096, Math.trunc(dx))),
        dy: Math.max(-4096, Math.min(4096, Math.trunc(dy))),
        buttons: buttons & 7,
      }),
    pointer: (x, y, buttons, wheel) =>
      send({
        t: 'pointer',
        x: Math.max(0, Math.min(POINTER_MAX, Math.round(x))),
        y: Math.max(0, Math.min(POINTER_MAX, Math.round(y))),
        buttons: buttons & 7,
        wheel: Math.max(-16, Math.min(16, Math.trunc(wheel))),
      }),
    close: () => {
      closed = true;
      transport.close();
    },
  };
}

/**
 * DOM `MouseEvent.buttons` (1 primary, 2 secondary, 4 auxiliary) has the PS/2 packet's bit
 * order (bit 0 left, 1 right, 2 middle); the other DOM buttons have no PS/2 equivalent.
 */
export function ps2Buttons(domButtons: number): number {
  return domButtons & 7;
}

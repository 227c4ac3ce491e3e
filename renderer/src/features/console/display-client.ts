/**
 * The console's screen stream in browser mode: a WebSocket to `/display?vm=ID`
 * (main/serve/display-relay.ts) carrying screen updates from the VM host
 * (main/engine/host/display-stream.ts documents the format) and the console's keys and mouse
 * back. Pull model, as VNC's FramebufferUpdateRequest: after painting an update the client asks
 * for the next on the next animation frame, so a tab that falls behind gets fewer updates
 * instead of a backlog.
 *
 * Electron will carry the same updates over a MessagePort brokered by main (not built yet:
 * the console is browser mode only for now; docs/console.md).
 */

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
  /** Milliseconds the last update took to decode and paint. */
  paintMs: number;
  /** performance.now() of the last paint. */
  lastPaintAt: number;
}

export interface DisplayConnection {
  key(code: string, down: boolean): void;
  /** Relative motion and PS/2-order buttons (bit 0 left, 1 right, 2 middle). */
  mouse(dx: number, dy: number, buttons: number): void;
  close(): void;
}

export interface DisplayCallbacks {
  onOpen(): void;
  onError(message: string): void;
  onClosed(reason: string): void;
  onResize(width: number, height: number): void;
  onPaint(stats: DisplayStats): void;
}

const UPDATE_KIND = 1;
const HEADER = 12;
const RECT_HEADER = 8;

export function displayUrl(vmId: string): string {
  const token =
    new URLSearchParams(location.search).get('token') ??
    sessionStorage.getItem('vireo-token') ??
    '';
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/display?vm=${encodeURIComponent(vmId)}&token=${encodeURIComponent(token)}`;
}

/**
 * Paints one update (the VM host's encoding without its length word) onto `ctx`; returns its
 * header, or throws on a malformed update (rectangle off the surface, wrong lengths).
 */
export function paintUpdate(
  buffer: ArrayBuffer,
  ctx: CanvasRenderingContext2D,
  resize: (width: number, height: number) => void,
): { width: number; height: number; mode: number; sequence: number } {
  const view = new DataView(buffer);
  if (buffer.byteLength < HEADER || view.getUint8(0) !== UPDATE_KIND)
    throw new Error('malformed screen update');
  const mode = view.getUint8(1);
  const width = view.getUint16(2, true);
  const height = view.getUint16(4, true);
  const count = view.getUint16(6, true);
  const sequence = view.getUint32(8, true);
  if (ctx.canvas.width !== width || ctx.canvas.height !== height) resize(width, height);
  let at = HEADER;
  for (let i = 0; i < count; i++) {
    if (at + RECT_HEADER > buffer.byteLength) throw new Error('truncated screen update');
    const x = view.getUint16(at, true);
    const y = view.getUint16(at + 2, true);
    const w = view.getUint16(at + 4, true);
    const h = view.getUint16(at + 6, true);
    at += RECT_HEADER;
    const n = w * h * 4;
    if (x + w > width || y + h > height || at + n > buffer.byteLength || n === 0)
      throw new Error('malformed screen update');
    ctx.putImageData(new ImageData(new Uint8ClampedArray(buffer, at, n), w, h), x, y);
    at += n;
  }
  return { width, height, mode, sequence };
}

export function connectDisplay(
  vmId: string,
  canvas: HTMLCanvasElement,
  callbacks: DisplayCallbacks,
): DisplayConnection {
  const ws = new WebSocket(displayUrl(vmId));
  ws.binaryType = 'arraybuffer';
  const ctx = canvas.getContext('2d', { alpha: false });
  let ready = false;
  let closed = false;
  const stats: DisplayStats = {
    updates: 0,
    sequence: 0,
    width: 0,
    height: 0,
    mode: 0,
    paintMs: 0,
    lastPaintAt: 0,
  };
  const send = (message: object): void => {
    if (ready && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  const resize = (width: number, height: number): void => {
    canvas.width = width;
    canvas.height = height;
    callbacks.onResize(width, height);
  };

  ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
    if (typeof ev.data === 'string') {
      let hello: { ok?: boolean; error?: string };
      try {
        hello = JSON.parse(ev.data) as typeof hello;
      } catch {
        return;
      }
      if (hello.ok === true) {
        ready = true;
        callbacks.onOpen();
        send({ t: 'next' });
      } else callbacks.onError(hello.error ?? 'The console could not connect.');
      return;
    }
    if (!ctx) return;
    const started = performance.now();
    try {
      const header = paintUpdate(ev.data, ctx, resize);
      stats.updates++;
      stats.sequence = header.sequence;
      stats.width = header.width;
      stats.height = header.height;
      stats.mode = header.mode;
      stats.lastPaintAt = performance.now();
      stats.paintMs = stats.lastPaintAt - started;
      callbacks.onPaint(stats);
    } catch (e) {
      callbacks.onError((e as Error).message);
      ws.close();
      return;
    }
    // Ask for the next update on the next frame; when painting is slow (a loaded machine, a
    // software-rendered canvas), wait a multiple of the paint time first, so the console takes
    // a bounded share of the CPU the VM also needs. A fast machine paints in a few ms and is
    // not slowed (the wait stays under one 16 ms frame).
    const wait = Math.max(0, stats.paintMs * PAINT_SHARE_FACTOR - 16);
    const next = (): void => {
      requestAnimationFrame(() => send({ t: 'next' }));
    };
    if (wait > 0) setTimeout(next, wait);
    else next();
  };
  ws.onclose = (ev) => {
    ready = false;
    if (!closed) callbacks.onClosed(ev.reason || 'The connection to the VM closed.');
  };
  ws.onerror = () => {
    if (!ready && !closed) callbacks.onError('The console could not connect to the VM.');
  };

  return {
    key: (code, down) => send({ t: 'key', code, down }),
    mouse: (dx, dy, buttons) =>
      send({
        t: 'mouse',
        dx: Math.max(-4096, Math.min(4096, Math.trunc(dx))),
        dy: Math.max(-4096, Math.min(4096, Math.trunc(dy))),
        buttons: buttons & 7,
      }),
    close: () => {
      closed = true;
      ws.close();
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

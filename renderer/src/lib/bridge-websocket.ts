/**
 * The bridge over WebSocket, for browser mode (`vireo serve`). Implements the same VireoBridge
 * contract as the Electron preload. The token comes from the page URL (`?token=`) and is kept in
 * sessionStorage so a reload keeps working; calls made while disconnected wait for the reconnect.
 */
import type {
  CallArgs,
  CallName,
  CallResult,
  EventName,
  EventPayload,
  VireoBridge,
  WireMessage,
} from '../../../preload/contract';

type Pending = { resolve: (r: CallResult<CallName>) => void };

export function createWebSocketBridge(onConnection: (connected: boolean) => void): VireoBridge {
  const params = new URLSearchParams(location.search);
  const token = params.get('token') ?? sessionStorage.getItem('vireo-token') ?? '';
  if (params.get('token')) sessionStorage.setItem('vireo-token', token);
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?token=${encodeURIComponent(token)}`;
  const pending = new Map<number, Pending>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const queue: string[] = [];
  let nextId = 1;
  let socket: WebSocket | undefined;
  let backoff = 250;

  const connect = (): void => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      backoff = 250;
      onConnection(true);
      for (const m of queue.splice(0)) ws.send(m);
    };
    ws.onmessage = (ev: MessageEvent<string>) => {
      let msg: WireMessage;
      try {
        msg = JSON.parse(ev.data) as WireMessage;
      } catch {
        // A frame that is not JSON is not ours to act on; keep the connection and the UI alive.
        console.warn('vireo: ignored a malformed message from the server');
        return;
      }
      if (typeof msg !== 'object' || msg === null) return;
      if (msg.type === 'result') {
        pending.get(msg.id)?.resolve(msg.result);
        pending.delete(msg.id);
      } else if (msg.type === 'event') {
        for (const l of listeners.get(msg.name) ?? []) l(msg.payload);
      }
    };
    ws.onclose = () => {
      onConnection(false);
      // Calls in flight are lost with the socket: answer them with an error the UI can show.
      for (const [id, p] of pending) {
        p.resolve({
          ok: false,
          error: { code: 'unavailable', message: 'Lost the connection to the Vireo server.' },
        });
        pending.delete(id);
      }
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
  };
  connect();

  return {
    call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
      const id = nextId++;
      const message = JSON.stringify({ type: 'call', id, name, args });
      return new Promise((resolve) => {
        pending.set(id, { resolve: resolve as Pending['resolve'] });
        if (socket?.readyState === WebSocket.OPEN) socket.send(message);
        else queue.push(message);
      });
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      const l = listener as (payload: unknown) => void;
      set.add(l);
      return () => set.delete(l);
    },
  };
}

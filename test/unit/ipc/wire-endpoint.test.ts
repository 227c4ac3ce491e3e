/**
 * The wire protocol over an in-memory channel pair (the way VS Code tests its IPC protocol):
 * the peer side here is plain JSON text, as the renderer's WebSocket client sends it; the other
 * side is the real endpoint, router and control plane on a temporary library.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlPlane, type ControlPlane } from '../../../main/control/index';
import { createRouter, type Dispatch } from '../../../main/ipc/router';
import {
  openWireEndpoint,
  type WireChannel,
  type WireLimits,
} from '../../../main/ipc/wire-endpoint';
import { calls, type CallResult, type CallName } from '../../../preload/contract';

type Incoming =
  | { type: 'result'; id: number; result: CallResult<CallName> }
  | { type: 'event'; name: string; payload: unknown };

/** The peer's half of an in-memory pair: what it received, and how the channel was closed. */
interface Peer {
  received: Incoming[];
  closed: { code: number; reason: string } | null;
  send(message: unknown): void;
  sendText(text: string): void;
  next(predicate: (m: Incoming) => boolean): Promise<Incoming>;
  dispose(): void;
}

function pair(
  dispatch: Dispatch,
  subscribe: ControlPlane['onEvent'],
  limits?: WireLimits,
  buffered = () => 0,
): Peer {
  const waiting: { predicate: (m: Incoming) => boolean; resolve: (m: Incoming) => void }[] = [];
  const peer: Peer = {
    received: [],
    closed: null,
    send: (message) => endpoint.receive(JSON.stringify(message)),
    sendText: (text) => endpoint.receive(text),
    next(predicate) {
      const found = peer.received.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiting.push({ predicate, resolve }));
    },
    dispose: () => endpoint.dispose(),
  };
  const channel: WireChannel = {
    // Like a socket, delivery is asynchronous and the text is all that crosses.
    send: (text) =>
      queueMicrotask(() => {
        const message = JSON.parse(text) as Incoming;
        peer.received.push(message);
        for (const w of waiting.splice(0)) {
          if (w.predicate(message)) w.resolve(message);
          else waiting.push(w);
        }
      }),
    close: (code, reason) => (peer.closed = { code, reason }),
    bufferedBytes: buffered,
  };
  const endpoint = openWireEndpoint(channel, dispatch, subscribe, limits);
  return peer;
}

let home: string;
let control: ControlPlane;
let dispatch: Dispatch;

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'vireo-wire-'));
  control = await createControlPlane({ home, mode: 'browser', watch: false });
  dispatch = createRouter(control.handlers, () => undefined);
});
afterAll(async () => {
  await control.close();
  rmSync(home, { recursive: true, force: true });
});

const isResult = (id: number) => (m: Incoming) => m.type === 'result' && m.id === id;

describe('the wire endpoint', () => {
  it('answers calls by id and pushes the events a call causes', async () => {
    const peer = pair(dispatch, (l) => control.onEvent(l));
    const watcher = pair(dispatch, (l) => control.onEvent(l));
    peer.send({ type: 'call', id: 7, name: 'os.catalog', args: {} });
    const catalog = await peer.next(isResult(7));
    expect(catalog.type === 'result' && catalog.result.ok).toBe(true);
    if (catalog.type === 'result' && catalog.result.ok)
      expect(calls['os.catalog'].result.safeParse(catalog.result.value).success).toBe(true);

    peer.send({
      type: 'call',
      id: 8,
      name: 'vm.create',
      args: {
        name: 'wire-vm',
        folder: null,
        os: { family: 'linux', id: 'alpine' },
        cpus: 1,
        memoryMiB: 256,
        disk: null,
        iso: null,
      },
    });
    const created = await peer.next(isResult(8));
    expect(created).toMatchObject({ result: { ok: true, value: { config: { name: 'wire-vm' } } } });
    // Every connection hears about it, not only the caller.
    const event = await watcher.next((m) => m.type === 'event' && m.name === 'vm.changed');
    expect(
      calls['vm.get'].result.parse((event as { payload: { vm: unknown } }).payload.vm),
    ).toMatchObject({
      config: { name: 'wire-vm' },
    });
    peer.dispose();
    watcher.dispose();
  });

  it('answers a malformed call that has an id, and closes on anything else', async () => {
    const peer = pair(dispatch, (l) => control.onEvent(l));
    peer.send({ type: 'call', id: 3, name: 42 });
    expect(await peer.next(isResult(3))).toMatchObject({
      result: { ok: false, error: { code: 'invalid-arguments' } },
    });
    peer.send({ type: 'call', id: 4, name: 'vm.get', args: { id: '' } });
    expect(await peer.next(isResult(4))).toMatchObject({
      result: { ok: false, error: { code: 'invalid-arguments' } },
    });
    expect(peer.closed).toBeNull();
    peer.sendText('{"type":"call","id":');
    expect(peer.closed).toEqual({ code: 1008, reason: 'malformed message: not JSON' });

    for (const hostile of ['null', '"call"', '[1,2]', '{"type":"call","id":-1}', '{"id":1.5}']) {
      const p = pair(dispatch, (l) => control.onEvent(l));
      p.sendText(hostile);
      expect(p.closed?.code, hostile).toBe(1008);
    }
  });

  it('stops pushing events once disposed or closed', () => {
    let listeners = 0;
    const subscribe: ControlPlane['onEvent'] = (l) => {
      listeners++;
      const off = control.onEvent(l);
      return () => {
        listeners--;
        off();
      };
    };
    const peer = pair(dispatch, subscribe);
    expect(listeners).toBe(1);
    peer.sendText('not json');
    expect(listeners).toBe(0);
    const other = pair(dispatch, subscribe);
    other.dispose();
    other.dispose();
    expect(listeners).toBe(0);
  });

  it('limits calls in flight per connection', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const slow: Dispatch = async () => {
      await gate;
      return { ok: true, value: [] };
    };
    const peer = pair(slow, (l) => control.onEvent(l), { maxInFlight: 2, maxBufferedBytes: 1e9 });
    for (const id of [1, 2, 3]) peer.send({ type: 'call', id, name: 'vm.list', args: {} });
    expect(await peer.next(isResult(3))).toMatchObject({
      result: { ok: false, error: { code: 'unavailable' } },
    });
    release();
    expect(await peer.next(isResult(1))).toMatchObject({ result: { ok: true } });
    expect(await peer.next(isResult(2))).toMatchObject({ result: { ok: true } });
    // Finished calls free their slots.
    peer.send({ type: 'call', id: 4, name: 'vm.list', args: {} });
    expect(await peer.next(isResult(4))).toMatchObject({ result: { ok: true } });
  });

  it('disconnects a peer that stops reading', async () => {
    const peer = pair(
      dispatch,
      (l) => control.onEvent(l),
      undefined,
      () => 64 * 1024 * 1024,
    );
    peer.send({ type: 'call', id: 1, name: 'os.catalog', args: {} });
    await peer.next(isResult(1));
    expect(peer.closed?.code).toBe(1008);
    expect(peer.closed?.reason).toContain('not reading');
  });
});

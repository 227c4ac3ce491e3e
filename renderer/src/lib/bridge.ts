/**
 * The renderer's one way out: `window.vireo` from the Electron preload, or the WebSocket bridge
 * in browser mode. Both implement VireoBridge from preload/contract.ts.
 */
import type { CallArgs, CallName, CallValue, VireoBridge } from '../../../preload/contract';
import { createWebSocketBridge } from './bridge-websocket';
import { useConnection } from '../stores/connection';

declare global {
  interface Window {
    vireo?: VireoBridge;
  }
}

export const bridge: VireoBridge =
  window.vireo ?? createWebSocketBridge((c) => useConnection.setState({ connected: c }));

/** A call whose failure becomes an exception carrying the bridge's message (for UI code paths). */
export class CallFailed extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallValue<N>> {
  const result = await bridge.call(name, args);
  if (!result.ok) throw new CallFailed(result.error.code, result.error.message);
  return result.value;
}

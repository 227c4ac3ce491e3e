/**
 * Which IPC senders may use the bridge (Electron security checklist, item 17: "validate the
 * sender of all IPC messages"). Kept free of Electron imports so it is unit-tested without the
 * Electron binary; main/app/ipc-binding.ts gathers the facts from the IPC event.
 *
 * Runtime: shared by Electron main and its tests (no Electron import).
 */

/** The renderer bundle's origin: main/app/app-protocol.ts serves it, nothing else does. */
export const APP_SCHEME = 'vireo';
export const APP_HOST = 'app';
export const APP_ENTRY_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

export interface SenderFacts {
  /** The URL of the frame that sent the message, or null when the frame is gone. */
  frameUrl: string | null;
  /** True when the sending frame is its page's top frame (no iframe may call the bridge). */
  isTopFrame: boolean;
  /** True when the sending web contents belong to a window main/app created. */
  fromOurWindow: boolean;
}

/** A sender is trusted only as the top frame of one of our windows, showing our own origin. */
export function isTrustedSender(facts: SenderFacts): boolean {
  if (!facts.fromOurWindow || !facts.isTopFrame || facts.frameUrl === null) return false;
  return isAppUrl(facts.frameUrl);
}

/** True for `vireo://app/...` exactly (parsed, so `vireo://app.evil/` or `vireo://x@app/` fail). */
export function isAppUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return (
    parsed.protocol === `${APP_SCHEME}:` &&
    parsed.host === APP_HOST &&
    parsed.username === '' &&
    parsed.password === ''
  );
}

/**
 * A console window is the renderer bundle opened at `#console=<VM id>`: in browser mode a new
 * tab of the same page (same origin, so the session's cookie authenticates it), in Electron a
 * BrowserWindow main opens at that address.
 */
export function consoleVmId(hash: string): string | null {
  const m = /^#console=([^&]{1,256})$/.exec(hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}

export function consoleHash(vmId: string): string {
  return `#console=${encodeURIComponent(vmId)}`;
}

/**
 * Opens (or brings forward) the VM's console: in Electron a window of its own that main opens
 * (main/app/console-window.ts), in browser mode a tab whose name makes it one per VM.
 */
export function openConsole(vmId: string): void {
  if (window.vireoConsole) return window.vireoConsole.open(vmId);
  const url = `${location.pathname}${location.search}${consoleHash(vmId)}`;
  window.open(url, `vireo-console-${vmId}`);
}

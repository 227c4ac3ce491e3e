/**
 * The serial console's escape key, as in `qemu-system-x86_64 -nographic`: Ctrl-A then a letter
 * is a command for Vireo, not input for the guest. Ctrl-A X quits (powers the VM off),
 * Ctrl-A H prints help, Ctrl-A Ctrl-A sends one Ctrl-A to the guest; any other letter after
 * Ctrl-A is dropped.
 *
 * Runtime: engine (pure).
 */

export const ESCAPE_BYTE = 0x01; // Ctrl-A

export type EscapeAction = 'quit' | 'help';

export const ESCAPE_HELP = [
  'Ctrl-A X   power off the VM and quit',
  'Ctrl-A H   this help',
  'Ctrl-A Ctrl-A   send Ctrl-A to the guest',
].join('\r\n');

export class ConsoleEscape {
  private afterEscape = false;

  /** Splits terminal input into bytes for the guest and escape commands, in order. */
  feed(input: Uint8Array): { forward: Uint8Array; actions: EscapeAction[] } {
    const forward: number[] = [];
    const actions: EscapeAction[] = [];
    for (const byte of input) {
      if (this.afterEscape) {
        this.afterEscape = false;
        const key = String.fromCharCode(byte).toLowerCase();
        if (byte === ESCAPE_BYTE) forward.push(ESCAPE_BYTE);
        else if (key === 'x') actions.push('quit');
        else if (key === 'h' || key === '?') actions.push('help');
      } else if (byte === ESCAPE_BYTE) {
        this.afterEscape = true;
      } else {
        forward.push(byte);
      }
    }
    return { forward: Uint8Array.from(forward), actions };
  }
}

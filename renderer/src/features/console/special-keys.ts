/**
 * Key combinations the host would take for itself (Ctrl+Alt+Del, the Linux VT switches,
 * Print Screen), sent from the console's menu as VirtualBox's Input > Keyboard menu does.
 * Keys are `KeyboardEvent.code` names, the ones the engine's PS/2 keyboard maps
 * (main/engine/devices/i8042/scancodes.ts).
 */
export interface SpecialKey {
  label: string;
  keys: readonly string[];
}

export const SPECIAL_KEYS: readonly SpecialKey[] = [
  { label: 'Ctrl+Alt+Del', keys: ['ControlLeft', 'AltLeft', 'Delete'] },
  ...Array.from({ length: 12 }, (_, i) => ({
    label: `Ctrl+Alt+F${i + 1}`,
    keys: ['ControlLeft', 'AltLeft', `F${i + 1}`],
  })),
  { label: 'Print Screen', keys: ['PrintScreen'] },
  { label: 'Alt+Print Screen', keys: ['AltLeft', 'PrintScreen'] },
  { label: 'Ctrl+Alt+Backspace', keys: ['ControlLeft', 'AltLeft', 'Backspace'] },
];

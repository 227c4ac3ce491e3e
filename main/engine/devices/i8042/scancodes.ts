/**
 * Physical keys and their PS/2 scan codes, keyed by the W3C UI Events `KeyboardEvent.code`
 * names (https://www.w3.org/TR/uievents-code/), which name the key's position, not its
 * meaning: the same table serves the console window (layout-independent by design) and
 * `vireo sendkey`.
 *
 * Codes from Microsoft's "Keyboard Scan Code Specification" (rev. 1.3a, appendix C):
 * `set1` is what the guest sees through the i8042's translation (the PC default) and `set2`
 * what an MF2 keyboard sends untranslated. Break codes: set 1 sets bit 7 of the last byte;
 * set 2 puts F0 before it. E0-prefixed keys keep the prefix in both.
 *
 * Runtime: engine (pure).
 */

interface KeyCodes {
  /** Make code bytes, scan-code set 1. */
  set1: readonly number[];
  /** Make code bytes, scan-code set 2. */
  set2: readonly number[];
}

const k = (set1: number, set2: number): KeyCodes => ({ set1: [set1], set2: [set2] });
const e0 = (set1: number, set2: number): KeyCodes => ({ set1: [0xe0, set1], set2: [0xe0, set2] });

export const KEYS: Readonly<Record<string, KeyCodes>> = {
  Escape: k(0x01, 0x76),
  Digit1: k(0x02, 0x16),
  Digit2: k(0x03, 0x1e),
  Digit3: k(0x04, 0x26),
  Digit4: k(0x05, 0x25),
  Digit5: k(0x06, 0x2e),
  Digit6: k(0x07, 0x36),
  Digit7: k(0x08, 0x3d),
  Digit8: k(0x09, 0x3e),
  Digit9: k(0x0a, 0x46),
  Digit0: k(0x0b, 0x45),
  Minus: k(0x0c, 0x4e),
  Equal: k(0x0d, 0x55),
  Backspace: k(0x0e, 0x66),
  Tab: k(0x0f, 0x0d),
  KeyQ: k(0x10, 0x15),
  KeyW: k(0x11, 0x1d),
  KeyE: k(0x12, 0x24),
  KeyR: k(0x13, 0x2d),
  KeyT: k(0x14, 0x2c),
  KeyY: k(0x15, 0x35),
  KeyU: k(0x16, 0x3c),
  KeyI: k(0x17, 0x43),
  KeyO: k(0x18, 0x44),
  KeyP: k(0x19, 0x4d),
  BracketLeft: k(0x1a, 0x54),
  BracketRight: k(0x1b, 0x5b),
  Enter: k(0x1c, 0x5a),
  ControlLeft: k(0x1d, 0x14),
  KeyA: k(0x1e, 0x1c),
  KeyS: k(0x1f, 0x1b),
  KeyD: k(0x20, 0x23),
  KeyF: k(0x21, 0x2b),
  KeyG: k(0x22, 0x34),
  KeyH: k(0x23, 0x33),
  KeyJ: k(0x24, 0x3b),
  KeyK: k(0x25, 0x42),
  KeyL: k(0x26, 0x4b),
  Semicolon: k(0x27, 0x4c),
  Quote: k(0x28, 0x52),
  Backquote: k(0x29, 0x0e),
  ShiftLeft: k(0x2a, 0x12),
  Backslash: k(0x2b, 0x5d),
  KeyZ: k(0x2c, 0x1a),
  KeyX: k(0x2d, 0x22),
  KeyC: k(0x2e, 0x21),
  KeyV: k(0x2f, 0x2a),
  KeyB: k(0x30, 0x32),
  KeyN: k(0x31, 0x31),
  KeyM: k(0x32, 0x3a),
  Comma: k(0x33, 0x41),
  Period: k(0x34, 0x49),
  Slash: k(0x35, 0x4a),
  ShiftRight: k(0x36, 0x59),
  NumpadMultiply: k(0x37, 0x7c),
  AltLeft: k(0x38, 0x11),
  Space: k(0x39, 0x29),
  CapsLock: k(0x3a, 0x58),
  F1: k(0x3b, 0x05),
  F2: k(0x3c, 0x06),
  F3: k(0x3d, 0x04),
  F4: k(0x3e, 0x0c),
  F5: k(0x3f, 0x03),
  F6: k(0x40, 0x0b),
  F7: k(0x41, 0x83),
  F8: k(0x42, 0x0a),
  F9: k(0x43, 0x01),
  F10: k(0x44, 0x09),
  NumLock: k(0x45, 0x77),
  ScrollLock: k(0x46, 0x7e),
  Numpad7: k(0x47, 0x6c),
  Numpad8: k(0x48, 0x75),
  Numpad9: k(0x49, 0x7d),
  NumpadSubtract: k(0x4a, 0x7b),
  Numpad4: k(0x4b, 0x6b),
  Numpad5: k(0x4c, 0x73),
  Numpad6: k(0x4d, 0x74),
  NumpadAdd: k(0x4e, 0x79),
  Numpad1: k(0x4f, 0x69),
  Numpad2: k(0x50, 0x72),
  Numpad3: k(0x51, 0x7a),
  Numpad0: k(0x52, 0x70),
  NumpadDecimal: k(0x53, 0x71),
  IntlBackslash: k(0x56, 0x61),
  F11: k(0x57, 0x78),
  F12: k(0x58, 0x07),
  NumpadEnter: e0(0x1c, 0x5a),
  ControlRight: e0(0x1d, 0x14),
  NumpadDivide: e0(0x35, 0x4a),
  AltRight: e0(0x38, 0x11),
  Home: e0(0x47, 0x6c),
  ArrowUp: e0(0x48, 0x75),
  PageUp: e0(0x49, 0x7d),
  ArrowLeft: e0(0x4b, 0x6b),
  ArrowRight: e0(0x4d, 0x74),
  End: e0(0x4f, 0x69),
  ArrowDown: e0(0x50, 0x72),
  PageDown: e0(0x51, 0x7a),
  Insert: e0(0x52, 0x70),
  Delete: e0(0x53, 0x71),
  MetaLeft: e0(0x5b, 0x1f),
  MetaRight: e0(0x5c, 0x27),
  ContextMenu: e0(0x5d, 0x2f),
};

/** Keys whose codes do not follow the make/break rules above (appendix C, "special keys"). */
const SPECIAL: Readonly<
  Record<string, { set1: [number[], number[]]; set2: [number[], number[]] }>
> = {
  // Print Screen arrives as fake Shift + KP*: make E0 2A E0 37, break E0 B7 E0 AA.
  PrintScreen: {
    set1: [
      [0xe0, 0x2a, 0xe0, 0x37],
      [0xe0, 0xb7, 0xe0, 0xaa],
    ],
    set2: [
      [0xe0, 0x12, 0xe0, 0x7c],
      [0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12],
    ],
  },
  // Pause has no break code: the whole sequence is sent on press.
  Pause: {
    set1: [[0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5], []],
    set2: [[0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77], []],
  },
};

export function isKnownKey(code: string): boolean {
  return Object.hasOwn(KEYS, code) || Object.hasOwn(SPECIAL, code);
}

/** The bytes a key press (`down`) or release sends in scan-code set 1 or 2; [] for unknown keys. */
export function scancodeBytes(code: string, down: boolean, set: 1 | 2): number[] {
  if (Object.hasOwn(SPECIAL, code)) {
    const s = SPECIAL[code]!;
    return [...(set === 1 ? s.set1 : s.set2)[down ? 0 : 1]];
  }
  if (!Object.hasOwn(KEYS, code)) return [];
  const make = set === 1 ? KEYS[code]!.set1 : KEYS[code]!.set2;
  if (down) return [...make];
  const last = make[make.length - 1]!;
  if (set === 1) return [...make.slice(0, -1), last | 0x80];
  return [...make.slice(0, -1), 0xf0, last];
}

/**
 * Short names people type (`vireo sendkey`), QEMU's `sendkey` names among them, mapped to
 * `KeyboardEvent.code`. Letters and digits are also accepted as themselves ("a", "7").
 */
const ALIASES: Readonly<Record<string, string>> = {
  ret: 'Enter',
  enter: 'Enter',
  return: 'Enter',
  esc: 'Escape',
  escape: 'Escape',
  spc: 'Space',
  space: 'Space',
  tab: 'Tab',
  backspace: 'Backspace',
  bksp: 'Backspace',
  ctrl: 'ControlLeft',
  ctrl_r: 'ControlRight',
  alt: 'AltLeft',
  alt_r: 'AltRight',
  altgr: 'AltRight',
  shift: 'ShiftLeft',
  shift_r: 'ShiftRight',
  meta: 'MetaLeft',
  super: 'MetaLeft',
  menu: 'ContextMenu',
  up: 'ArrowUp',
  down: 'ArrowDown',
  left: 'ArrowLeft',
  right: 'ArrowRight',
  home: 'Home',
  end: 'End',
  pgup: 'PageUp',
  pgdn: 'PageDown',
  insert: 'Insert',
  ins: 'Insert',
  delete: 'Delete',
  del: 'Delete',
  print: 'PrintScreen',
  sysrq: 'PrintScreen',
  pause: 'Pause',
  caps_lock: 'CapsLock',
  num_lock: 'NumLock',
  scroll_lock: 'ScrollLock',
  minus: 'Minus',
  equal: 'Equal',
  comma: 'Comma',
  dot: 'Period',
  slash: 'Slash',
  backslash: 'Backslash',
  semicolon: 'Semicolon',
  apostrophe: 'Quote',
  grave_accent: 'Backquote',
  bracket_left: 'BracketLeft',
  bracket_right: 'BracketRight',
};

/**
 * Resolves one key name: a `KeyboardEvent.code` ("KeyA", "F12"), a QEMU-style name ("ret",
 * "esc", "f12"), a letter or a digit. Returns null for names it does not know.
 */
export function resolveKeyName(name: string): string | null {
  if (isKnownKey(name)) return name;
  const lower = name.toLowerCase();
  if (/^[a-z]$/.test(lower)) return `Key${lower.toUpperCase()}`;
  if (/^[0-9]$/.test(lower)) return `Digit${lower}`;
  if (/^f([1-9]|1[0-2])$/.test(lower)) return lower.toUpperCase();
  const alias = Object.hasOwn(ALIASES, lower) ? ALIASES[lower] : undefined;
  return alias ?? null;
}

/**
 * Parses a chord such as "ctrl-alt-delete" or "shift-a" into key codes, pressed in order and
 * released in reverse, as QEMU's sendkey does. Throws with the offending part named.
 */
export function parseKeyChord(chord: string): string[] {
  const parts = chord.split('-').filter((p) => p.length > 0);
  if (parts.length === 0 || parts.length > 8) throw new Error(`"${chord}" is not a key`);
  return parts.map((p) => {
    const code = resolveKeyName(p);
    if (!code) throw new Error(`unknown key "${p}" in "${chord}"`);
    return code;
  });
}

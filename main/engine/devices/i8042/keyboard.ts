/**
 * A PS/2 (MF2) keyboard, as far as Linux's atkbd probe needs it: reset, identify, LEDs,
 * typematic rate, scan-code set and enable/disable answer at once, so the probe finishes in
 * microseconds instead of waiting out timeouts (IBM PS/2 Keyboard and Auxiliary Device
 * Controller reference, "Keyboard Commands"). Key presses from the host ({@link keyEvent})
 * are queued as scan codes (./scancodes.ts) in the set the guest chose: set 1 when the
 * controller translates (the PC default, and what SeaBIOS and Linux set up) or the guest asked
 * for set 1, set 2 otherwise. Set 3 is not offered: a request for it keeps set 2.
 *
 * Typematic repeat runs at the rate and delay the guest set with F3 (IBM PS/2 reference, "Set
 * Typematic Rate/Delay": bits 6-5 delay (1 + n) x 250 ms, bits 4-0 period (8 + A) x 2^B x
 * 4.17 ms with A bits 2-0 and B bits 4-3; default 0x2B, 500 ms and 10.9 characters per second),
 * for the last key pressed, until it is released or another key is pressed. Unlike a real
 * keyboard, it repeats only while the host says the key is still held: the host's own autorepeat
 * (a second make for the held key) confirms it, and the repeat pauses when no confirmation came
 * for {@link TYPEMATIC_CONFIRM_MS}. A key event crosses a WebSocket and two event loops before it
 * gets here, and a late break must not turn one keystroke into a burst: a device that repeated on
 * its own did exactly that in the nested console test ("vireottttttyped"). QEMU passes the
 * host's repeats through for the same reason; this keeps the guest's rate as well. A repeat
 * also waits while the previous keyboard byte is unread, so a guest that stops reading (paused,
 * busy) finds the bytes it left, not a buffer full of repeats.
 *
 * Runtime: engine.
 */
import type { Ps2Device, Ps2Reply } from './ps2-device.js';
import { PS2_ACK, PS2_BAT_OK, PS2_RESEND } from './ps2-device.js';
import { scancodeBytes } from './scancodes.js';

export const KBD_CMD_SET_LEDS = 0xed;
export const KBD_CMD_ECHO = 0xee;
export const KBD_CMD_SCANCODE_SET = 0xf0;
export const KBD_CMD_IDENTIFY = 0xf2;
export const KBD_CMD_TYPEMATIC = 0xf3;
export const KBD_CMD_ENABLE = 0xf4;
export const KBD_CMD_DISABLE = 0xf5;
export const KBD_CMD_DEFAULTS = 0xf6;
export const KBD_CMD_RESEND = 0xfe;
export const KBD_CMD_RESET = 0xff;

/** MF2 keyboard ID: 0xAB then 0x83, which the controller's translation turns into 0x41. */
export const KBD_ID_FIRST = 0xab;
export const KBD_ID_SECOND = 0x83;
export const KBD_ID_SECOND_TRANSLATED = 0x41;
/** Scan-code set 2 reported by F0 00, as translated (0x41) or raw (0x02). */
const SCANCODE_SET_2_TRANSLATED = 0x41;

/** F3's parameter after reset or F6: 500 ms delay, 10.9 characters per second. */
export const TYPEMATIC_DEFAULT = 0x2b;

/** Milliseconds before the first repeat, from F3's parameter byte. */
export function typematicDelayMs(value: number): number {
  return (1 + ((value >> 5) & 3)) * 250;
}

/** Milliseconds between repeats, from F3's parameter byte (33.3 ms at 0x00, 500 ms at 0x1F). */
export function typematicPeriodMs(value: number): number {
  return (8 + (value & 7)) * (1 << ((value >> 3) & 3)) * 4.17;
}

/**
 * How long a repeat goes on after the host's last word that the key is held (its autorepeat
 * comes every 25-50 ms): long enough for a jittery connection, short enough that a late
 * release costs at most a few repeats.
 */
export const TYPEMATIC_CONFIRM_MS = 100;

interface HeldKey {
  code: string;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** When the key went down, and when the host last repeated it (performance.now()). */
  since: number;
  confirmed: number;
}

/** Keys a real keyboard does not repeat: Pause has no break code (IBM scan code tables). */
const NOT_TYPEMATIC = new Set(['Pause']);

export class Ps2Keyboard implements Ps2Device {
  private typematic = TYPEMATIC_DEFAULT;
  /** The key that repeats while held, and its pending timer. */
  private repeating: HeldKey | null = null;
  /** The command whose parameter byte comes next, or 0. */
  private awaitingParameter = 0;
  private scanningEnabled = true;
  private leds = 0;
  private scancodeSet = 2;

  constructor(
    private readonly reply: Ps2Reply,
    /** Whether the controller translates (command byte bit 6): changes the ID's second byte. */
    private readonly translating: () => boolean,
    /** Whether the controller has taken every keyboard byte so far (a repeat may go out). */
    private readonly drained: () => boolean = () => true,
  ) {}

  /** The typematic byte the guest set (F3), for inspection. */
  get typematicValue(): number {
    return this.typematic;
  }

  /** The key repeating now, if any. */
  get repeatingKey(): string | null {
    return this.repeating?.code ?? null;
  }

  get ledState(): number {
    return this.leds;
  }

  get enabled(): boolean {
    return this.scanningEnabled;
  }

  /**
   * A key went down or up on the host. Dropped while the guest has scanning disabled (F5), as
   * a real keyboard does; returns whether bytes were queued. Unknown codes are ignored.
   */
  keyEvent(code: string, down: boolean): boolean {
    if (!this.scanningEnabled) return false;
    const now = performance.now();
    const held = this.repeating;
    if (down && held?.code === code) {
      // The host's autorepeat: the key is still held. Repeat at the guest's rate from the
      // guest's delay after the press (at once if that has passed).
      held.confirmed = now;
      if (held.timer === undefined && !NOT_TYPEMATIC.has(code))
        this.schedule(held, Math.max(0, held.since + typematicDelayMs(this.typematic) - now));
      return true;
    }
    const bytes = this.scancodes(code, down);
    for (const b of bytes) this.reply(b);
    if (bytes.length === 0) return false;
    if (down) {
      this.stopRepeat();
      // Pause is held too (so the host's repeats of it are absorbed), but never repeats.
      this.repeating = { code, timer: undefined, since: now, confirmed: now };
    } else if (held?.code === code) this.stopRepeat();
    return true;
  }

  /** Stops the repeat (the VM stops, resets, or the console that held the key went away). */
  stopRepeat(): void {
    if (this.repeating?.timer !== undefined) clearTimeout(this.repeating.timer);
    this.repeating = null;
  }

  private scancodes(code: string, down: boolean): number[] {
    const set = this.translating() || this.scancodeSet === 1 ? 1 : 2;
    return scancodeBytes(code, down, set);
  }

  private schedule(held: HeldKey, ms: number): void {
    const timer = setTimeout(() => {
      held.timer = undefined;
      if (this.repeating !== held) return;
      // No word from the host for a while: pause until its next repeat (or the release).
      if (performance.now() - held.confirmed > TYPEMATIC_CONFIRM_MS) return;
      if (this.scanningEnabled && this.drained())
        for (const b of this.scancodes(held.code, true)) this.reply(b);
      this.schedule(held, typematicPeriodMs(this.typematic));
    }, ms);
    // The repeat never keeps the VM host alive on its own.
    timer.unref?.();
    held.timer = timer;
  }

  reset(): void {
    this.stopRepeat();
    this.typematic = TYPEMATIC_DEFAULT;
    this.awaitingParameter = 0;
    this.scanningEnabled = true;
    this.leds = 0;
    this.scancodeSet = 2;
  }

  write(byte: number): void {
    if (this.awaitingParameter !== 0) {
      const command = this.awaitingParameter;
      this.awaitingParameter = 0;
      // A command byte where a parameter belongs aborts the pending command (PS/2 reference).
      if (byte < 0xed) {
        this.parameter(command, byte);
        return;
      }
    }
    switch (byte) {
      case KBD_CMD_SET_LEDS:
      case KBD_CMD_SCANCODE_SET:
      case KBD_CMD_TYPEMATIC:
        this.awaitingParameter = byte;
        this.reply(PS2_ACK);
        break;
      case KBD_CMD_ECHO:
        this.reply(KBD_CMD_ECHO);
        break;
      case KBD_CMD_IDENTIFY:
        this.reply(PS2_ACK);
        this.reply(KBD_ID_FIRST);
        this.reply(this.translating() ? KBD_ID_SECOND_TRANSLATED : KBD_ID_SECOND);
        break;
      case KBD_CMD_ENABLE:
        this.scanningEnabled = true;
        this.reply(PS2_ACK);
        break;
      case KBD_CMD_DISABLE:
        // F5 also restores the defaults (PS/2 reference).
        this.scanningEnabled = false;
        this.stopRepeat();
        this.typematic = TYPEMATIC_DEFAULT;
        this.reply(PS2_ACK);
        break;
      case KBD_CMD_DEFAULTS:
        this.stopRepeat();
        this.typematic = TYPEMATIC_DEFAULT;
        this.reply(PS2_ACK);
        break;
      case KBD_CMD_RESEND:
      case 0xf7:
      case 0xf8:
      case 0xf9:
      case 0xfa:
      case 0xfb:
      case 0xfc:
      case 0xfd:
        this.reply(PS2_ACK);
        break;
      case KBD_CMD_RESET:
        this.reset();
        this.reply(PS2_ACK);
        this.reply(PS2_BAT_OK);
        break;
      default:
        this.reply(PS2_RESEND);
    }
  }

  private parameter(command: number, value: number): void {
    this.reply(PS2_ACK);
    if (command === KBD_CMD_SET_LEDS) this.leds = value & 0x07;
    else if (command === KBD_CMD_TYPEMATIC) this.typematic = value & 0x7f;
    else if (command === KBD_CMD_SCANCODE_SET) {
      if (value === 0) {
        this.reply(this.translating() ? SCANCODE_SET_2_TRANSLATED : this.scancodeSet);
      } else if (value <= 2) this.scancodeSet = value;
    }
  }
}

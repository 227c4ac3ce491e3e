/**
 * A PS/2 (MF2) keyboard, as far as Linux's atkbd probe needs it: reset, identify, LEDs,
 * typematic rate, scan-code set and enable/disable answer at once, so the probe finishes in
 * microseconds instead of waiting out timeouts (IBM PS/2 Keyboard and Auxiliary Device
 * Controller reference, "Keyboard Commands"). Key presses from the host ({@link keyEvent})
 * are queued as scan codes (./scancodes.ts) in the set the guest chose: set 1 when the
 * controller translates (the PC default, and what SeaBIOS and Linux set up) or the guest asked
 * for set 1, set 2 otherwise. Set 3 is not offered: a request for it keeps set 2.
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

export class Ps2Keyboard implements Ps2Device {
  /** The command whose parameter byte comes next, or 0. */
  private awaitingParameter = 0;
  private scanningEnabled = true;
  private leds = 0;
  private scancodeSet = 2;

  constructor(
    private readonly reply: Ps2Reply,
    /** Whether the controller translates (command byte bit 6): changes the ID's second byte. */
    private readonly translating: () => boolean,
  ) {}

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
    const set = this.translating() || this.scancodeSet === 1 ? 1 : 2;
    const bytes = scancodeBytes(code, down, set);
    for (const b of bytes) this.reply(b);
    return bytes.length > 0;
  }

  reset(): void {
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
        this.scanningEnabled = false;
        this.reply(PS2_ACK);
        break;
      case KBD_CMD_DEFAULTS:
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
    else if (command === KBD_CMD_SCANCODE_SET) {
      if (value === 0) {
        this.reply(this.translating() ? SCANCODE_SET_2_TRANSLATED : this.scancodeSet);
      } else if (value <= 2) this.scancodeSet = value;
    }
  }
}

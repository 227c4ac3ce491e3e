/**
 * A standard PS/2 mouse (ID 0x00), as far as Linux's psmouse probe needs it: every command of
 * the IBM PS/2 mouse command set is acknowledged at once with the documented reply bytes, so
 * the driver's protocol detection (Intellimouse, Synaptics, ... knock sequences) ends quickly
 * on "plain PS/2" instead of timing out (IBM PS/2 Hardware Interface Technical Reference,
 * "Pointing Device": commands E6-FF). Movement and buttons go to the guest as standard 3-byte
 * stream-mode packets ({@link Ps2Mouse.motion}).
 *
 * Runtime: engine.
 */
import type { Ps2Device, Ps2Reply } from './ps2-device.js';
import { PS2_ACK, PS2_BAT_OK, PS2_RESEND } from './ps2-device.js';

export const AUX_CMD_SCALING_1_1 = 0xe6;
export const AUX_CMD_SCALING_2_1 = 0xe7;
export const AUX_CMD_SET_RESOLUTION = 0xe8;
export const AUX_CMD_STATUS = 0xe9;
export const AUX_CMD_STREAM_MODE = 0xea;
export const AUX_CMD_READ_DATA = 0xeb;
export const AUX_CMD_RESET_WRAP = 0xec;
export const AUX_CMD_WRAP = 0xee;
export const AUX_CMD_REMOTE_MODE = 0xf0;
export const AUX_CMD_GET_ID = 0xf2;
export const AUX_CMD_SET_RATE = 0xf3;
export const AUX_CMD_ENABLE = 0xf4;
export const AUX_CMD_DISABLE = 0xf5;
export const AUX_CMD_DEFAULTS = 0xf6;
export const AUX_CMD_RESEND = 0xfe;
export const AUX_CMD_RESET = 0xff;

/** Device ID of a plain two/three-button PS/2 mouse. */
export const AUX_ID_STANDARD = 0x00;

export class Ps2Mouse implements Ps2Device {
  private awaitingParameter = 0;
  private reporting = false;
  private sampleRate = 100;
  private resolution = 2;
  private scaling21 = false;
  private remoteMode = false;

  constructor(private readonly reply: Ps2Reply) {}

  get enabled(): boolean {
    return this.reporting;
  }

  /**
   * The host moved the mouse by (dx, dy) (screen pixels, +y down) with `buttons` held, in PS/2
   * order (bit 0 left, 1 right, 2 middle: the same bits as DOM's `MouseEvent.buttons`). Queues one packet per at most 255 counts of motion
   * (IBM PS/2 TR "Pointing Device", data report: byte 0 = Y overflow, X overflow, Y sign, X sign,
   * 1, middle, right, left; bytes 1-2 = X and Y movement, 9-bit two's complement, +Y up).
   * Dropped, as by a real mouse, while reporting is disabled or in remote mode. Returns whether
   * the guest gets it.
   */
  motion(dx: number, dy: number, buttons: number): boolean {
    if (!this.reporting || this.remoteMode) return false;
    let x = clampMotion(dx);
    let y = clampMotion(-dy);
    do {
      const px = Math.max(-255, Math.min(255, x));
      const py = Math.max(-255, Math.min(255, y));
      x -= px;
      y -= py;
      this.reply(0x08 | (buttons & 0x07) | (px < 0 ? 0x10 : 0) | (py < 0 ? 0x20 : 0));
      this.reply(px & 0xff);
      this.reply(py & 0xff);
    } while (x !== 0 || y !== 0);
    return true;
  }

  reset(): void {
    this.awaitingParameter = 0;
    this.reporting = false;
    this.sampleRate = 100;
    this.resolution = 2;
    this.scaling21 = false;
    this.remoteMode = false;
  }

  write(byte: number): void {
    if (this.awaitingParameter !== 0) {
      const command = this.awaitingParameter;
      this.awaitingParameter = 0;
      this.reply(PS2_ACK);
      if (command === AUX_CMD_SET_RATE) this.sampleRate = byte;
      else this.resolution = byte & 3;
      return;
    }
    switch (byte) {
      case AUX_CMD_SET_RESOLUTION:
      case AUX_CMD_SET_RATE:
        this.awaitingParameter = byte;
        this.reply(PS2_ACK);
        break;
      case AUX_CMD_STATUS: {
        // Status byte: bit 6 remote mode, bit 5 reporting, bit 4 scaling 2:1; then resolution, rate.
        const status =
          (this.remoteMode ? 0x40 : 0) | (this.reporting ? 0x20 : 0) | (this.scaling21 ? 0x10 : 0);
        this.reply(PS2_ACK);
        this.reply(status);
        this.reply(this.resolution);
        this.reply(this.sampleRate);
        break;
      }
      case AUX_CMD_GET_ID:
        this.reply(PS2_ACK);
        this.reply(AUX_ID_STANDARD);
        break;
      case AUX_CMD_READ_DATA:
        // One packet with no movement: byte 0 always has bit 3 set.
        this.reply(PS2_ACK);
        this.reply(0x08);
        this.reply(0x00);
        this.reply(0x00);
        break;
      case AUX_CMD_SCALING_1_1:
      case AUX_CMD_SCALING_2_1:
        this.scaling21 = byte === AUX_CMD_SCALING_2_1;
        this.reply(PS2_ACK);
        break;
      case AUX_CMD_STREAM_MODE:
      case AUX_CMD_REMOTE_MODE:
        this.remoteMode = byte === AUX_CMD_REMOTE_MODE;
        this.reply(PS2_ACK);
        break;
      case AUX_CMD_ENABLE:
      case AUX_CMD_DISABLE:
        this.reporting = byte === AUX_CMD_ENABLE;
        this.reply(PS2_ACK);
        break;
      case AUX_CMD_DEFAULTS:
        this.reset();
        this.reply(PS2_ACK);
        break;
      case AUX_CMD_RESET_WRAP:
      case AUX_CMD_RESEND:
        this.reply(PS2_ACK);
        break;
      case AUX_CMD_RESET:
        this.reset();
        this.reply(PS2_ACK);
        this.reply(PS2_BAT_OK);
        this.reply(AUX_ID_STANDARD);
        break;
      default:
        // Wrap mode (0xEE) is not modelled: refuse it like any unknown command.
        this.reply(PS2_RESEND);
    }
  }
}

/** A single host event moves at most this far (a pointer warp must not flood the queue). */
const MAX_MOTION = 4096;

function clampMotion(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.max(-MAX_MOTION, Math.min(MAX_MOTION, Math.trunc(v)));
}

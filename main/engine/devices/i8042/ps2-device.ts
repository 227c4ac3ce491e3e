/**
 * The link between the i8042 controller and a PS/2 device (IBM PS/2 Hardware Interface
 * Technical Reference, "Keyboard/Auxiliary Device Controller"): the controller forwards each
 * byte the host writes for the device; the device answers with bytes the controller queues for
 * the host. The keyboard and mouse models implement this; a later, fuller PS/2 keyboard/mouse
 * (scancodes, movement packets) keeps the same shape and adds its own input methods.
 *
 * Runtime: engine.
 */

/** Bytes a PS/2 device sends towards the controller. */
export type Ps2Reply = (byte: number) => void;

export interface Ps2Device {
  /** One byte from the host (a command, or the parameter of the previous command). */
  write(byte: number): void;
  /** Power-on/controller reset: back to defaults, nothing pending. */
  reset(): void;
}

/** Acknowledge, the answer to every accepted command and parameter byte. */
export const PS2_ACK = 0xfa;
/** Resend: the device did not understand the byte. */
export const PS2_RESEND = 0xfe;
/** Basic Assurance Test passed, sent after a reset command. */
export const PS2_BAT_OK = 0xaa;

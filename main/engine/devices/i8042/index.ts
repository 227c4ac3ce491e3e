/**
 * Intel 8042 keyboard controller (i8042), as documented in the IBM PS/2 Hardware Interface
 * Technical Reference, "Keyboard/Auxiliary Device Controller" (commands, status register,
 * command byte) and as Linux drives it (drivers/input/serio/i8042.c, arch/x86/kernel/reboot.c).
 *
 * Ports: 0x60 data (read: output buffer, write: input buffer for the device or a command's
 * parameter), 0x64 status (read) / command (write). IRQ 1 for keyboard bytes, IRQ 12 for
 * auxiliary (mouse) bytes, each enabled by a command-byte bit.
 *
 * Why it matters for the direct machine:
 * - Linux's `reboot=k` path (and the fallback after ACPI reset) pulses the CPU reset line with
 *   command 0xFE; that becomes {@link I8042Options.onReset}.
 * - Linux probes the controller, the keyboard and the AUX port at boot. Answering every probe
 *   at once (the PS/2 device models reply immediately) avoids the ~500 ms timeouts a missing or
 *   silent controller costs (shared recipes: "i8042 probe trap").
 *
 * The controller has one output-buffer byte; bytes from the controller itself, the keyboard
 * and the mouse wait in queues and are moved into it when the host has read the previous one,
 * which raises the matching IRQ again (an edge for the ISA PIC).
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice, IrqLine } from '../../bus.js';
import { readBytes, writeBytes } from '../byte-access.js';
import { Ps2Keyboard } from './keyboard.js';
import { Ps2Mouse } from './mouse.js';

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;

/** Status register bits (PS/2 reference, "Status Register"). */
export const STATUS_OUTPUT_FULL = 0x01;
export const STATUS_INPUT_FULL = 0x02;
export const STATUS_SYSTEM_FLAG = 0x04;
export const STATUS_LAST_WAS_COMMAND = 0x08;
export const STATUS_NOT_INHIBITED = 0x10;
export const STATUS_AUX_DATA = 0x20;

/** Command byte ("controller configuration") bits. */
export const CTR_KBD_INT = 0x01;
export const CTR_AUX_INT = 0x02;
export const CTR_SYSTEM_FLAG = 0x04;
export const CTR_KBD_DISABLE = 0x10;
export const CTR_AUX_DISABLE = 0x20;
export const CTR_TRANSLATE = 0x40;

/** Controller commands written to port 0x64. */
export const CMD_READ_CTR = 0x20;
export const CMD_WRITE_CTR = 0x60;
export const CMD_AUX_DISABLE = 0xa7;
export const CMD_AUX_ENABLE = 0xa8;
export const CMD_AUX_TEST = 0xa9;
export const CMD_SELF_TEST = 0xaa;
export const CMD_KBD_TEST = 0xab;
export const CMD_KBD_DISABLE = 0xad;
export const CMD_KBD_ENABLE = 0xae;
export const CMD_READ_INPUT_PORT = 0xc0;
export const CMD_READ_OUTPUT_PORT = 0xd0;
export const CMD_WRITE_OUTPUT_PORT = 0xd1;
export const CMD_WRITE_KBD_OUTPUT = 0xd2;
export const CMD_WRITE_AUX_OUTPUT = 0xd3;
export const CMD_WRITE_AUX = 0xd4;
export const CMD_READ_TEST_INPUTS = 0xe0;
export const CMD_PULSE_RESET = 0xfe;

export const SELF_TEST_PASSED = 0x55;
export const INTERFACE_TEST_PASSED = 0x00;

/** Output port bits: bit 0 is the CPU reset line (active low), bit 1 the A20 gate. */
const OUTPUT_PORT_RESET_INACTIVE = 0x01;
const OUTPUT_PORT_A20 = 0x02;
const OUTPUT_PORT_KBD_OBF = 0x10;
const OUTPUT_PORT_AUX_OBF = 0x20;

/**
 * Command byte at hand-off when firmware has run: keyboard interrupt on, system flag set (POST
 * passed), AUX clock off, translation on. With direct boot there is no firmware, but Linux reads
 * and rewrites the command byte anyway; these are the values it is used to finding.
 */
export const CTR_DEFAULT = CTR_KBD_INT | CTR_SYSTEM_FLAG | CTR_AUX_DISABLE | CTR_TRANSLATE;

/** Bytes a queue may hold before new ones are dropped (a guest that never reads port 0x60). */
const QUEUE_LIMIT = 256;

type Source = 'controller' | 'keyboard' | 'aux';

export interface I8042Options {
  /** ISA IRQ 1. */
  keyboardIrq: IrqLine;
  /** ISA IRQ 12. */
  auxIrq: IrqLine;
  /** The guest pulsed the CPU reset line (command 0xFE, or output port bit 0 cleared). */
  onReset: () => void;
}

export class I8042 {
  readonly keyboard: Ps2Keyboard;
  readonly mouse: Ps2Mouse;
  /** Port 0x60, one byte. */
  readonly dataPort: BusDevice;
  /** Port 0x64, one byte. */
  readonly commandPort: BusDevice;

  /** The 32 bytes of controller RAM; byte 0 is the command byte (read/written by 0x20-0x3F / 0x60-0x7F). */
  private readonly ram = new Uint8Array(32);
  private outputPort = OUTPUT_PORT_RESET_INACTIVE | OUTPUT_PORT_A20;
  private lastWriteWasCommand = false;
  /** The controller command whose parameter the next data-port write is, or 0. */
  private pendingCommand = 0;
  private outputByte = 0;
  private outputFull = false;
  private outputSource: Source = 'controller';
  private readonly queues: Record<Source, number[]> = { controller: [], keyboard: [], aux: [] };
  private keyboardLevel = false;
  private auxLevel = false;

  constructor(private readonly options: I8042Options) {
    this.ram[0] = CTR_DEFAULT;
    this.keyboard = new Ps2Keyboard(
      (byte) => this.enqueue('keyboard', byte),
      () => (this.commandByte & CTR_TRANSLATE) !== 0,
      () =>
        this.queues.keyboard.length === 0 && !(this.outputFull && this.outputSource === 'keyboard'),
    );
    this.mouse = new Ps2Mouse((byte) => this.enqueue('aux', byte));
    this.dataPort = {
      read: (offset, data) => readBytes(offset, data, 1, () => this.readData()),
      write: (offset, data) => writeBytes(offset, data, 1, (_at, v) => this.writeData(v)),
    };
    this.commandPort = {
      read: (offset, data) => readBytes(offset, data, 1, () => this.readStatus()),
      write: (offset, data) => writeBytes(offset, data, 1, (_at, v) => this.writeCommand(v)),
    };
  }

  /** A host key press or release for the PS/2 keyboard (`KeyboardEvent.code` name). */
  keyEvent(code: string, down: boolean): boolean {
    return this.keyboard.keyEvent(code, down);
  }

  /** Host mouse motion and buttons (PS/2 bit order: 0 left, 1 right, 2 middle). */
  mouseEvent(dx: number, dy: number, buttons: number): boolean {
    return this.mouse.motion(dx, dy, buttons);
  }

  get commandByte(): number {
    return this.ram[0]!;
  }

  private readStatus(): number {
    let status = STATUS_NOT_INHIBITED;
    if (this.outputFull) status |= STATUS_OUTPUT_FULL;
    if (this.outputFull && this.outputSource === 'aux') status |= STATUS_AUX_DATA;
    if (this.commandByte & CTR_SYSTEM_FLAG) status |= STATUS_SYSTEM_FLAG;
    if (this.lastWriteWasCommand) status |= STATUS_LAST_WAS_COMMAND;
    // Input buffer full (bit 1) is never set: every write is consumed at once, which is what
    // Linux's kb_wait() and i8042_wait_write() poll for.
    return status;
  }

  private readData(): number {
    const byte = this.outputByte; // an empty buffer reads the last byte again, as on the chip
    this.outputFull = false;
    // Drop the lines before loading the next byte, so the next byte is a fresh edge.
    this.updateIrqs();
    this.deliver();
    return byte;
  }

  private writeCommand(command: number): void {
    this.lastWriteWasCommand = true;
    this.pendingCommand = 0;
    if (command >= 0x20 && command <= 0x3f) {
      this.enqueue('controller', this.ram[command - 0x20]!);
      return;
    }
    if (command >= 0x60 && command <= 0x7f) {
      this.pendingCommand = command;
      return;
    }
    // Commands F0-FF pulse output-port bits 0-3 low for those clear in the low nibble;
    // bit 0 is the CPU reset line (0xFE pulses only reset).
    if (command >= 0xf0) {
      if ((command & 0x01) === 0) this.options.onReset();
      return;
    }
    switch (command) {
      case CMD_AUX_DISABLE:
        this.setCommandByte(this.commandByte | CTR_AUX_DISABLE);
        break;
      case CMD_AUX_ENABLE:
        this.setCommandByte(this.commandByte & ~CTR_AUX_DISABLE);
        break;
      case CMD_AUX_TEST:
      case CMD_KBD_TEST:
        this.enqueue('controller', INTERFACE_TEST_PASSED);
        break;
      case CMD_SELF_TEST:
        // A self-test leaves the system flag set (the POST passed) and the controller reset.
        this.setCommandByte(this.commandByte | CTR_SYSTEM_FLAG);
        this.enqueue('controller', SELF_TEST_PASSED);
        break;
      case CMD_KBD_DISABLE:
        this.setCommandByte(this.commandByte | CTR_KBD_DISABLE);
        break;
      case CMD_KBD_ENABLE:
        this.setCommandByte(this.commandByte & ~CTR_KBD_DISABLE);
        break;
      case CMD_READ_INPUT_PORT:
      case CMD_READ_TEST_INPUTS:
        this.enqueue('controller', 0x00);
        break;
      case CMD_READ_OUTPUT_PORT: {
        let port = this.outputPort & ~(OUTPUT_PORT_KBD_OBF | OUTPUT_PORT_AUX_OBF);
        if (this.outputFull)
          port |= this.outputSource === 'aux' ? OUTPUT_PORT_AUX_OBF : OUTPUT_PORT_KBD_OBF;
        this.enqueue('controller', port);
        break;
      }
      case CMD_WRITE_OUTPUT_PORT:
      case CMD_WRITE_KBD_OUTPUT:
      case CMD_WRITE_AUX_OUTPUT:
      case CMD_WRITE_AUX:
        this.pendingCommand = command;
        break;
      default:
      // Unknown commands are ignored, as Linux's probe of optional commands expects.
    }
  }

  private writeData(value: number): void {
    this.lastWriteWasCommand = false;
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    if (command >= 0x60 && command <= 0x7f) {
      if (command === CMD_WRITE_CTR) this.setCommandByte(value);
      else this.ram[command - 0x60] = value;
      return;
    }
    switch (command) {
      case CMD_WRITE_OUTPUT_PORT:
        this.outputPort = value;
        if ((value & OUTPUT_PORT_RESET_INACTIVE) === 0) this.options.onReset();
        break;
      case CMD_WRITE_KBD_OUTPUT:
        this.enqueue('keyboard', value);
        break;
      case CMD_WRITE_AUX_OUTPUT:
        this.enqueue('aux', value);
        break;
      case CMD_WRITE_AUX:
        this.mouse.write(value);
        break;
      default:
        // A plain data byte goes to the keyboard.
        this.keyboard.write(value);
    }
  }

  private setCommandByte(value: number): void {
    this.ram[0] = value;
    // Enabling a port may release bytes it held; changing interrupt enables changes the lines.
    this.deliver();
  }

  private enqueue(source: Source, byte: number): void {
    const queue = this.queues[source];
    if (queue.length < QUEUE_LIMIT) queue.push(byte & 0xff);
    this.deliver();
  }

  /** Move the next byte into the empty output buffer (controller first) and update the IRQs. */
  private deliver(): void {
    if (!this.outputFull) {
      const ctr = this.commandByte;
      let source: Source | undefined;
      if (this.queues.controller.length > 0) source = 'controller';
      else if (this.queues.keyboard.length > 0 && !(ctr & CTR_KBD_DISABLE)) source = 'keyboard';
      else if (this.queues.aux.length > 0 && !(ctr & CTR_AUX_DISABLE)) source = 'aux';
      if (source !== undefined) {
        this.outputByte = this.queues[source].shift()!;
        this.outputSource = source;
        this.outputFull = true;
      }
    }
    this.updateIrqs();
  }

  private updateIrqs(): void {
    const ctr = this.commandByte;
    const aux = this.outputFull && this.outputSource === 'aux';
    const keyboardLevel = this.outputFull && !aux && (ctr & CTR_KBD_INT) !== 0;
    const auxLevel = aux && (ctr & CTR_AUX_INT) !== 0;
    if (keyboardLevel !== this.keyboardLevel) {
      this.keyboardLevel = keyboardLevel;
      this.options.keyboardIrq.set(keyboardLevel);
    }
    if (auxLevel !== this.auxLevel) {
      this.auxLevel = auxLevel;
      this.options.auxIrq.set(auxLevel);
    }
  }
}

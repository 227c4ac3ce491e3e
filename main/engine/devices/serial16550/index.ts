/**
 * NS16550A UART, as described by the TI PC16550D datasheet (SLLS057, "PC16550D Universal
 * Asynchronous Receiver/Transmitter with FIFOs"), section 8 "Registers" and Table 2/3/4.
 *
 * COM1 on a PC: ports 0x3F8-0x3FF, IRQ 4 (edge, ISA). It is the direct machine's console:
 * guest output goes to {@link Serial16550Options.onTransmit}, host input comes in through
 * {@link Serial16550.receive}.
 *
 * What an emulated UART can drop and what it must keep:
 * - No bit timing: a byte written to THR is sent at once, so THRE and TEMT are always set
 *   after a write. That is what Linux's 8250 driver expects from a fast UART; it never waits.
 * - Receive FIFO of 16 bytes with the FCR trigger levels (1/4/8/14). Bytes the host offers
 *   while the FIFO is full wait in a host-side queue (back-pressure) instead of overrunning;
 *   only loopback can overrun, as on the chip (LSR.OE).
 * - The character-timeout interrupt (IIR 0x0C, datasheet Table 4 priority 2) normally fires
 *   after 4 character times without FIFO activity below the trigger level. With no wire time
 *   it is reported immediately whenever data sits below the trigger level.
 * - Loopback (MCR bit 4): THR feeds RBR and the modem outputs feed the modem inputs
 *   (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD). Linux's 8250 probe writes MCR=LOOP|RTS|OUT2 and
 *   expects MSR&0xF0 == 0x90 (drivers/tty/serial/8250/8250_port.c, autoconfig).
 * - The interrupt output reaches the PIC only while MCR.OUT2 is set and loopback is off: on
 *   the IBM PC/AT the OUT2 pin gates the UART's INTR onto the ISA IRQ line (PC/AT Technical
 *   Reference, Serial/Parallel adapter), and the datasheet disconnects OUT2 in loopback.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice, IrqLine } from '../../bus.js';
import { readBytes, writeBytes } from '../byte-access.js';

/** Register offsets from the base port (datasheet Table 2). */
export const UART_RBR_THR_DLL = 0;
export const UART_IER_DLM = 1;
export const UART_IIR_FCR = 2;
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;
export const UART_REGISTER_COUNT = 8;

export const IER_RDA = 0x01;
export const IER_THRE = 0x02;
export const IER_RLS = 0x04;
export const IER_MSI = 0x08;

/** IIR interrupt identification codes (datasheet Table 4), bit 0 clear = interrupt pending. */
export const IIR_NONE = 0x01;
export const IIR_MSI = 0x00;
export const IIR_THRE = 0x02;
export const IIR_RDA = 0x04;
export const IIR_RLS = 0x06;
export const IIR_CHAR_TIMEOUT = 0x0c;
export const IIR_FIFOS_ENABLED = 0xc0;

export const FCR_ENABLE = 0x01;
export const FCR_CLEAR_RX = 0x02;
export const FCR_CLEAR_TX = 0x04;

export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;

export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_PE = 0x04;
export const LSR_FE = 0x08;
export const LSR_BI = 0x10;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
export const LSR_FIFO_ERROR = 0x80;

export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;

/** Hardware FIFO depth (datasheet 1 "Features": 16-byte transmit and receive FIFOs). */
export const UART_FIFO_SIZE = 16;
/** Receive trigger levels selected by FCR bits 7:6 (datasheet Table 3, FCR bits 6-7). */
const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/**
 * Host-side input queue cap. Past it {@link Serial16550.receive} refuses bytes (returns how many
 * it took), so a paste of megabytes into a guest that never reads cannot grow memory unbounded.
 */
export const UART_HOST_QUEUE_LIMIT = 64 * 1024;

/**
 * What the UART's pins connect to when not in loopback: a terminal that asserts CTS, DSR and
 * DCD (a null-modem console), as QEMU's and kvmtool's UARTs report.
 */
const MSR_EXTERNAL_LINES = MSR_CTS | MSR_DSR | MSR_DCD;

export interface Serial16550Options {
  /** The interrupt line (COM1: ISA IRQ 4). */
  irq: IrqLine;
  /** Bytes the guest transmitted (never called in loopback). */
  onTransmit: (byte: number) => void;
  /**
   * Told LSR's value after every change while reading it has no side effect (no error bit to
   * clear), undefined otherwise: a machine can let the vCPU thread answer LSR reads from
   * shared memory (bus.ts `sharedRead`). Linux's console polls LSR before every byte it
   * writes, so this halves the exits of a boot log.
   */
  publishLsr?: (value: number | undefined) => void;
}

export class Serial16550 implements BusDevice {
  private readonly irq: IrqLine;
  private readonly onTransmit: (byte: number) => void;

  private ier = 0;
  // Master-reset values (datasheet Table 5): the direct machine has no firmware to change them.
  private lcr = 0;
  private mcr = 0;
  private lsrErrors = 0; // OE|PE|FE|BI|FIFO_ERROR, cleared by reading LSR
  private msrDeltas = 0; // DCTS|DDSR|TERI|DDCD, cleared by reading MSR
  private scr = 0;
  private divisor = 12; // 9600 baud from the 1.8432 MHz clock (datasheet Table 1)
  private fcr = 0; // last FCR write (bits 0, 6, 7 matter)
  private readonly rxFifo: number[] = [];
  private hostQueue: Uint8Array[] = [];
  private hostQueueOffset = 0;
  private hostQueueBytes = 0;
  /**
   * THRE interrupt latch: set when THR becomes empty (after every write, since we send at once,
   * and when IER.THRE is switched on while THR is empty), cleared by writing THR or by reading
   * IIR while THRE is the reported source (datasheet Table 4, "THRE" row: reset control).
   */
  private thrEmptyInterrupt = false;
  private irqLevel = false;

  private readonly publishLsr: ((value: number | undefined) => void) | undefined;

  constructor(options: Serial16550Options) {
    this.irq = options.irq;
    this.onTransmit = options.onTransmit;
    this.publishLsr = options.publishLsr;
    this.publish();
  }

  read(offset: number, data: Uint8Array): void {
    readBytes(offset, data, UART_REGISTER_COUNT, (at) => this.readRegister(at));
    this.publish();
  }

  write(offset: number, data: Uint8Array): void {
    writeBytes(offset, data, UART_REGISTER_COUNT, (at, value) => this.writeRegister(at, value));
    this.publish();
  }

  /** LSR as a read would return it, when that read would change nothing (see publishLsr). */
  private publish(): void {
    if (!this.publishLsr) return;
    if (this.lsrErrors !== 0) return this.publishLsr(undefined);
    this.publishLsr(LSR_THRE | LSR_TEMT | (this.rxFifo.length > 0 ? LSR_DR : 0));
  }

  /**
   * Host input (keyboard of the serial console). Bytes enter the receive FIFO as the guest makes
   * room; the rest waits in a host queue. Returns how many bytes were accepted: fewer than
   * offered when the host queue is at {@link UART_HOST_QUEUE_LIMIT} (the caller should retry
   * later, e.g. after {@link queuedInputBytes} drops).
   */
  receive(bytes: Uint8Array): number {
    const room = UART_HOST_QUEUE_LIMIT - this.hostQueueBytes;
    const take = Math.min(room, bytes.length);
    if (take > 0) {
      this.hostQueue.push(bytes.slice(0, take));
      this.hostQueueBytes += take;
      this.refillRxFifo();
      this.updateIrq();
      this.publish();
    }
    return take;
  }

  /** Bytes offered by the host that the guest has not yet taken into its receive FIFO. */
  get queuedInputBytes(): number {
    return this.hostQueueBytes;
  }

  /** Bytes in the receive FIFO (what the guest can read now). */
  get receiveFifoBytes(): number {
    return this.rxFifo.length;
  }

  private get fifoEnabled(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  private get loopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  private get rxCapacity(): number {
    return this.fifoEnabled ? UART_FIFO_SIZE : 1;
  }

  private get rxTriggerLevel(): number {
    return this.fifoEnabled ? RX_TRIGGER_LEVELS[(this.fcr >> 6) & 3]! : 1;
  }

  private readRegister(offset: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case UART_RBR_THR_DLL:
        if (dlab) return this.divisor & 0xff;
        return this.readRbr();
      case UART_IER_DLM:
        if (dlab) return (this.divisor >> 8) & 0xff;
        return this.ier;
      case UART_IIR_FCR:
        return this.readIir();
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        return this.readLsr();
      case UART_MSR:
        return this.readMsr();
      default:
        return this.scr;
    }
  }

  private writeRegister(offset: number, value: number): void {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case UART_RBR_THR_DLL:
        if (dlab) this.divisor = (this.divisor & 0xff00) | value;
        else this.writeThr(value);
        break;
      case UART_IER_DLM:
        if (dlab) {
          this.divisor = (this.divisor & 0x00ff) | (value << 8);
        } else {
          const enablingThre = (value & IER_THRE) !== 0 && (this.ier & IER_THRE) === 0;
          this.ier = value & 0x0f; // bits 4-7 are always 0 (datasheet 8.3)
          // Switching ETBEI on while THR is empty raises THRE at once: Linux's 8250 driver
          // relies on this to start transmission (and tests it: UART_BUG_THRE).
          if (enablingThre) this.thrEmptyInterrupt = true;
        }
        break;
      case UART_IIR_FCR:
        this.writeFcr(value);
        break;
      case UART_LCR:
        this.lcr = value;
        break;
      case UART_MCR:
        this.writeMcr(value & 0x1f); // bits 5-7 are always 0 (datasheet 8.6)
        break;
      case UART_LSR:
      case UART_MSR:
        // Read-only in normal use (the datasheet reserves LSR writes for factory test).
        break;
      default:
        this.scr = value;
    }
    this.updateIrq();
  }

  private readRbr(): number {
    const byte = this.rxFifo.shift() ?? 0;
    this.refillRxFifo();
    this.updateIrq();
    return byte;
  }

  private writeThr(value: number): void {
    if (this.loopback) this.pushReceived(value);
    else this.onTransmit(value);
    // Sent at wire speed zero: THR is empty again right away.
    this.thrEmptyInterrupt = true;
  }

  private writeFcr(value: number): void {
    const wasEnabled = this.fifoEnabled;
    const enable = (value & FCR_ENABLE) !== 0;
    // Changing the FIFO enable bit clears both FIFOs (datasheet 8.4, FCR bit 0).
    if (enable !== wasEnabled || (value & FCR_CLEAR_RX) !== 0) this.rxFifo.length = 0;
    // Bits 1-2 self-clear; bit 3 (DMA mode) does nothing without DMA. Keep 0, 6, 7.
    this.fcr = value & 0xc1;
    if (!enable) this.fcr = 0;
    this.refillRxFifo();
  }

  private writeMcr(value: number): void {
    const before = this.modemInputs();
    this.mcr = value;
    const after = this.modemInputs();
    // Delta bits record changes of the inputs (datasheet 8.8); RI reports its falling edge.
    const changed = before ^ after;
    if (changed & MSR_CTS) this.msrDeltas |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDeltas |= MSR_DDSR;
    if (changed & MSR_DCD) this.msrDeltas |= MSR_DDCD;
    if (before & MSR_RI && !(after & MSR_RI)) this.msrDeltas |= MSR_TERI;
    // Leaving loopback reconnects SIN: host bytes waiting may flow again.
    this.refillRxFifo();
  }

  /** MSR bits 4-7: the modem inputs, looped back from MCR in loopback mode. */
  private modemInputs(): number {
    if (!this.loopback) return MSR_EXTERNAL_LINES;
    let v = 0;
    if (this.mcr & MCR_RTS) v |= MSR_CTS;
    if (this.mcr & MCR_DTR) v |= MSR_DSR;
    if (this.mcr & MCR_OUT1) v |= MSR_RI;
    if (this.mcr & MCR_OUT2) v |= MSR_DCD;
    return v;
  }

  private readLsr(): number {
    let v = this.lsrErrors | LSR_THRE | LSR_TEMT;
    if (this.rxFifo.length > 0) v |= LSR_DR;
    // Reading LSR clears the error bits (datasheet 8.7) and with them the RLS interrupt.
    this.lsrErrors = 0;
    this.updateIrq();
    return v;
  }

  private readMsr(): number {
    const v = this.modemInputs() | this.msrDeltas;
    this.msrDeltas = 0;
    this.updateIrq();
    return v;
  }

  private readIir(): number {
    const id = this.pendingInterrupt();
    // Reading IIR while THRE is the source acknowledges it (datasheet Table 4).
    if (id === IIR_THRE) this.thrEmptyInterrupt = false;
    this.updateIrq();
    return id | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
  }

  /** The highest-priority pending interrupt (datasheet Table 4), or IIR_NONE. */
  private pendingInterrupt(): number {
    if (this.ier & IER_RLS && this.lsrErrors & (LSR_OE | LSR_PE | LSR_FE | LSR_BI)) return IIR_RLS;
    if (this.ier & IER_RDA && this.rxFifo.length > 0) {
      return this.rxFifo.length >= this.rxTriggerLevel ? IIR_RDA : IIR_CHAR_TIMEOUT;
    }
    if (this.ier & IER_THRE && this.thrEmptyInterrupt) return IIR_THRE;
    if (this.ier & IER_MSI && this.msrDeltas !== 0) return IIR_MSI;
    return IIR_NONE;
  }

  /** A byte arriving at the receiver shift register (loopback or host input). */
  private pushReceived(byte: number): void {
    if (this.rxFifo.length >= this.rxCapacity) {
      // Overrun: the new character is lost, the FIFO keeps its contents (datasheet 8.7, OE).
      this.lsrErrors |= LSR_OE;
      return;
    }
    this.rxFifo.push(byte);
  }

  private refillRxFifo(): void {
    if (this.loopback) return; // SIN is disconnected in loopback (datasheet 8.6, bit 4)
    while (this.hostQueueBytes > 0 && this.rxFifo.length < this.rxCapacity) {
      const chunk = this.hostQueue[0]!;
      this.rxFifo.push(chunk[this.hostQueueOffset++]!);
      this.hostQueueBytes--;
      if (this.hostQueueOffset >= chunk.length) {
        this.hostQueue.shift();
        this.hostQueueOffset = 0;
      }
    }
  }

  private updateIrq(): void {
    const gated = (this.mcr & MCR_OUT2) !== 0 && !this.loopback;
    const level = gated && this.pendingInterrupt() !== IIR_NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}

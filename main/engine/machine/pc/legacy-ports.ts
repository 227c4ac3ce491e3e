/**
 * Two small PC ports that have no datasheet of their own worth a folder:
 *
 * - **SeaBIOS's debug console**, port 0x402 (QEMU's `isa-debugcon`, which SeaBIOS's QEMU
 *   build writes its log to: src/hw/serialio.c, CONFIG_DEBUG_IO). Bytes are collected into
 *   lines for the VM's log; a line is cut at 512 bytes so a guest cannot grow it forever.
 *   Reads return 0xE9, the value SeaBIOS checks to see that the port exists.
 * - **System control port A**, 0x92 (IBM PS/2 "System Control Port A"; Intel 82371SB PIIX3
 *   datasheet §4.1.12 "Port 92h"): bit 1 is the fast A20 gate, bit 0 a fast CPU reset on a 0
 *   to 1 transition. KVM has no A20 mask, so the gate is only remembered and read back.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';

const MAX_LINE = 512;

export class DebugConsole implements BusDevice {
  private line: number[] = [];

  constructor(private readonly onLine: (line: string) => void) {}

  read(_offset: number, data: Uint8Array): void {
    data.fill(0);
    data[0] = 0xe9;
  }

  write(_offset: number, data: Uint8Array): void {
    const byte = data[0]!;
    if (byte === 0x0a || this.line.length >= MAX_LINE) this.flush();
    if (byte !== 0x0a && byte !== 0x0d) this.line.push(byte);
  }

  flush(): void {
    if (this.line.length === 0) return;
    // Latin-1: every byte is one character, whatever the guest wrote.
    this.onLine(String.fromCharCode(...this.line));
    this.line = [];
  }
}

const PORT_A_RESET = 1 << 0;
const PORT_A_A20 = 1 << 1;

export class SystemControlPortA implements BusDevice {
  private value = PORT_A_A20;

  constructor(private readonly onReset: () => void) {}

  read(_offset: number, data: Uint8Array): void {
    data.fill(0);
    data[0] = this.value;
  }

  write(_offset: number, data: Uint8Array): void {
    const next = data[0]! & (PORT_A_RESET | PORT_A_A20);
    const resetEdge = (next & PORT_A_RESET) !== 0 && (this.value & PORT_A_RESET) === 0;
    this.value = next & ~PORT_A_RESET;
    if (resetEdge) this.onReset();
  }
}

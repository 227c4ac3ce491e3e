/**
 * PCI bus 0 and configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2):
 * CONFIG_ADDRESS at 0xCF8 (32 bits: enable bit 31, bus 23:16, device 15:11, function 10:8,
 * register 7:2) and CONFIG_DATA at 0xCFC-0xCFF. A read of a function that is not there returns
 * all-ones (a master abort), which is how firmware and Linux enumerate the bus.
 *
 * Port 0xCF9 is the PIIX3's Reset Control Register (82371SB datasheet §4.1.17) in the same
 * window: a byte write with bit 2 (reset CPU) set resets the system; SeaBIOS and Linux use it
 * as one of their reboot methods.
 *
 * Only bus 0 exists (no bridges), so a guest that asks for another bus sees nothing.
 *
 * Runtime: engine (device thread).
 */
import type { BusDevice } from '../../bus.js';
import type { PciFunction } from './config-space.js';

export * from './config-space.js';

export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
/** 0xCF8-0xCFF: address (4), reset control at 0xCF9 (byte), data at 0xCFC (1, 2 or 4). */
export const PCI_CONFIG_PORT_COUNT = 8;
const RESET_CONTROL_OFFSET = 1;
const DATA_OFFSET = 4;
const RESET_CPU = 0x04;

export class PciBus implements BusDevice {
  private readonly functions = new Map<number, PciFunction>();
  private address = 0;
  private resetControl = 0;

  constructor(private readonly onReset: () => void) {}

  /** Puts `fn` at bus 0, `device`.`func`. */
  attach(device: number, func: number, fn: PciFunction): void {
    if (!Number.isInteger(device) || device < 0 || device > 31 || func < 0 || func > 7)
      throw new RangeError(`PCI: ${device}.${func} is not a device/function number`);
    const key = (device << 3) | func;
    if (this.functions.has(key)) throw new Error(`PCI: 00:${device}.${func} is taken`);
    this.functions.set(key, fn);
  }

  list(): { device: number; func: number; fn: PciFunction }[] {
    return [...this.functions].map(([key, fn]) => ({ device: key >> 3, func: key & 7, fn }));
  }

  private selected(): PciFunction | undefined {
    if (!(this.address & 0x8000_0000)) return undefined;
    if ((this.address >>> 16) & 0xff) return undefined; // only bus 0
    return this.functions.get((this.address >>> 8) & 0xff);
  }

  read(offset: number, data: Uint8Array): void {
    if (offset < DATA_OFFSET) {
      if (offset === 0 && data.length === 4) {
        writeLe(data, this.address);
      } else if (offset === RESET_CONTROL_OFFSET && data.length === 1) {
        data[0] = this.resetControl;
      } else {
        data.fill(0xff);
      }
      return;
    }
    const fn = this.selected();
    const size = data.length;
    const register = (this.address & 0xfc) + (offset - DATA_OFFSET);
    if (!fn || (size !== 1 && size !== 2 && size !== 4) || (register & 0xff) + size > 256) {
      data.fill(0xff);
      return;
    }
    writeLe(data, fn.config.read(register, size));
  }

  write(offset: number, data: Uint8Array): void {
    if (offset < DATA_OFFSET) {
      if (offset === 0 && data.length === 4) {
        // Bits 1:0 are reserved and read as 0 (§3.2.2.3.2).
        this.address = readLe(data) & 0x80ff_fffc;
      } else if (offset === RESET_CONTROL_OFFSET && data.length === 1) {
        const value = data[0]!;
        // Bit 1 chooses hard/soft reset; either way the machine restarts its vCPUs.
        if (value & RESET_CPU && !(this.resetControl & RESET_CPU)) this.onReset();
        this.resetControl = value & ~RESET_CPU;
      }
      return;
    }
    const fn = this.selected();
    const size = data.length;
    const register = (this.address & 0xfc) + (offset - DATA_OFFSET);
    if (!fn || (size !== 1 && size !== 2 && size !== 4) || register + size > 256) return;
    fn.config.write(register, size, readLe(data));
    fn.afterConfigWrite?.(register, size);
  }
}

function readLe(data: Uint8Array): number {
  let v = 0;
  for (let i = 0; i < data.length; i++) v |= data[i]! << (i * 8);
  return v >>> 0;
}

function writeLe(data: Uint8Array, value: number): void {
  for (let i = 0; i < data.length; i++) data[i] = (value >>> (i * 8)) & 0xff;
}

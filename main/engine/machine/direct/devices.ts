/**
 * The legacy devices of the direct machine, built and listed with their I/O ports and ISA IRQs
 * so the VM host registers them in a few lines:
 *
 *   const devices = createDirectMachineDevices({ irq: (n) => kvmIrqLine(n), ... });
 *   for (const r of devices.portRanges) ioBus.register(r.base, r.length, r.device, r.name);
 *
 * | device   | ports                 | IRQ        | model                          |
 * | COM1     | 0x3F8-0x3FF           | 4 (edge)   | devices/serial16550 (NS16550A) |
 * | i8042    | 0x60, 0x64            | 1, 12      | devices/i8042                  |
 * | RTC/CMOS | 0x70-0x71             | 8 (unused) | devices/cmos-rtc (MC146818A)   |
 * | ACPI PM  | 0x600-0x60F           | 9 (SCI)    | devices/acpi-pm                |
 *
 * The PIT (0x40-0x43, 0x61), both PICs (0x20/0xA0, ELCR) and the IOAPIC/LAPICs live in the
 * kernel (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2) and are not listed here.
 *
 * Runtime: engine.
 */
import type { BusDevice, IrqLine } from '../../bus.js';
import { ACPI_PM_BASE, ACPI_PM_LENGTH, ACPI_SCI_IRQ, AcpiPm } from '../../devices/acpi-pm/index.js';
import { CmosRtc, RTC_INDEX_PORT } from '../../devices/cmos-rtc/index.js';
import { I8042, I8042_COMMAND_PORT, I8042_DATA_PORT } from '../../devices/i8042/index.js';
import { Serial16550, UART_LSR, UART_REGISTER_COUNT } from '../../devices/serial16550/index.js';
import { directRamRegions } from './memory-map.js';

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;
export const KEYBOARD_IRQ = 1;
export const AUX_IRQ = 12;
export const RTC_IRQ = 8;

export interface PortRange {
  name: string;
  base: number;
  length: number;
  device: BusDevice;
  /** Register with `sharedRead` (bus.ts): the device publishes side-effect-free reads. */
  sharedRead?: boolean;
}

export interface DirectMachineDeviceOptions {
  /** The line for ISA IRQ `n` (the host wires it to KVM_IRQ_LINE on the in-kernel irqchip). */
  irq: (isaIrq: number) => IrqLine;
  /** A byte the guest wrote to COM1 (its console). */
  onSerialOutput: (byte: number) => void;
  /** The guest powered off (ACPI S5). */
  onPowerOff: () => void;
  /** The guest asked for a reset (ACPI RESET_REG or i8042 0xFE). */
  onReset: () => void;
  memoryBytes: number;
  cpus: number;
  /** Passed to the RTC: false (UTC) for Linux. */
  rtcLocalTime?: boolean;
  /** The port bus's Bus.publishRead, for COM1's LSR (answered in the vCPU thread). */
  publishRead?: (port: number, value: number | undefined) => void;
}

export interface DirectMachineDevices {
  serial: Serial16550;
  i8042: I8042;
  rtc: CmosRtc;
  acpiPm: AcpiPm;
  /** Every port range to register on the I/O bus. */
  portRanges: PortRange[];
}

export function createDirectMachineDevices(o: DirectMachineDeviceOptions): DirectMachineDevices {
  const serial = new Serial16550({
    irq: o.irq(COM1_IRQ),
    onTransmit: o.onSerialOutput,
    publishLsr: (v) => o.publishRead?.(COM1_BASE + UART_LSR, v),
  });
  const i8042 = new I8042({
    keyboardIrq: o.irq(KEYBOARD_IRQ),
    auxIrq: o.irq(AUX_IRQ),
    onReset: o.onReset,
  });
  const [low, high] = directRamRegions(o.memoryBytes);
  const rtc = new CmosRtc({
    ramBelow4G: low!.size,
    ramAbove4G: high?.size ?? 0,
    cpus: o.cpus,
    localTime: o.rtcLocalTime ?? false,
  });
  const acpiPm = new AcpiPm({
    sci: o.irq(ACPI_SCI_IRQ),
    onPowerOff: o.onPowerOff,
    onReset: o.onReset,
  });
  return {
    serial,
    i8042,
    rtc,
    acpiPm,
    portRanges: [
      {
        name: 'COM1 (16550A)',
        base: COM1_BASE,
        length: UART_REGISTER_COUNT,
        device: serial,
        sharedRead: true,
      },
      { name: 'i8042 data', base: I8042_DATA_PORT, length: 1, device: i8042.dataPort },
      {
        name: 'i8042 status/command',
        base: I8042_COMMAND_PORT,
        length: 1,
        device: i8042.commandPort,
      },
      { name: 'CMOS/RTC', base: RTC_INDEX_PORT, length: 2, device: rtc },
      { name: 'ACPI PM', base: ACPI_PM_BASE, length: ACPI_PM_LENGTH, device: acpiPm },
    ],
  };
}

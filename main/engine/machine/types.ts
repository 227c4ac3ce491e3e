/**
 * What the VM host needs from a machine (direct Linux boot, or the PC with SeaBIOS), once its
 * memory and devices are in place: the buses to dispatch exits on, the vCPUs' first states,
 * and the few devices the host itself drives (the serial console, the ACPI power button).
 *
 * Runtime: engine (device thread).
 */
import type { Bus, IrqLine } from '../bus.js';
import type { AcpiPm } from '../devices/acpi-pm/index.js';
import type { Serial16550 } from '../devices/serial16550/index.js';
import type { StdVga } from '../devices/vga/index.js';
import type { BlockStats } from '../devices/virtio-blk/index.js';
import type { VcpuInitialState } from '../hypervisor/x86-state.js';

export interface MachineCallbacks {
  /** The line for GSI `n` on the in-kernel PIC/IOAPIC. */
  irq(gsi: number): IrqLine;
  /** A message-signalled interrupt (MSI-X of a PCI device): address and data as programmed. */
  msi(address: number, data: number): void;
  /** A byte the guest wrote to COM1. */
  onSerialOutput(byte: number): void;
  onPowerOff(): void;
  onReset(): void;
  /** One line for the VM's log (firmware debug output, device warnings). */
  onLog(line: string): void;
}

export interface AssembledMachine {
  ports: Bus;
  mmio: Bus;
  /** One entry per vCPU; undefined = architectural reset state (APs wait for INIT/SIPI). */
  initialStates: (VcpuInitialState | undefined)[];
  serial: Serial16550;
  acpiPm: AcpiPm;
  /** Bytes of guest RAM (for statistics). */
  ramBytes: number;
  /** Called when the VM stops or resets: write out half-collected log lines. */
  flushLogs?(): void;
  /** Called when the VM stops or resets: stop device timers (the keyboard's typematic repeat). */
  stopTimers?(): void;
  /** The PS/2 keyboard behind the i8042 (`KeyboardEvent.code` names). */
  keyboard?: { keyEvent(code: string, down: boolean): boolean };
  /** The PS/2 mouse behind the i8042: relative motion, buttons in PS/2 order. */
  mouse?: { mouseEvent(dx: number, dy: number, buttons: number): boolean };
  /**
   * The absolute pointer (virtio-tablet): x and y in 0..0x7fff of the screen, PS/2-order
   * buttons, wheel clicks. `active` while a guest driver takes its events, so a console can
   * follow the host pointer instead of capturing the mouse.
   */
  tablet?: {
    pointerEvent(x: number, y: number, buttons: number, wheel: number): boolean;
    readonly active: boolean;
  };
  /** Disks, for per-disk statistics. */
  disks?: { name: string; takeStats(): BlockStats }[];
  /** The display adapter, for machines that have a screen. */
  vga?: StdVga;
  /** The optical drive, for machines that have one: the host changes its medium live. */
  opticalDrive?: {
    insert(path: string): void;
    eject(): void;
    readonly current: { path: string } | undefined;
  };
}

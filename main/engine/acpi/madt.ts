/**
 * Multiple APIC Description Table (ACPI Specification 6.5, 5.2.12, table 5.19): how the OS finds
 * every vCPU (one Processor Local APIC structure each, 5.2.12.2), the I/O APIC (5.2.12.3) and
 * how ISA IRQs map onto its inputs (Interrupt Source Overrides, 5.2.12.5).
 *
 * Interrupt source overrides must match how the hypervisor routes GSIs to IOAPIC pins:
 * - IRQ 9 (the ACPI SCI) -> GSI 9, level-triggered, active high: always (the SCI is a shared
 *   level interrupt, ACPI 6.5 5.2.9 SCI_INT; the acpi-pm device holds the line while pending).
 * - IRQ 0 (the PIT) -> GSI 2 is what QEMU reports, because QEMU replaces KVM's routing table so
 *   that GSI 0 lands on IOAPIC pin 2 (KVM_SET_GSI_ROUTING in QEMU's kvm_pc_setup_irq_routing).
 *   KVM's *default* routing (virt/kvm/irqchip.c / arch/x86/kvm/irq_comm.c default_routing) maps
 *   GSI n to IOAPIC pin n, and the in-kernel PIT raises GSI 0: with that routing an IRQ0->GSI2
 *   override would make Linux listen on pin 2 while the timer fires on pin 0 (check_timer()
 *   then falls back or panics). So the timer override is only emitted when the caller says the
 *   routing puts the PIT on GSI 2 ({@link MadtOptions.timerGsi}); the default is identity.
 * A Local APIC NMI structure (5.2.12.7) wires LINT1 as NMI on every processor, as on real boards.
 *
 * Runtime: engine.
 */
import { SDT_HEADER_LENGTH, TableWriter, finishTable } from './sdt.js';

/** MADT revision 5 (ACPI 6.3 layout; 6.5's revision 6 adds only structures this machine lacks). */
export const MADT_REVISION = 5;
export const LOCAL_APIC_ADDRESS = 0xfee00000;
export const IOAPIC_ADDRESS = 0xfec00000;
/** xAPIC IDs are 8-bit and 0xFF is broadcast: at most 255 vCPUs without x2APIC. */
export const MADT_MAX_CPUS = 255;

const MADT_FLAG_PCAT_COMPAT = 1; // dual 8259s present (KVM's in-kernel PIC)
const TYPE_LOCAL_APIC = 0;
const TYPE_IO_APIC = 1;
const TYPE_INTERRUPT_SOURCE_OVERRIDE = 2;
const TYPE_LOCAL_APIC_NMI = 4;
const LOCAL_APIC_ENABLED = 1;

/** MPS INTI flags (table 5.26): polarity bits 1:0, trigger mode bits 3:2. */
export const INTI_CONFORMS = 0x0;
export const INTI_ACTIVE_HIGH = 0x1;
export const INTI_EDGE = 0x4;
export const INTI_LEVEL = 0xc;

export interface InterruptSourceOverride {
  /** ISA IRQ. */
  source: number;
  globalSystemInterrupt: number;
  flags: number;
}

/** The overrides for a given PIT GSI: identity (KVM default routing) or QEMU's IRQ0 -> GSI 2. */
export function isaOverrides(timerGsi: 0 | 2): InterruptSourceOverride[] {
  const sci = { source: 9, globalSystemInterrupt: 9, flags: INTI_ACTIVE_HIGH | INTI_LEVEL };
  if (timerGsi === 0) return [sci];
  return [{ source: 0, globalSystemInterrupt: 2, flags: INTI_CONFORMS }, sci];
}

export interface MadtOptions {
  cpus: number;
  ioApicId?: number;
  /** The GSI the PIT (ISA IRQ 0) raises under the hypervisor's routing; default 0 (KVM default). */
  timerGsi?: 0 | 2;
  /**
   * ISA IRQs the PCI interrupt links may route PCI INTx to (PC machine: 5, 10, 11). PCI
   * interrupts are level-triggered, active high here (QEMU's MADT says the same), unlike the
   * ISA default of edge: each gets an override so the OS programs the IOAPIC pin to match.
   */
  pciIrqs?: readonly number[];
}

export function buildMadt(o: MadtOptions): Uint8Array {
  if (!Number.isInteger(o.cpus) || o.cpus < 1 || o.cpus > MADT_MAX_CPUS) {
    throw new RangeError(`MADT: ${o.cpus} vCPUs; between 1 and ${MADT_MAX_CPUS} are supported`);
  }
  const overrides = [
    ...isaOverrides(o.timerGsi ?? 0),
    ...(o.pciIrqs ?? [])
      .filter((irq) => irq !== 9)
      .map((irq) => ({
        source: irq,
        globalSystemInterrupt: irq,
        flags: INTI_ACTIVE_HIGH | INTI_LEVEL,
      })),
  ];
  const length = SDT_HEADER_LENGTH + 8 + 8 * o.cpus + 12 + 10 * overrides.length + 6;
  const w = new TableWriter(length);
  w.u32(SDT_HEADER_LENGTH, LOCAL_APIC_ADDRESS);
  w.u32(SDT_HEADER_LENGTH + 4, MADT_FLAG_PCAT_COMPAT);
  let at = SDT_HEADER_LENGTH + 8;
  for (let cpu = 0; cpu < o.cpus; cpu++) {
    // ACPI Processor UID = APIC ID = vCPU index: KVM gives vCPU n the APIC ID n.
    w.u8(at, TYPE_LOCAL_APIC);
    w.u8(at + 1, 8);
    w.u8(at + 2, cpu);
    w.u8(at + 3, cpu);
    w.u32(at + 4, LOCAL_APIC_ENABLED);
    at += 8;
  }
  w.u8(at, TYPE_IO_APIC);
  w.u8(at + 1, 12);
  w.u8(at + 2, o.ioApicId ?? 0); // KVM's in-kernel IOAPIC resets with ID 0
  w.u8(at + 3, 0);
  w.u32(at + 4, IOAPIC_ADDRESS);
  w.u32(at + 8, 0); // GSI base
  at += 12;
  for (const ov of overrides) {
    w.u8(at, TYPE_INTERRUPT_SOURCE_OVERRIDE);
    w.u8(at + 1, 10);
    w.u8(at + 2, 0); // bus 0 = ISA
    w.u8(at + 3, ov.source);
    w.u32(at + 4, ov.globalSystemInterrupt);
    w.u16(at + 8, ov.flags);
    at += 10;
  }
  w.u8(at, TYPE_LOCAL_APIC_NMI);
  w.u8(at + 1, 6);
  w.u8(at + 2, 0xff); // all processors
  w.u16(at + 3, INTI_CONFORMS);
  w.u8(at + 5, 1); // LINT1
  return finishTable(w, 'APIC', MADT_REVISION);
}

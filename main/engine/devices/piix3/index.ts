/**
 * The PIIX3 (82371SB, datasheet doc 290550) functions this PC presents:
 *
 * - 00:01.0 PCI-to-ISA bridge, 8086:7000, class 06 01 00, multi-function. PIRQ route control
 *   (60h-63h, §4.1.9): PIRQA-D each routed to an ISA IRQ (bits 3:0) unless disabled (bit 7), as
 *   SeaBIOS programs them (10, 10, 11, 11). A PCI function's INTx pin (1 = INTA) reaches PIRQ
 *   (slot - 1 + pin - 1) mod 4: the swizzle of QEMU's i440FX board (hw/isa/piix.c
 *   pci_slot_get_pirq), which SeaBIOS assumes when it writes each function's interrupt line
 *   (src/fw/pciinit.c piix_pci_slot_get_irq) and the DSDT's _PRT states (../../acpi/dsdt.ts).
 *   Several functions on one PIRQ share it as a wired-OR. ELCR (ports 0x4D0/0x4D1) is handled by KVM's in-kernel PIC.
 * - 00:01.1 IDE controller, 8086:7010, class 01 01 80: "ISA compatibility mode" on both
 *   channels (programming interface bits 0 and 2 clear, fixed), so the command blocks sit at
 *   0x1F0/0x3F6 (IRQ 14) and 0x170/0x376 (IRQ 15) whatever the BARs hold (PCI IDE Controller
 *   Specification 1.0 §2.1). Bit 7 says bus mastering is possible: BAR4 is the 16-byte I/O
 *   block of the bus-master IDE registers (§2.7.1; ../ide/bus-master.ts), which Linux's
 *   ata_piix uses for multiword DMA (SeaBIOS stays with PIO). IDETIM (40h-43h, §4.2.8): bit 15
 *   enables a channel's decode; ata_piix refuses a channel whose bit is clear, so they start
 *   set.
 *
 * The IDE channels themselves are ../ide.
 *
 * Runtime: engine (device thread).
 */
import {
  PCI_COMMAND_MASTER,
  PCI_HEADER_MULTIFUNCTION,
  PciConfigSpace,
  type PciFunction,
} from '../pci/index.js';
import { BUS_MASTER_PORT_COUNT } from '../ide/bus-master.js';
import type { IrqLine } from '../../bus.js';

export const PIIX3_VENDOR_ID = 0x8086;
export const PIIX3_ISA_DEVICE_ID = 0x7000;
export const PIIX3_IDE_DEVICE_ID = 0x7010;
export const PIIX3_PIRQ_ROUTE = 0x60;
export const PIIX3_IDETIM_PRIMARY = 0x40;
export const PIIX3_IDETIM_SECONDARY = 0x42;
/** The BAR that holds the bus-master IDE registers (§2.7.1). */
export const PIIX3_BUS_MASTER_BAR = 4;
const IDETIM_DECODE_ENABLE = 0x8000;
/** PIRQx route disabled (bit 7), the reset value (§4.1.9). */
const PIRQ_DISABLED = 0x80;
const RESERVED_IRQS = [0, 1, 2, 8, 13];

export class Piix3IsaBridge implements PciFunction {
  readonly name = 'PIIX3 ISA bridge';
  readonly config = new PciConfigSpace({
    vendorId: PIIX3_VENDOR_ID,
    deviceId: PIIX3_ISA_DEVICE_ID,
    classCode: 0x060100,
    headerType: PCI_HEADER_MULTIFUNCTION,
  });

  /** Asserted INTx sources per PIRQ, and the ISA IRQs driven high now. */
  private readonly asserted: Set<string>[] = [new Set(), new Set(), new Set(), new Set()];
  private driven = new Set<number>();

  constructor(private readonly isaIrq: (irq: number) => IrqLine = () => ({ set: () => {} })) {
    this.config.allowWrite(PIIX3_PIRQ_ROUTE, 4, 0x8f);
    for (let i = 0; i < 4; i++) this.config.bytes[PIIX3_PIRQ_ROUTE + i] = PIRQ_DISABLED;
  }

  /** The INTx line of the function in `slot` with interrupt pin `pin` (1 = INTA ... 4 = INTD). */
  intxLine(slot: number, pin: 1 | 2 | 3 | 4): IrqLine {
    const pirq = pirqOf(slot, pin);
    const source = `${slot}:${pin}`;
    return {
      set: (level) => {
        if (level) this.asserted[pirq]!.add(source);
        else this.asserted[pirq]!.delete(source);
        this.drive();
      },
    };
  }

  /** The OS rewrote a route: lines follow their PIRQ to the new IRQ. */
  afterConfigWrite(): void {
    this.drive();
  }

  /** Drives each ISA IRQ some asserted PIRQ routes to; two PIRQs on one IRQ share it. */
  private drive(): void {
    const wanted = new Set<number>();
    for (let pirq = 0; pirq < 4; pirq++) {
      const route = this.config.bytes[PIIX3_PIRQ_ROUTE + pirq]!;
      const irq = route & 0x0f;
      // IRQs 0-2, 8 and 13 are the system's own (§4.1.9 marks them reserved): never driven.
      if (this.asserted[pirq]!.size > 0 && !(route & PIRQ_DISABLED) && !RESERVED_IRQS.includes(irq))
        wanted.add(irq);
    }
    for (const irq of this.driven) if (!wanted.has(irq)) this.isaIrq(irq).set(false);
    for (const irq of wanted) if (!this.driven.has(irq)) this.isaIrq(irq).set(true);
    this.driven = wanted;
  }
}

/** The PIRQ (0 = PIRQA) a function's INTx pin (1 = INTA ... 4 = INTD) in `slot` reaches. */
export function pirqOf(slot: number, pin: 1 | 2 | 3 | 4): number {
  return (slot - 1 + pin - 1) & 3;
}

export class Piix3Ide implements PciFunction {
  readonly name = 'PIIX3 IDE';
  readonly config = new PciConfigSpace(
    {
      vendorId: PIIX3_VENDOR_ID,
      deviceId: PIIX3_IDE_DEVICE_ID,
      classCode: 0x010180,
    },
    { bars: { [PIIX3_BUS_MASTER_BAR]: { kind: 'io', size: BUS_MASTER_PORT_COUNT } } },
  );

  /** Bus Master Enable (PCI command bit 2): the bus-master engines move data only with it. */
  get busMasterEnabled(): boolean {
    return (this.config.command & PCI_COMMAND_MASTER) !== 0;
  }

  constructor() {
    this.config.allowWrite(PIIX3_IDETIM_PRIMARY, 4, 0xff);
    this.config.setU32(PIIX3_IDETIM_PRIMARY, IDETIM_DECODE_ENABLE | (IDETIM_DECODE_ENABLE << 16));
  }
}

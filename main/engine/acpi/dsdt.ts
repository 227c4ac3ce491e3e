/**
 * Differentiated System Description Table (ACPI Specification 6.5, 5.2.11.1) with a hand-encoded
 * AML body (ACPI 6.5, chapter 20 "ACPI Machine Language (AML) Specification"). The direct machine
 * needs only one object:
 *
 *   Name (_S5_, Package (4) { 5, 5, 0, 0 })
 *
 * which tells the OS the SLP_TYP values for soft-off (7.4.2 "\_Sx (System States)": PM1a, PM1b,
 * two reserved). Linux's poweroff evaluates `\_S5_` and writes SLP_TYP=5|SLP_EN to PM1a_CNT,
 * which the acpi-pm device turns into "powered off". The encoding, from the grammar in 20.2:
 *   DefName    := NameOp(0x08) NameString PackageOp-term           (20.2.5.1)
 *   NameString := NameSeg "_S5_" (4 lead/name chars, root-relative) (20.2.2)
 *   DefPackage := PackageOp(0x12) PkgLength NumElements PackageElementList (20.2.5.4)
 *   PkgLength  := one byte (bits 7:6 = 0) when the length incl. itself is < 64 (20.2.4)
 *   5          := BytePrefix(0x0A) 0x05 (20.2.3, ComputationalData)
 *   0          := ZeroOp(0x00)
 *
 * Runtime: engine.
 */
import { SDT_HEADER_LENGTH, TableWriter, finishTable } from './sdt.js';

/** DSDT revision 2: integers are 64-bit (5.2.11.1). */
export const DSDT_REVISION = 2;

const AML_NAME_OP = 0x08;
const AML_PACKAGE_OP = 0x12;
const AML_BYTE_PREFIX = 0x0a;
const AML_ZERO_OP = 0x00;
const AML_ONE_OP = 0x01;

/** AML for one integer 0..255 (ZeroOp, OneOp or BytePrefix). */
function amlByteInteger(value: number): number[] {
  if (value === 0) return [AML_ZERO_OP];
  if (value === 1) return [AML_ONE_OP];
  return [AML_BYTE_PREFIX, value & 0xff];
}

/** A 4-character NameSeg (20.2.2: LeadNameChar then three NameChars). */
function amlNameSeg(name: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{3}$/.test(name)) throw new Error(`AML: bad NameSeg "${name}"`);
  return [...name].map((c) => c.charCodeAt(0));
}

/** `Name (_Sx_, Package (4) { typA, typB, 0, 0 })` for a sleep state. */
export function amlSleepState(name: string, slpTypA: number, slpTypB: number): Uint8Array {
  const elements = [
    ...amlByteInteger(slpTypA),
    ...amlByteInteger(slpTypB),
    ...amlByteInteger(0),
    ...amlByteInteger(0),
  ];
  const numElements = 4;
  const pkgLength = 1 + 1 + elements.length; // PkgLength byte + NumElements + elements
  if (pkgLength >= 64) throw new Error('AML: package too long for a one-byte PkgLength');
  return Uint8Array.from([
    AML_NAME_OP,
    ...amlNameSeg(name),
    AML_PACKAGE_OP,
    pkgLength,
    numElements,
    ...elements,
  ]);
}

/** PkgLength (20.2.4) for `contentLength` bytes that follow it: 1 to 4 bytes. */
function amlPkgLength(contentLength: number): number[] {
  for (let size = 1; size <= 4; size++) {
    const total = contentLength + size;
    if (size === 1 && total < 64) return [total];
    if (size > 1 && total < 1 << (4 + 8 * (size - 1))) {
      const out = [((size - 1) << 6) | (total & 0x0f)];
      for (let i = 1; i < size; i++) out.push((total >> (4 + 8 * (i - 1))) & 0xff);
      return out;
    }
  }
  throw new Error('AML: package too long');
}

/** A virtio-mmio device the DSDT announces (virtio 1.2 §4.2; Linux matches _HID "LNRO0005"). */
export interface VirtioMmioAcpiDevice {
  base: number;
  size: number;
  /** GSI of its level-triggered, active-high interrupt. */
  gsi: number;
}

/**
 * `Device (VRnn) { Name (_HID, "LNRO0005") Name (_UID, n) Name (_CRS, ResourceTemplate () {
 * Memory32Fixed (ReadWrite, base, size) Interrupt (ResourceConsumer, Level, ActiveHigh,
 * Exclusive) { gsi } }) }`, encoded per 20.2.5.2 (DefDevice = ExtOpPrefix 0x5B DeviceOp 0x82
 * PkgLength NameString TermList), 6.4.3.4 (32-bit fixed memory range descriptor, 0x86) and
 * 6.4.3.6 (extended interrupt descriptor, 0x89).
 */
export function amlVirtioMmioDevice(index: number, d: VirtioMmioAcpiDevice): Uint8Array {
  if (index < 0 || index > 99) throw new Error('AML: virtio-mmio index out of range');
  const name = `VR${String(index).padStart(2, '0')}`;
  const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const resources = [
    // Memory32Fixed: tag 0x86, length 9, information (bit 0: read/write), base, length.
    0x86,
    0x09,
    0x00,
    0x01,
    ...le32(d.base),
    ...le32(d.size),
    // Extended Interrupt: tag 0x89, length 6, flags (bit 0 consumer; bit 1 clear = level;
    // bit 2 clear = active high; bit 3 clear = exclusive), count 1, the interrupt number.
    0x89,
    0x06,
    0x00,
    0x01,
    0x01,
    ...le32(d.gsi),
    // End tag with checksum 0 ("treated as if the checksum operation succeeded").
    0x79,
    0x00,
  ];
  const buffer = [
    0x11, // BufferOp
    ...amlPkgLength(1 + 1 + resources.length),
    AML_BYTE_PREFIX,
    resources.length,
    ...resources,
  ];
  const hid = [...new TextEncoder().encode('LNRO0005'), 0x00];
  const body = [
    ...amlNameSeg(name),
    AML_NAME_OP,
    ...amlNameSeg('_HID'),
    0x0d,
    ...hid, // StringPrefix 0x0D
    AML_NAME_OP,
    ...amlNameSeg('_UID'),
    ...amlByteInteger(index),
    AML_NAME_OP,
    ...amlNameSeg('_CRS'),
    ...buffer,
  ];
  return Uint8Array.from([0x5b, 0x82, ...amlPkgLength(body.length), ...body]);
}

/** The 32-bit PCI memory window of a PC's host bridge (where firmware places BARs). */
export interface PciRootWindow {
  memoryBase: number;
  memoryLimit: number;
}

/**
 * `Device (PCI0)`: the PCI host bridge (PNP0A03), bus 0, with the resources it forwards (_CRS):
 * buses 0-255, the config ports 0xCF8-0xCFF (consumed), I/O 0-0xCF7 and 0xD00-0xFFFF, the VGA
 * window 0xA0000-0xBFFFF and the PCI memory window. With ACPI, Linux enumerates PCI only under
 * the host bridges the namespace declares (drivers/acpi/pci_root.c), so without this device a
 * PC guest sees no PCI device at all. Descriptors: ACPI 6.5 §6.4.2.5 (I/O port), §6.4.3.5.2-3
 * (DWord / Word Address Space).
 */
export function amlPciRootBridge(
  window: PciRootWindow,
  /** Objects inside the bridge's scope (the interrupt routing of amlPciInterruptRouting). */
  children: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const le16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
  const le32 = (v: number) => [...le16(v & 0xffff), ...le16(v >>> 16)];
  // Word Address Space: tag 0x88, length 13; type; general flags 0x0C (min and max fixed,
  // producer, positive decode); type flags; granularity, min, max, translation, length.
  const word = (type: number, typeFlags: number, min: number, max: number) => [
    0x88,
    0x0d,
    0x00,
    type,
    0x0c,
    typeFlags,
    ...le16(0),
    ...le16(min),
    ...le16(max),
    ...le16(0),
    ...le16(max - min + 1),
  ];
  const dword = (min: number, max: number) => [
    0x87,
    0x17,
    0x00,
    0x00,
    0x0c,
    0x01,
    ...le32(0),
    ...le32(min),
    ...le32(max),
    ...le32(0),
    ...le32(max - min + 1),
  ];
  const resources = [
    ...word(2, 0x00, 0x00, 0xff), // bus numbers
    0x47,
    0x01,
    0xf8,
    0x0c,
    0xf8,
    0x0c,
    0x01,
    0x08, // IO (Decode16, 0xCF8, 0xCF8, 1, 8)
    ...word(1, 0x03, 0x0000, 0x0cf7), // I/O below the config ports (entire range)
    ...word(1, 0x03, 0x0d00, 0xffff), // I/O above them
    ...dword(0xa0000, 0xbffff), // the legacy VGA window
    ...dword(window.memoryBase, window.memoryLimit),
    0x79,
    0x00, // end tag
  ];
  const lengthBytes =
    resources.length < 256
      ? [AML_BYTE_PREFIX, resources.length]
      : [0x0b, ...le16(resources.length)];
  const crs = [
    0x11,
    ...amlPkgLength(lengthBytes.length + resources.length),
    ...lengthBytes,
    ...resources,
  ];
  const body = [
    ...amlNameSeg('PCI0'),
    AML_NAME_OP,
    ...amlNameSeg('_HID'),
    0x0c,
    0x41,
    0xd0,
    0x0a,
    0x03, // DWordConst EisaId ("PNP0A03")
    AML_NAME_OP,
    ...amlNameSeg('_ADR'),
    AML_ZERO_OP,
    AML_NAME_OP,
    ...amlNameSeg('_UID'),
    AML_ZERO_OP,
    AML_NAME_OP,
    ...amlNameSeg('_BBN'),
    AML_ZERO_OP,
    AML_NAME_OP,
    ...amlNameSeg('_CRS'),
    ...crs,
    ...children,
  ];
  return Uint8Array.from([0x5b, 0x82, ...amlPkgLength(body.length), ...body]);
}

// Opcodes of ACPI 6.5 §20.2 the interrupt routing needs.
const AML_DWORD_PREFIX = 0x0c;
const AML_BUFFER_OP = 0x11;
const AML_METHOD_OP = 0x14;
const AML_ARG0_OP = 0x68;
const AML_STORE_OP = 0x70;
const AML_AND_OP = 0x7b;
const AML_OR_OP = 0x7d;
const AML_CREATE_DWORD_FIELD_OP = 0x8a;
const AML_IF_OP = 0xa0;
const AML_RETURN_OP = 0xa4;
const AML_EXT_OP_PREFIX = 0x5b;
const AML_EXT_OP_REGION_OP = 0x80;
const AML_EXT_FIELD_OP = 0x81;
const AML_EXT_DEVICE_OP = 0x82;
const AML_ROOT_CHAR = 0x5c;
const AML_MULTI_NAME_PREFIX = 0x2f;
/** Target := NullName: the result is not stored (20.2.2, 20.2.5.4). */
const AML_NULL_NAME = 0x00;
/** RegionSpace PCI_Config (19.6.100, table 19.x "Operation Region Address Space Identifiers"). */
const REGION_SPACE_PCI_CONFIG = 0x02;
/** FieldFlags: AccessType ByteAcc (1), LockRule NoLock, UpdateRule Preserve (20.2.5.2). */
const FIELD_FLAGS_BYTE_ACC = 0x01;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** An absolute NameString `\A.B.C` (20.2.2: RootChar MultiNamePrefix SegCount NameSegs). */
function amlAbsolutePath(...segments: string[]): number[] {
  return [AML_ROOT_CHAR, AML_MULTI_NAME_PREFIX, segments.length, ...segments.flatMap(amlNameSeg)];
}

/** `Device (name) { body }` (20.2.5.2). */
function amlDevice(name: string, body: number[]): number[] {
  const content = [...amlNameSeg(name), ...body];
  return [AML_EXT_OP_PREFIX, AML_EXT_DEVICE_OP, ...amlPkgLength(content.length), ...content];
}

/** `Method (name, args, serialized) { body }` (20.2.5.2: MethodFlags bits 2:0 ArgCount, bit 3). */
function amlMethod(name: string, args: number, serialized: boolean, body: number[]): number[] {
  const content = [...amlNameSeg(name), (args & 7) | (serialized ? 0x08 : 0), ...body];
  return [AML_METHOD_OP, ...amlPkgLength(content.length), ...content];
}

/** `Buffer () { bytes }` with its size as a byte or word constant (20.2.5.4 DefBuffer). */
function amlBuffer(bytes: readonly number[]): number[] {
  const size =
    bytes.length < 256
      ? [AML_BYTE_PREFIX, bytes.length]
      : [0x0b, bytes.length & 0xff, bytes.length >> 8];
  return [AML_BUFFER_OP, ...amlPkgLength(size.length + bytes.length), ...size, ...bytes];
}

/**
 * An Extended Interrupt descriptor (ACPI 6.5 §6.4.3.6, tag 0x89) for PCI INTx: consumer,
 * level-triggered, active high, shared (flags 0x09), as QEMU's DSDT describes its PCI links.
 * The first interrupt number sits at byte 5, which `_CRS` and `_SRS` below rely on.
 */
function pciLinkInterrupts(irqs: readonly number[]): number[] {
  return [0x89, 2 + 4 * irqs.length, 0x00, 0x09, irqs.length, ...irqs.flatMap(le32), 0x79, 0x00];
}

/** The ISA IRQs a PCI interrupt link offers the OS (_PRS): QEMU's PIIX choice. */
export const PCI_LINK_IRQS: readonly number[] = [5, 10, 11];

/**
 * PCI interrupt routing for an i440FX/PIIX3 PC, inside `Device (PCI0)` (ACPI 6.5 §6.2.13 _PRT,
 * §6.2.16 _SRS, §6.1.5 _STA; PCI interrupt link devices PNP0C0F). Without it an ACPI OS cannot
 * tell where a PCI function's INTx goes (Linux: "PCI INT A: no GSI") and falls back to the
 * interrupt line register with the IOAPIC pin's ISA defaults. The objects:
 *
 *   Device (ISA_) { Name (_ADR, 0x00010000)                      // 00:01.0, the PIIX3
 *     OperationRegion (PIRQ, PCI_Config, 0x60, 4) }              // PIRQ route control
 *   Field (\PCI0.ISA_.PIRQ, ByteAcc, NoLock, Preserve) { PRQA, 8, PRQB, 8, PRQC, 8, PRQD, 8 }
 *   Device (LNKA) { Name (_HID, EisaId ("PNP0C0F")) Name (_UID, 1)
 *     Name (_PRS, ResourceTemplate () { Interrupt (, Level, ActiveHigh, Shared) { 5, 10, 11 } })
 *     Method (_STA) { If (And (PRQA, 0x80)) { Return (0x09) } Return (0x0B) } // off: present
 *     Method (_DIS) { Or (PRQA, 0x80, PRQA) }
 *     Method (_CRS, 0, Serialized) { Name (BUFF, ResourceTemplate () { Interrupt (...) { 0 } })
 *       CreateDWordField (BUFF, 5, IRQW) Store (And (PRQA, 0x0F), IRQW) Return (BUFF) }
 *     Method (_SRS, 1) { CreateDWordField (Arg0, 5, IRQW) Store (IRQW, PRQA) } }
 *   ... LNKB-LNKD on PRQB-PRQD ...
 *   Name (_PRT, Package () { Package () { 0xSSSSFFFF, pin, LNKx, 0 }, ... })
 *
 * for every slot 1-31 and pin, LNKx being PIRQ (slot - 1 + pin) mod 4 (pin 0 = INTA), the
 * board's swizzle (../devices/piix3 pirqOf). The PIIX3 refuses reserved IRQs in its route
 * registers, so an OS asking _SRS for one gets a disabled link, not a wrong interrupt.
 */
export function amlPciInterruptRouting(isaSlot = 1): Uint8Array {
  const links = ['LNKA', 'LNKB', 'LNKC', 'LNKD'];
  const fields = ['PRQA', 'PRQB', 'PRQC', 'PRQD'];
  const isa = amlDevice('ISA_', [
    AML_NAME_OP,
    ...amlNameSeg('_ADR'),
    AML_DWORD_PREFIX,
    ...le32(isaSlot << 16),
    AML_EXT_OP_PREFIX,
    AML_EXT_OP_REGION_OP,
    ...amlNameSeg('PIRQ'),
    REGION_SPACE_PCI_CONFIG,
    AML_BYTE_PREFIX,
    0x60,
    AML_BYTE_PREFIX,
    0x04,
  ]);
  const fieldList = [
    ...amlAbsolutePath('PCI0', 'ISA_', 'PIRQ'),
    FIELD_FLAGS_BYTE_ACC,
    ...fields.flatMap((f) => [...amlNameSeg(f), 8]), // NamedField: NameSeg PkgLength(bits)
  ];
  const field = [
    AML_EXT_OP_PREFIX,
    AML_EXT_FIELD_OP,
    ...amlPkgLength(fieldList.length),
    ...fieldList,
  ];
  const linkDevices = links.flatMap((link, i) => {
    const reg = amlNameSeg(fields[i]!);
    const ifBody = [AML_AND_OP, ...reg, AML_BYTE_PREFIX, 0x80, AML_NULL_NAME];
    const ifThen = [AML_RETURN_OP, AML_BYTE_PREFIX, 0x09];
    const sta = amlMethod('_STA', 0, false, [
      AML_IF_OP,
      ...amlPkgLength(ifBody.length + ifThen.length),
      ...ifBody,
      ...ifThen,
      AML_RETURN_OP,
      AML_BYTE_PREFIX,
      0x0b,
    ]);
    const dis = amlMethod('_DIS', 0, false, [AML_OR_OP, ...reg, AML_BYTE_PREFIX, 0x80, ...reg]);
    const crs = amlMethod('_CRS', 0, true, [
      AML_NAME_OP,
      ...amlNameSeg('BUFF'),
      ...amlBuffer(pciLinkInterrupts([0])),
      AML_CREATE_DWORD_FIELD_OP,
      ...amlNameSeg('BUFF'),
      AML_BYTE_PREFIX,
      0x05,
      ...amlNameSeg('IRQW'),
      AML_STORE_OP,
      AML_AND_OP,
      ...reg,
      AML_BYTE_PREFIX,
      0x0f,
      AML_NULL_NAME,
      ...amlNameSeg('IRQW'),
      AML_RETURN_OP,
      ...amlNameSeg('BUFF'),
    ]);
    const srs = amlMethod('_SRS', 1, false, [
      AML_CREATE_DWORD_FIELD_OP,
      AML_ARG0_OP,
      AML_BYTE_PREFIX,
      0x05,
      ...amlNameSeg('IRQW'),
      AML_STORE_OP,
      ...amlNameSeg('IRQW'),
      ...reg,
    ]);
    return amlDevice(link, [
      AML_NAME_OP,
      ...amlNameSeg('_HID'),
      AML_DWORD_PREFIX,
      0x41,
      0xd0,
      0x0c,
      0x0f, // EisaId ("PNP0C0F")
      AML_NAME_OP,
      ...amlNameSeg('_UID'),
      ...amlByteInteger(i + 1),
      AML_NAME_OP,
      ...amlNameSeg('_PRS'),
      ...amlBuffer(pciLinkInterrupts(PCI_LINK_IRQS)),
      ...sta,
      ...dis,
      ...crs,
      ...srs,
    ]);
  });
  const entries: number[] = [];
  let count = 0;
  for (let slot = 1; slot < 32; slot++) {
    for (let pin = 0; pin < 4; pin++) {
      const element = [
        AML_DWORD_PREFIX,
        ...le32(((slot << 16) | 0xffff) >>> 0),
        ...amlByteInteger(pin),
        ...amlNameSeg(links[(slot - 1 + pin) & 3]!),
        AML_ZERO_OP,
      ];
      entries.push(AML_PACKAGE_OP, ...amlPkgLength(1 + element.length), 4, ...element);
      count++;
    }
  }
  const prt = [
    AML_NAME_OP,
    ...amlNameSeg('_PRT'),
    AML_PACKAGE_OP,
    ...amlPkgLength(1 + entries.length),
    count,
    ...entries,
  ];
  return Uint8Array.from([...isa, ...field, ...linkDevices, ...prt]);
}

/** A legacy ISA device with a PNP id ("PNPxxxx", as EisaId) and fixed I/O ports and IRQ. */
export interface LegacyAcpiDevice {
  /** Four-character AML name, e.g. "KBD_". */
  name: string;
  /** The PNP id's hex part, e.g. 0x0303 for PNP0303. */
  pnp: number;
  ports: readonly { base: number; length: number }[];
  irq?: number;
}

/**
 * `Device (name) { _HID EisaId("PNPxxxx"), _CRS { IO..., IRQNoFlags } }`. SeaBIOS reads the DSDT
 * and skips the PS/2 keyboard when no PNP0303 device is there (src/hw/ps2port.c), and Linux's
 * PNP layer finds the keyboard, mouse, RTC and UART this way. Descriptors: ACPI 6.5 §6.4.2.1
 * (IRQ, 2-byte form), §6.4.2.5 (I/O port).
 */
export function amlLegacyDevice(d: LegacyAcpiDevice): Uint8Array {
  const resources: number[] = [];
  for (const p of d.ports)
    resources.push(
      0x47,
      0x01,
      p.base & 0xff,
      p.base >> 8,
      p.base & 0xff,
      p.base >> 8,
      0x01,
      p.length,
    );
  if (d.irq !== undefined) resources.push(0x22, (1 << d.irq) & 0xff, (1 << d.irq) >> 8);
  resources.push(0x79, 0x00);
  const crs = [
    0x11,
    ...amlPkgLength(2 + resources.length),
    AML_BYTE_PREFIX,
    resources.length,
    ...resources,
  ];
  const body = [
    ...amlNameSeg(d.name),
    AML_NAME_OP,
    ...amlNameSeg('_HID'),
    0x0c,
    0x41,
    0xd0,
    (d.pnp >> 8) & 0xff,
    d.pnp & 0xff, // DWordConst EisaId ("PNPxxxx")
    AML_NAME_OP,
    ...amlNameSeg('_CRS'),
    ...crs,
  ];
  return Uint8Array.from([0x5b, 0x82, ...amlPkgLength(body.length), ...body]);
}

export function buildDsdt(options: {
  s5SleepType: number;
  virtioMmio?: readonly VirtioMmioAcpiDevice[];
  pciRoot?: PciRootWindow;
  /** Declare the PIIX3's PCI interrupt routing (_PRT and link devices) inside the PCI root. */
  pciInterruptRouting?: boolean;
  legacyDevices?: readonly LegacyAcpiDevice[];
}): Uint8Array {
  const parts = [
    amlSleepState('_S5_', options.s5SleepType, options.s5SleepType),
    ...(options.pciRoot
      ? [
          amlPciRootBridge(
            options.pciRoot,
            options.pciInterruptRouting ? amlPciInterruptRouting() : undefined,
          ),
        ]
      : []),
    ...(options.legacyDevices ?? []).map((d) => amlLegacyDevice(d)),
    ...(options.virtioMmio ?? []).map((d, i) => amlVirtioMmioDevice(i, d)),
  ];
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  const w = new TableWriter(SDT_HEADER_LENGTH + body.length);
  w.raw(SDT_HEADER_LENGTH, body);
  return finishTable(w, 'DSDT', DSDT_REVISION);
}

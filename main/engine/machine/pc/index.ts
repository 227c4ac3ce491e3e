/**
 * The PC machine: an i440FX/PIIX3 PC with SeaBIOS, the machine a VM created in the wizard boots
 * (firmware, El Torito CD-ROM, VGA screen, PS/2 keyboard), as QEMU's `-M pc` presents it.
 *
 * Assembly order (called by the VM host for every boot, including after a reset):
 *   1. guest memory: RAM, the firmware image and VRAM in one SharedArrayBuffer; slots for RAM
 *      below the VGA window, RAM from 0xC0000, and the BIOS read-only just below 4 GiB
 *      (./layout.ts); the BIOS's last 256 KiB copied to end at 1 MiB (the shadow copy SeaBIOS
 *      would make itself);
 *   2. the legacy devices on the port bus (COM1, i8042, RTC/CMOS with the memory size, the
 *      ACPI PM block, port 0x92, SeaBIOS's debug port 0x402) and the VGA (ports, legacy window);
 *   3. vCPUs from the architectural reset state: the BSP at F000:FFF0 (linear 0xFFFFFFF0, the
 *      BIOS's reset vector), APs waiting for INIT/SIPI in the in-kernel LAPIC.
 *
 * fw_cfg gives SeaBIOS the e820 map (`etc/e820`), the RAM size and the CPU count.
 *
 * PCI bus 0 (configuration mechanism #1 at 0xCF8), as QEMU's `-M pc -vga std` numbers it:
 *   00:00.0 i440FX host bridge, 00:01.0 PIIX3 ISA bridge (PIRQ routes for INTx), 00:01.1 PIIX3
 *   IDE (legacy ports, BAR4 bus-master DMA; the CD-ROM is the secondary channel's master, where
 *   QEMU's `-cdrom` puts it), 00:02.0 standard VGA 1234:1111 (BAR0 the framebuffer, BAR2 its
 *   registers, the option ROM vgabios-stdvga.bin), 00:04.0 and up: virtio-blk disks on
 *   virtio-pci (BAR4 the virtio structures, BAR1 the MSI-X table), 00:10.0 the virtio-input
 *   tablet (absolute pointer) on virtio-pci. SeaBIOS assigns the BARs; a
 *   BAR the guest places becomes a KVM memory slot (framebuffer, ROM: no exits), a range on the
 *   MMIO bus (registers) or on the port bus (the bus master).
 *
 * ACPI tables (DSDT, FADT on the ACPI PM block, MADT, XSDT, RSDP) reach SeaBIOS over fw_cfg's
 * table-loader (./acpi.ts), so the host's "ACPI shutdown" is a power button press the guest
 * sees; the boot order is the `bootorder` file.
 *
 * Runtime: engine (device thread).
 */
import { Bus, type BusDevice } from '../../bus.js';
import { GuestMemory } from '../../memory.js';
import { VirtioBlk } from '../../devices/virtio-blk/index.js';
import { VirtioTablet } from '../../devices/virtio-input/index.js';
import { VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_BAR, VirtioPci } from '../../devices/virtio-pci/index.js';
import { ACPI_PM_BASE, ACPI_PM_LENGTH, ACPI_SCI_IRQ, AcpiPm } from '../../devices/acpi-pm/index.js';
import { CmosRtc, RTC_INDEX_PORT } from '../../devices/cmos-rtc/index.js';
import { I8042, I8042_COMMAND_PORT, I8042_DATA_PORT } from '../../devices/i8042/index.js';
import { Serial16550, UART_LSR, UART_REGISTER_COUNT } from '../../devices/serial16550/index.js';
import {
  DISPI_INDEX_PORT,
  DISPI_PORT_COUNT,
  LEGACY_WINDOW_BASE,
  LEGACY_WINDOW_SIZE,
  MMIO_BAR_SIZE,
  StdVga,
  loadVgaRom,
  VGA_PORT_BASE,
  VGA_PORT_COUNT,
} from '../../devices/vga/index.js';
import type { MemorySlot, Vm } from '../../hypervisor/types.js';
import { I440fxHostBridge } from '../../devices/i440fx/index.js';
import { PIIX3_BUS_MASTER_BAR, Piix3Ide, Piix3IsaBridge } from '../../devices/piix3/index.js';
import {
  BUS_MASTER_PORT_COUNT,
  BusMasterChannel,
  busMasterPorts,
  type DmaMemory,
} from '../../devices/ide/bus-master.js';
import type { DiskImage } from '../../storage/index.js';
import {
  AtaDisk,
  AtapiCdrom,
  IDE_COMMAND_PORT_COUNT,
  IDE_CONTROL_PORT_COUNT,
  IDE_PRIMARY,
  IDE_SECONDARY,
  IdeChannel,
} from '../../devices/ide/index.js';
import {
  PCI_CONFIG_ADDRESS_PORT,
  PCI_CONFIG_PORT_COUNT,
  PciBus,
  PciConfigSpace,
  type PciFunction,
  type PciMapping,
} from '../../devices/pci/index.js';
import type { AssembledMachine, MachineCallbacks } from '../types.js';
import {
  BIOS_SHADOW_LIMIT,
  FIRST_MIB,
  planPcMemory,
  VGA_WINDOW_BASE,
  VGA_WINDOW_SIZE,
} from './layout.js';
import { DebugConsole, SystemControlPortA } from './legacy-ports.js';
import {
  FW_CFG_BOOT_MENU,
  FW_CFG_MAX_CPUS,
  FW_CFG_NB_CPUS,
  FW_CFG_PORT_DMA,
  FW_CFG_PORT_SELECTOR,
  FW_CFG_RAM_SIZE,
  FwCfg,
  e820File,
} from '../../devices/fw-cfg/index.js';

/** e820 type 1, usable RAM (ACPI 6.5 table 15.1). */
const E820_RAM = 1;
import type { ValidatedPcBoot } from './validate.js';
import { buildPcAcpi, LOADER_FILE, RSDP_FILE, TABLES_FILE } from './acpi.js';

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;
export const KEYBOARD_IRQ = 1;
export const AUX_IRQ = 12;
export const DEBUG_PORT = 0x402;
export const SYSTEM_CONTROL_PORT_A = 0x92;
/** VRAM of the standard VGA (QEMU's default for -vga std is 16 MiB). */
export const PC_VRAM_BYTES = 16 * 1024 * 1024;

export interface PcMachine extends AssembledMachine {
  vga: StdVga;
  i8042: I8042;
  pci: PciBus;
  /** The optical drive (always present, maybe empty): insert/eject change the medium live. */
  cdrom: AtapiCdrom;
}

/** PCI slot numbers on bus 0 (QEMU's `-M pc` order). */
export const PCI_SLOT_HOST_BRIDGE = 0;
export const PCI_SLOT_PIIX3 = 1;
export const PCI_SLOT_VGA = 2;
/** virtio disks take slots 4, 5, ... (3 is left for a network card, as in QEMU's `-M pc`). */
export const PCI_SLOT_FIRST_VIRTIO_DISK = 4;
/** The virtio tablet, after the last slot a virtio disk can take (MAX_DISKS is 8). */
export const PCI_SLOT_TABLET = 0x10;

/** A disk of the PC machine: an IDE hard disk or virtio-blk on its own virtio-pci function. */
export interface PcDisk {
  image: DiskImage;
  bus: 'ide' | 'virtio';
}

/**
 * OpenFirmware device paths SeaBIOS matches against the `bootorder` fw_cfg file (its log says
 * "Searching bootorder for: ..."; QEMU docs/specs/fw_cfg.rst, SeaBIOS src/boot.c): the PIIX3
 * IDE function is 00:01.1, `drive@N` the channel, `disk@N` the position on it.
 */
export const BOOT_PATH_CDROM = '/pci@i0cf8/*@1,1/drive@1/disk@0';
/** Where each disk sits, in the order of {@link BOOT_PATH_DISKS}. */
export const IDE_DISK_POSITIONS = ['primary master', 'primary slave', 'secondary slave'];
export const BOOT_PATH_DISKS = [
  '/pci@i0cf8/*@1,1/drive@0/disk@0',
  '/pci@i0cf8/*@1,1/drive@0/disk@1',
  '/pci@i0cf8/*@1,1/drive@1/disk@1',
];

/** SeaBIOS's path for a function in slot `slot`, function 0: "/pci@i0cf8/*@4" (hex slot). */
export function bootPathPciSlot(slot: number): string {
  return `/pci@i0cf8/*@${slot.toString(16)}`;
}

/**
 * The `bootorder` file: the CD-ROM and the disks where `order` names them; disks in the order
 * the VM lists them (IDE or virtio), so the first disk is the one the firmware tries first.
 */
export function bootOrderFile(
  order: readonly ('cdrom' | 'disk')[],
  diskPaths: readonly string[],
): Uint8Array {
  const lines: string[] = [];
  for (const device of order) {
    if (device === 'cdrom') lines.push(BOOT_PATH_CDROM);
    else lines.push(...diskPaths);
  }
  // SeaBIOS's bootorder is newline-separated and NUL-terminated (QEMU's get_boot_devices_list).
  return new TextEncoder().encode(lines.join('\n') + '\0');
}

/** `etc/boot-menu-wait`: a little-endian u16 of milliseconds (QEMU hw/nvram/fw_cfg.c). */
export function bootMenuWaitFile(timeoutMs: number): Uint8Array {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0xffff)
    throw new RangeError(`boot menu wait must be 0 to 65535 ms, not ${timeoutMs}`);
  return Uint8Array.of(timeoutMs & 0xff, timeoutMs >> 8);
}

export function assemblePcMachine(
  vm: Vm,
  pc: ValidatedPcBoot,
  callbacks: MachineCallbacks,
  disks: readonly PcDisk[] = [],
  bootOrder: readonly ('cdrom' | 'disk')[] = ['cdrom', 'disk'],
  bootMenu: { timeoutMs: number } | null = null,
): PcMachine {
  const ideImages = disks.filter((d) => d.bus === 'ide').map((d) => d.image);
  if (ideImages.length > BOOT_PATH_DISKS.length)
    throw new RangeError(`the PC machine takes at most ${BOOT_PATH_DISKS.length} IDE disks`);
  // Each disk's SeaBIOS boot path, in the VM's order of disks.
  let ideIndex = 0;
  let virtioIndex = 0;
  const diskBootPaths = disks.map((d) =>
    d.bus === 'ide'
      ? BOOT_PATH_DISKS[ideIndex++]!
      : bootPathPciSlot(PCI_SLOT_FIRST_VIRTIO_DISK + virtioIndex++),
  );
  const plan = planPcMemory(pc.memoryBytes, pc.firmware.length);
  // The VGA BIOS first: its size decides the guest memory buffer, and a missing seabios
  // package is the likeliest setup error.
  const romBytes = loadVgaRom().length;
  const vramOffset = plan.bufferBytes;
  const romOffset = vramOffset + PC_VRAM_BYTES;
  const memory = vm.allocateMemory(romOffset + Math.max(romBytes, 4096));
  for (const r of plan.regions) vm.mapMemory(r);
  // The firmware image below 4 GiB, and its last 256 KiB (at most) ending at 1 MiB. A 256 KiB
  // SeaBIOS is linked to run from 0xC0000-0xFFFFF: on QEMU it copies itself there from the
  // high ROM once the i440FX's PAM is unlocked (src/fw/shadow.c make_bios_writable); here
  // that RAM already holds the copy, so the BIOS runs whether or not it finds the bridge.
  memory.bytes.set(pc.firmware, plan.firmwareOffset);
  const shadow = pc.firmware.subarray(Math.max(0, pc.firmware.length - BIOS_SHADOW_LIMIT));
  memory.bytes.set(shadow, FIRST_MIB - shadow.length);
  // The VRAM the VGA device draws from is the slot the guest's framebuffer BAR maps, so
  // guest writes there bypass the device: the renderer cannot rely on its dirty tracking.
  const vga = new StdVga({
    vram: memory.bytes.subarray(vramOffset, vramOffset + PC_VRAM_BYTES),
    vramWritesTracked: false,
  });
  memory.bytes.set(vga.pci.rom, romOffset);

  const ports = new Bus('ports');
  const mmio = new Bus('mmio');
  const serial = new Serial16550({
    irq: callbacks.irq(COM1_IRQ),
    onTransmit: (byte) => callbacks.onSerialOutput(byte),
    // LSR is answered by the vCPU thread while reading it changes nothing (bus.ts sharedRead).
    publishLsr: (v) => ports.publishRead(COM1_BASE + UART_LSR, v),
  });
  const i8042 = new I8042({
    keyboardIrq: callbacks.irq(KEYBOARD_IRQ),
    auxIrq: callbacks.irq(AUX_IRQ),
    onReset: () => callbacks.onReset(),
  });
  const rtc = new CmosRtc({ ramBelow4G: pc.memoryBytes, ramAbove4G: 0, cpus: pc.cpus });
  const acpiPm = new AcpiPm({
    sci: callbacks.irq(ACPI_SCI_IRQ),
    onPowerOff: () => callbacks.onPowerOff(),
    onReset: () => callbacks.onReset(),
  });
  const debug = new DebugConsole((line) => callbacks.onLog(`firmware: ${line}`));
  // fw_cfg: how SeaBIOS learns the memory map and CPU count (the RAM the VM has, below 4 GiB).
  const fwCfg = new FwCfg(memory, pc.memoryBytes);
  fwCfg.setU64(FW_CFG_RAM_SIZE, pc.memoryBytes);
  fwCfg.setU16(FW_CFG_NB_CPUS, pc.cpus);
  fwCfg.setU16(FW_CFG_MAX_CPUS, pc.cpus);
  fwCfg.addFile('etc/e820', e820File(plan.e820.map((e) => ({ ...e, type: E820_RAM }))));
  fwCfg.addFile('bootorder', bootOrderFile(bootOrder, diskBootPaths));
  // The boot menu, as QEMU's `-boot menu=on,splash-time=MS` gives it: SeaBIOS reads the legacy
  // item 0x0e as `etc/show-boot-menu` (src/fw/paravirt.c qemu_cfg_legacy; absent reads 0, no
  // menu) and waits `etc/boot-menu-wait` ms for ESC (src/boot.c interactive_bootmenu).
  fwCfg.setU16(FW_CFG_BOOT_MENU, bootMenu === null ? 0 : 1);
  if (bootMenu !== null) fwCfg.addFile('etc/boot-menu-wait', bootMenuWaitFile(bootMenu.timeoutMs));
  // ACPI: SeaBIOS places and links the tables itself from these three files (./acpi.ts).
  const acpi = buildPcAcpi({ cpus: pc.cpus, ramBytes: pc.memoryBytes });
  fwCfg.addFile(RSDP_FILE, acpi.rsdp);
  fwCfg.addFile(TABLES_FILE, acpi.tables);
  fwCfg.addFile(LOADER_FILE, acpi.loader);
  const portA = new SystemControlPortA(() => callbacks.onReset());

  ports.register(COM1_BASE, UART_REGISTER_COUNT, serial, 'COM1 (16550A)', { sharedRead: true });
  ports.register(I8042_DATA_PORT, 1, i8042.dataPort, 'i8042 data');
  ports.register(I8042_COMMAND_PORT, 1, i8042.commandPort, 'i8042 status/command');
  ports.register(RTC_INDEX_PORT, 2, rtc, 'CMOS/RTC');
  ports.register(ACPI_PM_BASE, ACPI_PM_LENGTH, acpiPm, 'ACPI PM');
  ports.register(SYSTEM_CONTROL_PORT_A, 1, portA, 'system control port A');
  ports.register(FW_CFG_PORT_SELECTOR, 2, fwCfg.ioPorts, 'fw_cfg selector/data');
  ports.register(FW_CFG_PORT_DMA, 8, fwCfg.dmaPorts, 'fw_cfg DMA address');
  // Posted: the BIOS writes thousands of log bytes, each would otherwise wait for an answer.
  ports.register(DEBUG_PORT, 1, debug, 'SeaBIOS debug console', { posted: true });
  ports.register(VGA_PORT_BASE, VGA_PORT_COUNT, vga.ioPorts, 'VGA registers');
  ports.register(DISPI_INDEX_PORT, DISPI_PORT_COUNT, vga.dispiPorts, 'Bochs VBE DISPI');
  mmio.register(LEGACY_WINDOW_BASE, LEGACY_WINDOW_SIZE, vga.legacyWindow, 'VGA legacy window');

  // PCI: chipset, IDE, VGA.
  const pci = new PciBus(() => callbacks.onReset());
  pci.attach(PCI_SLOT_HOST_BRIDGE, 0, new I440fxHostBridge());
  const isaBridge = new Piix3IsaBridge((n) => callbacks.irq(n));
  pci.attach(PCI_SLOT_PIIX3, 0, isaBridge);
  const piix3Ide = new Piix3Ide();
  pci.attach(PCI_SLOT_PIIX3, 1, piix3Ide);
  const vgaFunction: PciFunction = {
    name: 'standard VGA',
    config: new PciConfigSpace(
      {
        vendorId: vga.pci.vendorId,
        deviceId: vga.pci.deviceId,
        classCode: vga.pci.classCode,
        revision: vga.pci.revision,
        subsystemVendorId: vga.pci.subsystemVendorId,
        subsystemId: vga.pci.subsystemId,
      },
      {
        bars: {
          0: { kind: 'memory32', size: PC_VRAM_BYTES, prefetchable: true },
          2: { kind: 'memory32', size: MMIO_BAR_SIZE },
        },
        romSize: romBytes,
      },
    ),
  };
  const slots = new Map<PciMapping['bar'], MemorySlot>();
  const mmioBars = new Map<PciMapping['bar'], number>();
  vgaFunction.config.onMap = (m) => {
    slots.get(m.bar)?.unmap();
    slots.delete(m.bar);
    const oldMmio = mmioBars.get(m.bar);
    if (oldMmio !== undefined) mmio.unregister(oldMmio);
    mmioBars.delete(m.bar);
    if (m.address === undefined) return;
    if (m.bar === 0) {
      slots.set(
        0,
        vm.mapMemory({ guestPhysical: m.address, memoryOffset: vramOffset, size: m.size }),
      );
    } else if (m.bar === 'rom') {
      const size = Math.max(romBytes, 4096);
      slots.set(
        'rom',
        vm.mapMemory({ guestPhysical: m.address, memoryOffset: romOffset, size, readOnly: true }),
      );
    } else if (m.bar === 2) {
      mmio.register(m.address, m.size, vga.mmioRegisters, 'VGA registers (BAR2)');
      mmioBars.set(2, m.address);
    }
  };
  pci.attach(PCI_SLOT_VGA, 0, vgaFunction);
  ports.register(PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORT_COUNT, pci, 'PCI configuration');

  // IDE as QEMU's -hda/-hdb/-cdrom/-hdd place drives: disks on the primary channel, the
  // CD-ROM as secondary master, a third disk as secondary slave.
  const cdrom = new AtapiCdrom();
  if (pc.cdromPath) cdrom.insert(pc.cdromPath);
  cdrom.reset();
  const ataDisks = ideImages.map(
    (image, n) => new AtaDisk(image, 'VIREO HARDDISK', `VIREO-HD${n}`),
  );
  // Bus-master DMA reaches RAM only: not the VGA window, the firmware or the PCI hole.
  const ramEnd = pc.memoryBytes;
  const dmaCheck = (address: number, length: number): void => {
    const end = address + length;
    const inRam = address >= 0 && end <= ramEnd;
    const inVgaWindow = address < VGA_WINDOW_BASE + VGA_WINDOW_SIZE && end > VGA_WINDOW_BASE;
    if (!inRam || inVgaWindow)
      throw new RangeError(`DMA to ${address.toString(16)}+${length.toString(16)} is not RAM`);
  };
  const dmaMemory: DmaMemory = {
    read: (address, into) => {
      dmaCheck(address, into.length);
      memory.read(address, into);
    },
    write: (address, from) => {
      dmaCheck(address, from.length);
      memory.write(address, from);
    },
  };
  const busMasters = [
    new BusMasterChannel(dmaMemory, () => piix3Ide.busMasterEnabled),
    new BusMasterChannel(dmaMemory, () => piix3Ide.busMasterEnabled),
  ] as const;
  const busMasterBlock = busMasterPorts(busMasters);
  let busMasterBase: number | undefined;
  piix3Ide.config.onMap = (m) => {
    if (m.bar !== PIIX3_BUS_MASTER_BAR) return;
    if (busMasterBase !== undefined) ports.unregister(busMasterBase);
    busMasterBase = undefined;
    if (m.address === undefined) return;
    try {
      ports.register(m.address, BUS_MASTER_PORT_COUNT, busMasterBlock, 'IDE bus master');
      busMasterBase = m.address;
    } catch {
      // The guest placed BAR4 over another device's ports: that window stays the other
      // device's and the bus-master block decodes nowhere, as two devices cannot both answer.
    }
  };
  const primary = new IdeChannel({
    irq: callbacks.irq(IDE_PRIMARY.irq),
    drives: [ataDisks[0], ataDisks[1]],
    busMaster: busMasters[0],
    publishAltStatus: (v) => ports.publishRead(IDE_PRIMARY.controlBase, v),
  });
  const secondary = new IdeChannel({
    irq: callbacks.irq(IDE_SECONDARY.irq),
    drives: [cdrom, ataDisks[2]],
    busMaster: busMasters[1],
    publishAltStatus: (v) => ports.publishRead(IDE_SECONDARY.controlBase, v),
  });
  for (const [channel, at, name] of [
    [primary, IDE_PRIMARY, 'IDE primary'],
    [secondary, IDE_SECONDARY, 'IDE secondary'],
  ] as const) {
    ports.register(at.commandBase, IDE_COMMAND_PORT_COUNT, channel.commandPorts, name);
    // Alternate status reads are answered by the vCPU thread from the published byte.
    ports.register(
      at.controlBase,
      IDE_CONTROL_PORT_COUNT,
      channel.controlPorts,
      `${name} control`,
      {
        sharedRead: true,
      },
    );
  }

  // virtio disks: virtio-blk on a virtio-pci function each, slots 4, 5, ... Their virtqueues
  // reach RAM only (a view of the buffer that stops at the end of RAM: not VRAM, not firmware).
  const ram = GuestMemory.fromShared({ ...memory.toShared(), size: pc.memoryBytes });
  const virtioDisks = disks
    .filter((d) => d.bus === 'virtio')
    .map((d, n) => {
      const slot = PCI_SLOT_FIRST_VIRTIO_DISK + n;
      const link: { transport?: VirtioPci } = {};
      const blk = new VirtioBlk({
        image: d.image,
        memory: ram,
        // One request queue per vCPU (VIRTIO_BLK_F_MQ), four at most, as QEMU's num-queues
        // default follows the vCPU count; each queue has its own MSI-X vector.
        queues: Math.min(pc.cpus, 4),
        serial: `VIREO-VD${n}`,
        onInterrupt: (queue) => link.transport?.usedBuffers(queue),
        onNeedsReset: (reason) => link.transport?.needsReset(reason),
      });
      const transport = new VirtioPci({
        device: blk,
        classCode: 0x010000,
        intx: isaBridge.intxLine(slot, 1),
        sendMsi: (address, data) => callbacks.msi(address, data),
        log: (line) => callbacks.onLog(line),
      });
      link.transport = transport;
      transport.config.onMap = mmioBarPlacer(mmio, `virtio-blk ${n}`, {
        [VIRTIO_PCI_BAR]: transport.barDevice,
        [VIRTIO_PCI_MSIX_BAR]: transport.msix.barDevice,
      });
      pci.attach(slot, 0, transport);
      return { blk, name: `virtio disk ${n}` };
    });

  // The tablet: absolute pointing for guests with a virtio-input driver (Linux's virtio_input),
  // so the console's pointer needs no capture; the PS/2 mouse stays for every other guest.
  const tabletLink: { transport?: VirtioPci } = {};
  const tablet = new VirtioTablet({
    memory: ram,
    onInterrupt: (queue) => tabletLink.transport?.usedBuffers(queue),
    onNeedsReset: (reason) => tabletLink.transport?.needsReset(reason),
  });
  const tabletTransport = new VirtioPci({
    device: tablet,
    classCode: 0x098000, // input device controller, other (as QEMU's virtio-input-pci)
    intx: isaBridge.intxLine(PCI_SLOT_TABLET, 1),
    sendMsi: (address, data) => callbacks.msi(address, data),
    log: (line) => callbacks.onLog(line),
  });
  tabletLink.transport = tabletTransport;
  tabletTransport.config.onMap = mmioBarPlacer(mmio, 'virtio-tablet', {
    [VIRTIO_PCI_BAR]: tabletTransport.barDevice,
    [VIRTIO_PCI_MSIX_BAR]: tabletTransport.msix.barDevice,
  });
  pci.attach(PCI_SLOT_TABLET, 0, tabletTransport);

  return {
    ports,
    mmio,
    // Every vCPU from the architectural reset state: the BSP runs the BIOS's reset vector.
    initialStates: [],
    serial,
    acpiPm,
    ramBytes: pc.memoryBytes,
    flushLogs: () => debug.flush(),
    stopTimers: () => i8042.keyboard.stopRepeat(),
    keyboard: i8042,
    mouse: i8042,
    tablet,
    vga,
    i8042,
    pci,
    cdrom,
    opticalDrive: cdrom,
    disks: [
      ...ataDisks.map((disk, n) => ({
        name: `IDE ${IDE_DISK_POSITIONS[n]}`,
        takeStats: () => disk.takeStats(),
      })),
      ...virtioDisks.map((d) => ({ name: d.name, takeStats: () => d.blk.takeStats() })),
    ],
  };
}

/**
 * The `onMap` of a function whose memory BARs are register blocks on the MMIO bus: each BAR
 * the guest places (or moves, or turns off) is (re)registered there. A BAR placed over another
 * device's range stays undecoded rather than taking that range over.
 */
function mmioBarPlacer(
  mmio: Bus,
  name: string,
  devices: Partial<Record<number, BusDevice>>,
): (m: PciMapping) => void {
  const placed = new Map<number, number>();
  return (m) => {
    if (m.bar === 'rom') return;
    const device = devices[m.bar];
    if (!device) return;
    const old = placed.get(m.bar);
    if (old !== undefined) mmio.unregister(old);
    placed.delete(m.bar);
    if (m.address === undefined) return;
    try {
      mmio.register(m.address, m.size, device, `${name} BAR${m.bar}`);
      placed.set(m.bar, m.address);
    } catch {
      // overlapping another device's range: left undecoded
    }
  };
}

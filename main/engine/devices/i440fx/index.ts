/**
 * The i440FX host bridge (82441FX PMC) at 00:00.0, as the 82441FX datasheet (doc 290549)
 * describes it and as SeaBIOS's QEMU build expects to find it: vendor 8086, device 1237,
 * class 06 00 00. SeaBIOS recognises the PC by this ID (src/fw/pciinit.c, i440fx_mem_addr_setup)
 * and unlocks the BIOS shadow through its PAM registers (src/fw/shadow.c).
 *
 * PAM0-PAM6 (59h-5Fh, §3.2.18) choose RAM or ROM for 0xC0000-0xFFFFF. In this machine that
 * range is always RAM holding the BIOS copy (machine/pc/layout.ts), so the registers only have
 * to keep what is written: SeaBIOS reads PAM0 bit 4 to learn whether the copy is there yet and
 * copies the BIOS again if not, which is harmless (same bytes). SMRAM (72h) is kept likewise;
 * SMM is not emulated.
 *
 * Runtime: engine (device thread).
 */
import { PciConfigSpace, type PciFunction } from '../pci/index.js';

export const I440FX_VENDOR_ID = 0x8086;
export const I440FX_DEVICE_ID = 0x1237;
export const I440FX_PAM0 = 0x59;
export const I440FX_PAM_COUNT = 7;
export const I440FX_SMRAM = 0x72;

export class I440fxHostBridge implements PciFunction {
  readonly name = 'i440FX host bridge';
  readonly config = new PciConfigSpace({
    vendorId: I440FX_VENDOR_ID,
    deviceId: I440FX_DEVICE_ID,
    classCode: 0x060000,
    revision: 0x02,
  });

  constructor() {
    this.config.allowWrite(I440FX_PAM0, I440FX_PAM_COUNT, 0x33);
    this.config.allowWrite(I440FX_SMRAM, 1, 0x78);
    this.config.bytes[I440FX_SMRAM] = 0x02; // default: C_BASE_SEG = 010b (datasheet §3.2.22)
  }
}

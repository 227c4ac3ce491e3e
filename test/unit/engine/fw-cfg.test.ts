/**
 * fw_cfg as SeaBIOS reads it (QEMU docs/specs/fw_cfg.rst): signature and ID through the data
 * port, the file directory's byte layout, a file through DMA into guest RAM, and hostile DMA
 * (descriptors or buffers outside RAM, writes): the error bit, never an exception.
 */
import { describe, expect, it } from 'vitest';
import {
  DMA_CTL_ERROR,
  DMA_CTL_READ,
  DMA_CTL_SELECT,
  DMA_CTL_SKIP,
  DMA_CTL_WRITE,
  FW_CFG_BOOT_MENU,
  FW_CFG_FILE_DIR,
  FW_CFG_ID,
  FW_CFG_SIGNATURE,
  FwCfg,
  e820File,
} from '../../../main/engine/devices/fw-cfg/index.js';
import { bootMenuWaitFile } from '../../../main/engine/machine/pc/index.js';
import { GuestMemory } from '../../../main/engine/memory.js';

function setup() {
  const memory = GuestMemory.allocate(1 << 20, () => 0);
  const f = new FwCfg(memory, 1 << 20);
  const select = (key: number) => f.ioPorts.write(0, Uint8Array.from([key & 0xff, key >> 8]));
  const readBytes = (n: number) =>
    Array.from({ length: n }, () => {
      const b = new Uint8Array(1);
      f.ioPorts.read(1, b);
      return b[0]!;
    });
  const dma = (descriptor: number, control: number, length: number, target: number) => {
    const v = new DataView(memory.bytes.buffer, memory.bytes.byteOffset + descriptor, 16);
    v.setUint32(0, control, false);
    v.setUint32(4, length, false);
    v.setBigUint64(8, BigInt(target), false);
    const word = new Uint8Array(4);
    new DataView(word.buffer).setUint32(0, 0, false);
    f.dmaPorts.write(0, word);
    new DataView(word.buffer).setUint32(0, descriptor, false);
    f.dmaPorts.write(4, word);
    return v.getUint32(0, false);
  };
  return { f, memory, select, readBytes, dma };
}

describe('fw_cfg', () => {
  it('reads the signature and ID through the data port, zeros past the end', () => {
    const { select, readBytes } = setup();
    select(FW_CFG_SIGNATURE);
    expect(String.fromCharCode(...readBytes(4))).toBe('QEMU');
    expect(readBytes(2)).toEqual([0, 0]);
    select(FW_CFG_ID);
    expect(readBytes(4)).toEqual([3, 0, 0, 0]);
  });

  it('lays out the file directory sorted by name and serves files by DMA', () => {
    const { f, select, readBytes, dma, memory } = setup();
    f.addFile('etc/e820', e820File([{ address: 0, length: 0x8000000, type: 1 }]));
    f.addFile('bootorder', new TextEncoder().encode('/pci@i0cf8/ide@1,1/drive@1/disk@0\n'));
    select(FW_CFG_FILE_DIR);
    const dir = Uint8Array.from(readBytes(4 + 128));
    const v = new DataView(dir.buffer);
    expect(v.getUint32(0, false)).toBe(2);
    expect(new TextDecoder().decode(dir.subarray(12, 21))).toBe('bootorder');
    expect(v.getUint16(8, false)).toBe(0x20);
    expect(v.getUint32(4 + 64, false)).toBe(20);
    expect(v.getUint16(8 + 64, false)).toBe(0x21);
    // DMA: select + read the e820 file into RAM at 0x2000.
    expect(dma(0x1000, (0x21 << 16) | DMA_CTL_SELECT | DMA_CTL_READ, 20, 0x2000)).toBe(0);
    expect(memory.readU64(0x2008)).toBe(0x8000000n);
    expect(memory.readU32(0x2010)).toBe(1);
    // Skip then read past the end: zeros.
    expect(dma(0x1000, (0x21 << 16) | DMA_CTL_SELECT | DMA_CTL_SKIP, 16, 0)).toBe(0);
    memory.bytes.fill(0xaa, 0x3000, 0x3010);
    expect(dma(0x1000, DMA_CTL_READ, 8, 0x3000)).toBe(0);
    expect([...memory.bytes.subarray(0x3000, 0x3008)]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('answers hostile DMA with the error bit', () => {
    const { dma, f } = setup();
    f.addFile('a', new Uint8Array(8));
    expect(dma(0x1000, (0x20 << 16) | DMA_CTL_SELECT | DMA_CTL_READ, 8, 0xfff_fffc)).toBe(
      DMA_CTL_ERROR,
    );
    expect(dma(0x1000, DMA_CTL_READ, 0xffff_ffff, 0x2000)).toBe(DMA_CTL_ERROR);
    expect(dma(0x1000, DMA_CTL_WRITE, 4, 0x2000)).toBe(DMA_CTL_ERROR);
    // A descriptor outside RAM: ignored (nowhere to write the status), no exception.
    const word = new Uint8Array(4);
    new DataView(word.buffer).setUint32(0, 0xfffffff0, false);
    expect(() => f.dmaPorts.write(4, word)).not.toThrow();
    expect(() => f.addFile('x'.repeat(56), new Uint8Array(1))).toThrow(/1 to 55 bytes/);
  });
});

describe('boot menu items', () => {
  it('encodes etc/boot-menu-wait as a little-endian u16 and refuses waits it cannot hold', () => {
    expect([...bootMenuWaitFile(2500)]).toEqual([0xc4, 0x09]);
    expect([...bootMenuWaitFile(65535)]).toEqual([0xff, 0xff]);
    for (const bad of [-1, 65536, 1.5, Number.NaN])
      expect(() => bootMenuWaitFile(bad)).toThrow(RangeError);
  });

  it('serves the legacy show-boot-menu item (0x0e) as SeaBIOS reads it: absent reads 0', () => {
    const { f, select, readBytes } = setup();
    select(FW_CFG_BOOT_MENU);
    expect(readBytes(2)).toEqual([0, 0]);
    f.setU16(FW_CFG_BOOT_MENU, 1);
    select(FW_CFG_BOOT_MENU);
    expect(readBytes(2)).toEqual([1, 0]);
  });
});

/**
 * Reads what an ISO image says about itself: the ISO 9660 primary volume descriptor (ECMA-119,
 * 8.4) and the El Torito boot catalog ("El Torito" Bootable CD-ROM Format Specification 1.0,
 * section 2). The file is hostile: every offset and count is bounds-checked, and anything that is
 * not a well-formed ISO gets an {@link IsoError} that says so.
 *
 * Runtime: Node.
 */
import { constants, promises as fs } from 'node:fs';
import type { IsoInfo } from '../../preload/contract.js';
import { osFromVolumeLabel } from './os-catalog.js';

const SECTOR = 2048;
/** ECMA-119 6.2.1: the system area is sectors 0-15; descriptors start at sector 16. */
const FIRST_DESCRIPTOR_SECTOR = 16;
/** A real ISO has a handful of descriptors; we stop looking after this many. */
const MAX_DESCRIPTORS = 64;

export class IsoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IsoError';
  }
}

/** ECMA-119 7.4/7.5: a- and d-characters padded with spaces. */
function text(buf: Buffer, offset: number, length: number): string {
  return buf
    .subarray(offset, offset + length)
    .toString('latin1')
    .replaceAll(String.fromCharCode(0), ' ')
    .trimEnd();
}

const PLATFORMS: Record<number, string> = { 0x00: 'x86', 0x01: 'ppc', 0x02: 'mac', 0xef: 'efi' };

export async function inspectIso(path: string): Promise<IsoInfo> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO given as the ISO must fail the regular-file check below, not
    // wait forever for a writer; it changes nothing for regular files.
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new IsoError(`ISO image not found at ${path}: choose another file`);
    if (code === 'EACCES')
      throw new IsoError(`ISO image ${path} is not readable: check its permissions`);
    if (code === 'EISDIR') throw new IsoError(`${path} is a folder, not an ISO image`);
    throw new IsoError(`cannot open ${path}: ${(e as Error).message}`);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new IsoError(`${path} is a folder, not an ISO image`);
    if (!stat.isFile()) throw new IsoError(`${path} is not a regular file`);
    if (stat.size < (FIRST_DESCRIPTOR_SECTOR + 2) * SECTOR) {
      throw new IsoError(`${path} is not an ISO 9660 image: it is too small (${stat.size} bytes)`);
    }
    const readSector = async (sector: number): Promise<Buffer> => {
      const buf = Buffer.alloc(SECTOR);
      const { bytesRead } = await handle.read(buf, 0, SECTOR, sector * SECTOR);
      if (bytesRead !== SECTOR)
        throw new IsoError(`${path} is truncated: sector ${sector} is past its end`);
      return buf;
    };

    let primary: Buffer | undefined;
    let bootCatalogSector: number | undefined;
    for (let i = 0; i < MAX_DESCRIPTORS; i++) {
      const sector = FIRST_DESCRIPTOR_SECTOR + i;
      if ((sector + 1) * SECTOR > stat.size) break;
      const vd = await readSector(sector);
      if (vd.toString('latin1', 1, 6) !== 'CD001') {
        if (i === 0)
          throw new IsoError(`${path} is not an ISO 9660 image (no CD001 signature at sector 16)`);
        break;
      }
      const type = vd[0];
      if (type === 255) break; // ECMA-119 8.3: volume descriptor set terminator
      if (type === 1 && !primary) primary = vd;
      // El Torito 2.0: boot record volume descriptor, type 0, "EL TORITO SPECIFICATION".
      if (type === 0 && text(vd, 7, 32) === 'EL TORITO SPECIFICATION')
        bootCatalogSector = vd.readUInt32LE(0x47);
    }
    if (!primary) throw new IsoError(`${path} has no ISO 9660 primary volume descriptor`);
    checkVolumeSize(path, primary, stat.size);

    const boot = { bootable: false, platforms: new Set<string>() };
    if (
      bootCatalogSector !== undefined &&
      bootCatalogSector > 0 &&
      (bootCatalogSector + 1) * SECTOR <= stat.size
    ) {
      parseBootCatalog(await readSector(bootCatalogSector), boot);
    }
    const volumeLabel = text(primary, 40, 32);
    const os = osFromVolumeLabel(volumeLabel);
    return {
      path,
      sizeBytes: stat.size,
      volumeLabel,
      publisher: text(primary, 318, 128),
      application: text(primary, 574, 128),
      bootable: boot.bootable,
      bootPlatforms: [...boot.platforms],
      detectedOs: os ? { id: os.id, family: os.family, label: os.label } : null,
    };
  } finally {
    await handle.close();
  }
}

/**
 * ECMA-119 8.4.8 and 8.4.12: the volume space size (in logical blocks, offset 80) and the logical
 * block size (offset 128) are "both-byte orders" fields (7.3.3: little- then big-endian copy).
 * A disagreeing pair, a block size other than 2048 (what every CD and ISO uses), or a volume
 * larger than the file means a damaged or truncated download, which is worth saying plainly.
 */
function checkVolumeSize(path: string, pvd: Buffer, fileSize: number): void {
  const blocks = pvd.readUInt32LE(80);
  const blockSize = pvd.readUInt16LE(128);
  if (blocks !== pvd.readUInt32BE(84) || blockSize !== pvd.readUInt16BE(130))
    throw new IsoError(
      `${path} has a damaged primary volume descriptor (its two copies of the volume size disagree)`,
    );
  if (blockSize !== SECTOR)
    throw new IsoError(
      `${path} uses ${blockSize}-byte logical blocks; Vireo reads ISO images with ${SECTOR}-byte blocks`,
    );
  const volumeBytes = blocks * blockSize;
  if (volumeBytes > fileSize)
    throw new IsoError(
      `${path} is truncated: the volume is ${volumeBytes} bytes but the file has ${fileSize} bytes; download it again`,
    );
}

/** El Torito 2.1-2.4: validation entry, default entry, then section headers and entries. */
function parseBootCatalog(
  catalog: Buffer,
  out: { bootable: boolean; platforms: Set<string> },
): void {
  // 2.1: header id 1, key bytes 55 AA, and the 16-bit words of the entry sum to zero.
  if (catalog[0] !== 0x01 || catalog[30] !== 0x55 || catalog[31] !== 0xaa) return;
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + catalog.readUInt16LE(i)) & 0xffff;
  if (sum !== 0) return;
  const platform = (id: number): string => PLATFORMS[id] ?? `0x${id.toString(16)}`;
  // 2.2: the initial/default entry; boot indicator 0x88 means bootable.
  if (catalog[32] === 0x88) {
    out.bootable = true;
    out.platforms.add(platform(catalog[1] ?? 0));
  }
  // 2.3/2.4: section headers (0x90, last one 0x91), each followed by its entries.
  let offset = 64;
  while (offset + 32 <= catalog.length) {
    const header = catalog[offset];
    if (header !== 0x90 && header !== 0x91) break;
    const id = catalog[offset + 1] ?? 0;
    const count = catalog.readUInt16LE(offset + 2);
    offset += 32;
    for (let n = 0; n < count && offset + 32 <= catalog.length; n++) {
      if (catalog[offset] === 0x88) {
        out.bootable = true;
        out.platforms.add(platform(id));
      }
      offset += 32;
      // 2.5: section entry extensions (indicator 0x44) follow their entry and are not counted.
      while (offset + 32 <= catalog.length && catalog[offset] === 0x44) offset += 32;
    }
    if (header === 0x91) break;
  }
}

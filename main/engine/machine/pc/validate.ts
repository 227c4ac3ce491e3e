/**
 * Everything that can be wrong with a PC-machine launch, found before any VM exists: the
 * firmware (SeaBIOS `bios-256k.bin` from Debian's `seabios` package unless another is chosen)
 * missing or of a size no BIOS has, an ISO that is missing or not a regular file, memory
 * outside what the PC machine lays out, too many vCPUs.
 *
 * Runtime: engine (before the hypervisor is touched).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { totalmem } from 'node:os';
import { MADT_MAX_CPUS } from '../../acpi/madt.js';
import { FIRMWARE_MAX_BYTES, FIRMWARE_MIN_BYTES, MiB, PC_MAX_LOW_RAM } from './layout.js';

export const DEFAULT_FIRMWARE = '/usr/share/seabios/bios-256k.bin';
export const DEFAULT_VGA_BIOS = '/usr/share/seabios/vgabios-stdvga.bin';
export const PC_MIN_MEMORY_BYTES = 16 * MiB;

/** A PC launch that cannot start, with what to do. `code` is stable for tests and logs. */
export class PcBootError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PcBootError';
  }
}

export interface PcBootRequest {
  firmwarePath: string;
  cdromPath: string | null;
  memoryBytes: number;
  cpus: number;
  hostMemoryBytes?: number;
}

export interface ValidatedPcBoot {
  firmware: Uint8Array;
  firmwarePath: string;
  cdromPath: string | null;
  /** ISO size in bytes (the CD-ROM rounds down to whole 2048-byte sectors). */
  cdromBytes: number;
  memoryBytes: number;
  cpus: number;
}

function statRegular(path: string, what: string, advice: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PcBootError(
      `${what}-unreadable`,
      `${what === 'firmware' ? 'firmware' : 'ISO image'} ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(e)})`}: ${advice}`,
    );
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new PcBootError(`${what}-not-file`, `${path} is not a regular file: ${advice}`);
  }
  return { fd, size: stat.size };
}

export function validatePcBoot(r: PcBootRequest): ValidatedPcBoot {
  const host = r.hostMemoryBytes ?? totalmem();
  if (!Number.isSafeInteger(r.memoryBytes) || r.memoryBytes % (4096 * 256) !== 0)
    throw new PcBootError('memory-not-mib', 'memory must be a whole number of MiB');
  if (r.memoryBytes < PC_MIN_MEMORY_BYTES)
    throw new PcBootError('memory-too-small', 'a PC needs at least 16 MiB of memory');
  if (r.memoryBytes > PC_MAX_LOW_RAM)
    throw new PcBootError(
      'memory-too-large',
      `the PC machine takes at most ${PC_MAX_LOW_RAM / MiB} MiB for now (RAM above 4 GiB is not built yet): lower the VM's memory`,
    );
  if (r.memoryBytes > host)
    throw new PcBootError(
      'memory-too-large',
      `${r.memoryBytes / MiB} MiB of memory is more than this host has (${Math.floor(host / MiB)} MiB): lower the VM's memory`,
    );
  if (!Number.isInteger(r.cpus) || r.cpus < 1 || r.cpus > MADT_MAX_CPUS)
    throw new PcBootError('cpus-out-of-range', `choose between 1 and ${MADT_MAX_CPUS} vCPUs`);

  const fw = statRegular(
    r.firmwarePath,
    'firmware',
    'install the BIOS with `apt-get install seabios`, or choose another firmware file',
  );
  let firmware: Uint8Array;
  try {
    if (fw.size < FIRMWARE_MIN_BYTES || fw.size > FIRMWARE_MAX_BYTES || fw.size % 65536 !== 0)
      throw new PcBootError(
        'firmware-size',
        `firmware ${r.firmwarePath} is ${fw.size} bytes; a PC BIOS image is a multiple of 64 KiB between 64 KiB and 16 MiB (SeaBIOS's bios-256k.bin is 256 KiB)`,
      );
    firmware = new Uint8Array(fw.size);
    let done = 0;
    while (done < fw.size) {
      const n = readSync(fw.fd, firmware, done, fw.size - done, done);
      if (n === 0)
        throw new PcBootError(
          'firmware-short',
          `firmware ${r.firmwarePath} shrank while being read`,
        );
      done += n;
    }
  } finally {
    closeSync(fw.fd);
  }

  let cdromBytes = 0;
  if (r.cdromPath !== null) {
    const iso = statRegular(r.cdromPath, 'cdrom', 'choose an existing ISO image');
    closeSync(iso.fd);
    if (iso.size < 2048)
      throw new PcBootError(
        'cdrom-too-small',
        `${r.cdromPath} is smaller than one CD sector (2048 bytes): it is not an ISO image`,
      );
    cdromBytes = iso.size;
  }
  return {
    firmware,
    firmwarePath: r.firmwarePath,
    cdromPath: r.cdromPath,
    cdromBytes,
    memoryBytes: r.memoryBytes,
    cpus: r.cpus,
  };
}

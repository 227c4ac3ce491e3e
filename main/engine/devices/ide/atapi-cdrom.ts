/**
 * An ATAPI CD-ROM drive: the SCSI/MMC commands that arrive in ATA PACKET commands, answered
 * from an ISO image. The ATA side (task file, DRQ blocks, interrupts) is ./index.ts; this file
 * only turns a 12-byte command descriptor block into data or sense.
 *
 * Commands, as SCSI Primary Commands (SPC-3), Multimedia Commands (MMC-5) and the ATAPI
 * specification (SFF-8020i) define them, and who sends them:
 *   TEST UNIT READY 00h, REQUEST SENSE 03h, INQUIRY 12h, READ CAPACITY 25h, READ(10) 28h,
 *   MODE SENSE(10) 5Ah (SeaBIOS's cdrom boot and Linux's sr probe);
 *   READ(12) A8h, READ CD BEh (user data only), SEEK 2Bh, READ TOC 43h (formats 0 and 1),
 *   GET CONFIGURATION 46h, GET EVENT STATUS NOTIFICATION 4Ah (media class), READ DISC
 *   INFORMATION 51h, MODE SENSE(6) 1Ah, START STOP UNIT 1Bh (eject), PREVENT ALLOW MEDIUM
 *   REMOVAL 1Eh, MECHANISM STATUS BDh, SET CD SPEED BBh (Linux's sr, cdrom_id, udev).
 * Anything else is CHECK CONDITION, ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, which is
 * what a real drive answers and what every driver handles.
 *
 * The CDB comes from the guest and is hostile: every LBA and length is checked against the
 * medium and capped (a READ may ask for 65,535 sectors; data is produced chunk by chunk, never
 * buffered whole), allocation lengths truncate responses as SPC-3 §4.3.4.6 says.
 *
 * Runtime: engine (device thread).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export const CD_SECTOR_SIZE = 2048;

/** SPC-3 §4.5.6 sense keys. */
export const SENSE_NONE = 0x0;
export const SENSE_NOT_READY = 0x2;
export const SENSE_ILLEGAL_REQUEST = 0x5;
export const SENSE_UNIT_ATTENTION = 0x6;

/** Additional sense codes (SPC-3 annex D). */
export const ASC_INVALID_OPCODE = 0x20;
export const ASC_LBA_OUT_OF_RANGE = 0x21;
export const ASC_INVALID_FIELD_IN_CDB = 0x24;
export const ASC_MEDIUM_MAY_HAVE_CHANGED = 0x28;
export const ASC_MEDIUM_NOT_PRESENT = 0x3a;
export const ASC_MEDIUM_REMOVAL_PREVENTED = 0x53;

export interface Sense {
  key: number;
  asc: number;
  ascq: number;
}

/** What a command produced: data for the host to read (maybe none), or a CHECK CONDITION. */
export type AtapiResult = { ok: true; data?: AtapiData } | { ok: false; sense: Sense };

/** Response data the ATA layer pulls in chunks of at most the byte count limit. */
export interface AtapiData {
  readonly length: number;
  /** Copies `out.length` bytes starting at `offset` (offset + out.length <= length). */
  read(offset: number, out: Uint8Array): void;
}

class BufferData implements AtapiData {
  constructor(private readonly bytes: Uint8Array) {}
  get length(): number {
    return this.bytes.length;
  }
  read(offset: number, out: Uint8Array): void {
    out.set(this.bytes.subarray(offset, offset + out.length));
  }
}

/** Sectors read straight from the image as the host asks for them. */
class SectorData implements AtapiData {
  readonly length: number;
  constructor(
    private readonly fd: number,
    private readonly firstLba: number,
    sectors: number,
  ) {
    this.length = sectors * CD_SECTOR_SIZE;
  }
  read(offset: number, out: Uint8Array): void {
    let done = 0;
    const position = this.firstLba * CD_SECTOR_SIZE + offset;
    while (done < out.length) {
      const n = readSync(this.fd, out, done, out.length - done, position + done);
      if (n <= 0) {
        // The image shrank under us: the rest reads as zeros rather than stale bytes.
        out.fill(0, done);
        return;
      }
      done += n;
    }
  }
}

const check = (key: number, asc: number, ascq = 0): AtapiResult => ({
  ok: false,
  sense: { key, asc, ascq },
});
const INVALID_FIELD = (): AtapiResult => check(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
const NOT_PRESENT = (): AtapiResult => check(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);

const be16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const be32 = (b: Uint8Array, at: number): number =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
function putBe16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}
function putBe32(b: Uint8Array, at: number, v: number): void {
  putBe16(b, at, v >>> 16);
  putBe16(b, at + 2, v & 0xffff);
}
function ascii(b: Uint8Array, at: number, width: number, text: string): void {
  for (let i = 0; i < width; i++) b[at + i] = i < text.length ? text.charCodeAt(i) & 0x7f : 0x20;
}

/** Truncate a response to the CDB's allocation length (SPC-3 §4.3.4.6). */
function respond(bytes: Uint8Array, allocation: number): AtapiResult {
  const n = Math.min(bytes.length, allocation);
  return n === 0 ? { ok: true } : { ok: true, data: new BufferData(bytes.subarray(0, n)) };
}

/** Logical block address to minutes/seconds/frames (MMC-5 §6.26.3.2.4: MSF = LBA + 150). */
function msf(lba: number): [number, number, number] {
  const total = lba + 150;
  return [Math.floor(total / 4500), Math.floor(total / 75) % 60, total % 75];
}

/** MMC-5 §5.3 profile numbers. */
const PROFILE_CD_ROM = 0x0008;
const PROFILE_DVD_ROM = 0x0010;
/** A CD holds at most about 900 MB; larger images are reported as DVD-ROM, as QEMU does. */
const CD_MAX_SECTORS = 405_000;

export interface MediumInfo {
  path: string;
  sectors: number;
}

export class AtapiCdrom {
  readonly kind = 'atapi' as const;
  private fd: number | undefined;
  private medium: MediumInfo | undefined;
  private sense: Sense = { key: SENSE_NONE, asc: 0, ascq: 0 };
  /** A medium change the host has not been told about yet (UNIT ATTENTION). */
  private unitAttention = false;
  /** GET EVENT STATUS NOTIFICATION media event not yet reported: 2 new media, 3 removal. */
  private mediaEvent = 0;
  private locked = false;

  constructor(
    readonly model = 'VIREO DVD-ROM',
    readonly serial = 'VIREO-CD0001',
  ) {}

  /** The ISO in the drive, if any. */
  get current(): MediumInfo | undefined {
    return this.medium;
  }

  /** Put an ISO in the drive (replacing what is there). Throws with a clear message if unreadable. */
  insert(path: string): void {
    const fd = openSync(path, 'r');
    let size: number;
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
      size = stat.size;
      if (size < CD_SECTOR_SIZE)
        throw new Error(
          `${path} is smaller than one CD sector (2048 bytes): it is not an ISO image`,
        );
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.closeMedium();
    this.fd = fd;
    // A trailing partial sector is not addressable (ISO 9660 images are whole sectors).
    this.medium = { path, sectors: Math.floor(size / CD_SECTOR_SIZE) };
    this.unitAttention = true;
    this.mediaEvent = 2;
  }

  /** Take the disc out (the host's "eject"; a guest lock does not stop the host). */
  eject(): void {
    if (!this.medium) return;
    this.closeMedium();
    this.unitAttention = true;
    this.mediaEvent = 3;
  }

  /** Power-on state: a disc present at reset raises no UNIT ATTENTION. */
  reset(): void {
    this.unitAttention = false;
    this.mediaEvent = 0;
    this.locked = false;
    this.sense = { key: SENSE_NONE, asc: 0, ascq: 0 };
  }

  close(): void {
    this.closeMedium();
  }

  private closeMedium(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.medium = undefined;
  }

  /** Runs one CDB; a CHECK CONDITION also becomes the sense REQUEST SENSE returns. */
  execute(cdb: Uint8Array): AtapiResult {
    const result = this.dispatch(cdb);
    if (!result.ok) this.sense = result.sense;
    else if (cdb[0] !== 0x03) this.sense = { key: SENSE_NONE, asc: 0, ascq: 0 };
    return result;
  }

  private dispatch(cdb: Uint8Array): AtapiResult {
    const op = cdb[0]!;
    // These report status without consuming a pending UNIT ATTENTION (MMC-5 §4.1.6.1).
    switch (op) {
      case 0x03:
        return this.requestSense(cdb);
      case 0x12:
        return this.inquiry(cdb);
      case 0x46:
        return this.getConfiguration(cdb);
      case 0x4a:
        return this.getEventStatus(cdb);
    }
    if (this.unitAttention) {
      this.unitAttention = false;
      return check(SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED);
    }
    switch (op) {
      case 0x00: // TEST UNIT READY
        return this.medium ? { ok: true } : NOT_PRESENT();
      case 0x1a:
        return this.modeSense(cdb, false);
      case 0x5a:
        return this.modeSense(cdb, true);
      case 0x1b:
        return this.startStop(cdb);
      case 0x1e: // PREVENT ALLOW MEDIUM REMOVAL: bit 0 of byte 4 prevents
        this.locked = (cdb[4]! & 1) !== 0;
        return { ok: true };
      case 0x25:
        return this.readCapacity();
      case 0x28:
        return this.read(be32(cdb, 2), be16(cdb, 7));
      case 0xa8:
        return this.read(be32(cdb, 2), be32(cdb, 6));
      case 0xbe:
        return this.readCd(cdb);
      case 0x2b: // SEEK(10)
        if (!this.medium) return NOT_PRESENT();
        return be32(cdb, 2) < this.medium.sectors
          ? { ok: true }
          : check(SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
      case 0x43:
        return this.readToc(cdb);
      case 0x51:
        return this.readDiscInformation(cdb);
      case 0xbd:
        return this.mechanismStatus(cdb);
      case 0xbb: // SET CD SPEED: accepted; an image has no speed
        return { ok: true };
      default:
        return check(SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
    }
  }

  private requestSense(cdb: Uint8Array): AtapiResult {
    // Fixed-format sense data (SPC-3 §4.5.3), 18 bytes.
    const b = new Uint8Array(18);
    b[0] = 0x70; // current error, fixed format
    b[2] = this.sense.key;
    b[7] = 10; // additional sense length
    b[12] = this.sense.asc;
    b[13] = this.sense.ascq;
    this.sense = { key: SENSE_NONE, asc: 0, ascq: 0 };
    return respond(b, cdb[4]!);
  }

  private inquiry(cdb: Uint8Array): AtapiResult {
    if (cdb[1]! & 1) return INVALID_FIELD(); // vital product data pages: none
    if (cdb[2] !== 0) return INVALID_FIELD();
    // Standard INQUIRY data (SPC-3 §6.4.2), 36 bytes.
    const b = new Uint8Array(36);
    b[0] = 0x05; // peripheral device type: CD/DVD
    b[1] = 0x80; // removable medium
    b[2] = 0x00; // version: ATAPI devices report 0 (SFF-8020i)
    b[3] = 0x21; // ATAPI version 2, response data format 1
    b[4] = 36 - 5; // additional length
    ascii(b, 8, 8, 'VIREO');
    ascii(b, 16, 16, this.model.replace(/^VIREO /, ''));
    ascii(b, 32, 4, '1.0');
    return respond(b, cdb[4]!);
  }

  private readCapacity(): AtapiResult {
    if (!this.medium) return NOT_PRESENT();
    const b = new Uint8Array(8);
    putBe32(b, 0, Math.max(0, this.medium.sectors - 1)); // last LBA
    putBe32(b, 4, CD_SECTOR_SIZE);
    return { ok: true, data: new BufferData(b) };
  }

  private read(lba: number, sectors: number): AtapiResult {
    if (!this.medium || this.fd === undefined) return NOT_PRESENT();
    if (sectors === 0) return { ok: true };
    if (lba >= this.medium.sectors || sectors > this.medium.sectors - lba)
      return check(SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
    return { ok: true, data: new SectorData(this.fd, lba, sectors) };
  }

  private readCd(cdb: Uint8Array): AtapiResult {
    // READ CD (MMC-5 §6.19): only user data of 2048-byte (mode 1 / mode 2 form 1) sectors.
    const sectors = (cdb[6]! << 16) | (cdb[7]! << 8) | cdb[8]!;
    const fields = cdb[9]!;
    const expectedType = (cdb[1]! >> 2) & 7;
    if (expectedType !== 0 && expectedType !== 2) return INVALID_FIELD();
    if (fields === 0) return this.read(be32(cdb, 2), 0);
    if (fields !== 0x10) return INVALID_FIELD();
    return this.read(be32(cdb, 2), sectors);
  }

  private readToc(cdb: Uint8Array): AtapiResult {
    if (!this.medium) return NOT_PRESENT();
    const useMsf = (cdb[1]! & 2) !== 0;
    // Format in byte 2 bits 3:0; older drivers put it in byte 9 bits 7:6 (SFF-8020i).
    const format = cdb[2]! & 0xf || cdb[9]! >> 6;
    const allocation = be16(cdb, 7);
    const address = (b: Uint8Array, at: number, lba: number): void => {
      if (useMsf) {
        const [m, s, f] = msf(lba);
        b[at] = 0;
        b[at + 1] = m;
        b[at + 2] = s;
        b[at + 3] = f;
      } else putBe32(b, at, lba);
    };
    if (format === 0) {
      const start = cdb[6]!;
      if (start > 1 && start !== 0xaa) return INVALID_FIELD();
      const tracks: [number, number][] = [];
      if (start <= 1) tracks.push([1, 0]);
      tracks.push([0xaa, this.medium.sectors]); // lead-out
      const b = new Uint8Array(4 + tracks.length * 8);
      putBe16(b, 0, b.length - 2);
      b[2] = 1; // first track
      b[3] = 1; // last track
      tracks.forEach(([track, lba], i) => {
        const at = 4 + i * 8;
        b[at + 1] = 0x14; // ADR 1 (position), control 4 (data track)
        b[at + 2] = track;
        address(b, at + 4, lba);
      });
      return respond(b, allocation);
    }
    if (format === 1) {
      // Multi-session information: one session, its first track is track 1 at LBA 0.
      const b = new Uint8Array(12);
      putBe16(b, 0, 10);
      b[2] = 1;
      b[3] = 1;
      b[5] = 0x14;
      b[6] = 1;
      address(b, 8, 0);
      return respond(b, allocation);
    }
    return INVALID_FIELD();
  }

  private currentProfile(): number {
    if (!this.medium) return 0;
    return this.medium.sectors > CD_MAX_SECTORS ? PROFILE_DVD_ROM : PROFILE_CD_ROM;
  }

  private getConfiguration(cdb: Uint8Array): AtapiResult {
    // MMC-5 §6.6: header, then feature descriptors from the starting feature number.
    const rt = cdb[1]! & 3;
    if (rt === 3) return INVALID_FIELD();
    const startFeature = be16(cdb, 2);
    const profile = this.currentProfile();
    const features: Uint8Array[] = [];
    // Feature 0000h Profile List: both profiles we can be, the current one flagged.
    const profiles = new Uint8Array(4 + 8);
    profiles[2] = 0x03; // persistent, current
    profiles[3] = 8;
    putBe16(profiles, 4, PROFILE_DVD_ROM);
    profiles[6] = profile === PROFILE_DVD_ROM ? 1 : 0;
    putBe16(profiles, 8, PROFILE_CD_ROM);
    profiles[10] = profile === PROFILE_CD_ROM ? 1 : 0;
    features.push(profiles);
    // Feature 0001h Core: physical interface ATAPI (2).
    const core = new Uint8Array(4 + 8);
    putBe16(core, 0, 0x0001);
    core[2] = 0x0b; // version 2, persistent, current
    core[3] = 8;
    putBe32(core, 4, 2);
    features.push(core);
    // Feature 0003h Removable Medium: tray, eject, lock.
    const removable = new Uint8Array(4 + 4);
    putBe16(removable, 0, 0x0003);
    removable[2] = 0x03;
    removable[3] = 4;
    removable[4] = 0x29 | (this.locked ? 0x02 : 0); // tray loading, eject, lock
    features.push(removable);
    const chosen = features.filter((f) => {
      const code = be16(f, 0);
      if (rt === 2) return code === startFeature;
      return code >= startFeature && (rt === 0 || (f[2]! & 1) === 1);
    });
    const total = 8 + chosen.reduce((n, f) => n + f.length, 0);
    const b = new Uint8Array(total);
    putBe32(b, 0, total - 4);
    putBe16(b, 6, profile);
    let at = 8;
    for (const f of chosen) {
      b.set(f, at);
      at += f.length;
    }
    return respond(b, be16(cdb, 7));
  }

  private getEventStatus(cdb: Uint8Array): AtapiResult {
    // MMC-5 §6.7: only polled operation; only the media class.
    if (!(cdb[1]! & 1)) return INVALID_FIELD();
    const requested = cdb[4]!;
    const allocation = be16(cdb, 7);
    const MEDIA_CLASS = 0x10;
    if (!(requested & MEDIA_CLASS)) {
      const b = new Uint8Array(4);
      putBe16(b, 0, 2);
      b[2] = 0x80; // no event available
      b[3] = MEDIA_CLASS;
      return respond(b, allocation);
    }
    const b = new Uint8Array(8);
    putBe16(b, 0, 6);
    b[2] = 4; // notification class: media
    b[3] = MEDIA_CLASS;
    b[4] = this.mediaEvent;
    b[5] = this.medium ? 0x02 : 0x00; // media present; door closed
    this.mediaEvent = 0;
    return respond(b, allocation);
  }

  private modeSense(cdb: Uint8Array, ten: boolean): AtapiResult {
    const pageControl = cdb[2]! >> 6;
    const page = cdb[2]! & 0x3f;
    if (pageControl === 3) return check(SENSE_ILLEGAL_REQUEST, 0x39); // saving not supported
    const pages: Uint8Array[] = [];
    if (page === 0x01 || page === 0x3f) {
      // Read/write error recovery page (MMC-5 §7.3): read retry count 5.
      const p = new Uint8Array(8);
      p[0] = 0x01;
      p[1] = 6;
      p[3] = pageControl === 1 ? 0 : 5;
      pages.push(p);
    }
    if (page === 0x2a || page === 0x3f) {
      // CD/DVD capabilities and mechanical status page (MMC-3 §5.5.10), 20 bytes.
      const p = new Uint8Array(20);
      p[0] = 0x2a;
      p[1] = 18;
      if (pageControl !== 1) {
        p[2] = 0x3b; // reads CD-R, CD-RW, method 2, DVD-ROM, DVD-R, DVD-RAM
        p[4] = 0x71; // multi-session, mode 2 form 1/2, audio play
        p[5] = 0x03; // CD-DA commands, accurate stream
        p[6] = 0x29 | (this.locked ? 0x02 : 0); // tray, eject, lock (and its state)
        putBe16(p, 8, 706 * 4); // maximum read speed, kB/s
        putBe16(p, 10, 256); // volume levels
        putBe16(p, 12, 512); // buffer size, KiB
        putBe16(p, 14, 706 * 4); // current read speed
      }
      pages.push(p);
    }
    if (pages.length === 0) return INVALID_FIELD();
    const headerLength = ten ? 8 : 4;
    const total = headerLength + pages.reduce((n, p) => n + p.length, 0);
    const b = new Uint8Array(total);
    if (ten) putBe16(b, 0, total - 2);
    else b[0] = Math.min(255, total - 1);
    // Medium type (byte 2 / byte 1): 0x70 "door closed, no disc", 0x01 "120 mm data disc".
    b[ten ? 2 : 1] = this.medium ? 0x01 : 0x70;
    let at = headerLength;
    for (const p of pages) {
      b.set(p, at);
      at += p.length;
    }
    return respond(b, ten ? be16(cdb, 7) : cdb[4]!);
  }

  private startStop(cdb: Uint8Array): AtapiResult {
    const start = (cdb[4]! & 1) !== 0;
    const loadEject = (cdb[4]! & 2) !== 0;
    if (loadEject && !start) {
      if (this.locked) return check(SENSE_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED, 2);
      if (this.medium) {
        this.closeMedium();
        this.mediaEvent = 3;
      }
    }
    return { ok: true };
  }

  private readDiscInformation(cdb: Uint8Array): AtapiResult {
    if (!this.medium) return NOT_PRESENT();
    if ((cdb[1]! & 7) !== 0) return INVALID_FIELD(); // only standard disc information
    // MMC-5 §6.22.3, 34 bytes: a finalised single-session disc with one track.
    const b = new Uint8Array(34);
    putBe16(b, 0, 32);
    b[2] = 0x0e; // last session complete, disc complete
    b[3] = 1; // first track
    b[4] = 1; // sessions (LSB)
    b[5] = 1; // first track in last session
    b[6] = 1; // last track in last session
    b[7] = 0x20; // unrestricted use
    b[8] = 0x00; // disc type: CD-DA or CD-ROM
    putBe32(b, 16, 0xffffffff); // last session lead-in start: none (finalised)
    putBe32(b, 20, 0xffffffff); // last possible lead-out: none
    return respond(b, be16(cdb, 7));
  }

  private mechanismStatus(cdb: Uint8Array): AtapiResult {
    // MMC-5 §6.10: an 8-byte header, no changer slots.
    const b = new Uint8Array(8);
    return respond(b, be16(cdb, 8));
  }
}

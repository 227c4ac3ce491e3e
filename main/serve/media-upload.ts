/**
 * Browser mode's way for an ISO dropped on the window to reach this host: `POST /media?name=F.iso`
 * with the file as the body. A browser page cannot give the server a path on the user's machine
 * (the Electron app gets one from `webUtils.getPathForFile` instead), so the bytes are copied
 * into the library's media folder, `<library root>/Media/`, and the answer names the file there.
 *
 * Checked before a byte is written: the token and the page's own Origin (the caller in
 * main/serve/index.ts), the name (a plain `*.iso` file name, no path), a Content-Length, and the
 * size against {@link MAX_UPLOAD_BYTES} and the free space of the media folder's file system.
 * The body goes to a temp file in the same folder; only a complete upload that holds an ISO 9660
 * primary volume descriptor (ECMA-119 §8.4: type 1, "CD001" at sector 16) is fsynced and renamed
 * into place, under a name that does not replace an existing file. Anything else leaves nothing
 * behind.
 *
 * Runtime: Node (browser-mode server).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { MEDIA_FOLDER } from '../control/media.js';

/** The biggest upload taken: larger than any install DVD (a Debian DVD is ~4 GiB). */
export const MAX_UPLOAD_BYTES = 16 * 1024 ** 3;
/** Free space left over after an upload, so the library's own writes still fit. */
const FREE_SPACE_MARGIN = 512 * 1024 ** 2;
const ISO_PVD_OFFSET = 16 * 2048;

export class UploadRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'UploadRefused';
  }
}

/** A plain file name ending in .iso: letters, digits, space and `._-()+,`, at most 200 bytes. */
export function checkMediaName(name: string | null): string {
  if (!name) throw new UploadRefused(400, 'The upload has no file name.');
  if (!/^[\w .()+,-]{1,200}$/.test(name) || name.startsWith('.') || !/\.iso$/i.test(name))
    throw new UploadRefused(
      415,
      `"${name.slice(0, 80)}" is not an ISO image name: only .iso files can be added as media.`,
    );
  return name;
}

/** `name`, or `stem (2).iso`, `stem (3).iso`... : the first that does not exist in `folder`. */
async function freeName(folder: string, name: string): Promise<string> {
  const ext = path.extname(name);
  const stem = name.slice(0, -ext.length);
  for (let n = 1; n < 1000; n++) {
    const candidate = path.join(folder, n === 1 ? name : `${stem} (${n})${ext}`);
    try {
      await fs.access(candidate);
    } catch {
      return candidate;
    }
  }
  throw new UploadRefused(409, `Too many files named like "${name}" in ${folder}.`);
}

/**
 * Stores the request body as an ISO in `<libraryRoot>/Media/`; resolves with its path or rejects
 * with {@link UploadRefused} (status and sentence for the person) or an I/O error.
 */
export async function receiveMedia(
  req: IncomingMessage,
  libraryRoot: string,
  requestedName: string | null,
): Promise<string> {
  const name = checkMediaName(requestedName);
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined || !/^\d{1,15}$/.test(lengthHeader))
    throw new UploadRefused(411, 'The upload must say its size (Content-Length).');
  const length = Number(lengthHeader);
  if (length < ISO_PVD_OFFSET + 2048)
    throw new UploadRefused(415, `${name} is too small to be an ISO image.`);
  if (length > MAX_UPLOAD_BYTES)
    throw new UploadRefused(
      413,
      `${name} is ${gib(length)}; the largest ISO this server takes is ${gib(MAX_UPLOAD_BYTES)}.`,
    );
  const folder = path.join(libraryRoot, MEDIA_FOLDER);
  await fs.mkdir(folder, { recursive: true, mode: 0o755 });
  const stats = await fs.statfs(folder);
  const free = stats.bavail * stats.bsize;
  if (length + FREE_SPACE_MARGIN > free)
    throw new UploadRefused(
      413,
      `${name} is ${gib(length)} but ${folder} has only ${gib(free)} free: make room first.`,
    );

  const temp = path.join(folder, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'wx+', 0o644);
  let received = 0;
  let kept = false;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > length)
        throw new UploadRefused(400, 'The upload is longer than its Content-Length.');
      await handle.write(chunk);
    }
    if (received !== length)
      throw new UploadRefused(400, `The upload stopped after ${received} of ${length} bytes.`);
    const pvd = Buffer.alloc(6);
    await handle.read(pvd, 0, 6, ISO_PVD_OFFSET);
    if (pvd[0] !== 1 || pvd.subarray(1, 6).toString('latin1') !== 'CD001')
      throw new UploadRefused(
        415,
        `${name} is not an ISO 9660 image (no primary volume descriptor at sector 16).`,
      );
    await handle.sync();
    await handle.close();
    const target = await freeName(folder, name);
    // link + unlink: unlike rename, link never replaces a file that appeared meanwhile.
    await fs.link(temp, target);
    kept = true;
    await fs.rm(temp, { force: true });
    const dir = await fs.open(folder, 'r');
    await dir.sync().finally(() => dir.close());
    return target;
  } finally {
    await handle.close().catch(() => undefined);
    if (!kept) await fs.rm(temp, { force: true }).catch(() => undefined);
  }
}

function gib(bytes: number): string {
  return bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GiB`
    : `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

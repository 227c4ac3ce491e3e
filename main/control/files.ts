/**
 * Folder listing for the browser-mode file picker (a browser has no native open dialog that
 * yields host paths). Lists one folder: sub-folders, and files with the wanted extensions.
 *
 * Runtime: Node.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BridgeFailure, type CallValue, type DirectoryEntry } from '../../preload/contract.js';

const MAX_ENTRIES = 5000;

export async function listFolder(
  requested: string | null,
  extensions: readonly string[],
): Promise<CallValue<'files.list'>> {
  const folder = path.resolve(requested ?? os.homedir());
  let dirents;
  try {
    dirents = await fs.readdir(folder, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BridgeFailure('not-found', `Folder ${folder} does not exist.`);
    if (code === 'ENOTDIR')
      throw new BridgeFailure('invalid-arguments', `${folder} is not a folder.`);
    if (code === 'EACCES' || code === 'EPERM')
      throw new BridgeFailure('forbidden', `No permission to read ${folder}.`);
    throw new BridgeFailure('io', `Cannot read ${folder}: ${(e as Error).message}`);
  }
  const wanted = extensions.map((e) => e.toLowerCase().replace(/^\./, ''));
  const entries: DirectoryEntry[] = [];
  const wantedFile = (name: string): boolean =>
    wanted.length === 0 || wanted.includes(path.extname(name).toLowerCase().replace(/^\./, ''));
  // The dirent type says what most entries are without a stat; only symlinks (and files we show,
  // for their size) need one. Stats run in parallel: a folder like /usr/bin has thousands.
  const shown = dirents
    .filter((d) => !d.name.startsWith('.'))
    .filter((d) => d.isDirectory() || d.isSymbolicLink() || (d.isFile() && wantedFile(d.name)))
    .slice(0, MAX_ENTRIES);
  const described = await Promise.all(
    shown.map(async (d): Promise<DirectoryEntry | null> => {
      const full = path.join(folder, d.name);
      if (d.isDirectory()) return { name: d.name, path: full, kind: 'directory', sizeBytes: 0 };
      let stat;
      try {
        stat = await fs.stat(full);
      } catch {
        return null; // dangling symlink or raced removal
      }
      if (stat.isDirectory()) return { name: d.name, path: full, kind: 'directory', sizeBytes: 0 };
      if (stat.isFile() && wantedFile(d.name))
        return { name: d.name, path: full, kind: 'file', sizeBytes: stat.size };
      return null;
    }),
  );
  for (const entry of described) if (entry) entries.push(entry);
  entries.sort((a, b) =>
    a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'directory' ? -1 : 1,
  );
  const parent = path.dirname(folder);
  return { path: folder, parent: parent === folder ? null : parent, entries };
}

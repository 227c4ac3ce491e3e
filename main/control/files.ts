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
  for (const d of dirents) {
    if (entries.length >= MAX_ENTRIES) break;
    if (d.name.startsWith('.')) continue;
    const full = path.join(folder, d.name);
    let stat;
    try {
      stat = await fs.stat(full);
    } catch {
      continue; // dangling symlink or raced removal
    }
    if (stat.isDirectory())
      entries.push({ name: d.name, path: full, kind: 'directory', sizeBytes: 0 });
    else if (stat.isFile()) {
      const ext = path.extname(d.name).toLowerCase().replace(/^\./, '');
      if (wanted.length === 0 || wanted.includes(ext)) {
        entries.push({ name: d.name, path: full, kind: 'file', sizeBytes: stat.size });
      }
    }
  }
  entries.sort((a, b) =>
    a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'directory' ? -1 : 1,
  );
  const parent = path.dirname(folder);
  return { path: folder, parent: parent === folder ? null : parent, entries };
}

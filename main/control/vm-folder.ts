/**
 * Reading one VM folder: which config file it holds, whether a run file is there, and the config
 * text, from as few system calls as possible (one readdir, then open/fstat/read/close).
 *
 * These reads are synchronous on purpose. Listing a library of 1,000 VMs through the promise API
 * costs 2-4 times as long as the same calls made synchronously (measured with bench/cli-list.mjs:
 * every promise call hops to the libuv thread pool and allocates a FileHandle for the garbage
 * collector), and `vireo list` is mostly this. The library calls them in slices with a yield to
 * the event loop between slices, so the app's main process is never blocked for long.
 *
 * Runtime: Node.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { RUN_FILE } from './supervisor.js';

export const CONFIG_SUFFIX = '.vireo.json';
/** A real config is a few KiB; anything past this is not one, and is not read into memory. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** What one readdir of a VM folder shows: its config file candidates and whether a run file exists. */
export interface FolderScan {
  folder: string;
  configNames: string[];
  hasRunFile: boolean;
  /** Why the folder cannot be read at all, or null. */
  error: string | null;
}

export function scanFolder(folder: string): FolderScan {
  try {
    const names = readdirSync(folder);
    return {
      folder,
      configNames: names.filter((n) => n.endsWith(CONFIG_SUFFIX) && !n.startsWith('.')),
      hasRunFile: names.includes(RUN_FILE),
      error: null,
    };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      folder,
      configNames: [],
      hasRunFile: false,
      error:
        code === 'ENOENT'
          ? `The folder ${folder} is missing: it was moved or deleted. Move it back, or remove the VM from the library.`
          : code === 'ENOTDIR'
            ? `${folder} is not a folder: remove the VM from the library.`
            : `The folder ${folder} cannot be read (${code ?? (e as Error).message}): check its permissions.`,
    };
  }
}

/** `<folder name>.vireo.json` when present, else the only `*.vireo.json` (a renamed folder). */
export function chooseConfigFile(scan: FolderScan): string {
  const preferred = `${path.basename(scan.folder)}${CONFIG_SUFFIX}`;
  if (scan.configNames.includes(preferred) || scan.configNames.length !== 1)
    return path.join(scan.folder, preferred);
  return path.join(scan.folder, scan.configNames[0]!);
}

/**
 * The config text, or why it cannot be had. Refuses files too big to be a config, and anything
 * that is not a regular file: O_NONBLOCK makes opening a FIFO planted under a config's name
 * return at once (a blocking open would hang the listing until a writer appears).
 */
/** One read buffer for every config: the reads are synchronous, so it is never shared. */
let scratch: Buffer | undefined;

export function readConfigText(configPath: string): string | { reason: string } {
  let fd: number;
  try {
    fd = openSync(configPath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      reason:
        code === 'ENOENT'
          ? `The config file ${configPath} is missing: the folder was moved or deleted.`
          : `The config file ${configPath} cannot be read (${code ?? (e as Error).message}).`,
    };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { reason: `The config file ${configPath} is not a regular file.` };
    if (stat.size > MAX_CONFIG_BYTES)
      return {
        reason: `The config file ${configPath} is ${stat.size} bytes, more than any VM config (${MAX_CONFIG_BYTES}): it is not a Vireo config. Vireo will not change it.`,
      };
    // Read to end of file (or the cap): the size may change between fstat and read.
    const buffer = (scratch ??= Buffer.allocUnsafe(MAX_CONFIG_BYTES + 1));
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
      if (length > MAX_CONFIG_BYTES)
        return {
          reason: `The config file ${configPath} grew past ${MAX_CONFIG_BYTES} bytes while being read.`,
        };
    }
    return buffer.toString('utf8', 0, length);
  } catch (e) {
    return { reason: `The config file ${configPath} cannot be read (${(e as Error).message}).` };
  } finally {
    closeSync(fd);
  }
}

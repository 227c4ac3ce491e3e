/**
 * The library registry, `<root>/library.json` (docs/library.md): VM folders outside the root,
 * and folders inside it the user removed from the library but kept. Like VirtualBox's
 * VirtualBox.xml, it holds only what a scan of the root cannot find.
 *
 * Changes are read-modify-write under a lock, so two processes (the app and the CLI) creating
 * VMs in other folders at the same moment cannot lose each other's entry: an in-process queue,
 * and across processes a lock file created with O_EXCL holding the owner's pid (a lock whose pid
 * is dead is stale and taken over). Each write is atomic (atomic-write.ts).
 *
 * Runtime: Node.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BridgeFailure } from '../../preload/contract.js';
import { writeFileAtomic } from './atomic-write.js';
import { describeIssues } from './schema-messages.js';

export const REGISTRY_FILE = 'library.json';
export const LOCK_FILE = '.library.json.lock';
/** How long to wait for another process's change (they take milliseconds) before giving up. */
const LOCK_WAIT_MS = 5000;

const AbsolutePath = z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path');

export const Registry = z.object({
  version: z.literal(1),
  /** VM folders that live outside the root (the wizard's folder field). */
  external: z.array(AbsolutePath),
  /** Folders inside the root the user removed from the library but kept on disk. */
  hidden: z.array(AbsolutePath),
});
export type Registry = z.infer<typeof Registry>;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class LibraryRegistry {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly root: string,
    private readonly lockWaitMs = LOCK_WAIT_MS,
  ) {}

  get file(): string {
    return path.join(this.root, REGISTRY_FILE);
  }

  /** The registry, or an empty one when there is no file; a damaged file is an error, never replaced. */
  async read(): Promise<Registry> {
    let raw: string;
    try {
      raw = await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        return { version: 1, external: [], hidden: [] };
      throw new BridgeFailure(
        'io',
        `Cannot read the library registry ${this.file}: ${(e as Error).message}`,
      );
    }
    const advice =
      'fix it by hand, or remove it (VMs in folders outside the library are then forgotten, not deleted)';
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new BridgeFailure(
        'io',
        `The library registry ${this.file} is not valid JSON (${(e as Error).message}): ${advice}.`,
      );
    }
    const parsed = Registry.safeParse(json);
    if (!parsed.success)
      throw new BridgeFailure(
        'io',
        `The library registry ${this.file} is damaged (${describeIssues(parsed.error)}): ${advice}.`,
      );
    return parsed.data;
  }

  /** Applies `change` to the current registry and writes it, under the lock. */
  update(change: (registry: Registry) => void): Promise<void> {
    const run = this.queue.then(() =>
      this.locked(async () => {
        const registry = await this.read();
        const before = JSON.stringify(registry);
        change(registry);
        registry.external = [...new Set(registry.external)];
        registry.hidden = [...new Set(registry.hidden)];
        if (JSON.stringify(registry) !== before)
          await writeFileAtomic(this.file, `${JSON.stringify(registry, null, 2)}\n`);
      }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async locked<T>(work: () => Promise<T>): Promise<T> {
    const lock = path.join(this.root, LOCK_FILE);
    const deadline = Date.now() + this.lockWaitMs;
    for (;;) {
      try {
        await fs.writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = Number.parseInt(await fs.readFile(lock, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        // The owner died holding it: stale. rm then retry the O_EXCL create, so if two
        // processes both see it stale, only one of them wins the new lock.
        await fs.rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new BridgeFailure(
          'conflict',
          `Another Vireo process (pid ${Number.isNaN(owner) ? 'unknown' : owner}) is changing the library: try again. If no Vireo is running, remove ${lock}.`,
        );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    try {
      return await work();
    } finally {
      await fs.rm(lock, { force: true });
    }
  }
}

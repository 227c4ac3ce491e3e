/**
 * `mkdir -p` that always ends. Node 20's `fs.mkdir(path, { recursive: true })` never returns for
 * some paths (under /proc it spins at 100% CPU: mkdir keeps failing with ENOENT though the parent
 * exists), and the library root and the wizard's folder come from the user. This walks up at most
 * once per path component and reports what went wrong.
 *
 * Runtime: Node.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function makeFolder(folder: string): Promise<void> {
  const target = path.resolve(folder);
  try {
    await fs.mkdir(target);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await fs.stat(target)).isDirectory()) return;
      throw Object.assign(new Error(`${target} exists and is not a folder`), { code: 'ENOTDIR' });
    }
    if (code !== 'ENOENT') throw e;
  }
  const parent = path.dirname(target);
  if (parent === target) throw new Error(`cannot create ${target}`);
  await makeFolder(parent);
  // The parent exists now; one more try, whose error (even ENOENT again, as under /proc) is final.
  try {
    await fs.mkdir(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await fs.stat(target)).isDirectory())
      return;
    throw e;
  }
}

/**
 * writeFileAtomic: a reader sees the old file or the new one, never half of either, and a failed
 * write leaves the old file as it was and no temp file behind. The failures are real ones: a
 * rename onto a folder, and a write cut short by the kernel's file-size limit (RLIMIT_FSIZE makes
 * write(2) fail with EFBIG part-way, as a full disk would with ENOSPC).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../main/control/atomic-write';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('atomic writes', () => {
  it('creates and replaces the file whole and leaves no temp file', async () => {
    const file = path.join(dir, 'f.json');
    await writeFileAtomic(file, 'one');
    expect(readFileSync(file, 'utf8')).toBe('one');
    await writeFileAtomic(file, new TextEncoder().encode('two'));
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(readdirSync(dir)).toEqual(['f.json']);
  });

  it('leaves the old content and no temp file when the final rename fails', async () => {
    const target = path.join(dir, 'busy');
    mkdirSync(target);
    writeFileSync(path.join(target, 'keep'), 'old');
    await expect(writeFileAtomic(target, 'new')).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readFileSync(path.join(target, 'keep'), 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['busy']);
  });

  it('fails cleanly when the folder does not exist', async () => {
    await expect(writeFileAtomic(path.join(dir, 'no', 'f.json'), 'x')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps the old file intact when the write itself fails part-way (EFBIG)', async () => {
    // Bundle the real module for a child process whose file-size limit is 8 KiB.
    const script = path.join(dir, 'write.mjs');
    await build({
      stdin: {
        contents: `import { writeFileAtomic } from './main/control/atomic-write.ts';
          try { await writeFileAtomic(process.argv[2], 'x'.repeat(64 * 1024)); console.log('written'); }
          catch (e) { console.log('failed ' + e.code); }`,
        resolveDir: path.resolve(import.meta.dirname, '../../..'),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'silent',
    });
    const data = path.join(dir, 'data');
    mkdirSync(data);
    const target = path.join(data, 'vm.vireo.json');
    writeFileSync(target, '{"old": true}');
    // Node ignores SIGXFSZ, so the over-limit write returns EFBIG instead of killing the child.
    const child = spawnSync(
      'bash',
      ['-c', 'ulimit -f 8 && exec "$0" "$1" "$2"', process.execPath, script, target],
      {
        encoding: 'utf8',
      },
    );
    expect(child.stdout.trim()).toBe('failed EFBIG');
    expect(readFileSync(target, 'utf8')).toBe('{"old": true}');
    expect(readdirSync(data)).toEqual(['vm.vireo.json']);
    // Without the limit the same child succeeds, so the failure above is the limit's doing.
    expect(execFileSync(process.execPath, [script, target], { encoding: 'utf8' }).trim()).toBe(
      'written',
    );
    expect(readFileSync(target, 'utf8')).toHaveLength(64 * 1024);
  });
});

/**
 * The initramfs fixture builder: what goes in comes out of the archive (read back with the real
 * cpio), a second call reuses the cached file, and bad specs are refused with a reason.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBusyboxInitramfs } from '../../fixtures/busybox-initramfs.mjs';

const work = mkdtempSync(path.join(os.tmpdir(), 'vireo-initramfs-'));
const built: string[] = [];
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  for (const f of built) rmSync(f, { force: true });
});

function member(archive: string, name: string): string {
  return execFileSync(
    'sh',
    ['-c', `gzip -dc "$0" | cpio -i --quiet --to-stdout "$1"`, archive, name],
    {
      encoding: 'utf8',
    },
  );
}

describe('test/fixtures/busybox-initramfs.mjs', () => {
  it(
    'packs busybox, /init, modules and extra files, and reuses the cached archive',
    { timeout: 300_000 },
    () => {
      const token = randomBytes(8).toString('hex');
      const extra = path.join(work, 'hello.txt');
      writeFileSync(extra, `hello ${token}\n`);
      const spec = {
        init: `#!/bin/busybox sh\necho ${token}\n`,
        modules: ['fs/9p/9p'],
        files: { '/etc/hello.txt': extra },
        name: `unit-${token}`,
      };
      const archive = ensureBusyboxInitramfs(spec);
      built.push(archive);
      const names = execFileSync('sh', ['-c', 'gzip -dc "$0" | cpio -it --quiet', archive], {
        encoding: 'utf8',
      }).split('\n');
      expect(names).toEqual(
        expect.arrayContaining(['init', 'bin/busybox', 'mods/9p.ko', 'etc/hello.txt']),
      );
      expect(member(archive, 'init')).toBe(spec.init);
      expect(member(archive, 'etc/hello.txt')).toBe(`hello ${token}\n`);
      const first = statSync(archive).mtimeMs;
      expect(ensureBusyboxInitramfs(spec)).toBe(archive);
      expect(statSync(archive).mtimeMs).toBe(first);
      // Different content, different archive.
      const other = ensureBusyboxInitramfs({ ...spec, init: `${spec.init}echo again\n` });
      built.push(other);
      expect(other).not.toBe(archive);
    },
  );

  it('refuses an init without #!, guest paths outside the root and odd names', () => {
    expect(() => ensureBusyboxInitramfs({ init: 'echo hi' })).toThrow(/starting with #!/);
    expect(() =>
      ensureBusyboxInitramfs({ init: '#!/bin/sh\n', files: { 'etc/x': '/etc/hostname' } }),
    ).toThrow(/absolute path/);
    expect(() =>
      ensureBusyboxInitramfs({ init: '#!/bin/sh\n', files: { '/../x': '/etc/hostname' } }),
    ).toThrow(/absolute path/);
    expect(() => ensureBusyboxInitramfs({ init: '#!/bin/sh\n', name: '../x' })).toThrow(/a-z, 0-9/);
  });
});

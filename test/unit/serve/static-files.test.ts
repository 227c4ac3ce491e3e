/** The renderer-bundle file mapper shared by browser mode and the vireo:// protocol. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  contentTypeOf,
  openStaticRoot,
  safeSegments,
  type StaticRoot,
} from '../../../main/serve/static-files';

let base: string;
let root: StaticRoot;

beforeAll(async () => {
  base = mkdtempSync(path.join(os.tmpdir(), 'vireo-static-'));
  const dir = path.join(base, 'bundle');
  mkdirSync(path.join(dir, 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), '<html>');
  writeFileSync(path.join(dir, 'assets', 'a b.js'), 'x');
  writeFileSync(path.join(base, 'outside.txt'), 'secret');
  symlinkSync(path.join(base, 'outside.txt'), path.join(dir, 'link.txt'));
  symlinkSync(path.join(base, 'missing'), path.join(dir, 'dangling'));
  // A FIFO: reading it would block forever, so it must be refused, not opened.
  execFileSync('mkfifo', [path.join(dir, 'assets', 'pipe.js')]);
  // The root itself reached through a symlink still works.
  symlinkSync(dir, path.join(base, 'via-link'));
  root = await openStaticRoot(path.join(base, 'via-link'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('static files', () => {
  it('maps paths inside the root, decoding once', async () => {
    expect((await root.resolve('/'))?.path).toBe(path.join(root.real, 'index.html'));
    expect((await root.resolve('/assets/a%20b.js'))?.sizeBytes).toBe(1);
    expect((await root.resolve('/./assets//a%20b.js'))?.contentType).toBe(
      'text/javascript; charset=utf-8',
    );
    // Double encoding stays literal: %252e%252e names a file called "%2e%2e", which is absent.
    expect(await root.resolve('/%252e%252e/outside.txt')).toBeNull();
  });

  it('refuses traversal, NUL, backslashes, symlinks out, FIFOs and folders', async () => {
    for (const p of [
      '/../outside.txt',
      '/%2e%2e/outside.txt',
      '/assets/..%2f..%2foutside.txt',
      '/assets%2f..%2f..%2foutside.txt',
      '/..\\outside.txt',
      '/%5c..%5coutside.txt',
      '/index.html%00',
      '/link.txt',
      '/dangling',
      '/assets/pipe.js',
      '/assets',
      'relative/path',
      '/%zz',
    ])
      expect(await root.resolve(p), p).toBeNull();
  });

  it('sends unknown extensionless routes to index.html, not unknown files', async () => {
    expect((await root.resolve('/vm/abc/console'))?.path).toBe(path.join(root.real, 'index.html'));
    expect(await root.resolve('/missing.js')).toBeNull();
  });

  it('splits only safe paths', () => {
    expect(safeSegments('/a/./b//c')).toEqual(['a', 'b', 'c']);
    expect(safeSegments('/a/../b')).toBeNull();
    expect(safeSegments('/a/%2E%2E/b')).toBeNull();
  });

  it('names content types and says what to do when the bundle is missing', async () => {
    expect(contentTypeOf('x.CSS')).toBe('text/css; charset=utf-8');
    expect(contentTypeOf('x.wasm')).toBe('application/wasm');
    expect(contentTypeOf('x.unknown')).toBe('application/octet-stream');
    await expect(openStaticRoot(path.join(base, 'nope'))).rejects.toThrow('npm run build');
    await expect(openStaticRoot(path.join(base, 'outside.txt'))).rejects.toThrow('npm run build');
  });
});

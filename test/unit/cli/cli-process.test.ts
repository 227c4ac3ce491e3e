/**
 * The `vireo` command as a real process: the CLI bundled the way scripts/build.mjs bundles it
 * (into <tmp>/out/cli/vireo.js, where it runs itself), started with node, checked by its exit
 * code, stdout and stderr. Covers what in-process tests cannot: autorun, VIREO_HOME, signals.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Library } from '../../../main/control/library';

let dir: string;
let cli: string;
let home: string;

function vireo(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    timeout: 20_000, // a hang is a failure (status null), not a stuck test run
    env: { ...process.env, VIREO_HOME: '', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  // Inside the checkout (.cache/ is ignored) so the bundle's external packages (koffi, used by
  // the engine's `run` verb) resolve from node_modules as they do for out/cli/vireo.js.
  const cache = path.resolve(import.meta.dirname, '../../../.cache');
  mkdirSync(cache, { recursive: true });
  dir = mkdtempSync(path.join(cache, 'cli-proc-'));
  cli = path.join(dir, 'out', 'cli', 'vireo.js');
  home = path.join(dir, 'library');
  await build({
    entryPoints: [path.resolve(import.meta.dirname, '../../../main/cli/index.ts')],
    outfile: cli,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['electron', 'koffi', 'playwright-core'],
    logLevel: 'silent',
    banner: {
      js: "import { createRequire as __vireoCreateRequire } from 'node:module'; const require = __vireoCreateRequire(import.meta.url);",
    },
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vireo as a process', () => {
  it('exits 2 with the usage on stderr for bad input, 0 for --help', () => {
    const none = vireo([]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('usage: vireo');
    const unknownFlag = vireo(['--home', home, 'list', '--everything']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.err).toMatch(/Unknown option '--everything'[\s\S]*usage: vireo list/);
    expect(vireo(['--home', home, 'list', 'extra']).code).toBe(2);
    const help = vireo(['createvm', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('--disk-allocation thin|preallocated');
  });

  it('refuses a library folder it cannot use, without hanging (Node mkdir -p spins under /proc)', () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    for (const bad of ['/proc/vireo-library', file, path.join(file, 'sub')]) {
      const r = vireo(['--home', bad, 'list']);
      expect(r.code, bad).toBe(1);
      expect(r.err, bad).toContain(`Cannot use ${bad} as the library folder`);
      expect(r.err, bad).not.toContain('    at ');
    }
    const elsewhere = vireo(['--home', home, 'createvm', '--name', 'p', '--folder', '/proc/vms']);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toContain('Cannot create the folder /proc/vms/p');
  });

  it('uses VIREO_HOME, and --home over it', () => {
    expect(vireo(['createvm', '--name', 'env-vm'], { VIREO_HOME: home }).code).toBe(0);
    expect(readFileSync(path.join(home, 'env-vm', 'env-vm.vireo.json'), 'utf8')).toContain(
      '"version": 2',
    );
    expect(vireo(['list'], { VIREO_HOME: home }).out).toMatch(
      /^"env-vm" \{[0-9a-f-]{36}\} powered off\n$/,
    );
    const other = path.join(dir, 'other');
    expect(vireo(['--home', other, 'list'], { VIREO_HOME: home }).out).toBe('');
  });

  it('lists an inaccessible VM only with --all, and exits 1 when asked to change it', () => {
    mkdirSync(path.join(home, 'broken'));
    writeFileSync(path.join(home, 'broken', 'broken.vireo.json'), '{ nope');
    expect(vireo(['--home', home, 'list']).out).not.toContain('broken');
    const all = vireo(['--home', home, 'list', '--all']);
    expect(all.out).toMatch(/"broken" \{folder-[0-9a-f]+\} inaccessible: .*not valid JSON/);
    const edit = vireo(['--home', home, 'modifyvm', 'broken', '--cpus', '1']);
    expect(edit.code).toBe(1);
    expect(edit.err).toContain('inaccessible');
    expect(readFileSync(path.join(home, 'broken', 'broken.vireo.json'), 'utf8')).toBe('{ nope');
  });

  it('stops quietly when the reader of its output goes away (EPIPE)', async () => {
    const big = path.join(dir, 'big');
    const library = new Library(big);
    await library.init();
    for (let i = 0; i < 40; i++) {
      const vm = await library.create({
        name: `vm-${i}`,
        folder: null,
        os: { family: 'other', id: 'other' },
        cpus: 1,
        memoryMiB: 64,
        disk: null,
        iso: null,
      });
      await library.update(vm.id, { description: 'x'.repeat(4000) });
    }
    // 40 VMs x 4 KB is more than a pipe holds, so the writes after `head` exits hit EPIPE.
    const r = spawnSync(
      'bash',
      [
        '-c',
        'set -o pipefail; "$0" "$1" --home "$2" list --json | head -c 1 >/dev/null',
        process.execPath,
        cli,
        big,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('serve explains a missing renderer bundle or a remote host without a stack', () => {
    const missing = vireo(['--home', home, 'serve'], {
      VIREO_RENDERER_DIR: path.join(dir, 'none'),
    });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('renderer bundle is missing');
    expect(missing.err).not.toContain('    at ');
    const remote = vireo(['--home', home, 'serve', '--host', '0.0.0.0'], {
      VIREO_RENDERER_DIR: path.join(dir, 'none'),
    });
    expect(remote.code).toBe(1);
    expect(remote.err).not.toContain('    at ');
  });

  it('serve prints the URL first and exits 0 on SIGTERM', async () => {
    const renderer = path.join(dir, 'renderer');
    mkdirSync(renderer);
    writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>Vireo</title>');
    const child = spawn(process.execPath, [cli, '--home', home, 'serve', '--port', '0'], {
      env: { ...process.env, VIREO_RENDERER_DIR: renderer },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`serve exited early (${code})`)));
    });
    expect(first).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+$/);
    const page = await fetch(first);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Vireo</title>');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

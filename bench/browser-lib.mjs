// Shared by the browser benchmarks: a real `vireo serve` over a library of N VMs, and Debian's
// Chromium through playwright-core (the same flags as the e2e tests).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bin = path.join(root, 'bin', 'vireo.js');

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function requireBuild() {
  for (const f of ['out/cli/vireo.js', 'out/renderer/index.html', 'out/renderer/blank.html']) {
    if (!existsSync(path.join(root, f))) {
      console.error(`bench: ${f} is missing: run node scripts/build.mjs first`);
      process.exit(2);
    }
  }
}

const FAMILIES = [
  ['debian-12', 'linux'],
  ['windows-11', 'windows'],
  ['freebsd', 'bsd'],
  ['other', 'other'],
];

/**
 * A library of `count` VMs the way a user would get one: the first made by the real
 * `vireo createvm`, the rest copies of its config with a fresh id, name, MAC and OS (the on-disk
 * format of main/control/library.ts), so the server reads `count` real, schema-valid configs.
 */
export function makeLibrary(count) {
  const home = mkdtempSync(path.join(os.tmpdir(), 'vireo-bench-ui-'));
  if (count === 0) return home;
  execFileSync(
    process.execPath,
    [bin, '--home', home, 'createvm', '--name', 'vm-0000', '--ostype', 'debian-12'],
    { stdio: 'ignore' },
  );
  const template = JSON.parse(
    readFileSync(path.join(home, 'vm-0000', 'vm-0000.vireo.json'), 'utf8'),
  );
  for (let i = 1; i < count; i++) {
    const name = `vm-${String(i).padStart(4, '0')}`;
    const mac = ['52', '54', '00', ...randomBytes(3).toString('hex').match(/../g)].join(':');
    const [id, family] = FAMILIES[i % FAMILIES.length];
    const config = {
      ...template,
      id: randomUUID(),
      name,
      os: { ...template.os, id, family },
      network: { ...template.network, mac },
      disks: template.disks.map((d) => ({ ...d, path: `${name}.qcow2` })),
    };
    mkdirSync(path.join(home, name));
    writeFileSync(
      path.join(home, name, `${name}.vireo.json`),
      `${JSON.stringify(config, null, 2)}\n`,
    );
  }
  return home;
}

/** Starts `vireo serve --port 0`; resolves when it prints its URL (first stdout line). */
export function serve(home) {
  const started = performance.now();
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--home', home], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl > 0) {
        resolve({
          url: out.slice(0, nl).trim(),
          urlMs: performance.now() - started,
          started,
          stop: () =>
            new Promise((r) => {
              child.once('exit', r);
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`vireo serve exited ${code}: ${stderr}`)));
  });
}

export function launchChromium() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}

export function median(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmt = (ms) => `${ms.toFixed(1)} ms`;

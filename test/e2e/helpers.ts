/**
 * End-to-end helpers: a real `vireo serve` (the built CLI) on a temporary library, and Debian's
 * Chromium driven by playwright-core. Screenshots go to test-results/screenshots/ (kept).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const SCREENSHOTS = path.resolve(
  process.env.VIREO_TEST_OUT ?? 'test-results',
  'screenshots',
);

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Served {
  url: string;
  home: string;
  /** The server's HOME: the file picker starts there. */
  userHome: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `node bin/vireo.js serve --port 0` on a fresh library; resolves with the URL it prints first. */
export async function serve(): Promise<Served> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'vireo-e2e-'));
  const home = path.join(base, 'library');
  const userHome = path.join(base, 'home');
  mkdirSync(userHome);
  const child = spawn(process.execPath, ['bin/vireo.js', 'serve', '--port', '0', '--home', home], {
    env: { ...process.env, HOME: userHome },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(line.trim());
    });
    child.on('exit', (code) => reject(new Error(`vireo serve exited ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`vireo serve printed no URL: ${stderr}`)), 20_000);
  });
  return {
    url,
    home,
    userHome,
    process: child,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

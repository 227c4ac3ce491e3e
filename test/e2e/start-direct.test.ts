/**
 * Start from the GUI on a VM whose boot source is a Linux kernel: the control plane spawns its
 * VM host process. This machine has no /dev/kvm, so what a user must see is the VM ending
 * "Aborted" with the engine's own advice, not a spinner or a silent failure. (Booting for real
 * through the same path is test/engine/control-plane-start.test.ts, on KVM in the harness.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launch, serve, shot, type Served } from './helpers';

let server: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync('out/cli/vireo.js') || !existsSync('out/engine/host.js')) {
    execFileSync(process.execPath, ['scripts/build.mjs', '--quiet'], { stdio: 'inherit' });
  }
  server = await serve();
  const kernel = (
    JSON.parse(
      execFileSync(process.execPath, ['test/fixtures/debian-kernel.mjs'], { encoding: 'utf8' }),
    ) as {
      vmlinuz: string;
    }
  ).vmlinuz;
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/vireo.js', '--home', server.home, ...args], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
  };
  cli('createvm', '--name', 'Tiny Linux', '--ostype', 'debian-12');
  cli(
    'modifyvm',
    'Tiny Linux',
    '--kernel',
    kernel,
    '--initrd',
    'none',
    '--append',
    'console=ttyS0',
  );
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(server.url);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('Start on a Linux-kernel VM', () => {
  it('runs its VM host process, which ends Aborted with what to do where KVM is missing', async () => {
    if (existsSync('/dev/kvm')) return; // the booting case is covered on KVM (see the top)
    await page.getByText('Tiny Linux').first().click();
    await page.getByTestId('tool-start').click();
    await page.getByText('Aborted').first().waitFor({ timeout: 30_000 });
    await page
      .getByText(/modprobe kvm_intel/)
      .first()
      .waitFor();
    await shot(page, 'start-direct-aborted');
    expect(await page.getByTestId('error-banner').count()).toBe(0);
    // Start is possible again after an abort.
    expect(await page.getByTestId('tool-start').isEnabled()).toBe(true);
  });
});

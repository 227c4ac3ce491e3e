/**
 * The Virtual Media Manager in browser mode, as a person uses it: create a disk, see it listed
 * with its sizes, attach it to a VM (the details show it), grow it, refuse to delete it while
 * attached, detach it, delete it after confirming. Real server, real images, Debian's Chromium.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launch, serve, shot, type Served } from './helpers';

let server: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync('out/cli/vireo.js') || !existsSync('out/renderer/index.html'))
    execFileSync(process.execPath, ['scripts/build.mjs', '--quiet'], { stdio: 'inherit' });
  server = await serve();
  const made = spawnSync(
    process.execPath,
    [
      'bin/vireo.js',
      '--home',
      server.home,
      'createvm',
      '--name',
      'Server',
      '--ostype',
      'debian-12',
    ],
    { encoding: 'utf8' },
  );
  expect(made.status, made.stderr).toBe(0);
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(server.url);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('Virtual Media Manager', () => {
  it('creates, attaches, grows, detaches and deletes a disk image', async () => {
    const file = path.join(server.home, 'Media', 'data.qcow2');
    await page.getByTestId('vm-item-Server').click();
    await page.getByTestId('tool-media').click();
    await page.getByTestId('media-manager').waitFor();
    await page.getByTestId('media-create').click();
    await page.getByTestId('media-create-name').fill('data.qcow2');
    await page.getByTestId('media-create-size').fill('2');
    await page.getByTestId('media-create-ok').click();
    const row = page.getByTestId('medium-data.qcow2');
    await row.waitFor();
    expect(await row.innerText()).toMatch(/Disk, qcow2\s+2\.00 GiB/);
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' }),
    ) as { 'virtual-size': number };
    expect(info['virtual-size']).toBe(2 * 1024 ** 3);

    await row.click();
    await page.getByTestId('media-attach').click();
    await page.getByTestId('media-attach-ok').click();
    await row.getByText('Server').waitFor();
    await shot(page, '12-media-manager');
    // Delete is not offered while a VM uses it.
    expect(await page.getByTestId('media-delete').isDisabled()).toBe(true);

    await page.getByTestId('media-resize').click();
    await page.getByTestId('media-resize-size').fill('4096');
    await page.getByTestId('media-resize-ok').click();
    await row.getByText('4.00 GiB').waitFor();

    await page.getByTestId('media-close').click();
    await page
      .getByTestId('details')
      .getByText(/data\.qcow2/)
      .waitFor();

    await page.getByTestId('tool-media').click();
    await page.getByTestId('media-detach-Server').click();
    await row.getByText('not attached').waitFor();
    await row.click();
    await page.getByTestId('media-delete').click();
    await page.getByTestId('media-delete-confirm').waitFor();
    await shot(page, '13-media-delete-confirm');
    await page.getByTestId('media-delete-yes').click();
    await row.waitFor({ state: 'detached' });
    expect(existsSync(file)).toBe(false);
    await page.getByTestId('media-close').click();
  });
});

/**
 * Drag and drop of ISO images onto the main window, in browser mode, as a person does it: the
 * file comes from the browser's side (a File the test builds in the page from a real ISO made
 * by xorriso), is uploaded into the library's media folder with a progress bar, and
 * - dropped on an empty spot, opens the New VM wizard with the ISO chosen and its OS detected;
 * - dropped on a VM in the list, goes into that VM's optical drive;
 * - a file that is not an ISO is refused with a message and changes nothing.
 * Real server, real library, Debian's Chromium.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launch, serve, shot, type Served } from './helpers';

let server: Served;
let browser: Browser;
let page: Page;
let iso: Buffer;

beforeAll(async () => {
  if (!existsSync('out/cli/vireo.js') || !existsSync('out/renderer/index.html'))
    execFileSync(process.execPath, ['scripts/build.mjs', '--quiet'], { stdio: 'inherit' });
  server = await serve();
  const tree = path.join(server.userHome, '.tree');
  mkdirSync(tree);
  writeFileSync(path.join(tree, 'README.txt'), 'dropped medium\n');
  const file = path.join(server.userHome, 'made.iso');
  execFileSync('xorriso', [
    '-as',
    'mkisofs',
    '-quiet',
    '-V',
    'Debian 12.5.0 amd64 n',
    '-o',
    file,
    tree,
  ]);
  iso = readFileSync(file);
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(server.url);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Drags a file with these bytes onto the element, firing dragenter/dragover/drop as a browser does. */
async function dropFile(selector: string, name: string, bytes: Buffer): Promise<void> {
  // Page-side code as a string: this test's TypeScript has no DOM types.
  const args = JSON.stringify({ selector, name, base64: bytes.toString('base64') });
  await page.evaluate(`(() => {
    const { selector, name, base64 } = ${args};
    const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], name, { type: 'application/octet-stream' }));
    const target = document.querySelector(selector);
    if (!target) throw new Error('no ' + selector);
    for (const type of ['dragenter', 'dragover', 'drop'])
      target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
  })()`);
}

const media = () => path.join(server.home, 'Media');

describe('drag and drop of ISO images', () => {
  it('dropped on the window: uploaded, then the New VM wizard opens with its OS detected', async () => {
    await page.getByTestId('empty-state').waitFor();
    await dropFile('.main', 'debian-12.5.0-amd64-netinst.iso', iso);
    const dropped = page.getByTestId('wizard-dropped-iso');
    await dropped.getByText(/Detected OS: Debian/).waitFor();
    expect(await dropped.innerText()).toContain('debian-12.5.0-amd64-netinst.iso');
    // The name is suggested from the file, as VirtualBox does, and the OS page has it chosen.
    expect(await page.getByTestId('wizard-name').inputValue()).toBe('debian-12.5.0-amd64-netinst');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByTestId('iso-info').waitFor();
    expect(await page.getByTestId('wizard-os').inputValue()).toMatch(/^debian/);
    await shot(page, '09-drop-iso-wizard');
    const stored = path.join(media(), 'debian-12.5.0-amd64-netinst.iso');
    expect(readFileSync(stored).equals(iso)).toBe(true);
    await page.keyboard.press('Escape');
    await page
      .getByRole('button', { name: 'Cancel' })
      .click()
      .catch(() => {});
  });

  it('refuses a file that is not an ISO, and changes nothing', async () => {
    const before = readdirSync(media());
    await dropFile('.main', 'notes.txt', Buffer.from('just text\n'));
    const banner = page.getByTestId('error-banner');
    await banner.waitFor();
    expect(await banner.innerText()).toMatch(/notes\.txt is not an ISO image/);
    // Named .iso but not ISO 9660: the server refuses it after the upload, and keeps nothing.
    await dropFile('.main', 'fake.iso', Buffer.alloc(64 * 1024, 0x41));
    await page.getByText(/fake\.iso is not an ISO 9660 image/).waitFor();
    await shot(page, '10-drop-refused');
    expect(readdirSync(media()).sort()).toEqual(before.sort());
  });

  it('dropped on a VM in the list: the ISO goes into its optical drive', async () => {
    const created = spawnSync(
      process.execPath,
      [
        'bin/vireo.js',
        '--home',
        server.home,
        'createvm',
        '--name',
        'Target',
        '--ostype',
        'debian-12',
      ],
      { encoding: 'utf8' },
    );
    expect(created.status, created.stderr).toBe(0);
    await page.getByTestId('vm-item-Target').waitFor();
    await dropFile('[data-testid=vm-item-Target]', 'second.iso', iso);
    await page
      .getByTestId('details')
      .getByText(/second\.iso/)
      .waitFor();
    await shot(page, '11-drop-on-vm');
    const info = spawnSync(
      process.execPath,
      ['bin/vireo.js', '--home', server.home, 'showvminfo', 'Target'],
      { encoding: 'utf8' },
    );
    expect(info.stdout).toContain(path.join(media(), 'second.iso'));
  });
});

/**
 * A person's path through the library in browser mode: empty state, the New VM wizard (with
 * validation and ISO detection), the list and details, Settings, a change made by the CLI showing
 * up live, and Delete. Real server, real library on disk, Debian's Chromium.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launch, serve, shot, type Served } from './helpers';

let server: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync('out/cli/vireo.js') || !existsSync('out/renderer/index.html')) {
    execFileSync(process.execPath, ['scripts/build.mjs', '--quiet'], { stdio: 'inherit' });
  }
  server = await serve();
  // An installer-like ISO in the user's home, where the file picker opens.
  const tree = path.join(server.userHome, '.iso-tree');
  mkdirSync(path.join(tree, 'isolinux'), { recursive: true });
  execFileSync('cp', ['/usr/lib/ISOLINUX/isolinux.bin', path.join(tree, 'isolinux')]);
  writeFileSync(path.join(tree, 'README.txt'), 'test medium\n');
  execFileSync('xorriso', [
    '-as',
    'mkisofs',
    '-quiet',
    '-R',
    '-J',
    '-V',
    'Debian 12.5.0 amd64 n',
    '-o',
    path.join(server.userHome, 'debian.iso'),
    '-b',
    'isolinux/isolinux.bin',
    '-c',
    'isolinux/boot.cat',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    tree,
  ]);
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the VM library in the browser', () => {
  it('shows the empty state with how to begin', async () => {
    await page.goto(server.url);
    await page.getByTestId('empty-state').waitFor();
    expect(await page.getByTestId('empty-state').innerText()).toContain('Click New to create one');
    await shot(page, '01-empty-state');
  });

  it('creates a VM through the wizard, with validation and ISO detection', async () => {
    await page.getByTestId('tool-new').click();
    await page.getByTestId('wizard').waitFor();
    await page.getByTestId('wizard-next').click();
    expect(await page.getByTestId('wizard-error').innerText()).toContain('Name is required');
    await shot(page, '02-wizard-name-required');
    await page.getByTestId('wizard-name').fill('Web Server');
    await page.getByTestId('wizard-next').click();

    await page.getByTestId('wizard-detect').click();
    await page.getByTestId('pick-debian.iso').click();
    await page.getByTestId('iso-info').waitFor();
    const info = await page.getByTestId('iso-info').innerText();
    expect(info).toContain('Debian 12.5.0 amd64 n');
    expect(info).toContain('Bootable: yes (x86)');
    expect(info).toContain('Debian 12');
    expect(await page.getByTestId('wizard-os').inputValue()).toBe('debian-12');
    await shot(page, '03-wizard-iso-detected');
    await page.getByTestId('wizard-next').click();

    await page.getByTestId('wizard-memory').fill('999999999');
    await page.getByTestId('wizard-next').click();
    expect(await page.getByTestId('wizard-error').innerText()).toContain("this host's RAM");
    await page.getByTestId('wizard-memory').fill('1536');
    await page.getByTestId('wizard-cpus').fill('1');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('wizard-disk-size').fill('12');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('wizard-iso').fill(path.join(server.userHome, 'debian.iso'));
    await page.getByTestId('wizard-next').click();
    const summary = await page.getByTestId('wizard-summary').innerText();
    expect(summary).toContain('Web Server');
    expect(summary).toContain('1 CPU, 1536 MiB');
    await shot(page, '04-wizard-summary');
    await page.getByTestId('wizard-finish').click();

    await page.getByTestId('vm-item-Web Server').waitFor();
    const details = await page.getByTestId('details').innerText();
    expect(details).toContain('1536 MiB');
    expect(details).toContain('Debian 12');
    expect(details).toContain('debian.iso');
    await shot(page, '05-list-and-details');
    // And on disk, as the CLI sees it.
    const config = JSON.parse(
      readFileSync(path.join(server.home, 'Web Server', 'Web Server.vireo.json'), 'utf8'),
    ) as { memoryMiB: number; disks: { sizeMiB: number }[] };
    expect(config.memoryMiB).toBe(1536);
    expect(config.disks[0]?.sizeMiB).toBe(12 * 1024);
  });

  it('sends a refusal from the server back to the step that can fix it', async () => {
    await page.getByTestId('tool-new').click();
    await page.getByTestId('wizard-name').fill('web server'); // names clash case-insensitively
    for (let step = 0; step < 5; step++) await page.getByTestId('wizard-next').click();
    await page.getByTestId('wizard-finish').click();
    await page.getByTestId('wizard-error').getByText('already exists').waitFor();
    expect(await page.locator('.wizard-steps li.current').innerText()).toBe('Name and folder');
    expect(await page.getByTestId('wizard-name').inputValue()).toBe('web server');
    await shot(page, '05b-wizard-name-taken');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('wizard').waitFor({ state: 'detached' });
  });

  it('edits the VM in Settings and the details follow', async () => {
    await page.getByTestId('tool-settings').click();
    await page.getByTestId('settings-page-System').click();
    await page.getByTestId('settings-memory').fill('2048');
    await page.getByTestId('settings-boot-cdrom').uncheck();
    await page.getByTestId('settings-boot-menu').check();
    await page.getByTestId('settings-boot-menu-timeout').fill('5000');
    await shot(page, '06-settings-system');
    await page.getByTestId('settings-page-Display').click();
    await page.getByTestId('settings-vram').fill('32');
    await page.getByTestId('settings-ok').click();
    await page.getByTestId('details').getByText('2048 MiB').waitFor();
    const details = await page.getByTestId('details').innerText();
    expect(details).toMatch(/Boot Order\s+Hard Disk\n/);
    expect(details).toMatch(/Video Memory\s+32 MiB/);
    expect(details).toMatch(/Boot Menu\s+Shown, 5000 ms/);
    const config = JSON.parse(
      readFileSync(path.join(server.home, 'Web Server', 'Web Server.vireo.json'), 'utf8'),
    ) as { bootMenu: unknown };
    expect(config.bootMenu).toEqual({ enabled: true, timeoutMs: 5000 });
  });

  it('shows a change made from the CLI without a reload', async () => {
    const run = spawnSync(
      process.execPath,
      [
        'bin/vireo.js',
        '--home',
        server.home,
        'modifyvm',
        'Web Server',
        '--cpus',
        '2',
        '--cdrom',
        'none',
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    await page.getByTestId('details').getByText('Empty').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('details').innerText()).toMatch(/Processors\s+2/);
    await shot(page, '07-after-cli-change');
  });

  it('starts a firmware-boot VM (the PC machine), which ends Aborted with what to do where KVM is missing', async () => {
    if (existsSync('/dev/kvm')) return; // booting ISOs on KVM is test/engine/pc-cdrom.test.ts
    // The wizard created the disk image the VM boots from.
    expect(existsSync(path.join(server.home, 'Web Server', 'Web Server.qcow2'))).toBe(true);
    await page.getByTestId('tool-start').click();
    await page.getByText('Aborted').first().waitFor({ timeout: 30_000 });
    await page
      .getByText(/modprobe kvm_intel/)
      .first()
      .waitFor();
    expect(await page.getByTestId('error-banner').count()).toBe(0);
    await shot(page, '08-start-firmware-vm');
  });

  it('deletes the VM after a confirmation that lists its files', async () => {
    await page.getByTestId('tool-delete').click();
    await page.getByTestId('delete-dialog').waitFor();
    await page.getByTestId('delete-files').getByText('Web Server.vireo.json').waitFor();
    await shot(page, '09-delete-confirmation');
    await page.getByTestId('delete-all').click();
    await page.getByTestId('empty-state').waitFor();
    expect(existsSync(path.join(server.home, 'Web Server'))).toBe(false);
  });

  it('lists VMs the CLI creates, with their OS icons (the README screenshot)', async () => {
    const create = (name: string, ostype: string) => {
      const run = spawnSync(
        process.execPath,
        ['bin/vireo.js', '--home', server.home, 'createvm', '--name', name, '--ostype', ostype],
        { encoding: 'utf8' },
      );
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
    };
    create('Debian Web Server', 'debian-12');
    create('Windows 11 Desktop', 'windows-11');
    create('FreeBSD Builder', 'freebsd');
    create('Alpine Router', 'alpine');
    for (const name of [
      'Alpine Router',
      'Debian Web Server',
      'FreeBSD Builder',
      'Windows 11 Desktop',
    ])
      await page.getByTestId(`vm-item-${name}`).waitFor({ timeout: 10_000 });
    await page.getByTestId('vm-item-Debian Web Server').click();
    await page.getByTestId('vm-list').press('ArrowDown');
    await page.getByTestId('details').getByRole('heading', { name: 'FreeBSD Builder' }).waitFor();
    await page.getByTestId('vm-list').press('ArrowUp');
    await page.getByTestId('details').getByRole('heading', { name: 'Debian Web Server' }).waitFor();
    // The Start refusal shown earlier is dismissable, and goes.
    if (await page.getByTestId('error-banner').isVisible())
      await page.getByTestId('error-banner').getByRole('button', { name: 'Dismiss' }).click();
    await page.getByTestId('error-banner').waitFor({ state: 'detached' });
    await shot(page, 'main-window');
  });
});

/**
 * The console window end to end, on real KVM: `vireo serve` (the built CLI) with a firmware-boot
 * VM holding the busybox live CD (test/fixtures/busybox-iso.mjs), driven in Debian's Chromium by
 * playwright-core, as a person would:
 *
 * - Start in the main window opens the console tab; its canvas shows the guest's screen, and the
 *   picture matches the VM host's own framebuffer dump (`vireo screenshot`) pixel for pixel
 *   (within 1 %: the framebuffer console's cursor blinks);
 * - a click captures the keyboard; typing `echo vireotyped` and Enter reaches the guest's shell
 *   on tty1 (its output is copied to COM1, where the test reads it);
 * - mouse integration: the guest drives the virtio tablet, the console says so, and the pointer
 *   moved over the canvas and a click arrive as the guest's evdev events (position within 2 %);
 * - the console's optical drive menu puts another ISO in the drive, and the guest reads the new
 *   disc's volume ID;
 * - the main window's Performance tab shows non-zero CPU and a rising uptime, and its Serial
 *   console tab the guest's COM1 output;
 * - Shut down (ACPI) powers the guest off and the console says so.
 *
 * Screenshots are kept in test-results/screenshots/ (console-*.png).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ensureBusyboxIso } from '../fixtures/busybox-iso.mjs';
import { difference, readPng } from '../fixtures/pictures.mjs';
import { launch, SCREENSHOTS, serve, shot, type Served } from '../e2e/helpers.js';

let server: Served | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('console window (real KVM, Chromium)', () => {
  it('shows the guest booting, types into it, changes its disc and shuts it down', async () => {
    const { iso } = ensureBusyboxIso();
    server = await serve();
    const home = server.home;
    const cli = (...args: string[]): string => {
      const r = spawnSync(process.execPath, ['bin/vireo.js', '--home', home, ...args], {
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    cli('createvm', '--name', 'Live', '--ostype', 'debian-12', '--memory', '512');
    cli('modifyvm', 'Live', '--cdrom', iso, '--boot', 'cdrom');
    // The second disc, where the file picker opens (the server's HOME).
    const tree = path.join(server.userHome, '.second');
    mkdirSync(tree);
    writeFileSync(path.join(tree, 'readme.txt'), 'the second disc\n');
    execFileSync(
      'xorriso',
      [
        '-as',
        'mkisofs',
        '-V',
        'VIREO_SECOND',
        '-o',
        path.join(server.userHome, 'second.iso'),
        tree,
      ],
      { stdio: 'ignore' },
    );

    const serialLog = path.join(home, 'Live', 'Logs', 'serial.log');
    const serial = (): string => (existsSync(serialLog) ? readFileSync(serialLog, 'utf8') : '');
    const until = async (what: string, probe: () => boolean | Promise<boolean>, ms = 300_000) => {
      const deadline = Date.now() + ms;
      let nextProgress = Date.now() + 60_000;
      while (!(await probe())) {
        if (Date.now() > nextProgress) {
          // A line a minute: where the guest is (and the nested harness sees the run alive).
          const last = serial().trimEnd().split('\n').at(-1) ?? '';
          console.log(`console: still waiting for ${what}; serial ends with: ${last.slice(-100)}`);
          nextProgress = Date.now() + 60_000;
        }
        if (Date.now() > deadline) {
          await shot(page, `console-timeout-${what.replace(/\W+/g, '-')}`).catch(() => {});
          const hostLog = path.join(home, 'Live', 'Logs', 'vm-host.log');
          const log = existsSync(hostLog) ? readFileSync(hostLog, 'utf8').slice(-3000) : '';
          throw new Error(
            `timed out waiting for ${what}\nserial:\n${serial().slice(-3000)}\nvm-host.log:\n${log}`,
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      console.log(`console: ${what}`);
    };

    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const main = await context.newPage();
    await main.goto(server.url);
    await main.getByTestId('vm-item-Live').click();
    const opened = context.waitForEvent('page');
    await main.getByTestId('tool-start').click();
    const page = await opened;
    await page.getByTestId('console-window').waitFor();
    console.log('console: the console tab opened');

    // The console publishes its paint statistics for tests (features/console/ConsoleWindow.tsx).
    const updates = async (): Promise<number> =>
      Number(await page.evaluate('window.__vireoConsole?.updates ?? 0').catch(() => 0));
    await until('the first screen update', async () => (await updates()) > 0, 120_000);
    await until('vireo-ready on COM1', () => serial().includes('vireo-ready'), 600_000);
    // The framebuffer console settles after the last boot message.
    await new Promise((r) => setTimeout(r, 3000));
    await shot(page, 'console-1-booted');

    // The canvas against the VM host's own dump of the same framebuffer.
    mkdirSync(SCREENSHOTS, { recursive: true });
    const dump = path.join(SCREENSHOTS, 'console-engine-dump.png');
    cli('screenshot', 'Live', dump);
    const canvasPng = String(
      await page.evaluate(
        "document.querySelector('[data-testid=console-canvas]').toDataURL('image/png')",
      ),
    );
    const canvasFile = path.join(SCREENSHOTS, 'console-canvas.png');
    writeFileSync(canvasFile, Buffer.from(canvasPng.split(',')[1]!, 'base64'));
    const engine = readPng(dump);
    const shown = readPng(canvasFile);
    expect([shown.width, shown.height]).toEqual([engine.width, engine.height]);
    const diff = difference(shown, engine);
    console.log(
      `console: canvas ${shown.width}x${shown.height} vs engine dump: ${(diff * 100).toFixed(2)} % of pixels differ`,
    );
    expect(diff).toBeLessThan(0.01);

    // Keyboard: capture by clicking, type, release with the host key.
    await page.getByTestId('console-canvas').click();
    await page.getByTestId('console-status').getByText('Keyboard captured').waitFor();
    await page.keyboard.type('echo vireotyped', { delay: 30 });
    await page.keyboard.press('Enter');
    await until('the typed command answered by the guest', () => /^vireotyped\r?$/m.test(serial()));
    await new Promise((r) => setTimeout(r, 1000));
    await shot(page, 'console-2-typed');
    await page.keyboard.press('ControlRight');
    await page.getByTestId('console-status').getByText('Click the screen').waitFor();

    // Mouse integration: the guest's virtio_input drives the tablet, so the pointer over the
    // canvas reaches the guest as absolute positions, without capture.
    expect(serial()).toMatch(/vireo-tablet: \/dev\/input\/event\d+/);
    await page.getByTestId('console-mouse-integration').waitFor({ timeout: 60_000 });
    const box = (await page.getByTestId('console-canvas').boundingBox())!;
    const at = { x: box.x + box.width / 4, y: box.y + (3 * box.height) / 4 };
    await page.mouse.move(at.x, at.y);
    const tabletValues = (code: number): number[] =>
      [
        ...serial().matchAll(
          new RegExp(`vireo-tablet-event: type=3 code=${code} value=(\\d+)`, 'g'),
        ),
      ].map((m) => Number(m[1]));
    // A quarter across and three quarters down: 0x7fff / 4 and 3 * 0x7fff / 4, within 2 %.
    const near = (values: number[], want: number) =>
      values.some((v) => Math.abs(v - want) <= 0.02 * 0x7fff);
    await until(
      'the pointer position seen by the guest',
      () => near(tabletValues(0), 0x7fff / 4) && near(tabletValues(1), (3 * 0x7fff) / 4),
    );
    const clicks = (value: 0 | 1) =>
      serial().split(`vireo-tablet-event: type=1 code=272 value=${value}`).length - 1;
    const [downs, ups] = [clicks(1), clicks(0)];
    await page.mouse.down();
    await page.mouse.up();
    await until(
      'the click seen by the guest (BTN_LEFT down and up)',
      () => clicks(1) > downs && clicks(0) > ups,
    );
    await shot(page, 'console-2b-mouse-integration');
    await page.keyboard.press('ControlRight');

    // Optical drive: choose the second ISO from the console's toolbar.
    await until('the first disc seen by the guest', () =>
      serial().includes('vireo-cdlabel: VIREO_LIVE'),
    );
    await page.getByTestId('console-choose-iso').click();
    await page.getByTestId('pick-second.iso').click();
    await until('the second disc seen by the guest', () =>
      serial().includes('vireo-cdlabel: VIREO_SECOND'),
    );
    expect(cli('showvminfo', 'Live')).toContain('second.iso');

    // The main window's Performance tab: live figures and charts from the VM host's samples.
    await main.getByTestId('tab-performance').click();
    await main.getByTestId('figure-uptime').waitFor();
    const seconds = async (): Promise<number> => {
      const text = await main.getByTestId('figure-uptime').innerText();
      const m = /(?:(\d+) h )?(?:(\d+) min )?(\d+) s/.exec(text);
      if (!m) throw new Error(`uptime "${text}"`);
      return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3]);
    };
    const before = await seconds();
    await until('uptime rising', async () => (await seconds()) >= before + 2, 30_000);
    const cpu = parseFloat(await main.getByTestId('figure-cpu').innerText());
    console.log(`console: performance tab: uptime ${await seconds()} s, CPU ${cpu} %`);
    expect(cpu).toBeGreaterThan(0);
    await main.getByTestId('chart-cpu').locator('.recharts-line').first().waitFor();
    await shot(main, 'console-4-performance');
    // The Serial console tab: the scrollback the VM host kept, in xterm.js.
    await main.getByTestId('tab-serial').click();
    await until('the serial tab showing the guest output', async () =>
      (await main.getByTestId('serial-terminal').innerText()).includes('vireo-ready'),
    );
    await shot(main, 'console-5-serial');

    await page.getByTestId('console-shutdown').click();
    await until('the power button seen by the guest', () =>
      serial().includes('vireo-power-button'),
    );
    await page.getByTestId('console-off').waitFor({ timeout: 60_000 });
    await shot(page, 'console-3-powered-off');
    // How the VM ended, from the VM host's own log, if it was not a power-off.
    const ended = await page.getByTestId('console-off').innerText();
    const hostLogTail = () => {
      try {
        return readFileSync(path.join(home, 'Live', 'Logs', 'vm-host.log'), 'utf8').slice(-4000);
      } catch {
        return '(no VM host log)';
      }
    };
    expect(ended, /powered off/i.test(ended) ? '' : hostLogTail()).toMatch(/powered off/i);
  }, 1_200_000);
});

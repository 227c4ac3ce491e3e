/**
 * The PC machine boots a real ISO on real KVM, the way a user does it: a VM with the Debian
 * installer ISO (test/fixtures/debian-installer-iso.mjs) in its optical drive, started through
 * the control plane (the bridge's `vm.start`), watched with `vireo screenshot` and driven with
 * `vireo sendkey`. SeaBIOS finds the ATAPI CD-ROM on the PIIX3 IDE controller, El Torito loads
 * isolinux, vesamenu draws the graphical menu through the VGA BIOS's VBE modes; Enter boots
 * the installer's kernel, which finds the framebuffer and shows the installer's first screen.
 * The VM has the firmware's boot menu on (`modifyvm --boot-menu on`): the test waits for
 * SeaBIOS's "Press ESC for boot menu." (its log, which also goes to the screen), presses ESC,
 * reads the device list and picks the DVD by its number, as a person at the menu does.
 *
 * Both screens are compared with QEMU's own screendumps of the same ISO
 * (test/fixtures/installer-reference.mjs, made on the host before the nested guest boots):
 * the fraction of pixels that differ must stay under a threshold. Every picture is kept in
 * $VIREO_TEST_OUT/pc-cdrom/ (QEMU's as PNG beside ours).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createControlPlane } from '../../main/control/index.js';
import { encodePng } from '../../main/engine/display/png.js';
import { ensureDebianInstallerIso } from '../fixtures/debian-installer-iso.mjs';
import { INSTALLER_MEMORY_MIB } from '../fixtures/installer-reference.mjs';
import { difference, readPng, readPpm, type Picture } from '../fixtures/pictures.mjs';

const home = mkdtempSync(path.join(os.tmpdir(), 'vireo-pc-cdrom-'));
const out = path.join(process.env.VIREO_TEST_OUT ?? 'test-results', 'pc-cdrom');
mkdirSync(out, { recursive: true });
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Differing pixels allowed between Vireo's screen and QEMU's (a blinking cursor, a clock). */
const MAX_DIFFERENCE = 0.02;

/** The end of the VM host's log (engine messages, firmware output, an abort report). */
function vmLogTail(): string {
  try {
    return readFileSync(path.join(home, 'Installer', 'Logs', 'vm-host.log'), 'utf8').slice(-4000);
  } catch {
    return '(no VM log)';
  }
}

/** Polls the VM host's log until `pattern` matches a line; returns the match. */
async function logLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let log = '';
    try {
      log = readFileSync(path.join(home, 'Installer', 'Logs', 'vm-host.log'), 'utf8');
    } catch {
      // Not written yet.
    }
    for (const line of log.split('\n')) {
      const m = pattern.exec(line);
      if (m) return m;
    }
    if (Date.now() > deadline) throw new Error(`${vmLogTail()}\nno log line matched ${pattern}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function vireo(...args: string[]): string {
  const r = spawnSync(process.execPath, ['bin/vireo.js', '--home', home, ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`vireo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function savePpmAsPng(p: Picture, file: string): void {
  // encodePng takes bgrx8888, the display's own pixel format.
  const bgrx = new Uint8Array(p.width * p.height * 4);
  for (let i = 0, j = 0; i < p.rgb.length; i += 3, j += 4) {
    bgrx[j] = p.rgb[i + 2]!;
    bgrx[j + 1] = p.rgb[i + 1]!;
    bgrx[j + 2] = p.rgb[i]!;
  }
  writeFileSync(file, encodePng(bgrx, p.width, p.height, p.width * 4));
}

/** Takes `vireo screenshot`s until one is within MAX_DIFFERENCE of `reference`. */
async function screenLike(
  vm: string,
  reference: Picture,
  name: string,
  timeoutMs: number,
  intervalMs = 3000,
) {
  const deadline = Date.now() + timeoutMs;
  let best = 1;
  let shots = 0;
  for (;;) {
    const file = path.join(out, `${name}-vireo.png`);
    try {
      vireo('screenshot', vm, file);
    } catch (e) {
      // The VM host opens its control socket a moment after the start; keep asking.
      if (Date.now() > deadline)
        throw new Error(`${vmLogTail()}\n${(e as Error).message}`, { cause: e });
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    shots++;
    if (shots % 3 === 0) console.log(`pc-cdrom: waiting for ${name}, ${shots} screenshots so far`);
    const d = difference(readPng(file), reference);
    best = Math.min(best, d);
    if (d <= MAX_DIFFERENCE) {
      console.log(
        `pc-cdrom: ${name} reached after ${shots} screenshots, ${(d * 100).toFixed(2)}% of pixels differ from QEMU's`,
      );
      return d;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${vmLogTail()}\n${name}: the screen never matched QEMU's (closest: ${(best * 100).toFixed(1)}% of pixels differ); see ${file}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

describe('PC machine booting an ISO (real KVM)', () => {
  it('boots the Debian installer ISO to its menu and, on Enter, to the installer, as QEMU shows them', async () => {
    const { iso } = ensureDebianInstallerIso();
    const refDir = path.join(path.dirname(iso), 'qemu-reference');
    const menuRef = path.join(refDir, 'menu.ppm');
    const installerRef = path.join(refDir, 'installer.ppm');
    if (!existsSync(installerRef))
      throw new Error(
        `QEMU's reference pictures are missing: run node test/fixtures/installer-reference.mjs on the host first (npm test does)`,
      );
    const menu = readPpm(menuRef);
    const installer = readPpm(installerRef);
    savePpmAsPng(menu, path.join(out, 'menu-qemu.png'));
    savePpmAsPng(installer, path.join(out, 'installer-qemu.png'));

    vireo(
      'createvm',
      '--name',
      'Installer',
      '--ostype',
      'debian-12',
      '--memory',
      String(INSTALLER_MEMORY_MIB),
    );
    // The boot menu waits a minute: long enough for a loaded nested machine to see the prompt.
    vireo(
      'modifyvm',
      'Installer',
      '--cdrom',
      iso,
      '--boot',
      'cdrom',
      '--boot-menu',
      'on',
      '--boot-menu-timeout',
      '60000',
    );
    const plane = await createControlPlane({ home, mode: 'browser', watch: false });
    try {
      const started = Date.now();
      const vm = await plane.handlers['vm.get']({ id: 'Installer' });
      await plane.handlers['vm.start']({ id: vm.id });
      console.log("pc-cdrom: VM started, waiting for the firmware's boot menu prompt");
      await logLine(/firmware: Press ESC for boot menu/, 120_000);
      vireo('sendkey', 'Installer', 'esc');
      await logLine(/firmware: Select boot device:/, 60_000);
      const dvd = await logLine(/firmware: (\d)\. DVD\/CD \[ata1-0: VIREO DVD-ROM/, 30_000);
      console.log(`pc-cdrom: boot menu shown; choosing entry ${dvd[1]} (${dvd[0]})`);
      vireo('sendkey', 'Installer', dvd[1]!);
      await logLine(/firmware: Booting from DVD\/CD/, 60_000);
      console.log('pc-cdrom: waiting for the installer menu');
      await screenLike('Installer', menu, 'menu', 240_000);
      console.log(`pc-cdrom: menu after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      // Like a person: let the menu settle, then press Enter once. Loading the installer's
      // kernel and initrd through the BIOS takes about two minutes nested; screenshots (a CLI
      // process each) would only slow it, so the first look is after 100 s.
      await new Promise((r) => setTimeout(r, 5000));
      vireo('sendkey', 'Installer', 'ret');
      console.log('pc-cdrom: Enter pressed; the installer loads through the BIOS');
      for (let waited = 0; waited < 100; waited += 20) {
        await new Promise((r) => setTimeout(r, 20_000));
        console.log(`pc-cdrom: loading, ${waited + 20} s after Enter`);
      }
      await screenLike('Installer', installer, 'installer', 420_000, 10_000);
      console.log(
        `pc-cdrom: installer screen after ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      const now = await plane.handlers['vm.get']({ id: vm.id });
      expect(now.state).toBe('running');
      await plane.handlers['vm.powerOff']({ id: vm.id });
    } finally {
      await plane.close();
    }
  }, 900_000);
});

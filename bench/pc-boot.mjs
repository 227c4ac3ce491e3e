#!/usr/bin/env node
// Time from start to the Debian installer's boot menu, Vireo's PC machine vs QEMU, in one run:
//   test/harness/with-kvm node bench/pc-boot.mjs [ROUNDS]
// Same ISO (test/fixtures/debian-installer-iso.mjs, built on the host first), same firmware
// (Debian's SeaBIOS), 1024 MiB, 1 vCPU, both on the same KVM. The menu counts as reached at
// the first screen within 2% of QEMU's reference picture (test/fixtures/installer-reference.mjs).
// Vireo: `vireo run --cdrom ISO --screenshot S:FILE` at every whole second; QEMU
// (`-enable-kvm -vga std`): its monitor's screendump every second. Resolution: 1 s.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDebianInstallerIso } from '../test/fixtures/debian-installer-iso.mjs';
import { INSTALLER_MEMORY_MIB } from '../test/fixtures/installer-reference.mjs';
import { difference, readPng, readPpm } from '../test/fixtures/pictures.mjs';
import { openMonitor } from '../test/fixtures/qemu-monitor.mjs';

const rounds = Number(process.argv[2] ?? 2);
const LIMIT_S = 180;
const { iso } = ensureDebianInstallerIso();
const menuRef = path.join(path.dirname(iso), 'qemu-reference', 'menu.ppm');
if (!existsSync(menuRef)) {
  console.error('run node test/fixtures/installer-reference.mjs first (QEMU reference pictures)');
  process.exit(2);
}
const reference = readPpm(menuRef);
const matches = (picture) => difference(picture, reference) <= 0.02;

async function vireoOnce() {
  const dir = mkdtempSync(path.join(tmpdir(), 'vireo-pcboot-'));
  const shots = [];
  for (let s = 1; s <= LIMIT_S; s++)
    shots.push('--screenshot', `${s}:${path.join(dir, `${s}.png`)}`);
  const child = spawn(
    process.execPath,
    [
      'bin/vireo.js',
      'run',
      '--cdrom',
      iso,
      '--memory',
      String(INSTALLER_MEMORY_MIB),
      ...shots,
      '--stop-after',
      String(LIMIT_S + 1),
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  try {
    for (let s = 1; s <= LIMIT_S; s++) {
      const file = path.join(dir, `${s}.png`);
      while (!existsSync(file)) {
        if (child.exitCode !== null) return null;
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 100)); // written atomically, but be sure
      if (matches(readPng(file))) return s;
    }
    return null;
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function qemuOnce() {
  const dir = mkdtempSync(path.join(tmpdir(), 'qemu-pcboot-'));
  const socket = path.join(dir, 'mon.sock');
  const started = Date.now();
  const child = spawn(
    'qemu-system-x86_64',
    [
      '-enable-kvm',
      '-cpu',
      'host',
      '-m',
      String(INSTALLER_MEMORY_MIB),
      '-cdrom',
      iso,
      '-vga',
      'std',
      '-display',
      'none',
      '-net',
      'none',
      '-monitor',
      `unix:${socket},server,nowait`,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  try {
    const monitor = await openMonitor(socket);
    for (let s = 1; s <= LIMIT_S; s++) {
      const wait = started + s * 1000 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const file = path.join(dir, 'screen.ppm');
      await monitor.command(`screendump ${file}`);
      if (existsSync(file) && matches(readPpm(file))) {
        monitor.close();
        return s;
      }
    }
    monitor.close();
    return null;
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = { vireo: [], qemu: [] };
for (let i = 0; i < rounds; i++) {
  for (const [who, once] of [
    ['vireo', vireoOnce],
    ['qemu', qemuOnce],
  ]) {
    const s = await once();
    results[who].push(s);
    console.log(
      `round ${i + 1} ${who.padEnd(5)} menu ${s === null ? `not reached in ${LIMIT_S} s` : `at ${s} s`}`,
    );
  }
}
const median = (xs) => {
  const v = xs.filter((x) => x !== null).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
};
const v = median(results.vireo);
const q = median(results.qemu);
console.log(
  `\nstart to installer menu (median of ${rounds}, 1 s resolution): Vireo ${v} s, QEMU ${q} s` +
    (v && q ? `, ratio QEMU/Vireo ${(q / v).toFixed(2)} (above 1: Vireo faster)` : ''),
);

/**
 * The PC machine on real KVM: `vireo run` with no kernel runs SeaBIOS (Debian's seabios
 * package) from the reset vector. With an empty CD-ROM drive and no disk, the BIOS must get
 * through its POST (RAM size from CMOS, relocation into high RAM, its tables) to "No bootable
 * device", and the log must show it; SIGTERM then powers the VM off with exit status 0.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('PC machine (real KVM)', () => {
  it('runs SeaBIOS through POST to "No bootable device" with an empty drive', async () => {
    const child = spawn(
      process.execPath,
      [path.resolve('bin/vireo.js'), 'run', '--verbose', '--memory', '128'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    child.stdout.on('data', (b: Buffer) => (log += b.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 240_000;
    while (!log.includes('No bootable device') && Date.now() < deadline) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    child.kill('SIGTERM');
    const code = await exit;
    expect(log).toContain('firmware: SeaBIOS (version');
    expect(log).toContain('Found QEMU fw_cfg');
    expect(log).toContain('QEMU fw_cfg DMA interface supported');
    expect(log).toContain('qemu/e820: addr 0x0000000000000000 len 0x0000000008000000 [RAM]');
    expect(log).toMatch(/Relocating init from 0x[0-9a-f]+ to 0x[0-9a-f]+/);
    expect(log).toContain('PS2 keyboard initialized');
    expect(log).toContain('No bootable device');
    expect(log).not.toContain('aborted');
    expect(code, log.slice(-3000)).toBe(0);
  });
});

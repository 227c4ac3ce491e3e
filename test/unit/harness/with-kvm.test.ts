/**
 * The harness carries COMMAND's exit status and output both ways, and results written to
 * $VIREO_TEST_OUT inside the (nested) guest appear on the host. The first test boots one L1
 * guest on a machine without /dev/kvm (15-40 s under TCG) or runs directly where /dev/kvm works;
 * the timeout and signal tests force the nested path and stop it within seconds of QEMU's start.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const harness = path.resolve('test/harness/with-kvm');
const folders: string[] = [];

function resultsFolder(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vireo-harness-'));
  folders.push(dir);
  return dir;
}

/** Processes whose command line mentions TEXT (a results folder is on QEMU's -virtfs option). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(text)) found.push(cmdline.replaceAll('\0', ' '));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('test/harness/with-kvm', () => {
  // A whole L1 boot: minutes of margin for a busy machine, not the unit project's 30 s.
  it(
    'carries a failing status, streams output intact and brings results back',
    { timeout: 600_000 },
    () => {
      const out = resultsFolder();
      const token = randomBytes(8).toString('hex');
      // Multi-byte characters across many serial reads, a fake harness marker, a last line with
      // no newline, and a status other than 0 or 1.
      const text = 'é'.repeat(3000);
      const script = [
        'test -c /dev/kvm && echo "kvm-ok $1"',
        'echo "VIREO-HARNESS: exit 0"',
        `node -e 'console.log("é".repeat(3000))'`,
        'echo "$1" > "$VIREO_TEST_OUT/token"',
        'test -t 1 && echo "stdout is a terminal"',
        "printf 'last line'",
        'exit 7',
      ].join('\n');
      const run = spawnSync(harness, ['sh', '-c', script, 'sh', token], {
        encoding: 'utf8',
        env: { ...process.env, VIREO_TEST_OUT: out },
        timeout: 600_000,
      });
      expect(run.stderr).not.toContain('last lines of the L1 console');
      expect(run.status).toBe(7);
      const lines = run.stdout.split('\n');
      expect(lines).toContain(`kvm-ok ${token}`);
      expect(lines).toContain('VIREO-HARNESS: exit 0');
      const echoed = lines.find((l) => l.startsWith('é'));
      expect(
        createHash('sha256')
          .update(echoed ?? '')
          .digest('hex'),
      ).toBe(createHash('sha256').update(text).digest('hex'));
      // Our stdout is a pipe, so the command's must be one too (no progress bars in CI logs).
      expect(run.stdout).not.toContain('stdout is a terminal');
      expect(run.stdout.trimEnd().endsWith('last line')).toBe(true);
      expect(readFileSync(path.join(out, 'token'), 'utf8').trim()).toBe(token);
      expect(readdirSync(path.join(out, '.harness'))).toEqual([]);
    },
  );

  it(
    'boots L1 again when its kernel panics, and the command resumes with the same run id',
    { timeout: 600_000 },
    () => {
      const out = resultsFolder();
      // The first attempt prints what a dying L1 kernel prints, then hangs; the second succeeds.
      const script = [
        'echo "$VIREO_HARNESS_RUN $VIREO_HARNESS_ATTEMPT" >> "$VIREO_TEST_OUT/attempts"',
        'if [ "$VIREO_HARNESS_ATTEMPT" = 1 ]; then',
        '  echo "[  181.853905] Kernel panic - not syncing: a fake one for the test"',
        '  sleep 600',
        'fi',
        'exit 0',
      ].join('\n');
      const run = spawnSync(harness, ['sh', '-c', script], {
        encoding: 'utf8',
        env: { ...process.env, VIREO_TEST_OUT: out, VIREO_HARNESS_FORCE_NESTED: '1' },
        timeout: 600_000,
      });
      expect(run.stderr).toContain('wedged: the L1 kernel panicked (a fake one for the test)');
      expect(run.stderr).toContain('booting L1 again (attempt 2 of 3)');
      expect(run.status).toBe(0);
      const attempts = readFileSync(path.join(out, 'attempts'), 'utf8').trim().split('\n');
      expect(attempts).toHaveLength(2);
      const [first, second] = attempts.map((l) => l.split(' '));
      expect(first![0]).toMatch(/^\d+-[0-9a-f]{8}$/);
      expect(second![0]).toBe(first![0]);
      expect([first![1], second![1]]).toEqual(['1', '2']);
      expect(processesMentioning(out)).toEqual([]);
    },
  );

  it(
    'stops at the hard timeout with status 125, the reason and the console tail',
    { timeout: 120_000 },
    () => {
      const out = resultsFolder();
      const started = Date.now();
      const run = spawnSync(harness, ['--timeout', '3', 'sleep', '600'], {
        encoding: 'utf8',
        env: { ...process.env, VIREO_TEST_OUT: out, VIREO_HARNESS_FORCE_NESTED: '1' },
        timeout: 120_000,
      });
      expect(run.status).toBe(125);
      expect(run.stderr).toContain('hard timeout (3 s) reached');
      expect(run.stderr).toContain('last lines of the L1 console');
      expect(run.stderr).not.toContain('booting L1 again');
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(processesMentioning(out)).toEqual([]);
    },
  );

  it('takes its L1 guest down when it is sent SIGTERM', { timeout: 120_000 }, async () => {
    const out = resultsFolder();
    const child = spawn(harness, ['sleep', '600'], {
      env: { ...process.env, VIREO_TEST_OUT: out, VIREO_HARNESS_FORCE_NESTED: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Wait until QEMU runs (its -virtfs names our results folder), then signal the harness only.
    const deadline = Date.now() + 60_000;
    while (processesMentioning(`path=${out},`).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(processesMentioning(`path=${out},`)).toHaveLength(1);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toContain('SIGTERM: L1 guest stopped');
    expect(processesMentioning(out)).toEqual([]);
  });

  it('names the missing Debian packages in one apt-get line', () => {
    // A PATH holding only what the wrapper itself needs: QEMU, cpio and gzip are then missing.
    const bin = resultsFolder();
    for (const tool of ['node', 'bash', 'dirname', 'readlink']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
      symlinkSync(found.stdout.trim(), path.join(bin, tool));
    }
    const run = spawnSync(harness, ['true'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: bin, VIREO_HARNESS_FORCE_NESTED: '1' },
    });
    expect(run.status).toBe(125);
    expect(run.stderr).toContain('apt-get install -y qemu-system-x86 cpio gzip\n');
  });

  it('refuses bad options before booting anything', () => {
    const run = spawnSync(harness, ['--timeout', 'soon', 'true'], { encoding: 'utf8' });
    expect(run.status).toBe(125);
    expect(run.stderr).toContain('--timeout needs a positive number of seconds');
    const none = spawnSync(harness, [], { encoding: 'utf8' });
    expect(none.status).toBe(125);
    expect(none.stderr).toContain('no COMMAND given');
    const root = spawnSync(harness, ['true'], {
      encoding: 'utf8',
      env: { ...process.env, VIREO_TEST_OUT: '/', VIREO_HARNESS_FORCE_NESTED: '1' },
    });
    expect(root.status).toBe(125);
    expect(root.stderr).toContain('would hide the checkout');
  });
});

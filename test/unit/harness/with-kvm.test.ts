/**
 * The harness carries COMMAND's exit status and output both ways, and results written to
 * $VIREO_TEST_OUT inside the (nested) guest appear on the host. This boots one L1 guest on a
 * machine without /dev/kvm (about 10-20 s) or runs directly where /dev/kvm works.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const harness = path.resolve('test/harness/with-kvm');

describe('test/harness/with-kvm', () => {
  it('carries a failing status, streams output and brings results back', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'vireo-harness-'));
    const token = randomBytes(8).toString('hex');
    try {
      const run = spawnSync(
        harness,
        [
          'sh',
          '-c',
          `test -c /dev/kvm && echo "kvm-ok $1"; echo "$1" > "$VIREO_TEST_OUT/token"; exit 7`,
          'sh',
          token,
        ],
        { encoding: 'utf8', env: { ...process.env, VIREO_TEST_OUT: out }, timeout: 300_000 },
      );
      expect(run.stdout).toContain(`kvm-ok ${token}`);
      expect(run.status).toBe(7);
      expect(readFileSync(path.join(out, 'token'), 'utf8').trim()).toBe(token);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses bad options before booting anything', () => {
    const run = spawnSync(harness, ['--timeout', 'soon', 'true'], { encoding: 'utf8' });
    expect(run.status).toBe(125);
    expect(run.stderr).toContain('--timeout needs a positive number of seconds');
    const none = spawnSync(harness, [], { encoding: 'utf8' });
    expect(none.status).toBe(125);
    expect(none.stderr).toContain('no COMMAND given');
  });
});

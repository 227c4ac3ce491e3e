/**
 * `vireo run` boots Debian's kernel with a busybox initramfs on real KVM (through
 * test/harness/with-kvm) and is driven over its serial console through pipes, as a person would
 * at a terminal: shell arithmetic answered by the guest, both vCPUs online, a guest reboot that
 * boots again (reboot action "reset") or ends the VM (action "exit"), and `poweroff` ending the
 * host process with status 0. Three boots in all: nested KVM is slow.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GUEST_APPEND, INIT_MARKER, linuxGuest } from './linux-guest.js';

const PROMPT = 'guest# ';
const vireo = path.resolve('bin/vireo.js');

/** A `vireo run` process with its console transcript and helpers to wait for text. */
class ConsoleSession {
  readonly child: ChildProcessWithoutNullStreams;
  transcript = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [vireo, 'run', '--verbose', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (text: string) => {
      this.transcript += text;
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr.on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Resolves when `text` has appeared after `from` in the transcript; returns its end. */
  async waitFor(text: string | RegExp, from = 0, timeoutMs = 300_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.transcript.slice(from);
      const m = typeof text === 'string' ? rest.indexOf(text) : rest.search(text);
      if (m >= 0) return from + m + (typeof text === 'string' ? text.length : 1);
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(
          `timed out waiting for ${String(text)}; console:\n${this.transcript.slice(-3000)}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 1000).unref();
      });
    }
  }

  /** Types a command line and returns the transcript position after its echo. */
  type(line: string): number {
    const at = this.transcript.length;
    this.child.stdin.write(`${line}\n`);
    return at;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

describe('vireo run boots Linux (real KVM)', () => {
  const guest = linuxGuest();
  const common = ['--kernel', guest.kernel, '--initrd', guest.initrd, '--append', GUEST_APPEND];

  it('answers over serial, sees two CPUs, reboots (reset) and powers off with status 0', async () => {
    const vm = new ConsoleSession([...common, '--cpus', '2', '--memory', '256']);
    try {
      await vm.waitFor(INIT_MARKER);
      let at = await vm.waitFor(PROMPT);

      at = vm.type('echo answer=$((6*7))');
      at = await vm.waitFor('answer=42', at);

      at = vm.type('echo cpus=$(cat /sys/devices/system/cpu/online) n=$(nproc)');
      at = await vm.waitFor(/cpus=\S+ n=\d+/, at);
      expect(vm.transcript.slice(at - 1)).toMatch(/^cpus=0-1 n=2/);

      // A guest reboot with reboot action "reset" boots the same kernel again.
      vm.type('reboot -f');
      at = await vm.waitFor(INIT_MARKER, at);
      at = await vm.waitFor(PROMPT, at);
      vm.type('echo second-boot=$((1+1))');
      at = await vm.waitFor('second-boot=2', at);

      vm.type('poweroff -f');
      expect(await vm.exited).toBe(0);
      expect(vm.stderr).toContain('the guest powered off');
      expect(vm.stderr).toContain('boot 2:');
    } finally {
      vm.kill();
    }
  });

  it('ends the VM on a guest reboot with --reboot-action exit', async () => {
    const vm = new ConsoleSession([...common, '--reboot-action', 'exit']);
    try {
      await vm.waitFor(PROMPT, await vm.waitFor(INIT_MARKER));
      vm.type('reboot -f');
      expect(await vm.exited).toBe(0);
      expect(vm.stderr).toContain('the guest rebooted (reboot action: exit)');
      expect(vm.stderr).not.toContain('boot 2:');
    } finally {
      vm.kill();
    }
  });
});

// The nested-KVM harness: `test/harness/with-kvm [--timeout S] [--silence S] COMMAND [ARGS...]`.
//
// Runs COMMAND from the project root with a working /dev/kvm and exits with COMMAND's status,
// streaming its output.
// - Where /dev/kvm opens read-write, COMMAND simply runs here.
// - Otherwise an L1 guest boots under QEMU's emulator (TCG) with `-cpu max`, which exposes AMD
//   SVM; Debian's kernel loads kvm-amd there and /dev/kvm is the real kernel KVM. The host's root
//   is shared read-only over 9p and COMMAND runs chrooted into it, so the checkout, node and
//   node_modules sit at the same paths. $VIREO_TEST_OUT (default <project>/test-results) is a
//   writable 9p export mounted at its own path: what the command writes there appears on the host.
//   (Recipe and measurements: shared recipes/nested-kvm.md; this project's: docs/testing.md.)
//
// Exit status: COMMAND's, carried out of L1 by a marker line on the serial console and a file
// in the writable export. Harness failures (boot timeout, missing tools) exit 125, as `env` and
// `git bisect run` reserve that for "could not run"; a signal to the harness exits 128+signal.
//
// Timeouts: `--timeout S` / VIREO_HARNESS_TIMEOUT (default 2400 s) bounds the whole run;
// `--silence S` / VIREO_HARNESS_SILENCE (default 300 s) kills a guest that prints nothing for
// that long and boots it again (one run in five once hung silently at boot, per the recipe);
// a guest whose kernel reports a soft lockup of 60 s or more, or panics, is wedged and gets the same;
// a guest that resets before COMMAND begins is booted again too. Three boots at most.
// COMMAND sees VIREO_HARNESS_RUN (the same in every boot of this run) and VIREO_HARNESS_ATTEMPT
// (1, 2, 3), so it can resume rather than start over (test/harness/engine-suite.mjs does).
// On failure the last lines of the L1 console are printed.
import { spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianKernel, hasTool, projectRoot } from '../fixtures/debian-kernel.mjs';
import { BUSYBOX, isStaticElf } from '../fixtures/busybox-initramfs.mjs';
import { ensureL1Initrd } from './l1-initrd.mjs';

const HARNESS_FAILURE = 125;
const CONSOLE_TAIL_LINES = 60;
/** The L1 kernel's soft-lockup watchdog line; its figure is how long the CPU has been stuck. */
const SOFT_LOCKUP = /watchdog: BUG: soft lockup - CPU#\d+ stuck for (\d+)s!/;
/** A soft lockup this long means L1 will not recover (a busy host gives stalls of seconds). */
const WEDGED_AFTER_S = 60;
/**
 * The L1 kernel died (seen under TCG with nested SVM: "BUG: TASK stack guard page was hit" in
 * exc_page_fault, then this line): the same kind of failure as a wedge, not the command's.
 */
const KERNEL_PANIC = /^\[\s*\d+\.\d+\] Kernel panic - not syncing: (.*)$/;

/**
 * Boots per run: a hang or a wedge is retried, twice at most. Each retry runs COMMAND again from
 * the start with VIREO_HARNESS_ATTEMPT one higher; a resumable command skips what is done.
 */
const MAX_ATTEMPTS = 3;

/** Seconds a booting L1 may stay silent before its first console line, whatever --silence says. */
const BOOT_GRACE = 120;

/** Environment variables passed into L1 besides every VIREO_* one. */
const PASSED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LC_ALL',
  'TZ',
  'TERM',
  'CI',
  'NODE_OPTIONS',
  'DEBUG',
  'FORCE_COLOR',
  'NO_COLOR',
];

function usage() {
  return [
    'usage: test/harness/with-kvm [--timeout SECONDS] [--silence SECONDS] [--] COMMAND [ARGS...]',
    '',
    'Runs COMMAND from the project root with a working /dev/kvm (nested under QEMU when the host',
    'has none) and exits with its status. Env: VIREO_HARNESS_TIMEOUT, VIREO_HARNESS_SILENCE,',
    'VIREO_TEST_OUT (writable results folder, default <project>/test-results),',
    'VIREO_HARNESS_FORCE_NESTED=1 (boot L1 even where /dev/kvm works), VIREO_HARNESS_MEMORY (MiB),',
    'VIREO_HARNESS_VERBOSE=1 (copy the whole L1 console to stderr). See docs/testing.md.',
  ].join('\n');
}

function fail(message) {
  process.stderr.write(`with-kvm: ${message}\n`);
  process.exit(HARNESS_FAILURE);
}

function seconds(value, what) {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n) || n <= 0)
    fail(`${what} needs a positive number of seconds, not ${JSON.stringify(value)}`);
  return n;
}

function parseArgs(argv) {
  const env = process.env;
  const opts = {
    timeout: seconds(env.VIREO_HARNESS_TIMEOUT ?? '2400', 'VIREO_HARNESS_TIMEOUT'),
    silence: seconds(env.VIREO_HARNESS_SILENCE ?? '300', 'VIREO_HARNESS_SILENCE'),
    memory: Number(env.VIREO_HARNESS_MEMORY ?? 6144),
    verbose: env.VIREO_HARNESS_VERBOSE === '1',
    command: [],
  };
  if (!Number.isInteger(opts.memory) || opts.memory < 512)
    fail('VIREO_HARNESS_MEMORY needs a whole number of MiB, at least 512');
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-h' || a === '--help') {
      console.log(usage());
      process.exit(0);
    }
    if (a === '--timeout' || a === '--silence') {
      opts[a.slice(2)] = seconds(argv[++i] ?? '', a);
      continue;
    }
    if (a.startsWith('-')) fail(`unknown option ${a}\n${usage()}`);
    break;
  }
  opts.command = argv.slice(i);
  if (opts.command.length === 0) fail(`no COMMAND given\n${usage()}`);
  return opts;
}

function kvmUsableHere() {
  if (process.env.VIREO_HARNESS_FORCE_NESTED === '1') return false;
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

function signalStatus(signal) {
  return 128 + (os.constants.signals[signal] ?? 0);
}

/**
 * /dev/kvm works here: run COMMAND as it is, passing on signals sent to the harness. The hard
 * timeout holds here too (SIGTERM, then SIGKILL 10 s later); the silence watchdog does not, as
 * the hang it guards against is the nested guest's.
 */
function runDirect(command, opts) {
  // The same contract as nested: VIREO_TEST_OUT names an existing results folder, and the run
  // has an id (one attempt here: no guest to wedge).
  const env = {
    ...process.env,
    VIREO_TEST_OUT: resultsFolder(),
    VIREO_HARNESS_RUN: newHarnessRun(),
    VIREO_HARNESS_ATTEMPT: '1',
  };
  const child = spawn(command[0], command.slice(1), { cwd: projectRoot, env, stdio: 'inherit' });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.stderr.write(`with-kvm: hard timeout (${opts.timeout} s) reached\n`);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  }, opts.timeout * 1000);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('error', (e) => fail(`cannot run ${command[0]}: ${e.message}`));
  child.on('exit', (code, signal) => {
    clearTimeout(timer);
    process.exit(timedOut ? HARNESS_FAILURE : (code ?? signalStatus(signal ?? 'SIGKILL')));
  });
}

/**
 * One id for a harness run, the same in every attempt: a command that records its progress under
 * $VIREO_TEST_OUT keyed by it (test/harness/engine-suite.mjs) can skip on a retry what an
 * earlier attempt already finished, so a wedged L1 costs one test file rather than the suite.
 */
function newHarnessRun() {
  return `${Date.now()}-${randomBytes(4).toString('hex')}`;
}

/** POSIX shell single-quoting. */
function shq(s) {
  return `'${String(s).replaceAll("'", "'\\''")}'`;
}

/**
 * The script COMMAND runs as inside L1's chroot: the project root as cwd, the host's PATH and
 * HOME (writes land in the overlay and vanish), every VIREO_* variable and a few others.
 * The serial console is a terminal; where the harness's own stdout is not one (CI, a pipe), the
 * command's output goes through a pipe too, so tools do not draw progress bars into CI logs.
 */
function commandScript(command, outDir, harnessRun, attempt) {
  const env = {
    VIREO_TEST_OUT: outDir,
    VIREO_NESTED: '1',
    VIREO_HARNESS_RUN: harnessRun,
    VIREO_HARNESS_ATTEMPT: String(attempt),
  };
  for (const [k, v] of Object.entries(process.env)) {
    if ((k.startsWith('VIREO_') || PASSED_ENV.includes(k)) && v !== undefined && !(k in env))
      env[k] = v;
  }
  const run = command.map(shq).join(' ');
  const lines = [...Object.entries(env).map(([k, v]) => `export ${k}=${shq(v)}`)];
  lines.push(`cd ${shq(projectRoot)} || exit 125`);
  if (process.stdout.isTTY) {
    const { columns, rows } = process.stdout;
    if (columns && rows) lines.push(`stty cols ${columns} rows ${rows} 2>/dev/null`);
    lines.push(`exec ${run} </dev/null 2>&1`);
  } else {
    // dash has no pipefail: the status crosses the pipe in a file.
    const status = '/tmp/.vireo-harness-status';
    lines.push(`{ ${run} </dev/null 2>&1; echo $? > ${status}; } | cat`);
    lines.push(`read code < ${status} 2>/dev/null || code=125`, 'exit "$code"');
  }
  return `${lines.join('\n')}\n`;
}

/** QEMU option values separate fields with commas; a literal comma is written twice. */
function qemuOptionValue(s) {
  return s.replaceAll(',', ',,');
}

/** The running QEMU and its run folder, so a signal to the harness can take them down. */
let currentQemu = null;
let currentRunDir = null;

/**
 * One L1 boot. Resolves { code, reason, timings, tail, transient } where code is COMMAND's exit
 * status, or null when the guest never reported one (reason says why).
 */
function bootOnce({ kernel, initrd, runId, runDir, outDir, opts, deadline }) {
  return new Promise((resolve) => {
    const nonce = randomBytes(8).toString('hex');
    const args = [
      ...['-cpu', 'max', '-accel', 'tcg,thread=multi'],
      ...['-smp', String(Math.min(os.availableParallelism(), 4)), '-m', String(opts.memory)],
      ...['-kernel', kernel.vmlinuz, '-initrd', initrd],
      '-append',
      // `quiet` (only errors reach the console, which the command's output shares) saves about
      // a second of boot: the kernel console writes each byte by polling the emulated UART.
      // VIREO_HARNESS_VERBOSE=1 drops it to show where a hung boot stopped.
      `console=ttyS0 ${opts.verbose ? '' : 'quiet '}panic=-1 vireo.nonce=${nonce} vireo.run=${runId}`,
      ...['-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot'],
      '-virtfs',
      'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
      '-virtfs',
      `local,path=${qemuOptionValue(outDir)},mount_tag=out,security_model=none,multidevs=remap`,
    ];
    const started = Date.now();
    const timings = { l1Init: null, kvmReady: null, commandStart: null, commandEnd: null };
    const tail = [];
    const marker = new RegExp(`VIREO-HARNESS-${nonce}: (\\S+)(?: (.*))?$`);
    let streaming = false;
    let code = null;
    let reason = null;
    let partial = '';
    let lastOutput = Date.now();
    let printedAnything = false;
    // Firmware and the kernel's decompressor print nothing: until the first console line (about
    // 8 s, more on a busy machine) a short --silence would kill every boot, so it gets a grace.
    const silenceLimit = () =>
      printedAnything ? opts.silence : Math.max(opts.silence, BOOT_GRACE);

    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    currentQemu = qemu;
    const finish = (why) => {
      if (reason === null && code === null) reason = why;
      if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    };
    const watchdog = setInterval(() => {
      const now = Date.now();
      if (now > deadline) finish(`hard timeout (${opts.timeout} s) reached`);
      else if (now - lastOutput > silenceLimit() * 1000)
        finish(`silence: nothing printed for ${silenceLimit()} s`);
    }, 1000);

    const onLine = (line) => {
      // A wedged L1: both of its CPUs in soft lockup for a minute or more while QEMU spins (seen
      // a few times in ~50 runs, at any point of a run, under TCG with nested SVM). The kernel
      // keeps printing, so the silence watchdog never fires; this is the same kind of hang.
      const lockup = SOFT_LOCKUP.exec(line);
      if (lockup && Number(lockup[1]) >= WEDGED_AFTER_S)
        finish(`wedged: the L1 kernel reports a soft lockup of ${lockup[1]} s`);
      const panic = KERNEL_PANIC.exec(line);
      if (panic) finish(`wedged: the L1 kernel panicked (${panic[1]})`);
      tail.push(line);
      if (tail.length > CONSOLE_TAIL_LINES) tail.shift();
      if (opts.verbose) process.stderr.write(`[L1] ${line}\n`);
      const m = marker.exec(line);
      if (!m) {
        if (streaming) process.stdout.write(`${line}\n`);
        return;
      }
      const [, what, rest = ''] = m;
      const at = (Date.now() - started) / 1000;
      if (what === 'l1-init') timings.l1Init = at;
      else if (what === 'kvm') timings.kvmReady = at;
      else if (what === 'begin') {
        timings.commandStart = at;
        streaming = true;
      } else if (what === 'exit' && code === null) {
        timings.commandEnd = at;
        streaming = false;
        if (/^\d+$/.test(rest)) code = Number(rest);
      } else if (what === 'note') process.stderr.write(`with-kvm: L1: ${rest}\n`);
    };
    // setEncoding decodes across chunk boundaries: a multi-byte character split between two
    // reads stays whole.
    qemu.stdout.setEncoding('utf8');
    qemu.stdout.on('data', (chunk) => {
      lastOutput = Date.now();
      printedAnything = true;
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l.replace(/\r$/, ''));
    });
    qemu.stderr.setEncoding('utf8');
    qemu.stderr.on('data', (chunk) => {
      lastOutput = Date.now();
      for (const l of chunk.split('\n')) if (l) tail.push(`[qemu] ${l}`);
    });
    qemu.on('error', (e) => finish(`cannot start qemu-system-x86_64: ${e.message}`));
    qemu.on('close', (status, signal) => {
      clearInterval(watchdog);
      currentQemu = null;
      if (partial) onLine(partial);
      const total = (Date.now() - started) / 1000;
      if (code === null && reason === null) {
        // The console marker can be lost if the guest dies mid-line; the file is the fallback.
        const file = path.join(runDir, 'exit-code');
        const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
        if (/^\d+$/.test(text)) code = Number(text);
      }
      if (code === null && reason === null)
        reason = `L1 guest ended (qemu ${signal ?? `status ${status}`}) without reporting the command's exit status`;
      resolve({
        code,
        reason,
        timings: { ...timings, total },
        tail,
        // Worth one more boot: a hang (silence), or a guest that reset or powered off before
        // COMMAND began (QEMU exits 0 under -no-reboot; seen once in ~20 boots on a loaded host,
        // with nothing on a quiet console). COMMAND never ran, so nothing is repeated.
        transient:
          (reason?.startsWith('silence') ?? false) ||
          (reason?.startsWith('wedged') ?? false) ||
          (code === null && timings.commandStart === null && status === 0),
      });
    });
  });
}

/** Names every missing Debian package in one apt-get line, rather than one per run. */
function checkHostTools() {
  const missing = [];
  if (!hasTool('qemu-system-x86_64')) missing.push('qemu-system-x86');
  if (!existsSync(BUSYBOX) || !isStaticElf(BUSYBOX)) missing.push('busybox-static');
  if (!hasTool('cpio')) missing.push('cpio');
  if (!hasTool('gzip')) missing.push('gzip');
  if (missing.length > 0)
    fail(
      `the nested-KVM harness needs ${missing.join(', ')} (no /dev/kvm here, so it boots a ` +
        `guest under QEMU). Install with:\n  apt-get install -y ${missing.join(' ')}\n` +
        '(or run bash .ci/run, which installs everything the tests need)',
    );
}

/** $VIREO_TEST_OUT, or <project>/test-results: created, and refused if it would cover the root. */
function resultsFolder() {
  const outDir = path.resolve(process.env.VIREO_TEST_OUT || path.join(projectRoot, 'test-results'));
  if (outDir === '/' || projectRoot.startsWith(`${outDir}/`))
    fail(
      `VIREO_TEST_OUT=${outDir} would hide the checkout inside L1: choose a folder such as ${projectRoot}/test-results`,
    );
  try {
    mkdirSync(outDir, { recursive: true });
    if (!statSync(outDir).isDirectory()) throw new Error('not a folder');
  } catch (e) {
    fail(`cannot use ${outDir} as the results folder (VIREO_TEST_OUT): ${e.message}`);
  }
  return outDir;
}

function formatTimings(t, attempt) {
  const s = (v) => (v === null ? '-' : `${v.toFixed(1)} s`);
  return (
    `L1 boot to init ${s(t.l1Init)}, /dev/kvm ready ${s(t.kvmReady)}, ` +
    `command start ${s(t.commandStart)}, command end ${s(t.commandEnd)}, total ${s(t.total)} ` +
    `(attempt ${attempt})`
  );
}

async function runNested(opts) {
  const outDir = resultsFolder();
  checkHostTools();
  const deadline = Date.now() + opts.timeout * 1000;
  let kernel;
  let initrd;
  try {
    kernel = ensureDebianKernel();
    initrd = ensureL1Initrd();
  } catch (e) {
    fail(`cannot prepare the L1 guest: ${e.message}`);
  }

  const harnessRun = newHarnessRun();
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const runId = `${Date.now()}-${randomBytes(4).toString('hex')}`;
    const runDir = path.join(outDir, '.harness', runId);
    mkdirSync(runDir, { recursive: true });
    currentRunDir = runDir;
    writeFileSync(path.join(runDir, 'mountpoint'), outDir);
    writeFileSync(
      path.join(runDir, 'command.sh'),
      commandScript(opts.command, outDir, harnessRun, attempt),
    );
    let result;
    try {
      result = await bootOnce({ kernel, initrd, runId, runDir, outDir, opts, deadline });
    } finally {
      rmSync(runDir, { recursive: true, force: true });
      currentRunDir = null;
    }
    process.stderr.write(`with-kvm: ${formatTimings(result.timings, attempt)}\n`);
    if (result.code !== null) {
      if (result.code !== 0) process.stderr.write(`with-kvm: command exited ${result.code}\n`);
      return result.code;
    }
    process.stderr.write(`with-kvm: ${result.reason}\nwith-kvm: last lines of the L1 console:\n`);
    for (const l of result.tail) process.stderr.write(`  | ${l}\n`);
    if (result.timings.commandStart === null && !opts.verbose)
      process.stderr.write('with-kvm: VIREO_HARNESS_VERBOSE=1 shows the kernel boot messages\n');
    if (!(result.transient && attempt < MAX_ATTEMPTS && Date.now() < deadline)) break;
    process.stderr.write(
      `with-kvm: booting L1 again (attempt ${attempt + 1} of ${MAX_ATTEMPTS})\n`,
    );
  }
  return HARNESS_FAILURE;
}

const opts = parseArgs(process.argv.slice(2));
if (kvmUsableHere()) {
  runDirect(opts.command, opts);
} else {
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(s, () => {
      const done = () => {
        if (currentRunDir) rmSync(currentRunDir, { recursive: true, force: true });
        process.stderr.write(`with-kvm: ${s}: L1 guest stopped\n`);
        process.exit(signalStatus(s));
      };
      // Wait for QEMU to be gone, so nothing of this run outlives the harness.
      if (currentQemu === null) return done();
      currentQemu.on('close', done);
      currentQemu.kill('SIGKILL');
    });
  }
  process.exit(await runNested(opts));
}

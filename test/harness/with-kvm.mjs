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
// `git bisect run` reserve that for "could not run".
//
// Timeouts: `--timeout S` / VIREO_HARNESS_TIMEOUT (default 2400 s) bounds the whole run;
// `--silence S` / VIREO_HARNESS_SILENCE (default 300 s) kills a guest that prints nothing for
// that long and boots it once more (one run in five once hung silently at boot, per the recipe).
// On failure the last lines of the L1 console are printed.
import { spawn, execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  constants,
} from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {
  cacheRoot,
  ensureDebianKernel,
  projectRoot,
  requireTools,
} from '../fixtures/debian-kernel.mjs';

const HARNESS_FAILURE = 125;
const CONSOLE_TAIL_LINES = 60;

/** Modules L1 loads, in dependency order (each's `depends=` checked against Debian 12's 6.1 kernel). */
const L1_MODULES = [
  'virt/lib/irqbypass',
  'arch/x86/kvm/kvm',
  'drivers/crypto/ccp/ccp',
  'arch/x86/kvm/kvm-amd',
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci',
  'fs/netfs/netfs',
  'fs/fscache/fscache',
  'net/9p/9pnet',
  'net/9p/9pnet_virtio',
  'fs/9p/9p',
  'fs/overlayfs/overlay',
];

/** Environment variables passed into L1 besides VIREO_* ones. */
const PASSED_ENV = ['CI', 'TERM', 'LANG', 'NODE_OPTIONS', 'DEBUG', 'FORCE_COLOR', 'NO_COLOR'];

function usage() {
  return [
    'usage: test/harness/with-kvm [--timeout SECONDS] [--silence SECONDS] [--] COMMAND [ARGS...]',
    '',
    'Runs COMMAND from the project root with a working /dev/kvm (nested under QEMU when the host',
    'has none) and exits with its status. Env: VIREO_HARNESS_TIMEOUT, VIREO_HARNESS_SILENCE,',
    'VIREO_TEST_OUT (writable results folder, default <project>/test-results),',
    'VIREO_HARNESS_FORCE_NESTED=1 (boot L1 even where /dev/kvm works), VIREO_HARNESS_MEMORY (MiB).',
  ].join('\n');
}

function parseArgs(argv) {
  const opts = {
    timeout: Number(process.env.VIREO_HARNESS_TIMEOUT ?? 2400),
    silence: Number(process.env.VIREO_HARNESS_SILENCE ?? 300),
    command: [],
  };
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
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) fail(`${a} needs a positive number of seconds`);
      opts[a.slice(2)] = v;
      continue;
    }
    if (a.startsWith('--')) fail(`unknown option ${a}\n${usage()}`);
    break;
  }
  opts.command = argv.slice(i);
  if (opts.command.length === 0) fail(`no COMMAND given\n${usage()}`);
  for (const k of ['timeout', 'silence']) {
    if (!Number.isFinite(opts[k]) || opts[k] <= 0)
      fail(`bad ${k}: must be a positive number of seconds`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`with-kvm: ${message}\n`);
  process.exit(HARNESS_FAILURE);
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

function runDirect(command) {
  const child = spawn(command[0], command.slice(1), { cwd: projectRoot, stdio: 'inherit' });
  child.on('error', (e) => fail(`cannot run ${command[0]}: ${e.message}`));
  child.on('exit', (code, signal) =>
    process.exit(code ?? (signal ? 128 + os.constants.signals[signal] : 1)),
  );
}

/** POSIX shell single-quoting. */
function shq(s) {
  return `'${String(s).replaceAll("'", "'\\''")}'`;
}

/** The L1 init (busybox sh). Mount layout mirrors the host so paths stay valid in the chroot. */
function l1Init() {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "VIREO-HARNESS: l1-init $(cut -d' ' -f1 /proc/uptime)"
for m in ${L1_MODULES.map((m) => path.basename(m)).join(' ')}; do
  insmod /mods/$m.ko || echo "VIREO-HARNESS: insmod $m failed"
done
# The host's root, read-only over 9p, under a tmpfs overlay: COMMAND may write anywhere (caches,
# node_modules/.vite-temp, ...) but only the VIREO_TEST_OUT export reaches the host.
mkdir -p /lower /rw /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || echo "VIREO-HARNESS: 9p hostroot failed"
mount -t tmpfs -o size=50% tmpfs /rw; mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /host || { echo "VIREO-HARNESS: overlay failed, using the read-only root"; mount --bind /lower /host; mount -t tmpfs -o size=75% tmpfs /host/tmp; }
out=$(cat /proc/cmdline | tr ' ' '\\n' | sed -n 's/^vireo.out=//p')
run=$(cat /proc/cmdline | tr ' ' '\\n' | sed -n 's/^vireo.run=//p')
mount --bind /dev /host/dev; mount -t proc proc /host/proc; mount -t sysfs sys /host/sys
mount -t debugfs none /host/sys/kernel/debug
# No separate tmpfs on /tmp: the overlay already makes it writable, and a checkout or results
# folder under /tmp (CI clones often live there) must stay visible.
mount -t devpts devpts /host/dev/pts 2>/dev/null
mkdir -p "/host$out"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out "/host$out" || echo "VIREO-HARNESS: 9p out failed"
if [ -c /dev/kvm ]; then echo "VIREO-HARNESS: kvm ready $(cut -d' ' -f1 /proc/uptime)"; else echo "VIREO-HARNESS: no /dev/kvm in L1"; fi
echo "VIREO-HARNESS: begin"
chroot /host /bin/sh "$run/command.sh"
code=$?
echo "$code" > "/host$run/exit-code"
sync
# A command whose last line lacks a newline would swallow the marker: start a fresh line.
echo
echo "VIREO-HARNESS: exit $code"
poweroff -f
`;
}

/** Builds (or finds in the cache) L1's initramfs: busybox, the init above, the modules. */
function ensureL1Initrd(kernel) {
  const init = l1Init();
  const key = createHash('sha256')
    .update(init)
    .update(kernel.package)
    .update(L1_MODULES.join())
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(cacheRoot, 'harness');
  const file = path.join(dir, `l1-initrd-${key}.cpio.gz`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const stage = path.join(dir, `.stage-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  for (const d of ['bin', 'mods', 'proc', 'sys', 'dev', 'host', 'lower', 'rw'])
    mkdirSync(path.join(stage, d), { recursive: true });
  execFileSync('cp', ['/bin/busybox', path.join(stage, 'bin', 'busybox')]);
  for (const m of L1_MODULES) {
    execFileSync('cp', [
      path.join(kernel.modules, `${m}.ko`),
      path.join(stage, 'mods', `${path.basename(m)}.ko`),
    ]);
  }
  writeFileSync(path.join(stage, 'init'), init, { mode: 0o755 });
  const tmp = `${file}.tmp-${process.pid}`;
  execFileSync('sh', [
    '-c',
    `cd ${shq(stage)} && find . | cpio -o -H newc --quiet | gzip -1 > ${shq(tmp)}`,
  ]);
  execFileSync('mv', [tmp, file]);
  rmSync(stage, { recursive: true, force: true });
  return file;
}

/** The script COMMAND runs as inside L1's chroot: same cwd, same PATH, selected env. */
function commandScript(command, outDir) {
  const env = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: '/tmp/home',
    npm_config_cache: '/tmp/npm-cache',
    npm_config_update_notifier: 'false',
    VIREO_TEST_OUT: outDir,
    VIREO_NESTED: '1',
  };
  for (const [k, v] of Object.entries(process.env)) {
    if ((k.startsWith('VIREO_') || PASSED_ENV.includes(k)) && v !== undefined && !(k in env))
      env[k] = v;
  }
  return [
    'mkdir -p /tmp/home',
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shq(v)}`),
    `cd ${shq(projectRoot)} || exit 125`,
    `echo "VIREO-HARNESS: command $(cut -d' ' -f1 /proc/uptime)"`,
    `exec ${command.map(shq).join(' ')} </dev/null 2>&1`,
    '',
  ].join('\n');
}

/**
 * One L1 boot. Resolves { code, reason, timings } where code is COMMAND's exit status, or null
 * when the guest never reported one (reason says why).
 */
function bootOnce({ kernel, initrd, runDir, outDir, opts, deadline }) {
  return new Promise((resolve) => {
    const memory = Number(process.env.VIREO_HARNESS_MEMORY ?? 6144);
    const args = [
      '-cpu',
      'max',
      '-smp',
      String(Math.min(os.availableParallelism(), 4)),
      '-accel',
      'tcg,thread=multi',
      '-m',
      String(memory),
      '-kernel',
      kernel.vmlinuz,
      '-initrd',
      initrd,
      '-append',
      `console=ttyS0 quiet panic=-1 vireo.out=${outDir} vireo.run=${runDir}`,
      '-display',
      'none',
      '-monitor',
      'none',
      '-serial',
      'stdio',
      '-no-reboot',
      '-virtfs',
      'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
      '-virtfs',
      `local,path=${outDir},mount_tag=out,security_model=none,multidevs=remap`,
    ];
    const started = Date.now();
    const timings = { l1Init: null, kvmReady: null, commandStart: null, total: null };
    const tail = [];
    let streaming = false;
    let code = null;
    let reason = null;
    let partial = '';
    let lastOutput = Date.now();

    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const finish = (why) => {
      if (reason === null && code === null) reason = why;
      if (qemu.exitCode === null) qemu.kill('SIGKILL');
    };
    const watchdog = setInterval(() => {
      const now = Date.now();
      if (now > deadline) finish(`hard timeout (${opts.timeout} s) reached`);
      else if (now - lastOutput > opts.silence * 1000)
        finish(`silence: nothing printed for ${opts.silence} s`);
    }, 1000);

    const onLine = (line) => {
      tail.push(line);
      if (tail.length > CONSOLE_TAIL_LINES) tail.shift();
      const m = /VIREO-HARNESS: (\S+)(?: (.*))?$/.exec(line);
      const seconds = (Date.now() - started) / 1000;
      if (m) {
        const [, what, rest] = m;
        if (what === 'l1-init') timings.l1Init = seconds;
        else if (what === 'kvm') timings.kvmReady = seconds;
        else if (what === 'command') timings.commandStart = seconds;
        else if (what === 'begin') streaming = true;
        else if (what === 'exit') {
          streaming = false;
          code = Number(rest);
        } else process.stderr.write(`with-kvm: ${line}\n`);
        return;
      }
      if (streaming) process.stdout.write(`${line}\n`);
    };
    qemu.stdout.on('data', (chunk) => {
      lastOutput = Date.now();
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l.replace(/\r$/, ''));
    });
    qemu.stderr.on('data', (chunk) => {
      lastOutput = Date.now();
      for (const l of chunk.toString('utf8').split('\n')) if (l) tail.push(`[qemu] ${l}`);
    });
    qemu.on('error', (e) => finish(`cannot start qemu-system-x86_64: ${e.message}`));
    qemu.on('close', (status) => {
      clearInterval(watchdog);
      if (partial) onLine(partial);
      timings.total = (Date.now() - started) / 1000;
      if (code === null) {
        // The console marker can be lost if the guest dies mid-line; the file is the fallback.
        const file = path.join(runDir, 'exit-code');
        if (existsSync(file)) code = Number(readFileSync(file, 'utf8').trim());
      }
      if (code === null && reason === null)
        reason = `L1 guest ended (qemu status ${status}) without reporting the command's exit status`;
      resolve({ code, reason, timings, tail, silent: reason?.startsWith('silence') ?? false });
    });
  });
}

async function runNested(opts) {
  try {
    requireTools([
      ['qemu-system-x86_64', 'qemu-system-x86'],
      ['cpio', 'cpio'],
      ['gzip', 'gzip'],
    ]);
    if (!existsSync('/bin/busybox')) {
      throw new Error(
        'busybox (static) is not installed. Install it with:\n  apt-get install -y busybox-static',
      );
    }
  } catch (e) {
    fail(e.message);
  }
  const deadline = Date.now() + opts.timeout * 1000;
  let kernel;
  let initrd;
  try {
    kernel = ensureDebianKernel();
    initrd = ensureL1Initrd(kernel);
  } catch (e) {
    fail(`cannot prepare the L1 guest: ${e.message}`);
  }
  const outDir = path.resolve(process.env.VIREO_TEST_OUT ?? path.join(projectRoot, 'test-results'));
  mkdirSync(outDir, { recursive: true });

  for (let attempt = 1; attempt <= 2; attempt++) {
    const runDir = path.join(outDir, '.harness', `${Date.now()}-${randomBytes(4).toString('hex')}`);
    mkdirSync(runDir, { recursive: true });
    writeFileSync(path.join(runDir, 'command.sh'), commandScript(opts.command, outDir));
    const result = await bootOnce({ kernel, initrd, runDir, outDir, opts, deadline });
    rmSync(runDir, { recursive: true, force: true });
    const t = result.timings;
    const fmt = (v) => (v === null ? '-' : `${v.toFixed(1)} s`);
    process.stderr.write(
      `with-kvm: L1 boot to init ${fmt(t.l1Init)}, /dev/kvm ready ${fmt(t.kvmReady)}, ` +
        `command start ${fmt(t.commandStart)}, total ${fmt(t.total)} (attempt ${attempt})\n`,
    );
    if (result.code !== null) {
      if (result.code !== 0) process.stderr.write(`with-kvm: command exited ${result.code}\n`);
      return result.code;
    }
    process.stderr.write(`with-kvm: ${result.reason}\nwith-kvm: last lines of the L1 console:\n`);
    for (const l of result.tail) process.stderr.write(`  | ${l}\n`);
    if (!(result.silent && attempt === 1 && Date.now() < deadline)) break;
    process.stderr.write('with-kvm: retrying once\n');
  }
  return HARNESS_FAILURE;
}

const opts = parseArgs(process.argv.slice(2));
if (kvmUsableHere()) runDirect(opts.command);
else process.exit(await runNested(opts));

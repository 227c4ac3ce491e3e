/**
 * `vireo run`: boot a Linux kernel in the foreground with its serial console on this terminal,
 * like `qemu-system-x86_64 -nographic -kernel ... -initrd ... -append ...`. This process is
 * the VM host (device thread here, one worker thread per vCPU).
 *
 * Exit status: 0 when the guest powers off (or reboots with --reboot-action exit, or Ctrl-A X),
 * 1 when the VM cannot start or ends "aborted" (the report goes to stderr), 2 for usage errors.
 *
 * Runtime: Node (CLI).
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_FIRMWARE } from '../../engine/machine/pc/validate.js';
import { KvmUnavailableError } from '../../engine/hypervisor/kvm/errors.js';
import { parseKeyChord } from '../../engine/devices/i8042/scancodes.js';
import { ConsoleEscape, ESCAPE_HELP } from '../../engine/host/console-escape.js';
import { VmHost, type VmOutcome } from '../../engine/host/vm-host.js';
import { LaunchError, PC_MAX_DISKS, RebootAction, validateLaunch } from '../../engine/vm-launch.js';
import { CliError, UsageError, parseInteger, type CliCommand } from '../command.js';

const USAGE =
  'vireo run --kernel FILE [--initrd FILE] [--append "ARGS"] [--disk IMAGE]... [--memory MB] ' +
  '[--cpus N] [--reboot-action reset|exit] [--verbose]\n' +
  'vireo run [--cdrom ISO] [--disk IMAGE]... [--disk-bus ide|virtio] [--boot cdrom,disk] [--boot-menu MS] [--bios FILE] [--memory MB] [--cpus N] ' +
  '[--screenshot SECONDS:FILE.png]... [--sendkey SECONDS:KEY[,KEY...]]... [--stop-after SECONDS] [--verbose]\n' +
  '  With --kernel: boots a 64-bit Linux bzImage directly (no firmware); each --disk (raw or\n' +
  '  qcow2) is a virtio-blk disk over virtio-mmio (/dev/vda, /dev/vdb, ... in the guest).\n' +
  '  Otherwise: the PC machine with SeaBIOS (--bios, default ' +
  DEFAULT_FIRMWARE +
  ') booting, in --boot order (default cdrom,disk), the ISO in its IDE CD-ROM drive or the\n' +
  '  --disk images: IDE hard disks (primary master, primary slave, secondary slave), or with\n' +
  '  --disk-bus virtio virtio-blk disks on virtio-pci (PCI slots 4, 5, ...; /dev/vda in Linux).\n' +
  '  --boot-menu MS shows SeaBIOS\'s "Press ESC for boot menu." prompt for MS milliseconds.\n' +
  '  The serial console (COM1) is on this terminal; --verbose adds the firmware log on stderr.\n' +
  '  --screenshot saves the screen SECONDS after start (repeatable); --sendkey types keys then\n' +
  '  (names as in `vireo sendkey`, e.g. 10:ret or 5:ctrl-alt-delete,down); --stop-after powers off.\n' +
  '  Defaults: --memory 256, --cpus 1, --append "console=ttyS0", --reboot-action reset.\n' +
  '  Ctrl-A X quits, Ctrl-A H shows the console keys.';

/** `cdrom,disk`: the firmware's boot order. */
function parseBootOrder(spec: string): ('cdrom' | 'disk')[] {
  const order = spec.split(',');
  if (
    order.length < 1 ||
    order.length > 2 ||
    new Set(order).size !== order.length ||
    !order.every((d) => d === 'cdrom' || d === 'disk')
  )
    throw new UsageError(`--boot wants cdrom, disk or both in order (cdrom,disk), not "${spec}"`);
  return order;
}

/** `SECONDS:KEY[,KEY...]`: when, and the key chords to type (checked before the VM starts). */
function parseSendKey(spec: string): { seconds: number; chords: string[] } {
  const m = /^(\d+(?:\.\d+)?):(.+)$/.exec(spec);
  if (!m) throw new UsageError(`--sendkey wants SECONDS:KEY[,KEY...], not "${spec}"`);
  const seconds = Number(m[1]);
  if (!(seconds >= 0 && seconds <= 86400))
    throw new UsageError('--sendkey SECONDS must be between 0 and 86400');
  const chords = m[2]!.split(',');
  for (const c of chords) {
    try {
      parseKeyChord(c);
    } catch (e) {
      throw new UsageError(`--sendkey: ${(e as Error).message}`);
    }
  }
  return { seconds, chords };
}

/** `SECONDS:FILE.png`: when, counted from the start, and where. */
function parseScreenshot(spec: string): { seconds: number; file: string } {
  const m = /^(\d+(?:\.\d+)?):(.+)$/.exec(spec);
  if (!m) throw new UsageError(`--screenshot wants SECONDS:FILE.png, not "${spec}"`);
  const seconds = Number(m[1]);
  if (!(seconds >= 0 && seconds <= 86400))
    throw new UsageError('--screenshot SECONDS must be between 0 and 86400');
  return { seconds, file: m[2]! };
}

/** Where the bundled vCPU worker sits relative to this bundle (out/cli -> out/engine). */
export const VCPU_WORKER_URL = new URL('../engine/vcpu-worker.js', import.meta.url);

export const run: CliCommand = {
  name: 'run',
  summary: 'Boot a Linux kernel in the foreground, serial console on this terminal',
  usage: USAGE,
  async run(argv, ctx) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        append: { type: 'string' },
        memory: { type: 'string' },
        cpus: { type: 'string' },
        cdrom: { type: 'string' },
        disk: { type: 'string', multiple: true },
        boot: { type: 'string' },
        'boot-menu': { type: 'string' },
        bios: { type: 'string' },
        screenshot: { type: 'string', multiple: true },
        sendkey: { type: 'string', multiple: true },
        'stop-after': { type: 'string' },
        'disk-bus': { type: 'string' },
        'reboot-action': { type: 'string' },
        verbose: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const machine = values.kernel ? 'direct' : 'pc';
    if (machine === 'direct' && (values.cdrom || values.bios))
      throw new UsageError('--cdrom and --bios are for the PC machine: leave out --kernel');
    if (machine === 'pc' && (values.initrd || values.append))
      throw new UsageError('--initrd and --append need --kernel');
    const diskBus = values['disk-bus'] ?? 'ide';
    if (diskBus !== 'ide' && diskBus !== 'virtio')
      throw new UsageError(`--disk-bus wants ide or virtio, not "${diskBus}"`);
    if (machine === 'direct' && values['disk-bus'] !== undefined)
      throw new UsageError('--disk-bus is for the PC machine: --kernel disks are always virtio');
    if (machine === 'pc' && diskBus === 'ide' && (values.disk?.length ?? 0) > PC_MAX_DISKS)
      throw new UsageError(
        `the PC machine takes at most ${PC_MAX_DISKS} disks (IDE primary master and slave, secondary slave)`,
      );
    const bootOrder = values.boot === undefined ? undefined : parseBootOrder(values.boot);
    const bootMenuMs = parseInteger('--boot-menu', values['boot-menu']);
    if (bootMenuMs !== undefined && machine === 'direct')
      throw new UsageError('--boot-menu is for the PC machine (its firmware): leave out --kernel');
    if (bootMenuMs !== undefined && bootMenuMs > 65535)
      throw new UsageError('--boot-menu MS must be 0 to 65535 milliseconds');
    const screenshots = (values.screenshot ?? []).map(parseScreenshot);
    const keyPresses = (values.sendkey ?? []).map(parseSendKey);
    const stopAfter = values['stop-after'] === undefined ? null : Number(values['stop-after']);
    if (stopAfter !== null && !(stopAfter > 0 && stopAfter <= 86400))
      throw new UsageError('--stop-after SECONDS must be a number between 0 and 86400');
    const rebootAction = RebootAction.safeParse(values['reboot-action'] ?? 'reset');
    if (!rebootAction.success) throw new UsageError('--reboot-action must be reset or exit');

    let launch;
    try {
      launch = validateLaunch({
        machine,
        ...(values.kernel ? { kernel: values.kernel } : {}),
        ...(values.bios ? { firmware: values.bios } : {}),
        cdrom: values.cdrom ?? null,
        ...(bootOrder ? { bootOrder } : {}),
        ...(bootMenuMs !== undefined ? { bootMenu: { timeoutMs: bootMenuMs } } : {}),
        disks: (values.disk ?? []).map((p) => ({ path: p, bus: diskBus })),
        initrd: values.initrd ?? null,
        append: values.append ?? 'console=ttyS0',
        memoryMiB: parseInteger('--memory', values.memory) ?? 256,
        cpus: parseInteger('--cpus', values.cpus) ?? 1,
        rebootAction: rebootAction.data,
      });
    } catch (e) {
      if (e instanceof LaunchError) throw new CliError(e.message);
      throw e;
    }

    const verbose = values.verbose === true;
    const stdin = process.stdin;
    const stdout = process.stdout;
    let host: VmHost;
    try {
      host = await VmHost.start(
        launch,
        {
          onSerialOutput: (bytes) => void stdout.write(bytes),
          onState: (state) => verbose && ctx.err(`vireo run: ${state}`),
          onLog: (line) => verbose && ctx.err(`vireo run: ${line}`),
        },
        { workerUrl: process.env.VIREO_VCPU_WORKER ?? VCPU_WORKER_URL },
      );
    } catch (e) {
      if (e instanceof KvmUnavailableError || e instanceof LaunchError)
        throw new CliError(e.message);
      throw e;
    }

    // The terminal becomes the serial line: raw mode so keys (Ctrl-C too) go to the guest.
    const tty = stdin.isTTY;
    if (tty) stdin.setRawMode(true);
    const escape = new ConsoleEscape();
    const onInput = (chunk: Buffer): void => {
      const { forward, actions } = escape.feed(chunk);
      host.sendSerialInput(forward);
      for (const action of actions) {
        if (action === 'quit') host.powerOff('quit from the console (Ctrl-A X)');
        else stdout.write(`\r\n${ESCAPE_HELP}\r\n`);
      }
    };
    stdin.on('data', onInput);
    stdin.resume();
    const onSignal = (signal: NodeJS.Signals): void => host.powerOff(`stopped by ${signal}`);
    const timers = screenshots.map(({ seconds, file }) =>
      setTimeout(() => {
        const png = host.screenshotPng();
        if (!png)
          return ctx.err(`vireo run: no screen to save in ${file} (this machine has no display)`);
        try {
          writeFileAtomicSync(file, png);
          if (verbose) ctx.err(`vireo run: screenshot ${file}`);
        } catch (e) {
          ctx.err(`vireo run: cannot save the screenshot ${file}: ${(e as Error).message}`);
        }
      }, seconds * 1000),
    );
    for (const { seconds, chords } of keyPresses)
      timers.push(
        setTimeout(() => {
          host.sendKeys(chords).then(
            () => verbose && ctx.err(`vireo run: sent ${chords.join(' ')}`),
            (e: unknown) =>
              ctx.err(`vireo run: cannot send ${chords.join(' ')}: ${(e as Error).message}`),
          );
        }, seconds * 1000),
      );
    if (stopAfter !== null)
      timers.push(setTimeout(() => host.powerOff(`--stop-after ${stopAfter}`), stopAfter * 1000));
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);

    let outcome: VmOutcome;
    try {
      outcome = await host.outcome;
    } finally {
      for (const t of timers) clearTimeout(t);
      stdin.off('data', onInput);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      (stdin as { unref?: () => void }).unref?.();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
    }
    if (outcome.kind === 'aborted') {
      ctx.err(`vireo run: ${outcome.report}`);
      return 1;
    }
    if (verbose) ctx.err(`vireo run: ${outcome.reason}`);
    return 0;
  },
};

/** Temp file, fsync, rename: a screenshot is whole or absent. */
function writeFileAtomicSync(file: string, bytes: Uint8Array): void {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

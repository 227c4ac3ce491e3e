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
import { parseArgs } from 'node:util';
import { KvmUnavailableError } from '../../engine/hypervisor/kvm/errors.js';
import { ConsoleEscape, ESCAPE_HELP } from '../../engine/host/console-escape.js';
import { VmHost, type VmOutcome } from '../../engine/host/vm-host.js';
import { LaunchError, RebootAction, validateLaunch } from '../../engine/vm-launch.js';
import { CliError, UsageError, parseInteger, type CliCommand } from '../command.js';

const USAGE =
  'vireo run --kernel FILE [--initrd FILE] [--append "ARGS"] [--memory MB] [--cpus N] ' +
  '[--reboot-action reset|exit] [--verbose]\n' +
  '  Boots a 64-bit Linux bzImage with its serial console on this terminal.\n' +
  '  Defaults: --memory 256, --cpus 1, --append "console=ttyS0", --reboot-action reset.\n' +
  '  Ctrl-A X quits, Ctrl-A H shows the console keys.';

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
        'reboot-action': { type: 'string' },
        verbose: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.kernel) throw new UsageError('--kernel FILE is required');
    const rebootAction = RebootAction.safeParse(values['reboot-action'] ?? 'reset');
    if (!rebootAction.success) throw new UsageError('--reboot-action must be reset or exit');

    let launch;
    try {
      launch = validateLaunch({
        kernel: values.kernel,
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
      if (e instanceof KvmUnavailableError) throw new CliError(e.message);
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
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);

    let outcome: VmOutcome;
    try {
      outcome = await host.outcome;
    } finally {
      stdin.off('data', onInput);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      stdin.unref();
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

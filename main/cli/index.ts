/**
 * `vireo`: the command line over the control plane, with the verbs people know from VBoxManage
 * and virsh. One file per verb in ./commands; this file parses the global options and dispatches.
 * Exit codes: 0 success, 1 the action failed (message says why), 2 usage error.
 *
 * Runtime: Node.
 */
import { createControlPlane, resolveLibraryRoot, type ControlPlane } from '../control/index.js';
import { createRouter } from '../ipc/router.js';
import { BridgeFailure } from '../../preload/contract.js';
import { CliError, UsageError, type CliCommand, type CliContext } from './command.js';
import { createvm } from './commands/createvm.js';
import { deletevm } from './commands/deletevm.js';
import { list } from './commands/list.js';
import { modifyvm } from './commands/modifyvm.js';
import { ostypes } from './commands/ostypes.js';
import { serve } from './commands/serve.js';
import { run } from './commands/run.js';
import { showvminfo } from './commands/showvminfo.js';
import { createmedium, modifymedium, showmediuminfo } from './commands/medium.js';
import { screenshot } from './commands/screenshot.js';
import { sendkey } from './commands/sendkey.js';

/** The registry: add a verb by adding its file and one line here. */
export const COMMANDS: readonly CliCommand[] = [
  list,
  createvm,
  modifyvm,
  showvminfo,
  screenshot,
  createmedium,
  modifymedium,
  showmediuminfo,
  sendkey,
  deletevm,
  ostypes,
  serve,
  run,
];

const GLOBAL_USAGE = [
  'usage: vireo [--home DIR] COMMAND [OPTIONS]',
  '',
  'Commands:',
  ...COMMANDS.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`),
  '',
  'Global options:',
  '  --home DIR   library folder (default: $VIREO_HOME, else $XDG_DATA_HOME/vireo, else ~/.local/share/vireo)',
  '  --help       this help; `vireo COMMAND --help` for a command',
].join('\n');

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: CliIo = {
  out: (t) => void process.stdout.write(`${t}\n`),
  err: (t) => void process.stderr.write(`${t}\n`),
};

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  // --home is global and may stand before or after the verb (`vireo serve --home DIR`).
  let home: string | undefined;
  const args: string[] = [];
  for (let j = 0; j < argv.length; j++) {
    const a = argv[j]!;
    if (a === '--home') {
      home = argv[++j];
      if (!home) return usageFailure(io, '--home needs a folder');
    } else if (a.startsWith('--home=')) {
      home = a.slice(7);
      if (!home) return usageFailure(io, '--home needs a folder');
    } else args.push(a);
  }
  argv = args;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h' || a === 'help') {
      // `vireo help VERB` is `vireo VERB --help`.
      const verb = a === 'help' ? COMMANDS.find((c) => c.name === argv[i + 1]) : undefined;
      io.out(verb ? `usage: ${verb.usage}` : GLOBAL_USAGE);
      return 0;
    } else if (a === '--version') {
      io.out('vireo 0.1.0');
      return 0;
    } else break;
  }
  const name = argv[i];
  if (!name) return usageFailure(io, 'no command given');
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return usageFailure(io, `unknown command "${name}"`);
  const rest = argv.slice(i + 1);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: ${command.usage}`);
    return 0;
  }

  const root = resolveLibraryRoot(home, process.env);
  let control: ControlPlane | undefined;
  const open = async (): Promise<ControlPlane> =>
    (control ??= await createControlPlane({
      home: root,
      mode: 'browser',
      watch: command.name === 'serve',
    }));
  const ctx: CliContext = {
    home: root,
    control: open,
    async call(callName, args) {
      const dispatch = createRouter((await open()).handlers);
      const result = await dispatch(callName, args);
      if (!result.ok)
        throw new CliError(result.error.message, result.error.code === 'invalid-arguments' ? 2 : 1);
      return result.value as never;
    },
    out: io.out,
    err: io.err,
  };
  try {
    return await command.run(rest, ctx);
  } catch (e) {
    // A control-plane failure outside a bridge call (opening the library): the user's to fix.
    if (e instanceof BridgeFailure) {
      io.err(`vireo ${command.name}: ${e.message}`);
      return 1;
    }
    if (e instanceof CliError) {
      io.err(`vireo ${command.name}: ${e.message}`);
      if (e instanceof UsageError) io.err(`usage: ${command.usage}`);
      return e.exitCode;
    }
    // node:util parseArgs errors (unknown option, missing value) are usage errors.
    if (
      e instanceof TypeError &&
      'code' in e &&
      String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')
    ) {
      io.err(`vireo ${command.name}: ${e.message}\nusage: ${command.usage}`);
      return 2;
    }
    io.err(
      `vireo ${command.name}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
    return 1;
  } finally {
    if (command.name !== 'serve') await control?.close();
  }
}

function usageFailure(io: { err: (t: string) => void }, message: string): number {
  io.err(`vireo: ${message}\n${GLOBAL_USAGE}`);
  return 2;
}

// Run when loaded as the bundled CLI (out/cli/vireo.js), not when imported by tests.
if (process.env.VIREO_CLI_NO_AUTORUN !== '1' && import.meta.url.endsWith('/out/cli/vireo.js')) {
  // `vireo list | head -1`: the reader left; stop quietly like other Unix tools, not with a stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  process.exitCode = await main(process.argv.slice(2));
}

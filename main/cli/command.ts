/**
 * The shape of one `vireo` verb. Each verb is one file in ./commands and one line in
 * ../cli/index.ts's registry. Verbs act through the control plane's bridge calls (via the same
 * router and schemas the GUI uses), never through logic of their own.
 *
 * Runtime: Node.
 */
import type { CallArgs, CallName, CallValue } from '../../preload/contract.js';
import type { ControlPlane } from '../control/index.js';

export interface CliContext {
  /** Library root after --home / VIREO_HOME / XDG resolution. */
  home: string;
  /** Opens the control plane (lazily: `--help` must not touch the library). */
  control(): Promise<ControlPlane>;
  /** A bridge call through the router: validated like a renderer call; failures throw CliError. */
  call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallValue<N>>;
  out(text: string): void;
  err(text: string): void;
}

/**
 * One verb. To add one (e.g. `run`): create `commands/run.ts` exporting
 * `export const run: CliCommand = { name: 'run', summary, usage, async run(argv, ctx) {...} }`,
 * and add `run` to `COMMANDS` in ../cli/index.ts. `vireo run --help` then prints `usage`, and
 * `vireo --help` lists `summary`. Parse `argv` with node:util `parseArgs({ strict: true })`:
 * its errors (unknown option, missing value) become exit 2 with the usage, as do UsageErrors.
 */
export interface CliCommand {
  /** The verb as typed: `vireo <name>`. */
  name: string;
  /** One line for `vireo --help`. */
  summary: string;
  /** Printed after "usage: " for `vireo <name> --help` and after usage errors. */
  usage: string;
  /**
   * Runs the verb with the arguments after it (`--home` already removed). Returns the exit code:
   * 0 done, 1 the action failed, 2 usage error. Throw CliError/UsageError for a message without a
   * stack; a BridgeFailure from `ctx.control()` is shown the same way.
   */
  run(argv: string[], ctx: CliContext): Promise<number>;
}

/** A failure the user caused or can fix: printed without a stack, exit code 1 (2 for usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

export function parseInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} needs a whole number, not "${value}"`);
  return Number(value);
}

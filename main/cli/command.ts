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

export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
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

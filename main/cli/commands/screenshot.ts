/**
 * `vireo screenshot VM FILE.png`: saves a running VM's screen, like `VBoxManage controlvm VM
 * screenshotpng FILE` or QEMU's `screendump`. Asks the VM's host process over its control
 * socket (main/engine/host/control-socket.ts); the PNG is written atomically.
 *
 * Runtime: Node (CLI).
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { controlRequest } from '../../engine/host/control-socket.js';
import { CliError, UsageError, type CliCommand, type CliContext } from '../command.js';

/** The control socket of the running VM named by `ref`, or a CliError saying why not. */
export async function runningVmSocket(ctx: CliContext, ref: string): Promise<string> {
  const vm = await ctx.call('vm.get', { id: ref });
  const control = await ctx.control();
  const socket = await control.library.supervisor.controlSocket(vm.folder);
  if (!socket) throw new CliError(`VM "${vm.accessible ? vm.config.name : ref}" is not running`);
  return socket;
}

export const screenshot: CliCommand = {
  name: 'screenshot',
  summary: "Save a running VM's screen as PNG",
  usage: 'vireo screenshot VM FILE.png\n\n  VM  name or UUID of a running VM',
  async run(argv, ctx) {
    const { positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true });
    if (positionals.length !== 2) throw new UsageError('give a VM and a file name');
    const [ref, file] = positionals as [string, string];
    if (!file.toLowerCase().endsWith('.png'))
      throw new UsageError('the file name must end in .png');
    const socket = await runningVmSocket(ctx, ref);
    let answer;
    try {
      answer = await controlRequest(socket, { command: 'screenshot' });
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    if (!answer.ok) throw new CliError(answer.error);
    if (!answer.png) throw new CliError('the VM sent no picture');
    const png = Buffer.from(answer.png, 'base64');
    const temp = `${file}.${process.pid}.tmp`;
    try {
      const fd = openSync(temp, 'w', 0o644);
      try {
        writeSync(fd, png);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, file);
    } catch (e) {
      throw new CliError(`cannot write ${file}: ${(e as Error).message}`);
    }
    return 0;
  },
};

/**
 * `vireo sendkey VM KEY...`: types keys on a running VM's PS/2 keyboard, like QEMU's monitor
 * `sendkey`. Each KEY is a chord: names joined by "-" are pressed together ("ctrl-alt-delete",
 * "shift-a"); names are KeyboardEvent.code ("KeyA", "F12"), QEMU-style ("ret", "esc", "spc",
 * "up"), single letters or digits. Unknown names are refused before any key is sent.
 *
 * Runtime: Node (CLI).
 */
import { parseArgs } from 'node:util';
import { parseKeyChord } from '../../engine/devices/i8042/scancodes.js';
import { controlRequest } from '../../engine/host/control-socket.js';
import { CliError, UsageError, type CliCommand } from '../command.js';
import { runningVmSocket } from './screenshot.js';

export const sendkey: CliCommand = {
  name: 'sendkey',
  summary: "Type keys on a running VM's keyboard",
  usage:
    'vireo sendkey VM KEY...\n\n  VM   name or UUID of a running VM\n' +
    '  KEY  a key or a chord: a, 7, ret, esc, spc, tab, up, f2, ctrl-alt-delete, shift-a, KeyQ',
  async run(argv, ctx) {
    const { positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true });
    if (positionals.length < 2) throw new UsageError('give a VM and at least one key');
    const [ref, ...chords] = positionals as [string, ...string[]];
    if (chords.length > 256) throw new UsageError('at most 256 keys at once');
    for (const c of chords) {
      try {
        parseKeyChord(c);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const socket = await runningVmSocket(ctx, ref);
    let answer;
    try {
      answer = await controlRequest(socket, { command: 'sendkey', chords });
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    if (!answer.ok) throw new CliError(answer.error);
    return 0;
  },
};

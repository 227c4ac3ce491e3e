import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stateWords } from '../../control/supervisor.js';
import { UsageError, type CliCommand } from '../command.js';

export const showvminfo: CliCommand = {
  name: 'showvminfo',
  summary: "Show a VM's settings and state",
  usage: 'vireo showvminfo VM [--json]\n\n  VM  name or UUID',
  async run(argv, ctx) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { json: { type: 'boolean' } },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one VM (name or UUID)');
    const vm = await ctx.call('vm.get', { id: positionals[0]! });
    if (values.json) {
      ctx.out(JSON.stringify(vm, null, 2));
      return 0;
    }
    if (!vm.accessible) {
      ctx.out(
        `Name:            ${vm.name}\nState:           inaccessible\nReason:          ${vm.stateReason}\nConfig file:     ${vm.configPath}`,
      );
      return 0;
    }
    const c = vm.config;
    const boot =
      c.boot.source === 'firmware'
        ? `firmware (${c.boot.order.join(', ')})`
        : `Linux kernel ${c.boot.kernel}${c.boot.initrd ? ` + ${c.boot.initrd}` : ''} "${c.boot.append}"`;
    const rows: [string, string][] = [
      ['Name', c.name],
      ['UUID', c.id],
      ['State', `${stateWords[vm.state]}${vm.stateReason ? ` (${vm.stateReason})` : ''}`],
      ['Guest OS', `${c.os.id} (${c.os.family})`],
      ['CPUs', String(c.cpus)],
      ['Memory', `${c.memoryMiB} MiB`],
      ['Boot', boot],
      ['Boot menu', c.bootMenu.enabled ? `on, waits ${c.bootMenu.timeoutMs} ms for ESC` : 'off'],
      ...c.disks.map((d, i): [string, string] => [
        `Disk ${i}`,
        `${d.path} (${d.format}, ${d.sizeMiB} MiB, ${d.allocation}, ${d.bus})${
          // Creating disk images is not built yet; say so rather than imply the file is there.
          existsSync(path.resolve(vm.folder, d.path)) ? '' : ' - image file not created yet'
        }`,
      ]),
      ['Optical drive', c.optical.iso ?? 'empty'],
      [
        'Network',
        c.network.adapter === 'none' ? 'none' : `${c.network.adapter}, MAC ${c.network.mac}`,
      ],
      ['Display', `${c.display.vramMiB} MiB video memory`],
      ['Serial port', c.serial.enabled ? 'COM1' : 'off'],
      ['Folder', vm.folder],
      ['Config file', vm.configPath],
    ];
    for (const [k, v] of rows) ctx.out(`${`${k}:`.padEnd(17)}${v}`);
    return 0;
  },
};

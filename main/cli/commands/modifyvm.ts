import { parseArgs } from 'node:util';
import { BootDevice, type VmChanges } from '../../../preload/contract.js';
import { parseInteger, UsageError, type CliCommand } from '../command.js';

export const modifyvm: CliCommand = {
  name: 'modifyvm',
  summary: "Change a VM's settings",
  usage: [
    'vireo modifyvm VM [--name NAME] [--memory MB] [--cpus N] [--cdrom ISO|none]',
    '                  [--boot DEV[,DEV...]] [--description TEXT] [--serial on|off]',
    '',
    '  VM           name or UUID',
    '  --boot       firmware boot order from cdrom, disk, network (e.g. --boot cdrom,disk)',
    '  --cdrom none empties the optical drive',
    'CPUs, memory, name and boot order can change only while the VM is powered off.',
  ].join('\n'),
  async run(argv, ctx) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        memory: { type: 'string' },
        cpus: { type: 'string' },
        cdrom: { type: 'string' },
        boot: { type: 'string' },
        description: { type: 'string' },
        serial: { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one VM (name or UUID)');
    const changes: VmChanges = {};
    if (values.name !== undefined) changes.name = values.name;
    const memory = parseInteger('--memory', values.memory);
    if (memory !== undefined) changes.memoryMiB = memory;
    const cpus = parseInteger('--cpus', values.cpus);
    if (cpus !== undefined) changes.cpus = cpus;
    if (values.cdrom !== undefined) changes.iso = values.cdrom === 'none' ? null : values.cdrom;
    if (values.description !== undefined) changes.description = values.description;
    if (values.serial !== undefined) {
      if (values.serial !== 'on' && values.serial !== 'off')
        throw new UsageError('--serial must be on or off');
      changes.serial = { enabled: values.serial === 'on' };
    }
    if (values.boot !== undefined) {
      const order = values.boot.split(',').map((d) => BootDevice.safeParse(d.trim()));
      const bad = order.findIndex((o) => !o.success);
      if (bad >= 0)
        throw new UsageError(
          `--boot: "${values.boot.split(',')[bad]}" is not one of cdrom, disk, network`,
        );
      changes.bootOrder = order.map((o) => o.data!);
    }
    if (Object.keys(changes).length === 0)
      throw new UsageError('nothing to change: give at least one option');
    const vm = await ctx.call('vm.get', { id: positionals[0]! });
    await ctx.call('vm.update', { id: vm.id, changes });
    return 0;
  },
};

import { readdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand } from '../command.js';

export const deletevm: CliCommand = {
  name: 'deletevm',
  summary: 'Delete a VM (with --yes) or remove it from the library keeping its files',
  usage: [
    'vireo deletevm VM [--yes] [--keep-files]',
    '',
    '  without --yes  print the files that would be deleted and change nothing (exit 1)',
    '  --yes          delete the VM: its config, disk images, logs and run file; the folder',
    '                 goes too unless it holds files Vireo did not make',
    '  --keep-files   only remove the VM from the library; its folder stays on disk',
  ].join('\n'),
  async run(argv, ctx) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { yes: { type: 'boolean' }, 'keep-files': { type: 'boolean' } },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one VM (name or UUID)');
    const vm = await ctx.call('vm.get', { id: positionals[0]! });
    const name = vm.accessible ? vm.config.name : vm.name;
    if (values['keep-files']) {
      await ctx.call('vm.delete', { id: vm.id, deleteFiles: false });
      ctx.out(`"${name}" removed from the library; its files stay in ${vm.folder}`);
      return 0;
    }
    const { files } = await ctx.call('vm.deletePlan', { id: vm.id });
    if (!values.yes) {
      ctx.err(`Deleting "${name}" would remove these files:`);
      for (const f of files) ctx.err(`  ${f}`);
      ctx.err(
        'Nothing was changed. Run again with --yes to delete them, or --keep-files to keep them.',
      );
      return 1;
    }
    const { removed } = await ctx.call('vm.delete', { id: vm.id, deleteFiles: true });
    ctx.out(`"${name}" deleted (${removed.length} file${removed.length === 1 ? '' : 's'} removed)`);
    // Vireo deletes only the files it made; anything else the user put there stays.
    const left = await readdir(vm.folder).catch(() => null);
    if (left !== null)
      ctx.out(`The folder ${vm.folder} was kept: it also holds ${left.join(', ')}`);
    return 0;
  },
};

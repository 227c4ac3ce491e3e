import { parseArgs } from 'node:util';
import type { CliCommand } from '../command.js';
import { stateWords } from '../../control/supervisor.js';

export const list: CliCommand = {
  name: 'list',
  summary: 'List the VMs in the library',
  usage:
    'vireo list [--all] [--json]\n\n  --all   include inaccessible VMs (configs that cannot be read), with the reason\n  --json  print JSON (one array of VM summaries)',
  async run(argv, ctx) {
    const { values } = parseArgs({
      args: argv,
      options: { all: { type: 'boolean' }, json: { type: 'boolean' } },
      strict: true,
    });
    const vms = (await ctx.call('vm.list', {})).filter((v) => values.all || v.accessible);
    if (values.json) {
      ctx.out(JSON.stringify(vms, null, 2));
      return 0;
    }
    for (const vm of vms) {
      if (vm.accessible) ctx.out(`"${vm.config.name}" {${vm.id}} ${stateWords[vm.state]}`);
      else ctx.out(`"${vm.name}" {${vm.id}} inaccessible: ${vm.stateReason}`);
    }
    return 0;
  },
};

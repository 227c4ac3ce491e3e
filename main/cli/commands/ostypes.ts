import { parseArgs } from 'node:util';
import type { CliCommand } from '../command.js';

export const ostypes: CliCommand = {
  name: 'ostypes',
  summary: 'List the OS types createvm --ostype accepts',
  usage: 'vireo ostypes [--json]',
  async run(argv, ctx) {
    const { values } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean' } },
      strict: true,
    });
    const catalog = await ctx.call('os.catalog', {});
    if (values.json) ctx.out(JSON.stringify(catalog, null, 2));
    else
      for (const os of catalog)
        ctx.out(
          `${os.id.padEnd(22)} ${os.label} (defaults: ${os.defaults.cpus} CPU, ${os.defaults.memoryMiB} MiB, ${os.defaults.diskMiB} MiB disk)`,
        );
    return 0;
  },
};

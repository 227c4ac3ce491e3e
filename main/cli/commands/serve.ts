import { parseArgs } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../serve/index.js';
import { parseInteger, UsageError, type CliCommand } from '../command.js';

export const serve: CliCommand = {
  name: 'serve',
  summary: 'Run Vireo in the browser (HTTP + WebSocket on loopback, with a token)',
  usage: [
    'vireo serve [--port N] [--host ADDR] [--allow-remote]',
    '',
    '  --port N        port to listen on (default 0: any free port)',
    '  --host ADDR     address to bind (default 127.0.0.1)',
    '  --allow-remote  allow a non-loopback --host (anyone with the URL controls your VMs)',
    'The first line printed is the URL to open, with its one-time token.',
  ].join('\n'),
  async run(argv, ctx) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'allow-remote': { type: 'boolean' },
      },
    });
    const port = parseInteger('--port', values.port) ?? 0;
    if (port > 65535) throw new UsageError('--port must be 0-65535');
    // The bundle sits beside this one: out/cli/vireo.js -> out/renderer.
    const rendererDir =
      process.env.VIREO_RENDERER_DIR ??
      path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'renderer');
    const control = await ctx.control();
    const server = await startServer({
      control,
      host: values.host ?? '127.0.0.1',
      port,
      rendererDir,
      allowRemote: values['allow-remote'] ?? false,
    });
    ctx.out(server.url);
    ctx.err(`Vireo is serving the library ${ctx.home}. Press Ctrl-C to stop.`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    await control.close();
    return 0;
  },
};

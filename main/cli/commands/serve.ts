import { parseArgs } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServeError, startServer } from '../../serve/index.js';
import { CliError, parseInteger, UsageError, type CliCommand } from '../command.js';

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
    let server;
    try {
      server = await startServer({
        control,
        host: values.host ?? '127.0.0.1',
        port,
        rendererDir,
        allowRemote: values['allow-remote'] ?? false,
      });
    } catch (e) {
      await control.close();
      // The server's own refusals (missing bundle, remote host without --allow-remote) and the
      // system's (port in use) are the user's to fix: a message, not a stack.
      const code = (e as NodeJS.ErrnoException).code;
      if (e instanceof ServeError) throw new CliError(e.message);
      if (code === 'EADDRINUSE')
        throw new CliError(`port ${port} is in use: choose another with --port, or 0 for any`);
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
        throw new CliError(`cannot listen on ${values.host}: no such address on this host`);
      if (code === 'EACCES')
        throw new CliError(`no permission to listen on port ${port}: use a port above 1023`);
      throw e;
    }
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

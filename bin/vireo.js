#!/usr/bin/env node
// The `vireo` command. The real code is bundled by `npm run build` (run by `npm ci` through
// the `prepare` script) into out/cli/vireo.js.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'out', 'cli', 'vireo.js');
if (!existsSync(cli)) {
  process.stderr.write(
    'vireo: the CLI is not built yet: run `npm run build` in the checkout first.\n',
  );
  process.exit(2);
}
// `vireo run` hosts a VM in this process: its ioeventfd doorbells keep one blocking read in
// libuv's thread pool (main/engine/hypervisor/kvm/doorbells.ts), so the disk images get a
// bigger pool than the default 4. Set before anything uses the pool.
process.env.UV_THREADPOOL_SIZE ??= '8';
await import(pathToFileURL(cli).href);

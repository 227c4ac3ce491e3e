#!/usr/bin/env node
// Builds every runtime of Vireo into out/:
//   out/main/app.js        Electron main process (ESM)
//   out/preload/index.cjs  Electron preload (one CommonJS file: sandboxed preloads cannot require siblings)
//   out/cli/vireo.js       the `vireo` command (bin/vireo.js loads it)
//   out/engine/*.js        the VM host process and its vCPU workers
//   out/renderer/          the renderer bundle (Vite), served by Electron and by `vireo serve`
// Node-side bundles are made by esbuild for fast start-up; type checking is `npm run typecheck`.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);

/** Native or Electron-provided modules stay outside the bundles. */
const external = ['electron', 'koffi', 'playwright-core'];

/** [entry, outfile, format]; entries that do not exist yet are skipped with a note. */
const nodeEntries = [
  ['main/app/index.ts', 'out/main/app.js', 'esm'],
  ['preload/index.ts', 'out/preload/index.cjs', 'cjs'],
  ['main/cli/index.ts', 'out/cli/vireo.js', 'esm'],
  ['main/engine/host/index.ts', 'out/engine/host.js', 'esm'],
  ['main/engine/hypervisor/kvm/vcpu-worker.ts', 'out/engine/vcpu-worker.js', 'esm'],
];

const quiet = process.argv.includes('--quiet');
const onlyNode = process.argv.includes('--node');

await Promise.all(
  nodeEntries.map(async ([entry, outfile, format]) => {
    if (!existsSync(entry)) {
      if (!quiet) console.log(`build: skipping ${entry} (not present)`);
      return;
    }
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: format === 'cjs' ? 'browser' : 'node',
      format,
      target: 'node20',
      sourcemap: true,
      external,
      logLevel: 'warning',
      // ESM bundles that pull in CommonJS dependencies (ws) need a real require.
      banner:
        format === 'esm'
          ? {
              js: "import { createRequire as __vireoCreateRequire } from 'node:module'; const require = __vireoCreateRequire(import.meta.url);",
            }
          : undefined,
      ...(format === 'cjs' ? { platform: 'node' } : {}),
    });
  }),
);

if (!onlyNode && existsSync('renderer/index.html')) {
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: 'renderer/vite.config.ts', logLevel: quiet ? 'warn' : 'info' });
}
if (!quiet) console.log('build: done');

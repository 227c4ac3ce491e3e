#!/usr/bin/env node
// Benchmark: `vireo list` on a library of 1,000 VMs, process start to exit, beside two peers
// measured in the same run on the same machine: a bare `node -e ''` (the floor any Node CLI
// pays) and `ls -l` of every VM folder (what the shell needs to merely see the files).
//
//   node scripts/build.mjs --node && node bench/cli-list.mjs [--vms N] [--runs N]
//
// The library is built the way a user would get it: one VM made by the real `vireo createvm`,
// then its config file copied N-1 times with a fresh id, name and MAC (the on-disk format of
// docs/library.md), so the CLI reads N real, schema-valid configs.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bin = path.join(root, 'bin', 'vireo.js');
if (!existsSync(path.join(root, 'out', 'cli', 'vireo.js'))) {
  console.error('bench: build the CLI first: node scripts/build.mjs --node');
  process.exit(2);
}
const { values } = parseArgs({
  options: { vms: { type: 'string', default: '1000' }, runs: { type: 'string', default: '7' } },
});
const vmCount = Number(values.vms);
const runs = Number(values.runs);

const home = mkdtempSync(path.join(os.tmpdir(), 'vireo-bench-'));
try {
  execFileSync(
    process.execPath,
    [
      bin,
      '--home',
      home,
      'createvm',
      '--name',
      'vm-0000',
      '--ostype',
      'debian-12',
      '--cpus',
      '1',
      '--memory',
      '1024',
      '--disk-size',
      '20480',
    ],
    { stdio: 'ignore' },
  );
  const template = JSON.parse(
    readFileSync(path.join(home, 'vm-0000', 'vm-0000.vireo.json'), 'utf8'),
  );
  for (let i = 1; i < vmCount; i++) {
    const name = `vm-${String(i).padStart(4, '0')}`;
    const mac = ['52', '54', '00', ...randomBytes(3).toString('hex').match(/../g)].join(':');
    const config = {
      ...template,
      id: randomUUID(),
      name,
      network: { ...template.network, mac },
      disks: template.disks.map((d) => ({ ...d, path: `${name}.qcow2` })),
    };
    mkdirSync(path.join(home, name));
    writeFileSync(
      path.join(home, name, `${name}.vireo.json`),
      `${JSON.stringify(config, null, 2)}\n`,
    );
  }

  /** Median wall time of `runs` runs (after one warm-up), in milliseconds. */
  const time = (label, command, args, check) => {
    const samples = [];
    for (let r = 0; r <= runs; r++) {
      const start = process.hrtime.bigint();
      const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.status !== 0)
        throw new Error(`${label} failed (${result.status}): ${result.stderr}`);
      check?.(result.stdout);
      if (r > 0) samples.push(ms); // run 0 warms the page cache
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)];
  };
  const lines = (n) => (out) => {
    const count = out.split('\n').filter(Boolean).length;
    if (count !== n) throw new Error(`expected ${n} lines, got ${count}`);
  };

  const list = time('vireo list', process.execPath, [bin, '--home', home, 'list'], lines(vmCount));
  const json = time(
    'vireo list --json',
    process.execPath,
    [bin, '--home', home, 'list', '--json'],
    (out) => {
      if (JSON.parse(out).length !== vmCount) throw new Error('list --json lost VMs');
    },
  );
  const node = time("node -e ''", process.execPath, ['-e', '']);
  const folders = Array.from({ length: vmCount }, (_, i) =>
    path.join(home, `vm-${String(i).padStart(4, '0')}`),
  );
  const ls = time('ls -l', 'ls', ['-l', ...folders]);

  const f = (ms) => `${ms.toFixed(1).padStart(7)} ms`;
  console.log(
    `vireo list on ${vmCount} VMs, median of ${runs} runs (${os.cpus().length} cores, Node ${process.version})`,
  );
  console.log(`  vireo list          ${f(list)}`);
  console.log(`  vireo list --json   ${f(json)}`);
  console.log(`  node -e ''          ${f(node)}   (peer: Node start-up floor)`);
  console.log(`  ls -l ${vmCount} folders  ${f(ls)}   (peer: reading the folders from the shell)`);
  console.log(
    `  ratio vireo list / node -e '': ${(list / node).toFixed(2)}x; time above the Node floor: ${(list - node).toFixed(1)} ms (${((list - node) / vmCount).toFixed(3)} ms per VM)`,
  );
} finally {
  rmSync(home, { recursive: true, force: true });
}

#!/usr/bin/env node
// Benchmark: `vireo list` on a library of 1,000 VMs, process start to exit, beside two peers
// measured in the same run on the same machine: a bare `node -e ''` (the floor any Node CLI
// pays) and `ls -l` of every VM folder (what the shell needs to merely see the files).
//
//   node scripts/build.mjs --node && node bench/cli-list.mjs [--vms N] [--runs N]
//
// Every command is run once per round, round-robin, so a change in the machine's load (it is shared)
// hits them all alike; round 0 only warms the page cache. `vireo --help` is the CLI loading without
// reading the library, so `vireo list` minus it is the cost of reading 1,000 VMs.
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

  const lines = (n) => (out) => {
    const count = out.split('\n').filter(Boolean).length;
    if (count !== n) throw new Error(`expected ${n} lines, got ${count}`);
  };
  const folders = Array.from({ length: vmCount }, (_, i) =>
    path.join(home, `vm-${String(i).padStart(4, '0')}`),
  );
  /** [label, command, args, output check]; measured round-robin so load changes hit all alike. */
  const subjects = [
    ['vireo list', process.execPath, [bin, '--home', home, 'list'], lines(vmCount)],
    [
      'vireo list --json',
      process.execPath,
      [bin, '--home', home, 'list', '--json'],
      (out) => {
        if (JSON.parse(out).length !== vmCount) throw new Error('list --json lost VMs');
      },
    ],
    ['vireo --help', process.execPath, [bin, '--help']],
    ["node -e ''", process.execPath, ['-e', '']],
    ['ls -l', 'ls', ['-l', ...folders]],
  ];
  const samples = new Map(subjects.map(([label]) => [label, []]));
  for (let r = 0; r <= runs; r++) {
    for (const [label, command, args, check] of subjects) {
      const start = process.hrtime.bigint();
      const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.status !== 0)
        throw new Error(`${label} failed (${result.status}): ${result.stderr}`);
      check?.(result.stdout);
      if (r > 0) samples.get(label).push(ms); // round 0 warms the page cache
    }
  }
  /** Median wall time in milliseconds. */
  const median = (label) => {
    const sorted = [...samples.get(label)].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const list = median('vireo list');
  const json = median('vireo list --json');
  const help = median('vireo --help');
  const node = median("node -e ''");
  const ls = median('ls -l');

  const f = (ms) => `${ms.toFixed(1).padStart(7)} ms`;
  console.log(
    `vireo list on ${vmCount} VMs, median of ${runs} runs (${os.cpus().length} cores, Node ${process.version})`,
  );
  console.log(`  vireo list          ${f(list)}`);
  console.log(`  vireo list --json   ${f(json)}`);
  console.log(`  vireo --help        ${f(help)}   (the CLI loading, no library read)`);
  console.log(`  node -e ''          ${f(node)}   (peer: Node start-up floor)`);
  console.log(`  ls -l ${vmCount} folders  ${f(ls)}   (peer: reading the folders from the shell)`);
  console.log(
    `  ratio vireo list / node -e '': ${(list / node).toFixed(2)}x; time above the Node floor: ${(list - node).toFixed(1)} ms`,
  );
  console.log(
    `  reading the library: ${(list - help).toFixed(1)} ms (vireo list - vireo --help), ${(((list - help) / vmCount) * 1000).toFixed(0)} us per VM`,
  );
} finally {
  rmSync(home, { recursive: true, force: true });
}

#!/usr/bin/env node
// `npm test`: every check, in the order that fails fastest. Each step's own output streams
// through; the run fails if any step fails, and the closing lines say which.
import { spawnSync } from 'node:child_process';

const steps = [
  ['format', ['npx', 'prettier', '--check', '.']],
  ['lint', ['npx', 'eslint', '.']],
  ['typecheck', ['npm', 'run', '--silent', 'typecheck']],
  ['build', ['node', 'scripts/build.mjs', '--quiet']],
  ['unit', ['npx', 'vitest', 'run', '--project', 'unit']],
  ['e2e', ['npx', 'vitest', 'run', '--project', 'e2e']],
  // Fixtures that need the network or a fast CPU, made on this machine before the nested guest
  // (which has neither): the Debian installer ISO and QEMU's reference pictures of it.
  ['fixtures', ['node', 'test/fixtures/installer-reference.mjs']],
  // Real KVM: directly where /dev/kvm works, otherwise inside one nested guest boot; a wedged
  // guest is booted again and the suite resumes after the files already finished.
  [
    'engine',
    [
      'test/harness/with-kvm',
      ...['--silence', '600', '--timeout', '4200'],
      'node',
      'test/harness/engine-suite.mjs',
    ],
  ],
];

const only = process.argv.slice(2);
const results = [];
for (const [name, argv] of steps) {
  if (only.length > 0 && !only.includes(name)) continue;
  const started = Date.now();
  console.log(`\n=== ${name}: ${argv.join(' ')}`);
  const run = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit' });
  const ok = run.status === 0;
  results.push({ name, ok, seconds: (Date.now() - started) / 1000 });
  console.log(`=== ${name}: ${ok ? 'ok' : `FAILED (exit ${run.status ?? run.signal})`}`);
}
console.log('\nsummary:');
for (const r of results)
  console.log(`  ${r.ok ? 'ok    ' : 'FAILED'} ${r.name} (${r.seconds.toFixed(1)} s)`);
const failed = results.filter((r) => !r.ok).length;
process.exit(failed === 0 ? 0 : 1);

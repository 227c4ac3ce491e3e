#!/usr/bin/env node
// `node test/harness/engine-suite.mjs [VITEST ARGS...]`: the engine test project, resumable.
//
// `npm test` runs this inside one nested L1 boot (test/harness/with-kvm). When L1 wedges (a soft
// lockup under TCG, seen once in a few long runs) the harness boots it again and runs this again
// with the same VIREO_HARNESS_RUN and a higher VIREO_HARNESS_ATTEMPT. Each file's result is
// recorded as it finishes ($VIREO_TEST_OUT/engine-progress.jsonl, by engine-progress-reporter.mjs),
// so a later attempt runs only the files no attempt finished, and the run still fails if any
// file failed in any attempt. Outside the harness (no VIREO_HARNESS_RUN) it is a plain run.
//
// One exception: a file that failed in the attempt just before this one runs once more. That
// attempt ended because the L1 wedged (there is no other reason for another attempt), and a
// sick L1 fails tests before it dies: CI11 saw pc-live-cd's guest stall for minutes, then the
// L1 kernel hit its stack guard page in the next file. The first failure is printed above the
// re-run; a file that fails twice fails the run.
//
// And within one attempt: a file that fails for the first time in this run is run once more
// right after the others, in a fresh vitest. A guest nested under QEMU's emulator stalls now and
// then with the L1 still alive (CI15: the live CD's kernel went silent 8 s into its boot, and the
// same commit passed the same file alone right after). Again the first failure stays in the
// log, and a file that fails twice fails the run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.resolve(process.env.VIREO_TEST_OUT || path.join(projectRoot, 'test-results'));
const run = process.env.VIREO_HARNESS_RUN ?? '';
const attempt = Number(process.env.VIREO_HARNESS_ATTEMPT ?? '1');
const progress = path.join(outDir, 'engine-progress.jsonl');

/**
 * file -> state, as recorded by earlier attempts of this run (the last record of a file wins),
 * leaving out the files to run again (see the top of this file).
 */
function finishedEarlier() {
  const finished = new Map();
  const failures = new Map();
  if (run === '' || attempt <= 1 || !existsSync(progress)) return finished;
  for (const text of readFileSync(progress, 'utf8').split('\n')) {
    if (text.trim() === '') continue;
    let entry;
    try {
      entry = JSON.parse(text);
    } catch {
      continue; // a torn last line cannot happen (whole appends), but a stray one is no record
    }
    if (entry?.run === run && typeof entry.file === 'string' && typeof entry.state === 'string') {
      finished.set(entry.file, { state: entry.state, attempt: entry.attempt });
      if (entry.state === 'failed') failures.set(entry.file, (failures.get(entry.file) ?? 0) + 1);
    }
  }
  for (const [file, { state, attempt: when }] of [...finished]) {
    if (state === 'failed' && when === attempt - 1 && failures.get(file) === 1) {
      console.log(
        `engine-suite: running ${file} again: it failed in attempt ${when}, which ended with the L1 wedged`,
      );
      finished.delete(file);
    }
  }
  return new Map([...finished].map(([file, { state }]) => [file, state]));
}

mkdirSync(outDir, { recursive: true });
if (attempt <= 1) rmSync(progress, { force: true });
const finished = finishedEarlier();
if (finished.size > 0) {
  console.log(
    `engine-suite: attempt ${attempt}; files finished in an earlier attempt, not run again:`,
  );
  for (const [file, state] of finished) console.log(`  ${state.padEnd(7)} ${file}`);
}

const reporter = path.join(projectRoot, 'test/harness/engine-progress-reporter.mjs');
const args = [
  'run',
  '--project',
  'engine',
  '--reporter=default',
  `--reporter=${reporter}`,
  // Every file may already be done (the wedge came after the last one finished).
  ...(finished.size > 0 ? ['--passWithNoTests'] : []),
  ...[...finished.keys()].map((file) => `--exclude=${file}`),
  ...process.argv.slice(2),
];
const vitest = spawnSync(path.join(projectRoot, 'node_modules/.bin/vitest'), args, {
  cwd: projectRoot,
  stdio: 'inherit',
  env: { ...process.env, VIREO_ENGINE_PROGRESS: run === '' ? '' : progress },
});
/** This run's records: each file's last one, and how many times each file failed. */
function records() {
  const last = new Map();
  const failures = new Map();
  if (run === '' || !existsSync(progress)) return { last, failures };
  for (const text of readFileSync(progress, 'utf8').split('\n')) {
    let entry;
    try {
      entry = text.trim() === '' ? null : JSON.parse(text);
    } catch {
      continue;
    }
    if (entry?.run !== run || typeof entry.file !== 'string') continue;
    last.set(entry.file, entry);
    if (entry.state === 'failed') failures.set(entry.file, (failures.get(entry.file) ?? 0) + 1);
  }
  return { last, failures };
}

/** Files whose last record is a failure in this attempt, and their first failure of the run. */
function failedOnceNow() {
  const { last, failures } = records();
  return [...last]
    .filter(([f, e]) => e.state === 'failed' && e.attempt === attempt && failures.get(f) === 1)
    .map(([f]) => f);
}

let status = vitest.status;
const once = status !== 0 && !vitest.error ? failedOnceNow() : [];
if (once.length > 0) {
  console.log(
    `engine-suite: running ${once.join(', ')} once more: it failed for the first time in this run (its failure is above; failing again fails the run)`,
  );
  const again = spawnSync(
    path.join(projectRoot, 'node_modules/.bin/vitest'),
    ['run', '--project', 'engine', '--reporter=default', `--reporter=${reporter}`, ...once],
    {
      cwd: projectRoot,
      stdio: 'inherit',
      env: { ...process.env, VIREO_ENGINE_PROGRESS: progress },
    },
  );
  // Passed only if no file of this run stands failed now (a file that failed twice, here or
  // with an earlier attempt, was not re-run and still does).
  const stillFailed = [...records().last.values()].some((e) => e.state === 'failed');
  status = again.status === 0 && !stillFailed ? 0 : again.status || 1;
  console.log(`engine-suite: the second run ${status === 0 ? 'passed' : 'failed too'}`);
}
const failedEarlier = [...finished].filter(([, state]) => state === 'failed').map(([f]) => f);
if (failedEarlier.length > 0)
  console.log(`engine-suite: failed in an earlier attempt: ${failedEarlier.join(', ')}`);
if (vitest.error) console.error(`engine-suite: cannot run vitest: ${vitest.error.message}`);
process.exit(status !== 0 || failedEarlier.length > 0 ? (status ?? 1) || 1 : 0);

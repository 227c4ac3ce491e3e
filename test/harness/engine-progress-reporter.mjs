// A vitest reporter that records each finished engine test file in $VIREO_ENGINE_PROGRESS, one
// JSON line per file ({ run, attempt, file, state }), fsynced before the next file starts: the record a
// retry after a wedged L1 resumes from (test/harness/engine-suite.mjs). Without the variable it
// does nothing.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

export default class EngineProgressReporter {
  root = process.cwd();

  onInit(vitest) {
    this.root = vitest.config.root;
  }

  onTestModuleEnd(testModule) {
    const progress = process.env.VIREO_ENGINE_PROGRESS;
    if (!progress) return;
    const line = JSON.stringify({
      run: process.env.VIREO_HARNESS_RUN ?? '',
      attempt: Number(process.env.VIREO_HARNESS_ATTEMPT ?? '1'),
      file: path.relative(this.root, testModule.moduleId),
      state: testModule.state(),
    });
    // Appended and synced whole: a guest killed a moment later leaves complete lines only.
    const fd = openSync(progress, 'a');
    try {
      writeSync(fd, `${line}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

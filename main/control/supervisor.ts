/**
 * The supervisor: which VMs run, in which VM host process, and their state.
 *
 * Running state is shared between processes (the app, `vireo serve`, the CLI) through a small
 * run file in the VM's folder, `.vireo-run.json` `{ pid, state, startedAt, reason, bootId,
 * startTicks }` (docs/library.md), written atomically by whoever started the VM host process
 * ({@link Supervisor.recordRun}). A run file whose process is gone (pid dead, or now another
 * process) is stale: the VM is then "aborted" (its host died without saying goodbye).
 *
 * NOT BUILT YET: spawning the VM host process. The engine (issue "The engine: KVM through koffi")
 * and the PC machine are separate pieces of work; until they land, `start` refuses with an
 * `unavailable` error that says so, rather than pretending. The seam is {@link Supervisor.start}.
 *
 * Runtime: Node.
 */
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BridgeFailure, VmState } from '../../preload/contract.js';
import { writeFileAtomic } from './atomic-write.js';

export const RUN_FILE = '.vireo-run.json';

const RunFile = z.object({
  pid: z.number().int().positive(),
  state: VmState,
  startedAt: z.string(),
  reason: z.string().nullable().optional(),
  /**
   * Who `pid` was, so a pid reused by another process (certain after a reboot, possible after
   * wrap-around) does not keep a VM "running" forever: the kernel's boot id
   * (/proc/sys/kernel/random/boot_id) and the process's start time in clock ticks since boot
   * (/proc/<pid>/stat field 22, proc(5)). Absent where /proc is not available.
   */
  bootId: z.string().max(64).optional(),
  startTicks: z.number().int().nonnegative().optional(),
});
type RunFile = z.infer<typeof RunFile>;

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** proc(5): field 22 of /proc/<pid>/stat; fields are counted after the `(comm)` field's last ')'. */
function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    return Number.isSafeInteger(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process the run file names is still that process. */
function stillRunning(run: RunFile): boolean {
  if (!alive(run.pid)) return false;
  const boot = bootId();
  if (run.bootId !== undefined && boot !== undefined && run.bootId !== boot) return false;
  const ticks = startTicks(run.pid);
  if (run.startTicks !== undefined && ticks !== undefined && run.startTicks !== ticks) return false;
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Supervisor {
  /**
   * The state of the VM in `folder`, from its run file. `runFileMayExist` false (the caller's
   * readdir showed none) skips the read: `vireo list` on a large library reads no more than it must.
   */
  async state(
    folder: string,
    runFileMayExist = true,
  ): Promise<{ state: VmState; reason: string | null }> {
    if (!runFileMayExist) return { state: 'powered-off', reason: null };
    let raw: string;
    try {
      raw = await fs.readFile(path.join(folder, RUN_FILE), 'utf8');
    } catch {
      return { state: 'powered-off', reason: null };
    }
    let parsed;
    try {
      parsed = RunFile.parse(JSON.parse(raw));
    } catch {
      return {
        state: 'aborted',
        reason: `The run file ${RUN_FILE} is unreadable; the VM's host process state is unknown.`,
      };
    }
    if (stillRunning(parsed)) return { state: parsed.state, reason: parsed.reason ?? null };
    if (parsed.state === 'aborted') return { state: 'aborted', reason: parsed.reason ?? null };
    return {
      state: 'aborted',
      reason: `The VM host process (pid ${parsed.pid}) ended without powering the VM off.`,
    };
  }

  /**
   * Publishes the state of the VM host process that runs the VM in `folder` (called by whoever
   * spawned it, on every state change), so the app, `vireo serve` and the CLI all see it.
   */
  async recordRun(
    folder: string,
    run: { pid: number; state: VmState; reason?: string | null },
    startedAt = new Date(),
  ): Promise<void> {
    const record: RunFile = {
      pid: run.pid,
      state: run.state,
      startedAt: startedAt.toISOString(),
      reason: run.reason ?? null,
      bootId: bootId(),
      startTicks: startTicks(run.pid),
    };
    await writeFileAtomic(
      path.join(folder, RUN_FILE),
      `${JSON.stringify(RunFile.parse(record))}\n`,
    );
  }

  /** The VM powered off cleanly: no run file means powered off. */
  async clearRun(folder: string): Promise<void> {
    await fs.rm(path.join(folder, RUN_FILE), { force: true });
  }

  isActive(state: VmState): boolean {
    return (
      state === 'running' || state === 'paused' || state === 'starting' || state === 'stopping'
    );
  }

  start(_folder: string): Promise<never> {
    return Promise.reject(
      new BridgeFailure(
        'unavailable',
        "Vireo's engine cannot start this machine yet: the KVM engine and the PC machine (firmware, CD-ROM, display) are still being built. The VM's settings are saved and it will start once they land.",
      ),
    );
  }

  /** Pause, resume, power off and ACPI shutdown act on a running VM host process. */
  async control(
    folder: string,
    action: 'pause' | 'resume' | 'powerOff' | 'shutdown',
  ): Promise<never> {
    const { state } = await this.state(folder);
    const need = action === 'resume' ? 'paused' : 'running';
    throw new BridgeFailure(
      'invalid-state',
      `Cannot ${actionWords[action]}: the VM is ${stateWords[state]}, not ${stateWords[need]}.`,
    );
  }
}

const actionWords = {
  pause: 'pause',
  resume: 'resume',
  powerOff: 'power off',
  shutdown: 'shut down',
} as const;
export const stateWords: Record<VmState, string> = {
  'powered-off': 'powered off',
  starting: 'starting',
  running: 'running',
  paused: 'paused',
  saved: 'saved',
  stopping: 'stopping',
  aborted: 'aborted',
  inaccessible: 'inaccessible',
};

/**
 * The supervisor: which VMs run, in which VM host process, and their state.
 *
 * Running state is shared between processes (the app, `vireo serve`, the CLI) through a small
 * run file in the VM's folder, `.vireo-run.json` `{ pid, state, startedAt, reason, bootId,
 * startTicks }` (docs/library.md), written atomically by whoever started the VM host process
 * ({@link Supervisor.recordRun}). A run file whose process is gone (pid dead, or now another
 * process) is stale: the VM is then "aborted" (its host died without saying goodbye).
 *
 * Starting a VM spawns its VM host process (main/engine/host, bundled to out/engine/host.js)
 * with an IPC channel; this supervisor keeps that channel, so pause, resume, ACPI shutdown and
 * power off go through the process that started the VM. Another process (the CLI, a second
 * `vireo serve`) can only power it off, by SIGTERM to the recorded pid (the host treats it as
 * pulling the plug). The VM host's stderr and the guest's serial output go to the VM's Logs/
 * folder (`vm-host.log`, `serial.log`); the last serial output is also kept in memory for the
 * console (issue "Console window").
 *
 * Boot source `firmware` runs the PC machine (SeaBIOS, the ISO in the IDE CD-ROM, each disk on
 * the bus its config names: IDE hard disk or virtio-blk on virtio-pci, VGA, boot order from the
 * config); `linux-kernel` the direct machine (bzImage, disks as virtio-blk over virtio-mmio).
 * NOT BUILT YET: network boot (dropped from the boot order, with a log line).
 *
 * Runtime: Node.
 */
import { existsSync, promises as fs, openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  BridgeFailure,
  STATS_WINDOW_SAMPLES,
  VmState,
  type VmStatsSample,
} from '../../preload/contract.js';
import type { VmConfig } from '../../preload/vm-config.js';
import { spawnVmHost, type VmHostProcess } from '../engine/host/spawn.js';
import { PC_MAX_DISKS, type VmLaunchInput } from '../engine/vm-launch.js';
import {
  controlRequest,
  controlSocketFolder,
  SOCKET_PATH_MAX,
} from '../engine/host/control-socket.js';
import { writeFileAtomic } from './atomic-write.js';

export const RUN_FILE = '.vireo-run.json';
/** The VM host's log and the guest's serial log live here, inside the VM folder. */
export const LOGS_FOLDER = 'Logs';

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
  /** The VM host's control socket (screenshot, sendkey from other processes). */
  control: z.string().max(200).optional(),
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

export interface SupervisorOptions {
  /** The VM host program; default: out/engine/host.js beside the running bundle. */
  hostScript?: string;
}

/** What a running VM produces besides state changes, for the control plane to pass on. */
export interface SupervisorListener {
  onSerialOutput(vmId: string, bytes: Uint8Array): void;
  onStats(vmId: string, sample: VmStatsSample): void;
}

export class Supervisor {
  private readonly children = new Map<string, RunningVm>();
  /**
   * VMs whose host process this process saw end, until their run file says so. Between the
   * process's exit and the queued run-file write (deleting it for a power-off), the file still
   * says "running" with a dead pid, which {@link state} would read as "aborted": a list or a
   * watcher's refresh in that window reported a clean power-off as "Aborted".
   */
  private readonly ending = new Map<string, { state: VmState; reason: string | null }>();
  /** Set by the control plane; serial output and samples of every VM this process runs. */
  listener: SupervisorListener | undefined;

  constructor(private readonly options: SupervisorOptions = {}) {}

  /**
   * The state of the VM in `folder`, from its run file. `runFileMayExist` false (the caller's
   * readdir showed none) skips the read: `vireo list` on a large library reads no more than it must.
   */
  async state(
    folder: string,
    runFileMayExist = true,
  ): Promise<{ state: VmState; reason: string | null }> {
    const ended = this.ending.get(folder);
    if (ended) return ended;
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
    run: { pid: number; state: VmState; reason?: string | null; control?: string },
    startedAt = new Date(),
  ): Promise<void> {
    const record: RunFile = {
      pid: run.pid,
      state: run.state,
      startedAt: startedAt.toISOString(),
      reason: run.reason ?? null,
      bootId: bootId(),
      startTicks: startTicks(run.pid),
      ...(run.control ? { control: run.control } : {}),
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

  /**
   * Starts the VM in `folder` in its own VM host process and resolves once the process exists
   * and its run file says "starting". A launch the engine refuses (no /dev/kvm, not a bzImage,
   * too much memory) still resolves: the VM then turns "aborted" with the engine's own message
   * as its state reason, as VirtualBox shows a VM that failed to start.
   */
  /** What the VM host process is asked to run for `config`; refuses what cannot start. */
  private launchFor(folder: string, config: VmConfig): VmLaunchInput {
    const resolveInFolder = (p: string): string => path.resolve(folder, p);
    const disks = config.disks.map((d) => ({ path: resolveInFolder(d.path), bus: d.bus }));
    const common = {
      name: config.name,
      memoryMiB: config.memoryMiB,
      cpus: config.cpus,
      disks,
    };
    if (config.boot.source === 'linux-kernel') {
      return {
        ...common,
        machine: 'direct',
        kernel: resolveInFolder(config.boot.kernel),
        initrd: config.boot.initrd === null ? null : resolveInFolder(config.boot.initrd),
        append: config.boot.append,
      };
    }
    if (disks.filter((d) => d.bus === 'ide').length > PC_MAX_DISKS)
      throw new BridgeFailure(
        'invalid-state',
        `A VM that boots from firmware takes at most ${PC_MAX_DISKS} IDE disks (its IDE controller has ` +
          `${PC_MAX_DISKS} free positions): put a disk on virtio or remove one in Settings, Storage.`,
      );
    const iso = config.optical.iso === null ? null : resolveInFolder(config.optical.iso);
    if (iso !== null && !existsSync(iso))
      throw new BridgeFailure(
        'invalid-state',
        `The ISO ${iso} in the optical drive does not exist: choose another one in Settings, Storage, or empty the drive.`,
      );
    // Network boot is not built: it is left out of the order the firmware gets.
    const order = config.boot.order.filter((d): d is 'cdrom' | 'disk' => d !== 'network');
    return {
      ...common,
      machine: 'pc',
      cdrom: iso,
      bootOrder: order.length > 0 ? order : ['cdrom', 'disk'],
      bootMenu: config.bootMenu.enabled ? { timeoutMs: config.bootMenu.timeoutMs } : null,
    };
  }

  async start(folder: string, config: VmConfig): Promise<void> {
    const launch = this.launchFor(folder, config);
    for (const d of config.disks) {
      const image = path.resolve(folder, d.path);
      if (!existsSync(image))
        throw new BridgeFailure(
          'invalid-state',
          `The disk image ${image} does not exist: create it (vireo createmedium) or remove the disk in Settings, Storage.`,
        );
    }
    if (this.children.has(folder))
      throw new BridgeFailure('invalid-state', 'The VM is already starting or running.');
    const script = this.hostScript();
    const socketPath = path.join(controlSocketFolder(), `${config.id}.sock`);
    const control = socketPath.length <= SOCKET_PATH_MAX ? socketPath : undefined;
    const logs = path.join(folder, LOGS_FOLDER);
    await fs.mkdir(logs, { recursive: true });
    const logFd = openSync(path.join(logs, 'vm-host.log'), 'a');
    const serialLog = await fs.open(path.join(logs, 'serial.log'), 'w');
    let serialBytes = 0;
    const child: RunningVm = {
      process: null as unknown as VmHostProcess,
      state: 'starting',
      serial: [],
      serialLength: 0,
      stats: [],
      waiters: new Set(),
      startedAt: new Date(),
    };
    this.children.set(folder, child);
    this.ending.delete(folder);
    let chain = Promise.resolve();
    /** Run-file writes are queued so a late "running" never overwrites "aborted". */
    const publish = (state: VmState, reason: string | null): void => {
      chain = chain
        .then(() =>
          state === 'powered-off'
            ? this.clearRun(folder)
            : this.recordRun(
                folder,
                {
                  pid: child.process.pid,
                  state,
                  reason,
                  ...(control && state !== 'aborted' ? { control } : {}),
                },
                child.startedAt,
              ),
        )
        .catch((e: unknown) => {
          process.stderr.write(`vireo: cannot record the state of ${folder}: ${String(e)}\n`);
        })
        .then(() => {
          for (const w of child.waiters) w();
        });
    };
    child.process = spawnVmHost(
      script,
      launch,
      {
        onState: (state) => {
          child.state = state;
          publish(state, null);
        },
        onStats: (sample) => {
          child.stats.push(sample);
          if (child.stats.length > STATS_WINDOW_SAMPLES) child.stats.shift();
          this.listener?.onStats(config.id, sample);
        },
        onSerialOutput: (bytes) => {
          this.listener?.onSerialOutput(config.id, bytes);
          child.serial.push(bytes);
          child.serialLength += bytes.length;
          while (child.serialLength > SERIAL_SCROLLBACK_BYTES && child.serial.length > 1)
            child.serialLength -= child.serial.shift()!.length;
          // The log file is capped: a guest printing forever must not fill the disk.
          if (serialBytes < SERIAL_LOG_MAX_BYTES) {
            serialBytes += bytes.length;
            void serialLog.write(bytes).catch(() => {});
          }
        },
        onLog: (line) => {
          void fs.appendFile(path.join(logs, 'vm-host.log'), `${line}\n`).catch(() => {});
        },
        onEnded: (outcome, reason, report) => {
          child.state = outcome;
          const ended = { state: outcome, reason: outcome === 'aborted' ? reason : null };
          this.ending.set(folder, ended);
          this.children.delete(folder);
          closeSync(logFd);
          void serialLog.close().catch(() => {});
          if (report)
            void fs
              .appendFile(path.join(logs, 'vm-host.log'), `${reason}\n${report}\n`)
              .catch(() => {});
          publish(outcome, outcome === 'aborted' ? reason : null);
          // Until the run file has caught up (that write is queued behind earlier ones).
          void chain.then(() => {
            if (this.ending.get(folder) === ended) this.ending.delete(folder);
          });
        },
      },
      { logFile: logFd, ...(control ? { controlSocket: control } : {}) },
    );
    publish('starting', null);
    await chain;
  }

  /** The guest's recent serial output (at most {@link SERIAL_SCROLLBACK_BYTES}), if this process runs it. */
  serialScrollback(folder: string): Uint8Array | null {
    const child = this.children.get(folder);
    return child ? Buffer.concat(child.serial) : null;
  }

  /** The rolling window of samples of a VM this process runs (empty otherwise). */
  stats(folder: string): VmStatsSample[] {
    return [...(this.children.get(folder)?.stats ?? [])];
  }

  /** Types into the guest's serial console, if this process runs the VM. */
  sendSerialInput(folder: string, bytes: Uint8Array): boolean {
    const child = this.children.get(folder);
    if (!child) return false;
    child.process.send({ type: 'serial-input', data: Buffer.from(bytes).toString('base64') });
    return true;
  }

  /**
   * Pause, resume, power off, ACPI shutdown and reset act on a running VM host process.
   * Resolves when the VM reached the state asked for (power off, pause, resume) or once the
   * request was sent (shutdown: the guest decides when it ends; reset: the VM host rebuilds the
   * machine and the guest boots again, still "running").
   */
  async control(
    folder: string,
    action: 'pause' | 'resume' | 'powerOff' | 'shutdown' | 'reset',
  ): Promise<void> {
    const { state } = await this.state(folder);
    const need = action === 'resume' ? 'paused' : 'running';
    const child = this.children.get(folder);
    const allowed =
      state === need ||
      (action === 'powerOff' && this.isActive(state)) ||
      ((action === 'shutdown' || action === 'reset') && state === 'running');
    if (!allowed) {
      throw new BridgeFailure(
        'invalid-state',
        `Cannot ${actionWords[action]}: the VM is ${stateWords[state]}, not ${stateWords[need]}.`,
      );
    }
    if (!child) {
      const run = await this.readRun(folder);
      if (action === 'powerOff' && run && stillRunning(run)) {
        // The VM host of another Vireo process: SIGTERM pulls the plug (main/engine/host).
        process.kill(run.pid, 'SIGTERM');
        return;
      }
      throw new BridgeFailure(
        'invalid-state',
        `The VM runs in another Vireo process${run ? ` (VM host pid ${run.pid})` : ''}; ${actionWords[action]} it from there.`,
      );
    }
    const wanted: Record<typeof action, readonly string[]> = {
      pause: ['paused'],
      resume: ['running'],
      powerOff: ['powered-off', 'aborted'],
      shutdown: [],
      reset: [],
    };
    const message = {
      pause: 'pause',
      resume: 'resume',
      powerOff: 'power-off',
      shutdown: 'shutdown',
      reset: 'reset',
    } as const;
    const reached = wanted[action];
    const done =
      reached.length === 0
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => {
              child.waiters.delete(check);
              reject(
                new BridgeFailure(
                  'unavailable',
                  `The VM did not ${actionWords[action]} within ${CONTROL_TIMEOUT_MS / 1000} s.`,
                ),
              );
            }, CONTROL_TIMEOUT_MS);
            const check = (): void => {
              if (!reached.includes(child.state)) return;
              clearTimeout(timer);
              child.waiters.delete(check);
              resolve();
            };
            child.waiters.add(check);
          });
    child.process.send({ type: message[action] });
    await done;
  }

  /** Powers off every VM this process started (the app is quitting). */
  powerOffAll(): void {
    for (const child of this.children.values()) child.process.send({ type: 'power-off' });
  }

  /**
   * Changes the optical drive's disc of the running VM in `folder` (null ejects), through its
   * host's control socket, whichever Vireo process started it.
   */
  async changeMedium(folder: string, iso: string | null): Promise<void> {
    const socket = await this.controlSocket(folder);
    if (!socket)
      throw new BridgeFailure(
        'invalid-state',
        'The VM is running but its host process cannot be reached to change the disc; power it off and change it then.',
      );
    let answer;
    try {
      answer = await controlRequest(socket, { command: 'medium', iso }, CONTROL_TIMEOUT_MS);
    } catch (e) {
      throw new BridgeFailure('unavailable', `Cannot change the disc: ${(e as Error).message}`);
    }
    if (!answer.ok)
      throw new BridgeFailure('invalid-state', `The drive did not take the disc: ${answer.error}`);
  }

  /** The control socket of the VM in `folder` if its host process runs (any Vireo process). */
  async controlSocket(folder: string): Promise<string | null> {
    const run = await this.readRun(folder);
    return run?.control && stillRunning(run) ? run.control : null;
  }

  private async readRun(folder: string): Promise<RunFile | null> {
    try {
      return RunFile.parse(JSON.parse(await fs.readFile(path.join(folder, RUN_FILE), 'utf8')));
    } catch {
      return null;
    }
  }

  private hostScript(): string {
    const candidates = [
      this.options.hostScript,
      // Bundled (out/main/app.js, out/cli/vireo.js): the host is out/engine/host.js.
      fileURLToPath(new URL('../engine/host.js', import.meta.url)),
      // From source (tests): the checkout's build output.
      fileURLToPath(new URL('../../out/engine/host.js', import.meta.url)),
    ];
    const found = candidates.find((c): c is string => c !== undefined && existsSync(c));
    if (!found)
      throw new BridgeFailure(
        'unavailable',
        'The VM host program (out/engine/host.js) is missing: this Vireo installation is incomplete; run npm run build.',
      );
    return found;
  }
}

/** Serial output kept in memory per running VM for a console that opens later. */
export const SERIAL_SCROLLBACK_BYTES = 256 * 1024;
/** Cap of Logs/serial.log per boot. */
const SERIAL_LOG_MAX_BYTES = 16 * 1024 * 1024;
const CONTROL_TIMEOUT_MS = 30_000;

interface RunningVm {
  process: VmHostProcess;
  state: VmState;
  serial: Uint8Array[];
  serialLength: number;
  /** The rolling window of 1 Hz samples. */
  stats: VmStatsSample[];
  /** Called after every published state change. */
  waiters: Set<() => void>;
  startedAt: Date;
}

const actionWords = {
  pause: 'pause',
  resume: 'resume',
  powerOff: 'power off',
  shutdown: 'shut down',
  reset: 'reset',
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

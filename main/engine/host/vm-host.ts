/**
 * One running VM: assembles the direct Linux machine on a hypervisor backend, runs it, and
 * turns what happens to it into an outcome: "powered-off" (the guest powered off, or rebooted
 * with rebootAction "exit", or the host stopped it) or "aborted" (triple fault, KVM internal
 * error, failed entry, device or engine exception) with a readable report. Used in-process by
 * `vireo run` and by the VM host process (./index.ts) the control plane spawns.
 *
 * Threads: this object, the buses and every device live on the device thread (the process's
 * main thread); each vCPU runs in its own worker (hypervisor/kvm/vcpu-worker.ts).
 *
 * Runtime: engine (device thread).
 */
import { KvmHypervisor } from '../hypervisor/kvm/kvm.js';
import type { Hypervisor, Vcpu, VcpuFault, Vm } from '../hypervisor/types.js';
import { assembleDirectMachine } from '../machine/direct/assemble.js';
import { assemblePcMachine } from '../machine/pc/index.js';
import type { AssembledMachine, MachineCallbacks } from '../machine/types.js';
import type { StdVga } from '../devices/vga/index.js';
import type { ValidatedLaunch } from '../vm-launch.js';
import { formatFault } from './fault-report.js';
import { exitTrace } from '../hypervisor/exit-dispatch.js';
import { VmStatsSampler } from './stats.js';
import { openImage, ImageFormatError, type DiskImage } from '../storage/index.js';
import { LaunchError } from '../vm-launch.js';
import { parseKeyChord } from '../devices/i8042/scancodes.js';
import { VgaRenderer } from '../display/vga-renderer.js';
import { encodeFramePng } from '../display/png.js';
import { DisplayHub } from './display-stream.js';
import type { VmStatsSample } from '../../../preload/contract.js';

export type VmRunState = 'starting' | 'running' | 'paused' | 'stopping';

export type VmOutcome =
  { kind: 'powered-off'; reason: string } | { kind: 'aborted'; reason: string; report: string };

export interface VmHostEvents {
  /** Bytes the guest wrote to its serial console (COM1), in order, batched per turn. */
  onSerialOutput(bytes: Uint8Array): void;
  onState(state: VmRunState): void;
  /** One line for the VM's log (boot, reset, stop reasons). */
  onLog(line: string): void;
  /** A 1 Hz sample for the live charts (only when statistics are asked for). */
  onStats?(sample: VmStatsSample): void;
}

export interface VmHostOptions {
  /** The bundled vCPU worker (out/engine/vcpu-worker.js). */
  workerUrl: URL | string;
  /** For tests and other backends; defaults to KVM on /dev/kvm. */
  hypervisor?: Hypervisor;
}

/** Pause between key chords of one sendKeys call. */
const KEY_CHORD_GAP_MS = 20;

/** Serial input retry period while the UART's host queue is full. */
const INPUT_RETRY_MS = 5;

export class VmHost {
  readonly outcome: Promise<VmOutcome>;
  private settle!: (o: VmOutcome) => void;
  private vm: Vm | undefined;
  private vcpus: readonly Vcpu[] = [];
  private machine: AssembledMachine | undefined;
  private ending = false;
  private paused = false;
  private serialBatch: number[] = [];
  private pendingInput: Uint8Array[] = [];
  private inputTimer: NodeJS.Timeout | undefined;
  /** Boots so far (1 + resets). */
  boots = 0;
  private statsTimer: NodeJS.Timeout | undefined;
  private images: DiskImage[] = [];
  private renderer: { vga: StdVga; renderer: VgaRenderer } | undefined;
  /** The screen for viewers (console windows) and screenshots; see ./display-stream.ts. */
  readonly display = new DisplayHub(() => this.displaySource(), {
    absolutePointer: () => this.machine?.tablet?.active ?? false,
  });
  /** The optical drive's medium after a live change; a guest reset keeps it. */
  private opticalMedium: string | null | undefined;

  private constructor(
    private readonly launch: ValidatedLaunch,
    private readonly hypervisor: Hypervisor,
    private readonly events: VmHostEvents,
  ) {
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }

  /**
   * Opens the hypervisor (KvmUnavailableError says what to do when /dev/kvm is missing or
   * forbidden) and boots the VM. Resolves once the vCPUs run.
   */
  static async start(
    launch: ValidatedLaunch,
    events: VmHostEvents,
    options: VmHostOptions,
  ): Promise<VmHost> {
    const hypervisor = options.hypervisor ?? KvmHypervisor.open({ workerUrl: options.workerUrl });
    const host = new VmHost(launch, hypervisor, events);
    // Disk images are opened once and stay open across guest resets.
    host.images = await openDisks(launch.options.disks);
    events.onState('starting');
    await host.boot();
    const onStats = events.onStats?.bind(events);
    if (onStats) host.startSampling(onStats);
    return host;
  }

  private async boot(): Promise<void> {
    const { options } = this.launch;
    this.boots++;
    const vm = this.hypervisor.createVm();
    this.vm = vm;
    try {
      const callbacks: MachineCallbacks = {
        irq: (n) => vm.irqLine(n),
        msi: (address, data) => {
          vm.signalMsi(address, data);
        },
        onSerialOutput: (byte) => this.serialOut(byte),
        onPowerOff: () => this.end({ kind: 'powered-off', reason: 'the guest powered off' }),
        onReset: () => this.guestReset(),
        onLog: (line) => this.events.onLog(line),
      };
      const machine =
        this.launch.machine === 'pc'
          ? assemblePcMachine(
              vm,
              this.opticalMedium === undefined
                ? this.launch.pc
                : { ...this.launch.pc, cdromPath: this.opticalMedium },
              callbacks,
              this.images.map((image, i) => ({ image, bus: options.disks[i]?.bus ?? 'ide' })),
              options.bootOrder,
              options.bootMenu,
            )
          : assembleDirectMachine(vm, this.launch.boot, options, callbacks, this.images);
      this.machine = machine;
      this.events.onLog(
        `boot ${this.boots}: ${this.launch.machine} machine, ${options.cpus} vCPU, ${options.memoryMiB} MiB` +
          (this.launch.machine === 'pc'
            ? `, firmware ${options.firmware}, CD-ROM ${options.cdrom ?? 'empty'}`
            : `, kernel ${options.kernel}`),
      );
      this.vcpus = await vm.startVcpus(options.cpus, {
        initialStates: machine.initialStates,
        buses: { ports: machine.ports, mmio: machine.mmio },
        onFault: (fault) => this.abort(fault),
        onLog: (line) => this.events.onLog(line),
        onSystemEvent: (event) =>
          event === 'reset'
            ? this.guestReset()
            : this.end({ kind: 'powered-off', reason: 'the guest powered off' }),
      });
    } catch (e) {
      await vm.destroy();
      this.vm = undefined;
      throw e;
    }
    if (!this.ending) this.events.onState(this.paused ? 'paused' : 'running');
    this.flushInput();
  }

  /** Samples every second; uptime counts from the first boot, across guest resets. */
  private startSampling(onStats: (sample: VmStatsSample) => void): void {
    const sampler = new VmStatsSampler({
      vcpuThreads: () => this.vcpus.map((v) => v.thread),
      disks: () => this.machine?.disks ?? [],
      exitCounts: () => this.exitCounts(),
      guestMemoryBytes: this.launch.options.memoryMiB * 2 ** 20,
    });
    sampler.sample();
    this.statsTimer = setInterval(() => {
      if (this.ending) return;
      const sample = sampler.sample();
      if (sample) onStats(sample);
    }, 1000);
    this.statsTimer.unref();
  }

  private serialOut(byte: number): void {
    // Batch the bytes of one turn of the event loop into one write to the terminal or parent.
    if (this.serialBatch.length === 0) setImmediate(() => this.flushSerial());
    this.serialBatch.push(byte);
  }

  private flushSerial(): void {
    if (this.serialBatch.length === 0) return;
    const bytes = Uint8Array.from(this.serialBatch);
    this.serialBatch = [];
    this.events.onSerialOutput(bytes);
  }

  /**
   * The guest's screen as PNG bytes, or null when the machine has no display (direct boot)
   * or is between boots. Rendering reads VRAM on this thread; the guest keeps running.
   */
  screenshotPng(): Uint8Array | null {
    const frame = this.display.frame();
    return frame ? encodeFramePng(frame) : null;
  }

  /** Whether this machine has a screen (the PC machine's VGA; direct boot has only serial). */
  get hasDisplay(): boolean {
    return this.launch.machine === 'pc';
  }

  /** The current machine's display, renderer made on first use (a reset brings a new VGA). */
  private displaySource(): VgaRenderer | null {
    const vga = this.machine?.vga;
    if (!vga) return null;
    if (this.renderer?.vga !== vga) this.renderer = { vga, renderer: new VgaRenderer(vga) };
    return this.renderer.renderer;
  }

  /** A key of the host's keyboard (`KeyboardEvent.code`) pressed or released, from a console. */
  keyEvent(code: string, down: boolean): boolean {
    const keyboard = this.machine?.keyboard;
    if (!keyboard || this.ending) return false;
    return keyboard.keyEvent(code, down);
  }

  /** Relative mouse motion and buttons (PS/2 order) from a console. */
  mouseEvent(dx: number, dy: number, buttons: number): boolean {
    const mouse = this.machine?.mouse;
    if (!mouse || this.ending) return false;
    return mouse.mouseEvent(dx, dy, buttons);
  }

  /**
   * The host pointer over the console's screen, absolute (x, y in 0..0x7fff), buttons in PS/2
   * order, wheel clicks: for the machine's tablet. False when no guest driver takes it.
   */
  pointerEvent(x: number, y: number, buttons: number, wheel: number): boolean {
    const tablet = this.machine?.tablet;
    if (!tablet || this.ending) return false;
    return tablet.pointerEvent(x, y, buttons, wheel);
  }

  /**
   * Types key chords ("ctrl-alt-delete", "a", "ret") on the PS/2 keyboard: each chord's keys
   * pressed in order and released in reverse, with a short pause between chords so the guest's
   * keyboard handler keeps up. Unknown names are refused before any key is pressed.
   */
  async sendKeys(chords: readonly string[]): Promise<void> {
    const parsed = chords.map((c) => parseKeyChord(c));
    for (const keys of parsed) {
      const keyboard = this.machine?.keyboard;
      if (!keyboard || this.ending) throw new Error('the VM is not running');
      let delivered = true;
      for (const k of keys) delivered = keyboard.keyEvent(k, true) && delivered;
      for (const k of [...keys].reverse()) keyboard.keyEvent(k, false);
      // A real keyboard with scanning disabled (command F5) drops keys too; say so.
      if (!delivered)
        throw new Error(
          'the guest has the keyboard disabled (PS/2 scanning off): the key was dropped',
        );
      await new Promise((r) => setTimeout(r, KEY_CHORD_GAP_MS));
    }
  }

  /**
   * Puts another ISO in the optical drive (null: takes the disc out) while the guest runs, as
   * VirtualBox's "Devices > Optical Drives" does: the drive reports UNIT ATTENTION and a media
   * event, so the guest's driver notices (MMC-6 §6.8 GET EVENT STATUS NOTIFICATION). The host
   * overrides a guest's PREVENT MEDIUM REMOVAL, like VirtualBox's forced unmount. Throws with a
   * readable message when the machine has no drive or the file cannot be read; the drive keeps
   * its old disc then.
   */
  changeMedium(path: string | null): void {
    const drive = this.machine?.opticalDrive;
    if (!drive || this.ending)
      throw new Error(
        this.ending
          ? 'the VM is not running'
          : 'this VM has no optical drive (it boots a Linux kernel directly)',
      );
    if (path === null) drive.eject();
    else drive.insert(path);
    this.opticalMedium = path;
    this.events.onLog(path === null ? 'optical drive: ejected' : `optical drive: inserted ${path}`);
  }

  /** The ISO in the optical drive now, or null (empty or no drive). */
  currentMedium(): string | null {
    return this.machine?.opticalDrive?.current?.path ?? null;
  }

  /** Keyboard input for the guest's serial console. */
  sendSerialInput(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.pendingInput.push(bytes);
    this.flushInput();
  }

  private flushInput(): void {
    const serial = this.machine?.serial;
    if (!serial || this.ending) return;
    while (this.pendingInput.length > 0) {
      const head = this.pendingInput[0]!;
      const taken = serial.receive(head);
      if (taken < head.length) {
        this.pendingInput[0] = head.subarray(taken);
        this.inputTimer ??= setTimeout(() => {
          this.inputTimer = undefined;
          this.flushInput();
        }, INPUT_RETRY_MS);
        return;
      }
      this.pendingInput.shift();
    }
  }

  async pause(): Promise<void> {
    if (this.ending || this.paused || !this.vm) return;
    this.paused = true;
    await this.vm.pause();
    this.events.onState('paused');
  }

  resume(): void {
    if (this.ending || !this.paused || !this.vm) return;
    this.paused = false;
    this.vm.resume();
    this.events.onState('running');
  }

  /** Presses the ACPI power button: the guest shuts down in order (if it listens). */
  requestShutdown(): boolean {
    if (this.ending || !this.machine) return false;
    return this.machine.acpiPm.setPowerButton();
  }

  /** Pulls the plug. */
  powerOff(reason = 'powered off by the host'): void {
    this.end({ kind: 'powered-off', reason });
  }

  exitCounts(): { exits: number; ioExits: number; mmioExits: number; localExits: number } {
    const sum = { exits: 0, ioExits: 0, mmioExits: 0, localExits: 0 };
    for (const v of this.vcpus) {
      const c = v.exitCounts();
      sum.exits += c.exits;
      sum.ioExits += c.ioExits;
      sum.mmioExits += c.mmioExits;
      sum.localExits += c.localExits;
    }
    return sum;
  }

  private guestReset(): void {
    if (this.ending) return;
    if (this.launch.options.rebootAction === 'exit') {
      this.end({ kind: 'powered-off', reason: 'the guest rebooted (reboot action: exit)' });
      return;
    }
    this.rebuild('the guest asked for a reset: rebooting');
  }

  /** The reset button (vm.reset): a cold reset whatever the reboot action says. */
  requestReset(): void {
    if (this.ending || !this.vm) return;
    this.rebuild('reset from Vireo: rebooting');
  }

  /** Tears the machine down and builds it again from the same files: a cold reset. */
  private rebuild(why: string): void {
    this.events.onLog(why);
    const old = this.vm;
    this.vm = undefined;
    this.machine?.flushLogs?.();
    this.machine?.stopTimers?.();
    this.machine = undefined;
    this.flushSerial();
    void (async () => {
      await old?.destroy();
      if (this.ending) return;
      try {
        await this.boot();
      } catch (e) {
        this.abort(engineFault('reboot failed', e));
      }
    })();
  }

  private abort(fault: VcpuFault): void {
    const trace =
      exitTrace.length > 0 ? `\nlast exits (oldest first):\n  ${exitTrace.join('\n  ')}` : '';
    this.end({ kind: 'aborted', reason: fault.reason, report: formatFault(fault) + trace });
  }

  /** Ends the VM once; the first outcome wins. */
  private end(outcome: VmOutcome): void {
    if (this.ending) return;
    this.ending = true;
    this.events.onState('stopping');
    clearTimeout(this.inputTimer);
    clearInterval(this.statsTimer);
    this.display.stop();
    const vm = this.vm;
    this.vm = undefined;
    this.machine?.flushLogs?.();
    this.machine?.stopTimers?.();
    // destroy() marks every vCPU stopped synchronously, before the device call that led here
    // returns to its vCPU: the guest does not run on after a power-off.
    const destroyed = vm?.destroy() ?? Promise.resolve();
    void destroyed
      .catch((e: unknown) => this.events.onLog(`while stopping: ${String(e)}`))
      .finally(() => {
        this.flushSerial();
        if (this.hypervisor instanceof KvmHypervisor) this.hypervisor.close();
        // Closing flushes: a qcow2 image's metadata and dirty bit are settled before "ended".
        return Promise.all(this.images.map((i) => i.close().catch(() => {})));
      })
      .finally(() => {
        this.settle(outcome);
      });
  }
}

export function engineFault(reason: string, e: unknown): VcpuFault {
  return {
    reason: `engine exception: ${reason}`,
    detail: e instanceof Error ? (e.stack ?? e.message) : String(e),
  };
}

/** Opens the launch's disk images; a malformed or unopenable one is a LaunchError (nothing runs). */
async function openDisks(
  disks: readonly { path: string; readOnly: boolean }[],
): Promise<DiskImage[]> {
  const opened: DiskImage[] = [];
  try {
    for (const d of disks) opened.push(await openImage(d.path, { readOnly: d.readOnly }));
    return opened;
  } catch (e) {
    await Promise.all(opened.map((i) => i.close().catch(() => {})));
    const why = e instanceof ImageFormatError || e instanceof Error ? e.message : String(e);
    throw new LaunchError(`cannot open a disk image: ${why}`, 'disk-unreadable');
  }
}

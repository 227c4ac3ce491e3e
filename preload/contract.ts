/**
 * The bridge contract: the one place the renderer and the control plane meet.
 *
 * Every call has a name, an argument schema and a result schema; every event a name and a
 * payload schema. Main (Electron IPC, `main/ipc`) and the browser-mode server (`main/serve`)
 * validate each call's arguments against these schemas at run time, because the renderer is
 * untrusted; the renderer reaches them through `window.vireo` (preload) or the WebSocket client
 * (`renderer/src/lib/bridge`), both of which implement {@link VireoBridge}.
 *
 * Errors travel as values ({@link CallResult}), never as thrown exceptions across the bridge,
 * so the UI can always show what went wrong and what to do.
 *
 * Runtime: shared (no Node, no DOM, no Electron).
 */
import { z } from 'zod';
import {
  BootConfig,
  BootDevice,
  BootMenuConfig,
  DiskAllocation,
  DiskBus,
  DiskFormat,
  DisplayConfig,
  FilePath,
  LIMITS,
  NetworkConfig,
  OsFamily,
  VmConfig,
  VmName,
  VmState,
} from './vm-config.js';

export * from './vm-config.js';

/** What the list shows of one VM folder: its config, or why it cannot be read. */
export const VmSummary = z.discriminatedUnion('accessible', [
  z.object({
    accessible: z.literal(true),
    id: z.uuid(),
    /** The VM folder, absolute. */
    folder: z.string(),
    /** The config file, absolute. */
    configPath: z.string(),
    state: VmState,
    /** Why the VM is aborted (the engine's last words), when it is. */
    stateReason: z.string().nullable(),
    config: VmConfig,
  }),
  z.object({
    accessible: z.literal(false),
    /** For an inaccessible VM the id is derived from its folder path, since the config cannot be read. */
    id: z.string(),
    folder: z.string(),
    configPath: z.string(),
    state: z.literal('inaccessible'),
    /** What is wrong and what the user can do about it. */
    stateReason: z.string(),
    /** The folder name, shown in place of the VM's name. */
    name: z.string(),
  }),
]);
export type VmSummary = z.infer<typeof VmSummary>;

export const HostInfo = z.object({
  version: z.string(),
  platform: z.string(),
  cores: z.number().int(),
  memoryMiB: z.number().int(),
  libraryRoot: z.string(),
  /** Whether this host can run VMs, and if not, what to do. */
  hypervisor: z.object({ available: z.boolean(), name: z.string(), reason: z.string().nullable() }),
  /** `electron` or `browser`: browser mode has no native dialogs, so the UI uses its own picker. */
  mode: z.enum(['electron', 'browser']),
});
export type HostInfo = z.infer<typeof HostInfo>;

/** One OS the wizard offers, with the defaults it fills in. */
export const OsCatalogEntry = z.object({
  id: z.string(),
  family: OsFamily,
  label: z.string(),
  defaults: z.object({
    cpus: z.number().int(),
    memoryMiB: z.number().int(),
    diskMiB: z.number().int(),
  }),
});
export type OsCatalogEntry = z.infer<typeof OsCatalogEntry>;

/** What the ISO inspector found (ISO 9660 primary volume descriptor and El Torito catalog). */
export const IsoInfo = z.object({
  path: z.string(),
  sizeBytes: z.number(),
  volumeLabel: z.string(),
  /** ISO 9660 PVD fields that help a person recognise the medium. */
  publisher: z.string(),
  application: z.string(),
  /** True when an El Torito boot catalog with a bootable entry is present. */
  bootable: z.boolean(),
  /** Platforms of the El Torito entries: `x86` (BIOS), `efi`, ... */
  bootPlatforms: z.array(z.string()),
  /** The detected OS, or null when the label is not one we recognise ("unknown"). */
  detectedOs: z.object({ id: z.string(), family: OsFamily, label: z.string() }).nullable(),
});
export type IsoInfo = z.infer<typeof IsoInfo>;

/** One disk image or ISO in the Virtual Media Manager (main/control/media.ts). */
export const MediumInfo = z.object({
  path: z.string(),
  kind: z.enum(['disk', 'iso']),
  /** qcow2, raw, iso; `unknown` when the file cannot be read. */
  format: z.string(),
  virtualSizeBytes: z.number().nonnegative(),
  sizeOnDiskBytes: z.number().nonnegative(),
  usedBy: z.array(z.object({ id: z.string(), name: z.string(), running: z.boolean() })),
  /** Why the file cannot be read (missing, not an image), or null. */
  error: z.string().nullable(),
});
export type MediumInfo = z.infer<typeof MediumInfo>;

/** What the New VM wizard sends. Defaults come from the OS catalog; main re-checks host limits. */
export const NewVmRequest = z.object({
  name: VmName,
  /** Parent folder for the VM's own folder; null means the library root. */
  folder: FilePath.nullable(),
  os: z.object({ family: OsFamily, id: z.string().min(1).max(64) }),
  cpus: z.number().int().min(1).max(LIMITS.cpusMax),
  memoryMiB: z.number().int().min(LIMITS.memoryMiBMin).max(LIMITS.memoryMiBMax),
  disk: z
    .object({
      sizeMiB: z.number().int().min(LIMITS.diskMiBMin).max(LIMITS.diskMiBMax),
      format: DiskFormat,
      allocation: DiskAllocation,
      bus: DiskBus,
    })
    .nullable(),
  iso: FilePath.nullable(),
  boot: BootConfig.optional(),
});
export type NewVmRequest = z.infer<typeof NewVmRequest>;

/** Changes the Settings dialog or `vireo modifyvm` asks for; absent fields stay as they are. */
export const VmChanges = z
  .object({
    name: VmName,
    description: z.string().max(4096),
    os: z.object({ family: OsFamily, id: z.string().min(1).max(64) }),
    cpus: z.number().int().min(1).max(LIMITS.cpusMax),
    memoryMiB: z.number().int().min(LIMITS.memoryMiBMin).max(LIMITS.memoryMiBMax),
    boot: BootConfig,
    bootOrder: z.array(BootDevice).min(1).max(3),
    bootMenu: BootMenuConfig,
    iso: FilePath.nullable(),
    network: NetworkConfig,
    display: DisplayConfig,
    serial: z.object({ enabled: z.boolean() }),
    /** Attach an existing disk image (the VM must be off): the Media Manager, `modifyvm --attach-disk`. */
    attachDisk: z.object({ path: FilePath, bus: DiskBus }).strict(),
    /** Detach a disk image (the file stays). */
    detachDisk: z.object({ path: FilePath }).strict(),
  })
  .partial()
  .strict();
export type VmChanges = z.infer<typeof VmChanges>;

export const DirectoryEntry = z.object({
  name: z.string(),
  path: z.string(),
  kind: z.enum(['directory', 'file']),
  sizeBytes: z.number(),
});
export type DirectoryEntry = z.infer<typeof DirectoryEntry>;

const VmRef = z.object({ id: z.string().min(1).max(256) }).strict();

/** Serial bytes travel base64-encoded (JSON over IPC and WebSocket). */
const SerialBytes = z.base64().max(256 * 1024);

/**
 * One 1 Hz sample of a running VM, taken by its VM host process (main/engine/host/stats.ts)
 * and kept by the supervisor in a rolling window ({@link STATS_WINDOW_SAMPLES}) while the VM
 * runs, whether or not a window shows it.
 */
export const VmStatsSample = z.object({
  /** When the sample was taken, ms since the epoch. */
  time: z.number(),
  uptimeSeconds: z.number().nonnegative(),
  /** CPU time of all vCPU threads over the last interval, percent of one host core (200 = two busy cores). */
  cpuPercent: z.number().nonnegative(),
  /** The same per vCPU, in vCPU order. */
  vcpuPercent: z.array(z.number().nonnegative()),
  memory: z.object({
    /** Guest RAM as configured (allocated to the guest). */
    guestMiB: z.number().nonnegative(),
    /** Resident memory of the VM host process: guest pages touched plus the engine itself. */
    residentMiB: z.number().nonnegative(),
  }),
  /** VM exits that reached the engine, per second, by kind. */
  exitsPerSecond: z.object({
    io: z.number().nonnegative(),
    mmio: z.number().nonnegative(),
    other: z.number().nonnegative(),
  }),
  /** Per disk (issue "Disks"; empty until disks are attached by the engine). */
  disks: z.array(
    z.object({
      name: z.string(),
      readIops: z.number().nonnegative(),
      writeIops: z.number().nonnegative(),
      readBytesPerSecond: z.number().nonnegative(),
      writeBytesPerSecond: z.number().nonnegative(),
      latencyMeanMs: z.number().nonnegative(),
      latencyP99Ms: z.number().nonnegative(),
      queueDepth: z.number().nonnegative(),
    }),
  ),
  /** Per network adapter (empty until networking exists). */
  network: z.array(
    z.object({
      name: z.string(),
      rxPacketsPerSecond: z.number().nonnegative(),
      txPacketsPerSecond: z.number().nonnegative(),
      rxBytesPerSecond: z.number().nonnegative(),
      txBytesPerSecond: z.number().nonnegative(),
    }),
  ),
});
export type VmStatsSample = z.infer<typeof VmStatsSample>;

/** 15 minutes of 1 Hz samples. */
export const STATS_WINDOW_SAMPLES = 900;

/**
 * Every call the renderer may make. `args` is validated by main before any handler runs;
 * `result` documents (and in tests checks) what comes back.
 */
export const calls = {
  'host.info': { args: z.object({}).strict(), result: HostInfo },
  'os.catalog': { args: z.object({}).strict(), result: z.array(OsCatalogEntry) },
  'iso.inspect': { args: z.object({ path: FilePath }).strict(), result: IsoInfo },
  /** Lists a folder on the host for the browser-mode file picker (no native dialogs there). */
  'files.list': {
    args: z
      .object({ path: FilePath.nullable(), extensions: z.array(z.string().max(16)).max(16) })
      .strict(),
    result: z.object({
      path: z.string(),
      parent: z.string().nullable(),
      entries: z.array(DirectoryEntry),
    }),
  },
  'vm.list': { args: z.object({}).strict(), result: z.array(VmSummary) },
  'vm.get': { args: VmRef, result: VmSummary },
  'vm.create': { args: NewVmRequest.strict(), result: VmSummary },
  'vm.update': { args: z.object({ id: z.uuid(), changes: VmChanges }).strict(), result: VmSummary },
  /** The files a delete would remove, for the confirmation dialog. */
  'vm.deletePlan': { args: VmRef, result: z.object({ files: z.array(z.string()) }) },
  'vm.delete': {
    args: z.object({ id: z.string().min(1).max(256), deleteFiles: z.boolean() }).strict(),
    result: z.object({ removed: z.array(z.string()) }),
  },
  'vm.start': { args: VmRef, result: VmSummary },
  'vm.pause': { args: VmRef, result: VmSummary },
  'vm.resume': { args: VmRef, result: VmSummary },
  /** Hard power off, like pulling the plug. */
  'vm.powerOff': { args: VmRef, result: VmSummary },
  /** ACPI power button: asks the guest to shut down. */
  'vm.shutdown': { args: VmRef, result: VmSummary },
  /** Reset button: the machine restarts from its firmware (or kernel), as a cold reset. */
  'vm.reset': { args: VmRef, result: VmSummary },
  /** The rolling window of 1 Hz samples of a running VM (empty when it is not running here). */
  'vm.stats': { args: VmRef, result: z.object({ samples: z.array(VmStatsSample) }) },
  /** The guest's recent serial output (the VM host keeps it while no window shows it). */
  'vm.serialScrollback': {
    args: VmRef,
    result: z.object({ data: z.base64(), running: z.boolean() }),
  },
  /** Every disk image and ISO the library knows, for the Virtual Media Manager. */
  'media.list': { args: z.object({}).strict(), result: z.array(MediumInfo) },
  /** A new disk image; a relative path goes into the library's media folder. */
  'media.createDisk': {
    args: z
      .object({
        path: FilePath,
        sizeMiB: z.number().int().min(LIMITS.diskMiBMin).max(LIMITS.diskMiBMax),
        format: DiskFormat,
        allocation: DiskAllocation,
      })
      .strict(),
    result: z.object({ path: z.string() }),
  },
  /** Grow a disk image (refused while a running VM uses it). */
  'media.resize': {
    args: z
      .object({
        path: FilePath,
        sizeMiB: z.number().int().min(LIMITS.diskMiBMin).max(LIMITS.diskMiBMax),
      })
      .strict(),
    result: z.object({}),
  },
  /** Delete a medium no VM uses (disk images; ISOs only from the media folder). */
  'media.delete': { args: z.object({ path: FilePath }).strict(), result: z.object({}) },
  /** Types into the guest's serial port (COM1). */
  'vm.serialInput': {
    args: z.object({ id: z.string().min(1).max(256), data: SerialBytes }).strict(),
    result: z.object({}),
  },
} as const;

/** What the Electron application menu asks the renderer to do (for the selected VM, if any). */
export const MenuCommand = z.enum([
  'vm.new',
  'vm.settings',
  'vm.start',
  'vm.pause',
  'vm.resume',
  'vm.shutdown',
  'vm.reset',
  'vm.powerOff',
  'vm.delete',
]);
export type MenuCommand = z.infer<typeof MenuCommand>;

/** Every event main pushes to the renderer. */
export const events = {
  /** A VM was created, changed or changed state. */
  'vm.changed': z.object({ vm: VmSummary }),
  /** A VM was deleted or unregistered. */
  'vm.removed': z.object({ id: z.string() }),
  /** New serial output of a running VM (base64). */
  'vm.serial': z.object({ id: z.string(), data: z.base64() }),
  /** A new 1 Hz sample of a running VM. */
  'vm.stats': z.object({ id: z.string(), sample: VmStatsSample }),
  /**
   * Electron only: the user chose an item of the application menu (main/app/menu.ts). The
   * renderer knows the selected VM, so it carries the command out, e.g. through `vm.start`.
   */
  'menu.command': z.object({ command: MenuCommand }),
} as const;

export type CallName = keyof typeof calls;
export type EventName = keyof typeof events;
export type CallArgs<N extends CallName> = z.input<(typeof calls)[N]['args']>;
export type ParsedCallArgs<N extends CallName> = z.output<(typeof calls)[N]['args']>;
export type CallValue<N extends CallName> = z.output<(typeof calls)[N]['result']>;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

/** Error codes the UI can act on; `message` is always a sentence for a person. */
export const BridgeErrorCode = z.enum([
  'invalid-arguments',
  'not-found',
  'conflict',
  'invalid-state',
  'io',
  'unavailable',
  'forbidden',
  'internal',
]);
export type BridgeErrorCode = z.infer<typeof BridgeErrorCode>;

export interface BridgeError {
  code: BridgeErrorCode;
  message: string;
}

export type CallResult<N extends CallName> =
  { ok: true; value: CallValue<N> } | { ok: false; error: BridgeError };

/**
 * What the renderer sees, whichever transport carries it: `window.vireo` in Electron, the
 * WebSocket client in browser mode.
 */
export interface VireoBridge {
  call<N extends CallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/**
 * The control plane's side: one handler per call, given already-validated arguments.
 * A handler throws {@link BridgeFailure} for errors the user should see; anything else is
 * reported as `internal`.
 */
export type BridgeHandlers = {
  [N in CallName]: (args: ParsedCallArgs<N>) => Promise<CallValue<N>>;
};

/** Thrown by handlers to return a typed error value across the bridge. */
export class BridgeFailure extends Error {
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BridgeFailure';
  }
}

/** Wire messages, shared by the Electron IPC channel and the browser-mode WebSocket. */
export {
  IPC_CHANNEL_CALL,
  IPC_CHANNEL_CONSOLE_OPEN,
  IPC_CHANNEL_DISPLAY,
  IPC_CHANNEL_DISPLAY_PORT,
  IPC_CHANNEL_EVENT,
} from './channels.js';

export const WireCall = z.object({
  type: z.literal('call'),
  id: z.number().int().nonnegative(),
  name: z.string().max(64),
  args: z.unknown(),
});
export type WireCall = z.infer<typeof WireCall>;

export type WireMessage =
  | { type: 'result'; id: number; result: CallResult<CallName> }
  | { type: 'event'; name: EventName; payload: unknown };

export function isCallName(name: string): name is CallName {
  return Object.prototype.hasOwnProperty.call(calls, name);
}

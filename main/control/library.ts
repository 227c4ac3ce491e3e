/**
 * The VM library on disk (docs/library.md).
 *
 *   <root>/library.json                 registry: VM folders outside the root, and folders the
 *                                       user removed from the library but kept on disk
 *   <root>/<VM name>/<VM name>.vireo.json    one folder per VM, its versioned JSON config
 *
 * Every config read is validated by the schema in preload/vm-config.ts; one that fails (bad JSON,
 * a wrong field, an unknown version) is reported as inaccessible with the reason and is never
 * rewritten. Every write is atomic (atomic-write.ts). Reading one folder is vm-folder.ts; the
 * registry is registry.ts; run state is supervisor.ts.
 *
 * Runtime: Node.
 */
import { createImage, imageInfo } from '../engine/storage/index.js';
import { promises as fs } from 'node:fs';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import {
  BOOT_MENU_DEFAULT,
  BridgeFailure,
  LIMITS,
  VM_CONFIG_VERSION,
  VmConfig,
  type BootConfig,
  type DiskConfig,
  type NewVmRequest,
  type VmChanges,
  type VmSummary,
  upgradeConfig,
} from '../../preload/contract.js';
import { writeFileAtomic } from './atomic-write.js';
import { makeFolder } from './make-folder.js';
import { LibraryRegistry } from './registry.js';
import { describeIssues } from './schema-messages.js';
import { findOs } from './os-catalog.js';
import { LOGS_FOLDER, RUN_FILE, Supervisor, stateWords } from './supervisor.js';
import {
  CONFIG_SUFFIX,
  chooseConfigFile,
  readConfigText,
  scanFolder,
  type FolderScan,
} from './vm-folder.js';

export { CONFIG_SUFFIX } from './vm-folder.js';
/** Re-exported for main/ipc/router.ts, which imported it from here first. */
export { describeIssues };
/** Where the VM host process writes its logs (engine), inside the VM folder. */
export { LOGS_FOLDER };
/** Folders read between two yields to the event loop while listing (see vm-folder.ts). */
const LIST_SLICE = 64;

function folderId(folder: string): string {
  return `folder-${createHash('sha256').update(folder).digest('hex').slice(0, 16)}`;
}

function randomMac(): string {
  // 52:54:00 is the locally administered prefix QEMU and KVM tools use for guests.
  const b = randomBytes(3);
  return ['52', '54', '00', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export interface LibraryLimits {
  cores: number;
  memoryMiB: number;
}

export class Library {
  readonly supervisor = new Supervisor();
  private readonly registry: LibraryRegistry;

  constructor(
    readonly root: string,
    private readonly limits: LibraryLimits = {
      cores: os.availableParallelism(),
      memoryMiB: Math.floor(os.totalmem() / 1048576),
    },
  ) {
    this.registry = new LibraryRegistry(root);
  }

  async init(): Promise<void> {
    try {
      await makeFolder(this.root);
    } catch (e) {
      throw new BridgeFailure(
        'io',
        `Cannot use ${this.root} as the library folder (${(e as Error).message}): choose another with --home or VIREO_HOME.`,
      );
    }
  }

  /**
   * Every VM folder with what one readdir of it shows: those under the root holding a
   * `*.vireo.json`, then the registered external ones (listed even when missing, so the user
   * sees "inaccessible: the folder was moved" rather than a VM silently vanishing).
   */
  private async folders(): Promise<{ folder: string; registered: boolean }[]> {
    const registry = await this.registry.read();
    let dirents;
    try {
      dirents = await fs.readdir(this.root, { withFileTypes: true });
    } catch (e) {
      throw new BridgeFailure(
        'io',
        `Cannot read the library folder ${this.root}: ${(e as Error).message}`,
      );
    }
    const hidden = new Set(registry.hidden);
    const candidates = dirents
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => path.join(this.root, d.name))
      .filter((folder) => !hidden.has(folder))
      .map((folder) => ({ folder, registered: false }));
    const inRoot = new Set(candidates.map((c) => c.folder));
    for (const folder of new Set(registry.external))
      if (!inRoot.has(folder)) candidates.push({ folder, registered: true });
    return candidates;
  }

  /** Reads and validates one VM folder; never throws: unreadable configs become inaccessible entries. */
  async summarize(folder: string, scanned?: FolderScan): Promise<VmSummary> {
    const scan = scanned ?? scanFolder(folder);
    const configPath = chooseConfigFile(scan);
    const inaccessible = (reason: string): VmSummary => ({
      accessible: false,
      id: folderId(folder),
      folder,
      configPath,
      state: 'inaccessible',
      stateReason: reason,
      name: path.basename(folder),
    });
    if (scan.error !== null) return inaccessible(scan.error);
    if (scan.configNames.length > 1 && !scan.configNames.includes(path.basename(configPath))) {
      return inaccessible(
        `The folder ${folder} holds several config files (${scan.configNames.join(', ')}) and none is named after the folder: keep one.`,
      );
    }
    const raw = readConfigText(configPath);
    if (typeof raw !== 'string') return inaccessible(raw.reason);
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      return inaccessible(
        `The config file ${configPath} is not valid JSON (${(e as Error).message}). Vireo will not change it; fix it by hand or restore a backup.`,
      );
    }
    // An older version's file is read in today's shape; it is rewritten only when it changes.
    json = upgradeConfig(json);
    const version = (json as { version?: unknown } | null)?.version;
    if (typeof version === 'number' && version > VM_CONFIG_VERSION) {
      return inaccessible(
        `The config file ${configPath} has version ${version}, made by a newer Vireo (this one reads version ${VM_CONFIG_VERSION}). Update Vireo to use this VM.`,
      );
    }
    if (version !== VM_CONFIG_VERSION) {
      return inaccessible(
        `The config file ${configPath} has ${version === undefined ? 'no "version" field' : `version ${JSON.stringify(version)}`}; this Vireo reads version ${VM_CONFIG_VERSION}. Vireo will not change it.`,
      );
    }
    const parsed = VmConfig.safeParse(json);
    if (!parsed.success) {
      return inaccessible(
        `The config file ${configPath} does not match the schema (${describeIssues(parsed.error)}). Vireo will not change it.`,
      );
    }
    const { state, reason } = await this.supervisor.state(folder, scan.hasRunFile);
    return {
      accessible: true,
      id: parsed.data.id,
      folder,
      configPath,
      state,
      stateReason: reason,
      config: parsed.data,
    };
  }

  async list(): Promise<VmSummary[]> {
    const folders = await this.folders();
    const summaries: VmSummary[] = [];
    for (let i = 0; i < folders.length; i += LIST_SLICE) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const { folder, registered } of folders.slice(i, i + LIST_SLICE)) {
        const scan = scanFolder(folder);
        // A folder under the root without a readable config is not a VM (photos, a backup...);
        // a registered one is, and shows as inaccessible with the reason.
        if (!registered && scan.configNames.length === 0) continue;
        summaries.push(await this.summarize(folder, scan));
      }
    }
    return markDuplicateIds(summaries).sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  }

  /** Finds a VM by id, or (for the CLI) by exact name, case-insensitively. */
  async get(ref: string): Promise<VmSummary> {
    const all = await this.list();
    const byId = all.find((v) => v.id === ref);
    if (byId) return byId;
    const byName = all.filter((v) => nameOf(v).toLowerCase() === ref.toLowerCase());
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1)
      throw new BridgeFailure('conflict', `More than one VM is called "${ref}": use its id.`);
    throw new BridgeFailure('not-found', `No VM "${ref}" in the library ${this.root}.`);
  }

  private async accessible(ref: string): Promise<Extract<VmSummary, { accessible: true }>> {
    const vm = await this.get(ref);
    if (!vm.accessible)
      throw new BridgeFailure(
        'invalid-state',
        `VM "${vm.name}" is inaccessible: ${vm.stateReason}`,
      );
    return vm;
  }

  private checkHost(cpus: number, memoryMiB: number): void {
    if (cpus > this.limits.cores) {
      throw new BridgeFailure(
        'invalid-arguments',
        `${cpus} CPUs requested but this host has ${this.limits.cores}: choose ${this.limits.cores} or fewer.`,
      );
    }
    if (memoryMiB > this.limits.memoryMiB) {
      throw new BridgeFailure(
        'invalid-arguments',
        `${memoryMiB} MiB of memory requested but this host has ${this.limits.memoryMiB} MiB: choose less.`,
      );
    }
  }

  private async checkNameFree(name: string, exceptId?: string): Promise<void> {
    const clash = (await this.list()).find(
      (v) => nameOf(v).toLowerCase() === name.toLowerCase() && v.id !== exceptId,
    );
    if (clash)
      throw new BridgeFailure(
        'conflict',
        `A VM called "${nameOf(clash)}" already exists: choose another name.`,
      );
  }

  async create(request: NewVmRequest): Promise<VmSummary> {
    const name = request.name.trim();
    this.checkHost(request.cpus, request.memoryMiB);
    await this.checkNameFree(name);
    const os = findOs(request.os.id);
    if (!os || os.family !== request.os.family) {
      throw new BridgeFailure(
        'invalid-arguments',
        `Unknown OS type "${request.os.id}" (${request.os.family}): choose one from the list.`,
      );
    }
    if (request.iso !== null) await mustBeFile(request.iso, 'ISO image');
    const boot = await checkedBoot(
      request.boot ?? { source: 'firmware', order: ['cdrom', 'disk'] },
    );
    const parent = request.folder === null ? this.root : path.resolve(request.folder);
    const folder = path.join(parent, name);
    try {
      await makeFolder(parent);
      await fs.mkdir(folder);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST')
        throw new BridgeFailure(
          'conflict',
          `The folder ${folder} already exists: choose another name or folder.`,
        );
      throw new BridgeFailure('io', `Cannot create the folder ${folder}: ${(e as Error).message}`);
    }
    const config: VmConfig = {
      version: VM_CONFIG_VERSION,
      id: randomUUID(),
      name,
      description: '',
      os: { family: os.family, id: os.id },
      cpus: request.cpus,
      memoryMiB: request.memoryMiB,
      boot,
      bootMenu: BOOT_MENU_DEFAULT,
      disks:
        request.disk === null
          ? []
          : [
              {
                path: `${name}.${request.disk.format}`,
                format: request.disk.format,
                sizeMiB: request.disk.sizeMiB,
                allocation: request.disk.allocation,
                bus: request.disk.bus,
              },
            ],
      optical: { iso: request.iso === null ? null : path.resolve(request.iso) },
      network: { adapter: 'virtio-net', mac: randomMac() },
      display: { vramMiB: 16 },
      serial: { enabled: true },
      createdAt: new Date().toISOString(),
    };
    try {
      // The disk image the wizard asked for, made before the config that names it (createImage
      // writes a temp file and renames it, so a failure leaves no half-made image).
      for (const disk of config.disks) {
        try {
          await createImage({
            path: path.join(folder, disk.path),
            format: disk.format,
            size: disk.sizeMiB * 1024 * 1024,
            preallocate: disk.allocation === 'preallocated',
          });
        } catch (e) {
          throw new BridgeFailure(
            'io',
            `Cannot create the disk image ${path.join(folder, disk.path)}: ${(e as Error).message}`,
          );
        }
      }
      await writeFileAtomic(path.join(folder, `${name}${CONFIG_SUFFIX}`), serialize(config));
      if (parent !== this.root) await this.registry.update((r) => void r.external.push(folder));
    } catch (e) {
      await fs.rm(folder, { recursive: true, force: true });
      throw e instanceof BridgeFailure
        ? e
        : new BridgeFailure(
            'io',
            `Cannot write the VM's config in ${folder}: ${(e as Error).message}`,
          );
    }
    return this.summarize(folder);
  }

  async update(id: string, changes: VmChanges): Promise<VmSummary> {
    const vm = await this.accessible(id);
    const active = this.supervisor.isActive(vm.state);
    const needsOff = (
      [
        'cpus',
        'memoryMiB',
        'boot',
        'bootOrder',
        'bootMenu',
        'network',
        'display',
        'name',
        'attachDisk',
        'detachDisk',
      ] as const
    ).filter((k) => changes[k] !== undefined);
    if (active && needsOff.length > 0) {
      throw new BridgeFailure(
        'invalid-state',
        `Power off "${vm.config.name}" first: ${needsOff.join(', ')} cannot change while it is ${stateWords[vm.state]}.`,
      );
    }
    const next: VmConfig = structuredClone(vm.config);
    if (changes.name !== undefined && changes.name.trim() !== next.name) {
      await this.checkNameFree(changes.name.trim(), vm.id);
      next.name = changes.name.trim();
    }
    if (changes.description !== undefined) next.description = changes.description;
    if (changes.os !== undefined) {
      const os = findOs(changes.os.id);
      if (!os || os.family !== changes.os.family)
        throw new BridgeFailure('invalid-arguments', `Unknown OS type "${changes.os.id}".`);
      next.os = { family: os.family, id: os.id };
    }
    if (changes.cpus !== undefined) next.cpus = changes.cpus;
    if (changes.memoryMiB !== undefined) next.memoryMiB = changes.memoryMiB;
    // Only a change is checked: a VM made on a bigger host keeps working here for other edits.
    if (changes.cpus !== undefined || changes.memoryMiB !== undefined)
      this.checkHost(next.cpus, next.memoryMiB);
    if (changes.boot !== undefined) next.boot = await checkedBoot(changes.boot);
    if (changes.bootOrder !== undefined) {
      // A boot order means firmware boot: giving one switches a direct-kernel VM back to the BIOS.
      next.boot = await checkedBoot({ source: 'firmware', order: changes.bootOrder });
    }
    if (changes.bootMenu !== undefined) next.bootMenu = changes.bootMenu;
    if (changes.iso !== undefined) {
      if (changes.iso !== null) await mustBeFile(changes.iso, 'ISO image');
      next.optical = { iso: changes.iso === null ? null : path.resolve(changes.iso) };
    }
    if (changes.attachDisk !== undefined) await this.attachDisk(vm, next, changes.attachDisk);
    if (changes.detachDisk !== undefined) {
      const target = path.resolve(changes.detachDisk.path);
      const kept = next.disks.filter((d) => path.resolve(vm.folder, d.path) !== target);
      if (kept.length === next.disks.length)
        throw new BridgeFailure('not-found', `${target} is not attached to "${next.name}".`);
      next.disks = kept;
    }
    if (changes.network !== undefined) next.network = changes.network;
    if (changes.display !== undefined) next.display = changes.display;
    if (changes.serial !== undefined) next.serial = changes.serial;
    VmConfig.parse(next);
    // A running PC machine gets the new disc at once (VirtualBox's live mount); the config
    // follows only when the drive took it, so config and drive never disagree.
    if (active && changes.iso !== undefined && next.boot.source === 'firmware')
      await this.supervisor.changeMedium(vm.folder, next.optical.iso);

    let folder = vm.folder;
    const configPath = vm.configPath;
    if (next.name !== vm.config.name) {
      // VirtualBox renames the folder and the config file with the VM; so do we, config first.
      const renamedFolder = path.join(path.dirname(vm.folder), next.name);
      try {
        await fs.access(renamedFolder);
        throw new BridgeFailure(
          'conflict',
          `The folder ${renamedFolder} already exists: choose another name.`,
        );
      } catch (e) {
        if (e instanceof BridgeFailure) throw e;
      }
      await writeFileAtomic(configPath, serialize(next));
      const newConfig = path.join(vm.folder, `${next.name}${CONFIG_SUFFIX}`);
      await fs.rename(configPath, newConfig);
      await fs.rename(vm.folder, renamedFolder);
      folder = renamedFolder;
      await this.registry.update((r) => {
        r.external = r.external.map((f) => (f === vm.folder ? renamedFolder : f));
      });
    } else {
      await writeFileAtomic(configPath, serialize(next));
    }
    return this.summarize(folder);
  }

  /**
   * Attaches an existing disk image to `next` (VirtualBox's storageattach): it must be an image
   * Vireo reads, not attached to this VM already, and not used by another VM (two VMs writing
   * one image corrupt it).
   */
  private async attachDisk(
    vm: Extract<VmSummary, { accessible: true }>,
    next: VmConfig,
    disk: { path: string; bus: DiskConfig['bus'] },
  ): Promise<void> {
    const file = path.resolve(disk.path);
    if (next.disks.some((d) => path.resolve(vm.folder, d.path) === file))
      throw new BridgeFailure('conflict', `${file} is already attached to "${next.name}".`);
    for (const other of await this.list()) {
      if (!other.accessible || other.id === vm.id) continue;
      if (other.config.disks.some((d) => path.resolve(other.folder, d.path) === file))
        throw new BridgeFailure(
          'conflict',
          `${file} is attached to "${other.config.name}": two VMs writing one image would corrupt it.`,
        );
    }
    let info;
    try {
      info = await imageInfo(file);
    } catch (e) {
      throw new BridgeFailure(
        'invalid-arguments',
        `Cannot attach ${file}: ${(e as Error).message}`,
      );
    }
    if (info.format !== 'qcow2' && info.format !== 'raw')
      throw new BridgeFailure('invalid-arguments', `${file} is not a qcow2 or raw disk image.`);
    if (info.virtualSize % 512 !== 0)
      throw new BridgeFailure(
        'invalid-arguments',
        `${file} is ${info.virtualSize} bytes, not whole 512-byte sectors: it is not a disk image.`,
      );
    const sizeMiB = Math.ceil(info.virtualSize / (1024 * 1024));
    if (sizeMiB < LIMITS.diskMiBMin || sizeMiB > LIMITS.diskMiBMax)
      throw new BridgeFailure(
        'invalid-arguments',
        `${file} is ${sizeMiB} MiB; disks of ${LIMITS.diskMiBMin}-${LIMITS.diskMiBMax} MiB can be attached.`,
      );
    if (next.disks.length >= LIMITS.disksMax)
      throw new BridgeFailure(
        'invalid-state',
        `"${next.name}" has ${LIMITS.disksMax} disks already.`,
      );
    next.disks.push({
      path: file,
      format: info.format,
      sizeMiB,
      allocation: info.actualSize >= info.virtualSize ? 'preallocated' : 'thin',
      bus: disk.bus,
    });
  }

  /**
   * The files `delete` with deleteFiles would remove: the files Vireo made for this VM (its config,
   * its disk images inside its folder, its run file, its logs, temp files of interrupted writes),
   * like VirtualBox's "Delete all files". Anything else the user keeps in the folder stays, and the
   * folder goes only when that leaves it empty: a damaged or hostile registry entry pointing at,
   * say, the home folder can never turn a delete into `rm -rf ~`.
   */
  async deletePlan(id: string): Promise<string[]> {
    return (await this.deleteTargets(await this.get(id))).files;
  }

  private async deleteTargets(vm: VmSummary): Promise<{ files: string[]; folders: string[] }> {
    const names = await fs.readdir(vm.folder).catch(() => [] as string[]);
    const inFolder = (name: string): string => path.join(vm.folder, name);
    const files = new Set<string>();
    const configName = path.basename(vm.configPath);
    if (names.includes(configName)) files.add(vm.configPath);
    if (names.includes(RUN_FILE)) files.add(inFolder(RUN_FILE));
    for (const name of names) {
      // Leftovers of writeFileAtomic interrupted by a crash: `.<file>.<random>.tmp`.
      if (name.startsWith('.') && name.endsWith('.tmp')) files.add(inFolder(name));
      if (name.endsWith('.log')) files.add(inFolder(name));
    }
    if (vm.accessible) {
      for (const disk of vm.config.disks) {
        const image = path.resolve(vm.folder, disk.path);
        // Only images inside the VM's own folder: a shared or external image is not ours to delete.
        if (path.dirname(image) === vm.folder && names.includes(path.basename(image)))
          files.add(image);
      }
    }
    const folders: string[] = [];
    if (names.includes(LOGS_FOLDER)) {
      const logs = inFolder(LOGS_FOLDER);
      const entries = await fs.readdir(logs, { withFileTypes: true }).catch(() => []);
      for (const e of entries) if (e.isFile()) files.add(path.join(logs, e.name));
      folders.push(logs);
    }
    folders.push(vm.folder);
    return { files: [...files].sort(), folders };
  }

  async delete(id: string, deleteFiles: boolean): Promise<string[]> {
    const vm = await this.get(id);
    if (vm.accessible && this.supervisor.isActive(vm.state)) {
      throw new BridgeFailure('invalid-state', `Power off "${vm.config.name}" before deleting it.`);
    }
    if (!deleteFiles) {
      await this.registry.update((r) => {
        r.external = r.external.filter((f) => f !== vm.folder);
        if (path.dirname(vm.folder) === this.root) r.hidden.push(vm.folder);
      });
      return [];
    }
    const { files, folders } = await this.deleteTargets(vm);
    const removed: string[] = [];
    for (const file of files) {
      try {
        await fs.rm(file, { force: true });
        removed.push(file);
      } catch (e) {
        throw new BridgeFailure(
          'io',
          `Deleted ${removed.length} of ${files.length} files, then could not delete ${file}: ${(e as Error).message}. Fix that and delete again.`,
        );
      }
    }
    // rmdir only removes empty folders: files the user put there stay, with their folder.
    for (const folder of folders) await fs.rmdir(folder).catch(() => undefined);
    await this.registry.update((r) => {
      r.external = r.external.filter((f) => f !== vm.folder);
      r.hidden = r.hidden.filter((f) => f !== vm.folder);
    });
    return removed;
  }
}

/**
 * A copied VM folder carries the original's id; two VMs with one id would make every call by id
 * ambiguous (VirtualBox refuses to register such a copy). The copy (the folder not named after
 * the VM, else the later path) becomes inaccessible with what to do; its file is not changed.
 */
function markDuplicateIds(summaries: VmSummary[]): VmSummary[] {
  const byId = new Map<string, Extract<VmSummary, { accessible: true }>[]>();
  for (const vm of summaries) {
    if (!vm.accessible) continue;
    const same = byId.get(vm.id);
    if (same) same.push(vm);
    else byId.set(vm.id, [vm]);
  }
  const copies = new Map<string, string>();
  for (const group of byId.values()) {
    if (group.length < 2) continue;
    const ranked = [...group].sort(
      (a, b) =>
        Number(path.basename(b.folder) === b.config.name) -
          Number(path.basename(a.folder) === a.config.name) || a.folder.localeCompare(b.folder),
    );
    for (const copy of ranked.slice(1)) copies.set(copy.folder, ranked[0]!.folder);
  }
  if (copies.size === 0) return summaries;
  return summaries.map((vm) => {
    const original = copies.get(vm.folder);
    if (!original || !vm.accessible) return vm;
    return {
      accessible: false,
      id: folderId(vm.folder),
      folder: vm.folder,
      configPath: vm.configPath,
      state: 'inaccessible',
      stateReason: `The config file ${vm.configPath} has the same id as the VM in ${original} (a copied folder?). Give this copy a new "id" (any new UUID, e.g. from uuidgen) or remove it.`,
      name: path.basename(vm.folder),
    };
  });
}

export function nameOf(vm: VmSummary): string {
  return vm.accessible ? vm.config.name : vm.name;
}

function serialize(config: VmConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Boot settings with duplicate devices refused and kernel/initrd checked and made absolute. */
async function checkedBoot(boot: BootConfig): Promise<BootConfig> {
  if (boot.source === 'firmware') {
    if (new Set(boot.order).size !== boot.order.length)
      throw new BridgeFailure(
        'invalid-arguments',
        'Each boot device may appear once in the boot order.',
      );
    return { source: 'firmware', order: [...boot.order] };
  }
  await mustBeFile(boot.kernel, 'Kernel image');
  if (boot.initrd !== null) await mustBeFile(boot.initrd, 'Initrd image');
  return {
    source: 'linux-kernel',
    kernel: path.resolve(boot.kernel),
    initrd: boot.initrd === null ? null : path.resolve(boot.initrd),
    append: boot.append,
  };
}

async function mustBeFile(file: string, what: string): Promise<void> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile())
      throw new BridgeFailure(
        'invalid-arguments',
        `${what} ${file} is not a file: choose another.`,
      );
  } catch (e) {
    if (e instanceof BridgeFailure) throw e;
    throw new BridgeFailure('not-found', `${what} not found at ${file}: choose another file.`);
  }
}

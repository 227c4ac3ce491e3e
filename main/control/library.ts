/**
 * The VM library on disk (docs/library.md).
 *
 *   <root>/library.json                 registry: VM folders outside the root, and folders the
 *                                       user removed from the library but kept on disk
 *   <root>/<VM name>/<VM name>.vireo.json    one folder per VM, its versioned JSON config
 *
 * Every config read is validated by the schema in preload/vm-config.ts; one that fails (bad JSON,
 * a wrong field, an unknown version) is reported as inaccessible with the reason and is never
 * rewritten. Every write is atomic (atomic-write.ts).
 *
 * Runtime: Node.
 */
import { promises as fs } from 'node:fs';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  BridgeFailure,
  VM_CONFIG_VERSION,
  VmConfig,
  type NewVmRequest,
  type VmChanges,
  type VmSummary,
} from '../../preload/contract.js';
import { writeFileAtomic } from './atomic-write.js';
import { findOs } from './os-catalog.js';
import { Supervisor, stateWords } from './supervisor.js';

export const CONFIG_SUFFIX = '.vireo.json';
const REGISTRY_FILE = 'library.json';

const Registry = z.object({
  version: z.literal(1),
  /** VM folders that live outside the root (the wizard's folder field). */
  external: z.array(z.string()),
  /** Folders inside the root the user removed from the library but kept on disk. */
  hidden: z.array(z.string()),
});
type Registry = z.infer<typeof Registry>;

/** Turns zod issues into one sentence a person can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

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

  constructor(
    readonly root: string,
    private readonly limits: LibraryLimits = {
      cores: os.availableParallelism(),
      memoryMiB: Math.floor(os.totalmem() / 1048576),
    },
  ) {}

  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
  }

  private async readRegistry(): Promise<Registry> {
    let raw: string;
    try {
      raw = await fs.readFile(path.join(this.root, REGISTRY_FILE), 'utf8');
    } catch {
      return { version: 1, external: [], hidden: [] };
    }
    const parsed = Registry.safeParse(JSON.parse(raw));
    if (!parsed.success) {
      throw new BridgeFailure(
        'io',
        `The library registry ${path.join(this.root, REGISTRY_FILE)} is damaged (${describeIssues(parsed.error)}): fix or remove it.`,
      );
    }
    return parsed.data;
  }

  private async writeRegistry(registry: Registry): Promise<void> {
    await writeFileAtomic(
      path.join(this.root, REGISTRY_FILE),
      `${JSON.stringify(registry, null, 2)}\n`,
    );
  }

  /** Every VM folder: those under the root with a config file, and the registered external ones. */
  private async folders(): Promise<string[]> {
    const registry = await this.readRegistry();
    const found: string[] = [];
    let dirents;
    try {
      dirents = await fs.readdir(this.root, { withFileTypes: true });
    } catch (e) {
      throw new BridgeFailure(
        'io',
        `Cannot read the library folder ${this.root}: ${(e as Error).message}`,
      );
    }
    for (const d of dirents) {
      if (!d.isDirectory() || d.name.startsWith('.')) continue;
      const folder = path.join(this.root, d.name);
      if (registry.hidden.includes(folder)) continue;
      if (await this.configFileIn(folder)) found.push(folder);
    }
    for (const f of registry.external) if (!found.includes(f)) found.push(f);
    return found;
  }

  /** The config file in a VM folder: `<folder name>.vireo.json`, or the only `*.vireo.json` there. */
  private async configFileIn(folder: string): Promise<string | null> {
    const preferred = path.join(folder, `${path.basename(folder)}${CONFIG_SUFFIX}`);
    try {
      await fs.access(preferred);
      return preferred;
    } catch {
      // fall through
    }
    try {
      const names = (await fs.readdir(folder)).filter((n) => n.endsWith(CONFIG_SUFFIX));
      return names.length === 1 ? path.join(folder, names[0]!) : null;
    } catch {
      return null;
    }
  }

  /** Reads and validates one VM folder; never throws: unreadable configs become inaccessible entries. */
  async summarize(folder: string): Promise<VmSummary> {
    const configPath =
      (await this.configFileIn(folder)) ??
      path.join(folder, `${path.basename(folder)}${CONFIG_SUFFIX}`);
    const inaccessible = (reason: string): VmSummary => ({
      accessible: false,
      id: folderId(folder),
      folder,
      configPath,
      state: 'inaccessible',
      stateReason: reason,
      name: path.basename(folder),
    });
    let raw: string;
    try {
      raw = await fs.readFile(configPath, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return inaccessible(
        code === 'ENOENT'
          ? `The config file ${configPath} is missing: the folder was moved or deleted.`
          : `The config file ${configPath} cannot be read (${code ?? (e as Error).message}).`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      return inaccessible(
        `The config file ${configPath} is not valid JSON (${(e as Error).message}). Vireo will not change it; fix it by hand or restore a backup.`,
      );
    }
    const version = (json as { version?: unknown } | null)?.version;
    if (typeof version === 'number' && version > VM_CONFIG_VERSION) {
      return inaccessible(
        `The config file ${configPath} has version ${version}, made by a newer Vireo (this one reads version ${VM_CONFIG_VERSION}). Update Vireo to use this VM.`,
      );
    }
    const parsed = VmConfig.safeParse(json);
    if (!parsed.success) {
      return inaccessible(
        `The config file ${configPath} does not match the schema (${describeIssues(parsed.error)}). Vireo will not change it.`,
      );
    }
    const { state, reason } = await this.supervisor.state(folder);
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
    const summaries = await Promise.all((await this.folders()).map((f) => this.summarize(f)));
    return summaries.sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
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
    const parent = request.folder === null ? this.root : path.resolve(request.folder);
    const folder = path.join(parent, name);
    try {
      await fs.mkdir(parent, { recursive: true });
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
      boot: request.boot ?? { source: 'firmware', order: ['cdrom', 'disk'] },
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
      await writeFileAtomic(path.join(folder, `${name}${CONFIG_SUFFIX}`), serialize(config));
      if (parent !== this.root) {
        const registry = await this.readRegistry();
        registry.external.push(folder);
        await this.writeRegistry(registry);
      }
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
      ['cpus', 'memoryMiB', 'boot', 'bootOrder', 'network', 'display', 'name'] as const
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
    this.checkHost(next.cpus, next.memoryMiB);
    if (changes.boot !== undefined) next.boot = changes.boot;
    if (changes.bootOrder !== undefined) {
      if (new Set(changes.bootOrder).size !== changes.bootOrder.length)
        throw new BridgeFailure(
          'invalid-arguments',
          'Each boot device may appear once in the boot order.',
        );
      if (next.boot.source !== 'firmware')
        throw new BridgeFailure(
          'invalid-arguments',
          'The boot order applies to firmware boot, not to a Linux kernel boot source.',
        );
      next.boot = { source: 'firmware', order: changes.bootOrder };
    }
    if (changes.iso !== undefined) {
      if (changes.iso !== null) await mustBeFile(changes.iso, 'ISO image');
      next.optical = { iso: changes.iso === null ? null : path.resolve(changes.iso) };
    }
    if (changes.network !== undefined) next.network = changes.network;
    if (changes.display !== undefined) next.display = changes.display;
    if (changes.serial !== undefined) next.serial = changes.serial;
    VmConfig.parse(next);

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
      const registry = await this.readRegistry();
      const i = registry.external.indexOf(vm.folder);
      if (i >= 0) {
        registry.external[i] = renamedFolder;
        await this.writeRegistry(registry);
      }
    } else {
      await writeFileAtomic(configPath, serialize(next));
    }
    return this.summarize(folder);
  }

  /** The files `delete` with deleteFiles would remove: everything in the VM's folder. */
  async deletePlan(id: string): Promise<string[]> {
    const vm = await this.get(id);
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const d of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const full = path.join(dir, d.name);
        if (d.isDirectory()) await walk(full);
        else files.push(full);
      }
    };
    await walk(vm.folder);
    return files.sort();
  }

  async delete(id: string, deleteFiles: boolean): Promise<string[]> {
    const vm = await this.get(id);
    if (vm.accessible && this.supervisor.isActive(vm.state)) {
      throw new BridgeFailure('invalid-state', `Power off "${vm.config.name}" before deleting it.`);
    }
    const registry = await this.readRegistry();
    registry.external = registry.external.filter((f) => f !== vm.folder);
    if (!deleteFiles) {
      if (path.dirname(vm.folder) === this.root && !registry.hidden.includes(vm.folder))
        registry.hidden.push(vm.folder);
      await this.writeRegistry(registry);
      return [];
    }
    const files = await this.deletePlan(id);
    await fs.rm(vm.folder, { recursive: true, force: true });
    registry.hidden = registry.hidden.filter((f) => f !== vm.folder);
    await this.writeRegistry(registry);
    return files;
  }
}

export function nameOf(vm: VmSummary): string {
  return vm.accessible ? vm.config.name : vm.name;
}

function serialize(config: VmConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
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

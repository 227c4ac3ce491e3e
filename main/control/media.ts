/**
 * The Virtual Media Manager's side in the control plane (VirtualBox's File > Tools > Virtual
 * Media Manager): every disk image and ISO the library knows, from the VMs' configs and the
 * library's media folder (`<root>/Media/`, where browser mode stores dropped ISOs), with sizes,
 * format and the VMs that use each; and creating, growing and deleting disk images.
 *
 * Guards: an image used by a running VM is not resized; an image any VM uses is not deleted
 * (detach it first); an ISO is deleted only from the media folder (elsewhere it is the user's
 * file, which the list merely shows); only files that are disk images are deleted as disks.
 *
 * Runtime: Node (control plane).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BridgeFailure, type MediumInfo } from '../../preload/contract.js';
import { createImage, ImageExistsError, imageInfo, openImage } from '../engine/storage/index.js';
import type { Library } from './library.js';

const MiB = 1024 * 1024;
export const MEDIA_FOLDER = 'Media';

interface User {
  id: string;
  name: string;
  running: boolean;
}

async function usersByFile(library: Library): Promise<Map<string, User[]>> {
  const users = new Map<string, User[]>();
  const add = (file: string, user: User): void => {
    const list = users.get(file) ?? [];
    if (!list.some((u) => u.id === user.id)) list.push(user);
    users.set(file, list);
  };
  for (const vm of await library.list()) {
    if (!vm.accessible) continue;
    const user = {
      id: vm.id,
      name: vm.config.name,
      running: library.supervisor.isActive(vm.state),
    };
    for (const d of vm.config.disks) add(path.resolve(vm.folder, d.path), user);
    if (vm.config.optical.iso) add(path.resolve(vm.folder, vm.config.optical.iso), user);
  }
  return users;
}

/** Every medium: disks and ISOs the VMs name, and the files in the media folder. */
export async function listMedia(library: Library): Promise<MediumInfo[]> {
  const users = await usersByFile(library);
  const kinds = new Map<string, 'disk' | 'iso'>();
  for (const vm of await library.list()) {
    if (!vm.accessible) continue;
    for (const d of vm.config.disks) kinds.set(path.resolve(vm.folder, d.path), 'disk');
    if (vm.config.optical.iso) kinds.set(path.resolve(vm.folder, vm.config.optical.iso), 'iso');
  }
  const folder = path.join(library.root, MEDIA_FOLDER);
  for (const name of await fs.readdir(folder).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue;
    const kind = /\.iso$/i.test(name) ? 'iso' : /\.(qcow2|raw|img)$/i.test(name) ? 'disk' : null;
    if (kind) kinds.set(path.join(folder, name), kind);
  }
  const media: MediumInfo[] = [];
  for (const [file, kind] of kinds) {
    const usedBy = (users.get(file) ?? []).map(({ id, name, running }) => ({ id, name, running }));
    try {
      if (kind === 'iso') {
        const stat = await fs.stat(file);
        media.push({
          path: file,
          kind,
          format: 'iso',
          virtualSizeBytes: stat.size,
          sizeOnDiskBytes: stat.blocks * 512,
          usedBy,
          error: null,
        });
      } else {
        const info = await imageInfo(file);
        media.push({
          path: file,
          kind,
          format: info.format,
          virtualSizeBytes: info.virtualSize,
          sizeOnDiskBytes: info.actualSize,
          usedBy,
          error: null,
        });
      }
    } catch (e) {
      media.push({
        path: file,
        kind,
        format: kind === 'iso' ? 'iso' : 'unknown',
        virtualSizeBytes: 0,
        sizeOnDiskBytes: 0,
        usedBy,
        error: (e as Error).message,
      });
    }
  }
  return media.sort((a, b) => a.kind.localeCompare(b.kind) || a.path.localeCompare(b.path));
}

/** A new disk image; `file` relative paths go into the media folder. Never overwrites. */
export async function createDisk(
  library: Library,
  request: {
    path: string;
    sizeMiB: number;
    format: 'qcow2' | 'raw';
    allocation: 'thin' | 'preallocated';
  },
): Promise<string> {
  const folder = path.join(library.root, MEDIA_FOLDER);
  const file = path.isAbsolute(request.path) ? request.path : path.join(folder, request.path);
  await fs.mkdir(path.dirname(file), { recursive: true });
  try {
    await createImage({
      path: file,
      format: request.format,
      size: request.sizeMiB * MiB,
      preallocate: request.allocation === 'preallocated',
    });
  } catch (e) {
    if (e instanceof ImageExistsError)
      throw new BridgeFailure('conflict', `${file} already exists: choose another name.`);
    throw new BridgeFailure('io', `Cannot create ${file}: ${(e as Error).message}`);
  }
  return file;
}

/** Grows a disk image (never shrinks: that would cut off the guest's data). */
export async function resizeDisk(library: Library, file: string, sizeMiB: number): Promise<void> {
  const running = ((await usersByFile(library)).get(file) ?? []).filter((u) => u.running);
  if (running.length > 0)
    throw new BridgeFailure(
      'invalid-state',
      `${path.basename(file)} is in use by the running VM "${running[0]!.name}": power it off first.`,
    );
  let info;
  try {
    info = await imageInfo(file);
  } catch (e) {
    throw new BridgeFailure('io', (e as Error).message);
  }
  if (sizeMiB * MiB < info.virtualSize)
    throw new BridgeFailure(
      'invalid-arguments',
      `${path.basename(file)} is ${Math.round(info.virtualSize / MiB)} MiB; images only grow (shrinking would cut off data).`,
    );
  if (sizeMiB * MiB === info.virtualSize) return;
  const image = await openImage(file).catch((e: unknown) => {
    throw new BridgeFailure('io', (e as Error).message);
  });
  try {
    await image.resize(sizeMiB * MiB);
    await image.flush();
  } finally {
    await image.close();
  }
}

/**
 * Deletes a medium's file: a disk image no VM uses, or an ISO in the media folder no VM uses.
 */
export async function deleteMedium(library: Library, file: string): Promise<void> {
  const users = (await usersByFile(library)).get(file) ?? [];
  if (users.length > 0)
    throw new BridgeFailure(
      'invalid-state',
      `${path.basename(file)} is used by ${users.map((u) => `"${u.name}"`).join(', ')}: detach it first.`,
    );
  const mediaFolder = path.join(library.root, MEDIA_FOLDER);
  if (/\.iso$/i.test(file)) {
    if (path.dirname(file) !== mediaFolder)
      throw new BridgeFailure(
        'forbidden',
        `${file} is not in the library's media folder: Vireo deletes only ISOs it stored itself.`,
      );
  } else {
    try {
      await imageInfo(file);
    } catch (e) {
      throw new BridgeFailure(
        'invalid-arguments',
        `${file} is not a disk image Vireo can read, so it is not deleted: ${(e as Error).message}`,
      );
    }
  }
  try {
    await fs.rm(file);
  } catch (e) {
    throw new BridgeFailure('io', `Cannot delete ${file}: ${(e as Error).message}`);
  }
}

/**
 * The Virtual Media Manager's control-plane side (main/control/media.ts) and disk attach/detach
 * (`vm.update` attachDisk/detachDisk) on a real library with real images; sizes are checked
 * against Debian's qemu-img.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeFailure, type NewVmRequest } from '../../../preload/contract';
import { Library } from '../../../main/control/library';
import { createDisk, deleteMedium, listMedia, resizeDisk } from '../../../main/control/media';

let root: string;
let library: Library;
const request = (name: string): NewVmRequest => ({
  name,
  folder: null,
  os: { family: 'linux', id: 'debian-12' },
  cpus: 1,
  memoryMiB: 512,
  disk: null,
  iso: null,
});

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'vireo-media-'));
  library = new Library(root, { cores: 4, memoryMiB: 8192 });
  await library.init();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<BridgeFailure> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(BridgeFailure);
  return e as BridgeFailure;
}

const qemuVirtualSize = (file: string): number =>
  (
    JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as {
      'virtual-size': number;
    }
  )['virtual-size'];

describe('Virtual Media Manager', () => {
  it('creates, lists, attaches, grows, detaches and deletes a disk, with the guards a user expects', async () => {
    const alpha = await library.create(request('alpha'));
    const beta = await library.create(request('beta'));
    const file = await createDisk(library, {
      path: 'data.qcow2',
      sizeMiB: 256,
      format: 'qcow2',
      allocation: 'thin',
    });
    expect(file).toBe(path.join(root, 'Media', 'data.qcow2'));
    expect(qemuVirtualSize(file)).toBe(256 * 2 ** 20);
    await expect(
      createDisk(library, { path: file, sizeMiB: 64, format: 'raw', allocation: 'thin' }),
    ).rejects.toThrow(/already exists/);

    let [disk] = await listMedia(library);
    expect(disk).toMatchObject({
      path: file,
      kind: 'disk',
      format: 'qcow2',
      virtualSizeBytes: 256 * 2 ** 20,
      usedBy: [],
      error: null,
    });
    expect(disk!.sizeOnDiskBytes).toBeLessThan(2 * 2 ** 20); // thin

    // Attach to alpha; beta may not share it; alpha may not take it twice.
    const attached = await library.update(alpha.id, { attachDisk: { path: file, bus: 'ide' } });
    expect(attached.accessible && attached.config.disks).toEqual([
      { path: file, format: 'qcow2', sizeMiB: 256, allocation: 'thin', bus: 'ide' },
    ]);
    expect(
      (await failure(library.update(beta.id, { attachDisk: { path: file, bus: 'virtio' } })))
        .message,
    ).toMatch(/attached to "alpha"/);
    expect(
      (await failure(library.update(alpha.id, { attachDisk: { path: file, bus: 'ide' } }))).message,
    ).toMatch(/already attached/);
    [disk] = await listMedia(library);
    expect(disk!.usedBy).toEqual([{ id: alpha.id, name: 'alpha', running: false }]);
    expect((await failure(deleteMedium(library, file))).message).toMatch(
      /used by "alpha": detach it first/,
    );

    // Grow (never shrink); qemu-img sees the new size.
    await resizeDisk(library, file, 512);
    expect(qemuVirtualSize(file)).toBe(512 * 2 ** 20);
    expect((await failure(resizeDisk(library, file, 128))).message).toMatch(/only grow/);
    execFileSync('qemu-img', ['check', file]);

    const detached = await library.update(alpha.id, { detachDisk: { path: file } });
    expect(detached.accessible && detached.config.disks).toEqual([]);
    expect((await failure(library.update(alpha.id, { detachDisk: { path: file } }))).code).toBe(
      'not-found',
    );
    await deleteMedium(library, file);
    expect(existsSync(file)).toBe(false);
    expect(await listMedia(library)).toEqual([]);
  });

  it('refuses to attach what is not a disk image, and to delete files it does not own', async () => {
    const alpha = await library.create(request('alpha'));
    const notes = path.join(root, 'notes.raw.txt');
    writeFileSync(notes, 'x'.repeat(100));
    const tiny = await failure(
      library.update(alpha.id, { attachDisk: { path: notes, bus: 'virtio' } }),
    );
    expect(tiny.message).toMatch(/not whole 512-byte sectors/);
    const missing = await failure(
      library.update(alpha.id, {
        attachDisk: { path: path.join(root, 'none.qcow2'), bus: 'virtio' },
      }),
    );
    expect(missing.message).toMatch(/Cannot attach/);

    // An ISO the user keeps elsewhere is listed (a VM uses it) but never deleted by us.
    const iso = path.join(root, 'outside.iso');
    writeFileSync(iso, Buffer.alloc(64 * 1024));
    await library.update(alpha.id, { iso });
    const listed = await listMedia(library);
    expect(listed.find((m) => m.path === iso)).toMatchObject({
      kind: 'iso',
      usedBy: [{ name: 'alpha' }],
    });
    await library.update(alpha.id, { iso: null });
    expect((await failure(deleteMedium(library, iso))).code).toBe('forbidden');
    expect(existsSync(iso)).toBe(true);
    // One in the media folder (an upload) is deleted; a broken image there is listed with why.
    mkdirSync(path.join(root, 'Media'), { recursive: true });
    const stored = path.join(root, 'Media', 'stored.iso');
    writeFileSync(stored, Buffer.alloc(64 * 1024));
    const broken = path.join(root, 'Media', 'broken.qcow2');
    // qcow2's magic, then a header cut short.
    writeFileSync(broken, Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3, 1, 2]));
    const media = await listMedia(library);
    expect(media.find((m) => m.path === broken)?.error).toBeTruthy();
    expect((await failure(deleteMedium(library, broken))).message).toMatch(
      /not a disk image Vireo can read/,
    );
    await deleteMedium(library, stored);
    expect(existsSync(stored)).toBe(false);
  });
});

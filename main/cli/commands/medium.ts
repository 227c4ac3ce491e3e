/**
 * Disk images from the command line, with VirtualBox's verbs (`VBoxManage createmedium`,
 * `modifymedium`, `showmediuminfo`):
 *
 *   vireo createmedium disk --filename F --size MB [--format qcow2|raw] [--variant Standard|Fixed]
 *   vireo modifymedium F --resize MB
 *   vireo showmediuminfo F
 *
 * The images are the engine's own (main/engine/storage: raw, qcow2 v3), readable by qemu-img.
 * Creating never overwrites a file (the image is written to a temp name and renamed);
 * resizing only grows, and refuses an image a running VM has open.
 *
 * Runtime: Node (CLI).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LIMITS } from '../../../preload/vm-config.js';
import {
  ImageExistsError,
  checkImage,
  createImage,
  imageInfo,
  openImage,
} from '../../engine/storage/index.js';
import {
  CliError,
  UsageError,
  parseInteger,
  type CliCommand,
  type CliContext,
} from '../command.js';

const MiB = 1024 * 1024;

function sizeMiB(flag: string, text: string | undefined): number {
  const value = parseInteger(flag, text);
  if (value === undefined) throw new UsageError(`${flag} MB is required`);
  if (value < LIMITS.diskMiBMin || value > LIMITS.diskMiBMax)
    throw new UsageError(
      `${flag} must be between ${LIMITS.diskMiBMin} and ${LIMITS.diskMiBMax} MB`,
    );
  return value;
}

function human(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]} (${bytes} bytes)`;
}

/** The VMs in the library whose disks (or optical drive) name `file`, and whether they run. */
async function usersOf(
  ctx: CliContext,
  file: string,
): Promise<{ name: string; running: boolean }[]> {
  const control = await ctx.control();
  const users: { name: string; running: boolean }[] = [];
  for (const vm of await control.library.list()) {
    if (!vm.accessible) continue;
    if (vm.config.disks.some((d) => path.resolve(vm.folder, d.path) === file))
      users.push({ name: vm.config.name, running: control.library.supervisor.isActive(vm.state) });
  }
  return users;
}

export const createmedium: CliCommand = {
  name: 'createmedium',
  summary: 'Create a disk image (qcow2 or raw)',
  usage: [
    'vireo createmedium disk --filename F --size MB [--format qcow2|raw] [--variant Standard|Fixed]',
    '',
    '  --format   qcow2 (default) or raw',
    '  --variant  Standard (default): space is taken as the guest writes; Fixed: all of it now',
    'An existing file is never overwritten.',
  ].join('\n'),
  async run(argv, ctx) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        filename: { type: 'string' },
        size: { type: 'string' },
        format: { type: 'string' },
        variant: { type: 'string' },
      },
    });
    if (positionals.length !== 1 || positionals[0] !== 'disk')
      throw new UsageError(
        'the kind of medium comes first: vireo createmedium disk --filename F --size MB',
      );
    if (!values.filename) throw new UsageError('--filename is required');
    const size = sizeMiB('--size', values.size);
    const format = values.format ?? 'qcow2';
    if (format !== 'qcow2' && format !== 'raw')
      throw new UsageError('--format must be qcow2 or raw');
    const variant = (values.variant ?? 'Standard').toLowerCase();
    if (variant !== 'standard' && variant !== 'fixed')
      throw new UsageError('--variant must be Standard or Fixed');
    const file = path.resolve(values.filename);
    try {
      await createImage({ path: file, format, size: size * MiB, preallocate: variant === 'fixed' });
    } catch (e) {
      if (e instanceof ImageExistsError)
        throw new CliError(`${file} already exists: choose another name`);
      throw new CliError(`cannot create ${file}: ${(e as Error).message}`);
    }
    ctx.out(
      `Created ${format} disk image ${file} (${size} MB, ${variant === 'fixed' ? 'fixed' : 'dynamically allocated'})`,
    );
    return 0;
  },
};

export const modifymedium: CliCommand = {
  name: 'modifymedium',
  summary: 'Grow a disk image',
  usage:
    'vireo modifymedium F --resize MB\n\n  --resize  the new size; images only grow (shrinking would cut off data)',
  async run(argv, ctx) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { resize: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one image file');
    const size = sizeMiB('--resize', values.resize);
    const file = path.resolve(positionals[0]!);
    const running = (await usersOf(ctx, file)).filter((u) => u.running);
    if (running.length > 0)
      throw new CliError(
        `${file} is in use by the running VM "${running[0]!.name}": power it off first`,
      );
    let info;
    try {
      info = await imageInfo(file);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    if (size * MiB < info.virtualSize)
      throw new CliError(
        `${file} is ${info.virtualSize / MiB} MB; shrinking to ${size} MB would cut off data, so images only grow`,
      );
    if (size * MiB === info.virtualSize) {
      ctx.out(`${file} is already ${size} MB`);
      return 0;
    }
    const image = await openImage(file).catch((e: unknown) => {
      throw new CliError((e as Error).message);
    });
    try {
      await image.resize(size * MiB);
      await image.flush();
    } catch (e) {
      throw new CliError(`cannot resize ${file}: ${(e as Error).message}`);
    } finally {
      await image.close();
    }
    ctx.out(`Resized ${file} to ${size} MB`);
    return 0;
  },
};

export const showmediuminfo: CliCommand = {
  name: 'showmediuminfo',
  summary: "Show a disk image's format, sizes, state and users",
  usage: 'vireo showmediuminfo F [--json]',
  async run(argv, ctx) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { json: { type: 'boolean' } },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one image file');
    const file = path.resolve(positionals[0]!);
    let info;
    let check;
    try {
      info = await imageInfo(file);
      check = await checkImage(file);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    const users = await usersOf(ctx, file);
    const state =
      check.corruptions > 0
        ? `corrupt (${check.corruptions} errors)`
        : check.leaks > 0
          ? `consistent, ${check.leaks} leaked clusters`
          : 'consistent';
    if (values.json) {
      ctx.out(JSON.stringify({ file, ...info, check, usedBy: users }, null, 2));
      return 0;
    }
    const rows: [string, string][] = [
      ['Location', file],
      ['Format', info.format],
      ['Capacity', human(info.virtualSize)],
      ['Size on disk', human(info.actualSize)],
      ...(info.backingFile ? ([['Backing file', info.backingFile]] as [string, string][]) : []),
      ...(info.dirty !== undefined
        ? ([['Dirty', info.dirty ? 'yes (not closed cleanly)' : 'no']] as [string, string][])
        : []),
      ['State', state],
      [
        'In use by VMs',
        users.length
          ? users.map((u) => `${u.name}${u.running ? ' (running)' : ''}`).join(', ')
          : 'none',
      ],
    ];
    for (const [k, v] of rows) ctx.out(`${`${k}:`.padEnd(16)}${v}`);
    return 0;
  },
};

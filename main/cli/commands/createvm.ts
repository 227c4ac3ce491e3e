import { parseArgs } from 'node:util';
import { DiskAllocation, DiskFormat, type NewVmRequest } from '../../../preload/contract.js';
import { findOs } from '../../control/os-catalog.js';
import { parseInteger, UsageError, type CliCommand } from '../command.js';

export const createvm: CliCommand = {
  name: 'createvm',
  summary: 'Create a VM in the library',
  usage: [
    'vireo createvm --name NAME [--ostype ID] [--memory MB] [--cpus N] [--folder DIR]',
    '               [--disk-size MB [--disk-format qcow2|raw] [--disk-allocation thin|preallocated]]',
    '               [--cdrom ISO] [--kernel FILE [--initrd FILE] [--append CMDLINE]]',
    '',
    '  --ostype ID      an id from `vireo ostypes`; sets default CPUs/memory (default: detected',
    "                   from the --cdrom ISO's volume label, else other)",
    '  --disk-size MB   record a virtual disk of that size (the image is created by the disks feature)',
    '  --cdrom ISO      attach an ISO to the optical drive',
    '  --kernel FILE    boot a Linux kernel directly (no firmware) instead of the boot order',
  ].join('\n'),
  async run(argv, ctx) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        name: { type: 'string' },
        ostype: { type: 'string' },
        memory: { type: 'string' },
        cpus: { type: 'string' },
        folder: { type: 'string' },
        'disk-size': { type: 'string' },
        'disk-format': { type: 'string' },
        'disk-allocation': { type: 'string' },
        cdrom: { type: 'string' },
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        append: { type: 'string' },
      },
    });
    if (!values.name) throw new UsageError('--name is required');
    const chosen = values.ostype === undefined ? undefined : findOs(values.ostype);
    if (values.ostype !== undefined && !chosen)
      throw new UsageError(`unknown --ostype "${values.ostype}": see \`vireo ostypes\``);
    const format = DiskFormat.safeParse(values['disk-format'] ?? 'qcow2');
    if (!format.success) throw new UsageError('--disk-format must be qcow2 or raw');
    const allocation = DiskAllocation.safeParse(values['disk-allocation'] ?? 'thin');
    if (!allocation.success) throw new UsageError('--disk-allocation must be thin or preallocated');
    const diskSize = parseInteger('--disk-size', values['disk-size']);
    if (
      diskSize === undefined &&
      (values['disk-format'] !== undefined || values['disk-allocation'] !== undefined)
    )
      throw new UsageError(
        '--disk-format and --disk-allocation describe a disk: give --disk-size too',
      );
    if (
      (values.initrd !== undefined || values.append !== undefined) &&
      values.kernel === undefined
    ) {
      throw new UsageError('--initrd and --append need --kernel');
    }
    const cpus = parseInteger('--cpus', values.cpus);
    const memoryMiB = parseInteger('--memory', values.memory);
    // Like the wizard: without --ostype, the ISO's volume label says which OS it installs.
    let os = chosen;
    if (!os && values.cdrom !== undefined) {
      const iso = await ctx.call('iso.inspect', { path: values.cdrom });
      if (iso.detectedOs) {
        os = findOs(iso.detectedOs.id);
        ctx.out(
          `Detected ${iso.detectedOs.label} from the ISO's volume label "${iso.volumeLabel}".`,
        );
      } else {
        ctx.out(
          `The ISO's volume label "${iso.volumeLabel}" names no OS Vireo knows: using "other" (choose one with --ostype).`,
        );
      }
    }
    os ??= findOs('other')!;
    const request: NewVmRequest = {
      name: values.name,
      folder: values.folder ?? null,
      os: { family: os.family, id: os.id },
      cpus: cpus ?? os.defaults.cpus,
      memoryMiB: memoryMiB ?? os.defaults.memoryMiB,
      disk:
        diskSize === undefined
          ? null
          : { sizeMiB: diskSize, format: format.data, allocation: allocation.data, bus: 'virtio' },
      iso: values.cdrom ?? null,
      ...(values.kernel !== undefined
        ? {
            boot: {
              source: 'linux-kernel' as const,
              kernel: values.kernel,
              initrd: values.initrd ?? null,
              append: values.append ?? 'console=ttyS0',
            },
          }
        : {}),
    };
    const vm = await ctx.call('vm.create', request);
    ctx.out(`Virtual machine "${request.name}" is created and registered.`);
    ctx.out(`UUID: ${vm.id}`);
    ctx.out(`Settings file: ${vm.configPath}`);
    if (request.disk !== null)
      ctx.out(
        `Disk: ${request.disk.sizeMiB} MiB ${request.disk.format} (${request.disk.allocation}) is recorded in the settings; this version of Vireo does not create the image file yet.`,
      );
    return 0;
  },
};

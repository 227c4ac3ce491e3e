import path from 'node:path';
import { parseArgs } from 'node:util';
import { BootDevice, type VmChanges } from '../../../preload/contract.js';
import { findOs } from '../../control/os-catalog.js';
import { CliError, parseInteger, UsageError, type CliCommand } from '../command.js';

export const modifyvm: CliCommand = {
  name: 'modifyvm',
  summary: "Change a VM's settings",
  usage: [
    'vireo modifyvm VM [--name NAME] [--ostype ID] [--memory MB] [--cpus N] [--cdrom ISO|none]',
    '                  [--boot DEV[,DEV...]] [--boot-menu on|off] [--boot-menu-timeout MS]',
    '                  [--kernel FILE [--initrd FILE|none] [--append CMDLINE]]',
    '                  [--nic virtio-net|none] [--vram MB] [--serial on|off] [--description TEXT]',
    '                  [--attach-disk IMAGE [--disk-bus virtio|ide]] [--detach-disk IMAGE]',
    '',
    '  VM           name or UUID',
    '  --boot       firmware boot order from cdrom, disk, network (e.g. --boot cdrom,disk);',
    '               switches a VM that boots a Linux kernel directly back to firmware boot',
    '  --boot-menu  the firmware\'s boot menu: "Press ESC for boot menu." at power on, waiting',
    '               --boot-menu-timeout milliseconds (0-65535, 2500 by default) for the key',
    '  --kernel     boot this Linux kernel directly (no firmware); --initrd and --append may',
    '               also change an existing direct-kernel boot on their own',
    '  --cdrom none empties the optical drive',
    '  --attach-disk attaches an existing qcow2 or raw image (see `vireo createmedium`), on the',
    '               virtio bus unless --disk-bus ide; --detach-disk leaves the file in place',
    'Everything but the ISO, the description and the serial port needs the VM powered off.',
  ].join('\n'),
  async run(argv, ctx) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        ostype: { type: 'string' },
        memory: { type: 'string' },
        cpus: { type: 'string' },
        cdrom: { type: 'string' },
        boot: { type: 'string' },
        'boot-menu': { type: 'string' },
        'boot-menu-timeout': { type: 'string' },
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        append: { type: 'string' },
        nic: { type: 'string' },
        vram: { type: 'string' },
        description: { type: 'string' },
        serial: { type: 'string' },
        'attach-disk': { type: 'string' },
        'disk-bus': { type: 'string' },
        'detach-disk': { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one VM (name or UUID)');
    const changes: VmChanges = {};
    if (values.name !== undefined) changes.name = values.name;
    if (values.ostype !== undefined) {
      const os = findOs(values.ostype);
      if (!os) throw new UsageError(`unknown --ostype "${values.ostype}": see \`vireo ostypes\``);
      changes.os = { family: os.family, id: os.id };
    }
    const memory = parseInteger('--memory', values.memory);
    if (memory !== undefined) changes.memoryMiB = memory;
    const cpus = parseInteger('--cpus', values.cpus);
    if (cpus !== undefined) changes.cpus = cpus;
    if (values.cdrom !== undefined) changes.iso = values.cdrom === 'none' ? null : values.cdrom;
    if (values.description !== undefined) changes.description = values.description;
    if (values['disk-bus'] !== undefined && values['attach-disk'] === undefined)
      throw new UsageError('--disk-bus goes with --attach-disk');
    if (values['attach-disk'] !== undefined) {
      const bus = values['disk-bus'] ?? 'virtio';
      if (bus !== 'virtio' && bus !== 'ide')
        throw new UsageError('--disk-bus must be virtio or ide');
      changes.attachDisk = { path: path.resolve(values['attach-disk']), bus };
    }
    if (values['detach-disk'] !== undefined)
      changes.detachDisk = { path: path.resolve(values['detach-disk']) };
    if (values.serial !== undefined) {
      if (values.serial !== 'on' && values.serial !== 'off')
        throw new UsageError('--serial must be on or off');
      changes.serial = { enabled: values.serial === 'on' };
    }
    const vram = parseInteger('--vram', values.vram);
    if (vram !== undefined) changes.display = { vramMiB: vram };
    if (values.nic !== undefined && values.nic !== 'virtio-net' && values.nic !== 'none')
      throw new UsageError('--nic must be virtio-net or none');
    if (values.boot !== undefined) {
      const names = values.boot.split(',').map((d) => d.trim());
      const order = names.map((d) => BootDevice.safeParse(d));
      const bad = order.findIndex((o) => !o.success);
      if (bad >= 0)
        throw new UsageError(`--boot: "${names[bad]}" is not one of cdrom, disk, network`);
      changes.bootOrder = order.map((o) => o.data!);
    }
    const menu = values['boot-menu'];
    if (menu !== undefined && menu !== 'on' && menu !== 'off')
      throw new UsageError('--boot-menu must be on or off');
    const menuTimeout = parseInteger('--boot-menu-timeout', values['boot-menu-timeout']);
    if (menuTimeout !== undefined && (menuTimeout < 0 || menuTimeout > 65535))
      throw new UsageError('--boot-menu-timeout must be 0 to 65535 milliseconds');
    const kernelFlags =
      values.kernel !== undefined || values.initrd !== undefined || values.append !== undefined;
    if (kernelFlags && values.boot !== undefined)
      throw new UsageError('--boot (firmware) and --kernel/--initrd/--append exclude each other');
    if (
      Object.keys(changes).length === 0 &&
      !kernelFlags &&
      values.nic === undefined &&
      menu === undefined &&
      menuTimeout === undefined
    )
      throw new UsageError('nothing to change: give at least one option');

    const vm = await ctx.call('vm.get', { id: positionals[0]! });
    if (!vm.accessible)
      throw new CliError(`"${vm.name}" is inaccessible and cannot be changed: ${vm.stateReason}`);
    // Flags that refine a setting are merged with what the VM has now.
    if (menu !== undefined || menuTimeout !== undefined)
      changes.bootMenu = {
        enabled: menu === undefined ? vm.config.bootMenu.enabled : menu === 'on',
        timeoutMs: menuTimeout ?? vm.config.bootMenu.timeoutMs,
      };
    if (values.nic !== undefined) changes.network = { ...vm.config.network, adapter: values.nic };
    if (kernelFlags) {
      const current = vm.config.boot.source === 'linux-kernel' ? vm.config.boot : null;
      const kernel = values.kernel ?? current?.kernel;
      if (kernel === undefined)
        throw new UsageError(
          `"${vm.config.name}" boots through firmware: give --kernel to boot a kernel directly`,
        );
      changes.boot = {
        source: 'linux-kernel',
        kernel,
        initrd: values.initrd === 'none' ? null : (values.initrd ?? current?.initrd ?? null),
        append: values.append ?? current?.append ?? 'console=ttyS0',
      };
    }
    await ctx.call('vm.update', { id: vm.id, changes });
    return 0;
  },
};

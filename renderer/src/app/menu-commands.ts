/**
 * The application menu's commands (Electron only: main/app/menu.ts sends them as the bridge
 * event `menu.command`), carried out on the VM selected in the list, as the toolbar's buttons
 * would: a command that does not fit the VM's state is refused with a sentence, not sent to
 * main to fail there.
 */
import type { MenuCommand, VmSummary } from '../../../preload/contract';

export interface MenuActions {
  /** Opens the New VM wizard. */
  newVm(): void;
  openSettings(): void;
  openDelete(): void;
  /** Starts the selected VM the way the toolbar's Start does (console window included). */
  start(): void;
  call(name: 'vm.pause' | 'vm.resume' | 'vm.shutdown' | 'vm.reset' | 'vm.powerOff'): void;
}

/** Carries out `command`; returns why it was refused, or null when it was done. */
export function runMenuCommand(
  command: MenuCommand,
  vm: VmSummary | null,
  actions: MenuActions,
): string | null {
  if (command === 'vm.new') {
    actions.newVm();
    return null;
  }
  if (!vm) return 'Select a VM in the list first.';
  if (!vm.accessible) return `${vm.name} is inaccessible: ${vm.stateReason}`;
  const name = vm.config.name;
  const active = vm.state === 'running' || vm.state === 'paused';
  switch (command) {
    case 'vm.settings':
      actions.openSettings();
      return null;
    case 'vm.delete':
      if (active) return `Power off ${name} before removing it.`;
      actions.openDelete();
      return null;
    case 'vm.start':
      if (active) return `${name} is already running.`;
      actions.start();
      return null;
    case 'vm.pause':
      if (vm.state !== 'running') return `${name} is not running.`;
      actions.call('vm.pause');
      return null;
    case 'vm.resume':
      if (vm.state !== 'paused') return `${name} is not paused.`;
      actions.call('vm.resume');
      return null;
    case 'vm.shutdown':
    case 'vm.reset':
    case 'vm.powerOff':
      if (!active) return `${name} is not running.`;
      actions.call(command);
      return null;
  }
}

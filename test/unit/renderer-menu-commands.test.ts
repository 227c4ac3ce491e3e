/**
 * The application menu's commands in the renderer (renderer/src/app/menu-commands.ts): each acts
 * on the selected VM as its toolbar button would, and a command that does not fit the VM's
 * state is refused with a sentence instead of being sent.
 */
import { describe, expect, it } from 'vitest';
import type { MenuCommand, VmSummary } from '../../preload/contract.js';
import { runMenuCommand, type MenuActions } from '../../renderer/src/app/menu-commands.js';

function recorder() {
  const done: string[] = [];
  const actions: MenuActions = {
    newVm: () => done.push('new'),
    openSettings: () => done.push('settings'),
    openDelete: () => done.push('delete'),
    start: () => done.push('start'),
    call: (name) => done.push(name),
  };
  return { done, actions };
}

const vm = (state: string): VmSummary =>
  ({ accessible: true, id: 'x', state, config: { name: 'Debian' } }) as unknown as VmSummary;

describe('application menu commands', () => {
  it('does what the toolbar does for a VM in a fitting state', () => {
    const cases: [MenuCommand, string, string][] = [
      ['vm.new', 'powered-off', 'new'],
      ['vm.settings', 'running', 'settings'],
      ['vm.start', 'powered-off', 'start'],
      ['vm.pause', 'running', 'vm.pause'],
      ['vm.resume', 'paused', 'vm.resume'],
      ['vm.shutdown', 'running', 'vm.shutdown'],
      ['vm.reset', 'paused', 'vm.reset'],
      ['vm.powerOff', 'running', 'vm.powerOff'],
      ['vm.delete', 'aborted', 'delete'],
    ];
    for (const [command, state, expected] of cases) {
      const { done, actions } = recorder();
      expect(runMenuCommand(command, vm(state), actions), command).toBeNull();
      expect(done, command).toEqual([expected]);
    }
  });

  it('refuses with a sentence when the state does not fit, and does nothing', () => {
    const cases: [MenuCommand, VmSummary | null, RegExp][] = [
      ['vm.start', vm('running'), /already running/],
      ['vm.pause', vm('paused'), /not running/],
      ['vm.resume', vm('running'), /not paused/],
      ['vm.powerOff', vm('powered-off'), /not running/],
      ['vm.delete', vm('running'), /Power off Debian/],
      ['vm.settings', null, /Select a VM/],
      [
        'vm.start',
        {
          accessible: false,
          id: 'y',
          name: 'Old',
          stateReason: 'bad JSON',
        } as unknown as VmSummary,
        /Old is inaccessible: bad JSON/,
      ],
    ];
    for (const [command, target, refusal] of cases) {
      const { done, actions } = recorder();
      expect(runMenuCommand(command, target, actions), command).toMatch(refusal);
      expect(done, command).toEqual([]);
    }
  });
});

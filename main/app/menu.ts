/**
 * The application menu: File, Machine, View, Help. Machine commands act on the VM selected in the
 * renderer, which main does not know, so they travel to the renderer as the bridge event
 * `menu.command` (preload/contract.ts) and the renderer carries them out with ordinary calls.
 *
 * Runtime: Electron main.
 */
import { app, Menu, type MenuItemConstructorOptions } from 'electron';
import { IPC_CHANNEL_EVENT, type EventPayload, type MenuCommand } from '../../preload/contract.js';
import { activeWindow } from './window.js';

function send(command: MenuCommand): void {
  const win = activeWindow();
  if (!win || win.isDestroyed()) return;
  const payload: EventPayload<'menu.command'> = { command };
  win.webContents.send(IPC_CHANNEL_EVENT, 'menu.command', payload);
}

const item = (
  label: string,
  command: MenuCommand,
  accelerator?: string,
): MenuItemConstructorOptions => ({
  label,
  click: () => send(command),
  ...(accelerator ? { accelerator } : {}),
});

export function installApplicationMenu(): void {
  const template: MenuItemConstructorOptions[] = [
    {
      label: 'File',
      submenu: [
        item('New Machine…', 'vm.new', 'CmdOrCtrl+N'),
        { type: 'separator' },
        { role: 'quit' },
      ],
    },
    {
      label: 'Machine',
      submenu: [
        item('Settings…', 'vm.settings', 'CmdOrCtrl+S'),
        { type: 'separator' },
        item('Start', 'vm.start'),
        item('Pause', 'vm.pause'),
        item('Resume', 'vm.resume'),
        item('Shut Down (ACPI)', 'vm.shutdown'),
        item('Reset', 'vm.reset'),
        item('Power Off', 'vm.powerOff'),
        { type: 'separator' },
        item('Remove…', 'vm.delete'),
      ],
    },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        // Developer tools only in development builds: a packaged app has nothing to debug there.
        ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' } as const]),
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'help', submenu: [{ role: 'about', label: 'About Vireo' }] },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

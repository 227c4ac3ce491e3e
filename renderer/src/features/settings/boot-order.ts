/**
 * The System page's boot order, VirtualBox-style: every device listed once, ticked or not, in
 * the order the firmware tries them. The config keeps only the ticked ones, in order
 * (BootConfig `order`, 1-3 distinct devices).
 */
import type { BootConfig, BootDevice } from '../../../../preload/contract';

export interface BootEntry {
  device: BootDevice;
  enabled: boolean;
}

export const BOOT_DEVICE_LABELS: Record<BootDevice, string> = {
  cdrom: 'Optical',
  disk: 'Hard Disk',
  network: 'Network',
};

const ALL: BootDevice[] = ['cdrom', 'disk', 'network'];

/** The editable list for a VM's boot config (direct kernel boot starts from the firmware default). */
export function bootEntries(boot: BootConfig): BootEntry[] {
  const order = boot.source === 'firmware' ? [...new Set(boot.order)] : ['cdrom', 'disk'];
  return [
    ...order.map((device) => ({ device: device as BootDevice, enabled: true })),
    ...ALL.filter((d) => !order.includes(d)).map((device) => ({ device, enabled: false })),
  ];
}

/** Moves entry `index` up (-1) or down (+1); out-of-range moves change nothing. */
export function moveEntry(entries: BootEntry[], index: number, by: -1 | 1): BootEntry[] {
  const to = index + by;
  if (index < 0 || index >= entries.length || to < 0 || to >= entries.length) return entries;
  const next = [...entries];
  [next[index], next[to]] = [next[to]!, next[index]!];
  return next;
}

/** The order to save, or an error sentence when nothing is ticked. */
export function bootOrderOf(entries: BootEntry[]): BootDevice[] | string {
  const order = entries.filter((e) => e.enabled).map((e) => e.device);
  return order.length > 0 ? order : 'Tick at least one boot device.';
}

/** Whether `order` differs from what the VM boots from now. */
export function bootOrderChanged(boot: BootConfig, order: BootDevice[]): boolean {
  return boot.source !== 'firmware' || boot.order.join() !== order.join();
}

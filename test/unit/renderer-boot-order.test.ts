/** The Settings dialog's boot order editing (renderer/src/features/settings/boot-order.ts). */
import { describe, expect, it } from 'vitest';
import {
  bootEntries,
  bootOrderChanged,
  bootOrderOf,
  moveEntry,
} from '../../renderer/src/features/settings/boot-order.js';

describe('boot order', () => {
  it('lists every device once: the configured ones first, ticked, then the rest', () => {
    expect(bootEntries({ source: 'firmware', order: ['disk', 'cdrom'] })).toEqual([
      { device: 'disk', enabled: true },
      { device: 'cdrom', enabled: true },
      { device: 'network', enabled: false },
    ]);
  });

  it('starts a direct-kernel VM from the firmware default (optical, then disk)', () => {
    const entries = bootEntries({ source: 'linux-kernel', kernel: '/k', initrd: null, append: '' });
    expect(bootOrderOf(entries)).toEqual(['cdrom', 'disk']);
    // Any order is a change for such a VM: it switches it to the firmware.
    expect(
      bootOrderChanged({ source: 'linux-kernel', kernel: '/k', initrd: null, append: '' }, [
        'cdrom',
        'disk',
      ]),
    ).toBe(true);
  });

  it('moves entries within bounds only', () => {
    const entries = bootEntries({ source: 'firmware', order: ['cdrom', 'disk'] });
    expect(bootOrderOf(moveEntry(entries, 1, -1))).toEqual(['disk', 'cdrom']);
    expect(moveEntry(entries, 0, -1)).toBe(entries);
    expect(moveEntry(entries, 2, 1)).toBe(entries);
  });

  it('refuses an empty order and notices unchanged ones', () => {
    const none = bootEntries({ source: 'firmware', order: ['disk'] }).map((e) => ({
      ...e,
      enabled: false,
    }));
    expect(bootOrderOf(none)).toBe('Tick at least one boot device.');
    expect(bootOrderChanged({ source: 'firmware', order: ['disk'] }, ['disk'])).toBe(false);
    expect(bootOrderChanged({ source: 'firmware', order: ['disk'] }, ['disk', 'cdrom'])).toBe(true);
  });
});

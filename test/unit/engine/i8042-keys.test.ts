/**
 * Host key presses reaching the guest through the i8042, read from port 0x60 the way SeaBIOS
 * and Linux read them: set 1 through the controller's translation (the PC default), set 2 when
 * the guest turns translation off, nothing while the guest disabled scanning; plus the key
 * names `vireo sendkey` accepts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CMD_READ_CTR,
  CMD_WRITE_CTR,
  CTR_TRANSLATE,
  I8042,
  STATUS_OUTPUT_FULL,
} from '../../../main/engine/devices/i8042/index.js';
import {
  KEYS,
  parseKeyChord,
  resolveKeyName,
  scancodeBytes,
} from '../../../main/engine/devices/i8042/scancodes.js';
import {
  TYPEMATIC_DEFAULT,
  typematicDelayMs,
  typematicPeriodMs,
} from '../../../main/engine/devices/i8042/keyboard.js';
import { IrqRecorder, readPort, writePort } from './irq-recorder.js';

function controller() {
  const kbdIrq = new IrqRecorder();
  const c = new I8042({ keyboardIrq: kbdIrq, auxIrq: new IrqRecorder(), onReset: () => {} });
  const status = () => readPort(c.commandPort, 0);
  const drain = () => {
    const got: number[] = [];
    while (status() & STATUS_OUTPUT_FULL) got.push(readPort(c.dataPort, 0));
    return got;
  };
  const setCtr = (f: (ctr: number) => number) => {
    writePort(c.commandPort, 0, CMD_READ_CTR);
    const ctr = readPort(c.dataPort, 0);
    writePort(c.commandPort, 0, CMD_WRITE_CTR);
    writePort(c.dataPort, 0, f(ctr));
    drain();
  };
  return { c, drain, setCtr, kbdIrq };
}

describe('i8042 key events', () => {
  it('delivers set 1 make and break codes through translation, with IRQ 1', () => {
    const { c, drain, kbdIrq } = controller();
    drain();
    const before = kbdIrq.risingEdges;
    expect(c.keyEvent('KeyA', true)).toBe(true);
    expect(kbdIrq.risingEdges).toBeGreaterThan(before);
    c.keyEvent('KeyA', false);
    c.keyEvent('ArrowUp', true);
    c.keyEvent('ArrowUp', false);
    expect(drain()).toEqual([0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8]);
  });

  it('sends set 2 with F0 break prefixes when the guest turns translation off', () => {
    const { c, drain, setCtr } = controller();
    setCtr((ctr) => ctr & ~CTR_TRANSLATE);
    c.keyEvent('KeyA', true);
    c.keyEvent('KeyA', false);
    c.keyEvent('Delete', true);
    c.keyEvent('Delete', false);
    expect(drain()).toEqual([0x1c, 0xf0, 0x1c, 0xe0, 0x71, 0xe0, 0xf0, 0x71]);
  });

  it('drops keys while scanning is disabled and ignores unknown keys', () => {
    const { c, drain } = controller();
    drain();
    writePort(c.dataPort, 0, 0xf5); // keyboard: disable scanning
    expect(drain()).toEqual([0xfa]);
    expect(c.keyEvent('KeyB', true)).toBe(false);
    expect(drain()).toEqual([]);
    writePort(c.dataPort, 0, 0xf4); // enable
    drain();
    expect(c.keyEvent('NoSuchKey', true)).toBe(false);
    expect(c.keyEvent('KeyB', true)).toBe(true);
    expect(drain()).toEqual([0x30]);
  });

  it('has consistent tables: distinct codes, and the special keys', () => {
    const set1 = new Set(Object.values(KEYS).map((v) => v.set1.join(',')));
    const set2 = new Set(Object.values(KEYS).map((v) => v.set2.join(',')));
    expect(set1.size).toBe(Object.keys(KEYS).length);
    expect(set2.size).toBe(Object.keys(KEYS).length);
    expect(scancodeBytes('PrintScreen', true, 1)).toEqual([0xe0, 0x2a, 0xe0, 0x37]);
    expect(scancodeBytes('Pause', false, 1)).toEqual([]);
    expect(scancodeBytes('Enter', false, 2)).toEqual([0xf0, 0x5a]);
  });

  it('resolves the names vireo sendkey accepts', () => {
    expect(resolveKeyName('ret')).toBe('Enter');
    expect(resolveKeyName('a')).toBe('KeyA');
    expect(resolveKeyName('F12')).toBe('F12');
    expect(resolveKeyName('f7')).toBe('F7');
    expect(resolveKeyName('KeyQ')).toBe('KeyQ');
    expect(resolveKeyName('toString')).toBeNull();
    expect(resolveKeyName('__proto__')).toBeNull();
    expect(parseKeyChord('ctrl-alt-delete')).toEqual(['ControlLeft', 'AltLeft', 'Delete']);
    expect(() => parseKeyChord('ctrl-bogus')).toThrow('unknown key "bogus"');
    expect(() => parseKeyChord('-')).toThrow();
  });
});

describe('typematic repeat', () => {
  // The device's own timers and clock, driven by vitest's fake clock: the schedule is the subject.
  beforeEach(() =>
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] }),
  );
  afterEach(() => vi.useRealTimers());

  /** A guest that reads each byte at once (its IRQ 1 handler), for `ms` milliseconds. */
  const readFor = (drain: () => number[], ms: number, each?: (t: number) => void) => {
    const got: number[] = [];
    for (let t = 0; t < ms; t++) {
      each?.(t);
      vi.advanceTimersByTime(1);
      got.push(...drain());
    }
    return got;
  };

  it('decodes F3 parameters as the IBM reference gives them', () => {
    expect(typematicDelayMs(TYPEMATIC_DEFAULT)).toBe(500);
    expect(1000 / typematicPeriodMs(TYPEMATIC_DEFAULT)).toBeCloseTo(10.9, 1);
    expect(typematicDelayMs(0x00)).toBe(250);
    expect(typematicDelayMs(0x60)).toBe(1000);
    expect(1000 / typematicPeriodMs(0x00)).toBeCloseTo(30, 0);
    expect(1000 / typematicPeriodMs(0x1f)).toBeCloseTo(2, 1);
  });

  it('repeats a key the host keeps repeating at the guest rate after the guest delay, and stops on release', () => {
    const { c, drain } = controller();
    drain();
    c.keyEvent('KeyA', true);
    expect(drain()).toEqual([0x1e]);
    // The host's autorepeat every 40 ms from 300 ms on: the device's 500 ms delay and 10.9/s
    // rate decide what the guest sees, not the host's 25/s.
    const hostRepeat = (t: number) => {
      if (t >= 300 && t % 40 === 0) c.keyEvent('KeyA', true);
    };
    const got = readFor(drain, 1001, hostRepeat);
    // Repeats at 500 ms and then every 91.7 ms: 500, 592, 683, 775, 867, 959.
    expect(got.filter((b) => b === 0x1e)).toHaveLength(6);
    expect(c.keyboard.repeatingKey).toBe('KeyA');
    c.keyEvent('KeyA', false);
    expect(drain()).toEqual([0x9e]);
    vi.advanceTimersByTime(5000);
    expect(drain()).toEqual([]);
  });

  it('never repeats a key the host does not say is held: a late release is one keystroke', () => {
    const { c, drain } = controller();
    drain();
    c.keyEvent('KeyT', true);
    // The release arrives 2 s late (a slow connection), with no autorepeat in between.
    expect(readFor(drain, 2000)).toEqual([0x14]);
    c.keyEvent('KeyT', false);
    expect(drain()).toEqual([0x94]);
  });

  it('pauses when the host stops confirming, and resumes with its next repeat', () => {
    const { c, drain } = controller();
    drain();
    c.keyEvent('KeyB', true);
    drain();
    // Confirmations until 700 ms only.
    const got = readFor(drain, 2000, (t) => {
      if (t > 0 && t <= 700 && t % 40 === 0) c.keyEvent('KeyB', true);
    });
    // 500, 592, 683, 775 (within 100 ms of the 680 ms confirmation... the last at 680 + 100).
    const repeats = got.filter((b) => b === 0x30).length;
    expect(repeats).toBeGreaterThanOrEqual(3);
    expect(repeats).toBeLessThanOrEqual(4);
    c.keyEvent('KeyB', true); // the host repeats again: at once
    vi.advanceTimersByTime(1);
    expect(drain()).toEqual([0x30]);
  });

  it('takes the rate and delay the guest sets with F3, and F6 restores the default', () => {
    const { c, drain } = controller();
    drain();
    writePort(c.dataPort, 0, 0xf3); // Set Typematic Rate/Delay
    writePort(c.dataPort, 0, 0x00); // 250 ms, 30 characters per second
    expect(drain()).toEqual([0xfa, 0xfa]);
    expect(c.keyboard.typematicValue).toBe(0x00);
    c.keyEvent('KeyB', true);
    drain();
    const got = readFor(drain, 300, (t) => {
      if (t % 30 === 0) c.keyEvent('KeyB', true);
    });
    // 250 ms, then every 33.4 ms: 250, 283.
    expect(got).toEqual([0x30, 0x30]);
    writePort(c.dataPort, 0, 0xf6); // Set Default: also ends the repeat
    expect(drain()).toEqual([0xfa]);
    expect(c.keyboard.typematicValue).toBe(TYPEMATIC_DEFAULT);
    expect(c.keyboard.repeatingKey).toBeNull();
    vi.advanceTimersByTime(2000);
    expect(drain()).toEqual([]);
  });

  it('repeats only the last key pressed, and never Pause', () => {
    const { c, drain } = controller();
    drain();
    c.keyEvent('ShiftLeft', true);
    c.keyEvent('KeyC', true);
    expect(drain()).toEqual([0x2a, 0x2e]);
    const confirmC = (t: number) => {
      if (t % 40 === 0) c.keyEvent('KeyC', true);
    };
    expect(readFor(drain, 600, confirmC)).toEqual([0x2e, 0x2e]);
    // Releasing Shift does not stop C (it is the last key pressed).
    c.keyEvent('ShiftLeft', false);
    expect(readFor(drain, 92, confirmC)).toEqual([0xaa, 0x2e]);
    c.keyEvent('KeyC', false);
    c.keyEvent('Pause', true);
    const pause = drain();
    expect(pause.slice(0, 2)).toEqual([0xae, 0xe1]);
    const quiet = readFor(drain, 2000, (t) => {
      if (t % 40 === 0) c.keyEvent('Pause', true);
    });
    expect(quiet.filter((b) => b === 0xe1)).toEqual([]);
  });

  it('waits for the guest to read the last byte before sending another repeat', () => {
    const { c, drain } = controller();
    drain();
    c.keyEvent('KeyD', true);
    // The guest reads nothing for three seconds (paused, busy) while the host repeats: the
    // make code it left unread is all it finds, not thirty repeats.
    for (let t = 0; t < 3000; t += 40) {
      c.keyEvent('KeyD', true);
      vi.advanceTimersByTime(40);
    }
    expect(drain()).toEqual([0x20]);
    c.keyEvent('KeyD', true);
    vi.advanceTimersByTime(92);
    expect(drain()).toEqual([0x20]);
    c.keyboard.stopRepeat();
    vi.advanceTimersByTime(1000);
    expect(drain()).toEqual([]);
  });
});

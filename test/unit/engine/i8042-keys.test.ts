/**
 * Host key presses reaching the guest through the i8042, read from port 0x60 the way SeaBIOS
 * and Linux read them: set 1 through the controller's translation (the PC default), set 2 when
 * the guest turns translation off, nothing while the guest disabled scanning; plus the key
 * names `vireo sendkey` accepts.
 */
import { describe, expect, it } from 'vitest';
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

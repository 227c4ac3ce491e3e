import { describe, expect, it } from 'vitest';
import {
  CMD_AUX_DISABLE,
  CMD_AUX_ENABLE,
  CMD_AUX_TEST,
  CMD_KBD_DISABLE,
  CMD_KBD_ENABLE,
  CMD_KBD_TEST,
  CMD_READ_CTR,
  CMD_READ_OUTPUT_PORT,
  CMD_SELF_TEST,
  CMD_WRITE_AUX,
  CMD_WRITE_AUX_OUTPUT,
  CMD_WRITE_CTR,
  CMD_WRITE_KBD_OUTPUT,
  CMD_WRITE_OUTPUT_PORT,
  CTR_AUX_DISABLE,
  CTR_AUX_INT,
  CTR_DEFAULT,
  CTR_KBD_DISABLE,
  CTR_KBD_INT,
  CTR_TRANSLATE,
  I8042,
  STATUS_AUX_DATA,
  STATUS_INPUT_FULL,
  STATUS_LAST_WAS_COMMAND,
  STATUS_OUTPUT_FULL,
  STATUS_SYSTEM_FLAG,
} from '../../../main/engine/devices/i8042/index.js';
import { IrqRecorder, readPort, writePort } from './irq-recorder.js';

function controller() {
  const kbdIrq = new IrqRecorder();
  const auxIrq = new IrqRecorder();
  let resets = 0;
  const c = new I8042({ keyboardIrq: kbdIrq, auxIrq, onReset: () => resets++ });
  const status = () => readPort(c.commandPort, 0);
  const command = (v: number) => writePort(c.commandPort, 0, v);
  const data = (v: number) => writePort(c.dataPort, 0, v);
  const read = () => readPort(c.dataPort, 0);
  /** Everything in the output buffer, as Linux's i8042_flush would read it. */
  const drain = () => {
    const got: number[] = [];
    while (status() & STATUS_OUTPUT_FULL) got.push(read());
    return got;
  };
  return { c, kbdIrq, auxIrq, resets: () => resets, status, command, data, read, drain };
}

describe('i8042', () => {
  it('starts with an empty output buffer, the system flag and the default command byte', () => {
    const k = controller();
    expect(k.status() & (STATUS_OUTPUT_FULL | STATUS_INPUT_FULL)).toBe(0);
    expect(k.status() & STATUS_SYSTEM_FLAG).toBe(STATUS_SYSTEM_FLAG);
    k.command(CMD_READ_CTR);
    expect(k.drain()).toEqual([CTR_DEFAULT]);
  });

  it('answers self-test 0xAA with 0x55 and both interface tests with 0x00', () => {
    const k = controller();
    k.command(CMD_SELF_TEST);
    expect(k.drain()).toEqual([0x55]);
    k.command(CMD_KBD_TEST);
    expect(k.drain()).toEqual([0x00]);
    k.command(CMD_AUX_TEST);
    expect(k.drain()).toEqual([0x00]);
  });

  it('writes and reads back the command byte; CMD bit tracks the last port written', () => {
    const k = controller();
    k.command(CMD_WRITE_CTR);
    expect(k.status() & STATUS_LAST_WAS_COMMAND).toBe(STATUS_LAST_WAS_COMMAND);
    k.data(0x47);
    expect(k.status() & STATUS_LAST_WAS_COMMAND).toBe(0);
    k.command(CMD_READ_CTR);
    expect(k.drain()).toEqual([0x47]);
  });

  it('disables and enables both ports through the command byte', () => {
    const k = controller();
    k.command(CMD_KBD_DISABLE);
    k.command(CMD_AUX_ENABLE);
    expect(k.c.commandByte & (CTR_KBD_DISABLE | CTR_AUX_DISABLE)).toBe(CTR_KBD_DISABLE);
    k.command(CMD_KBD_ENABLE);
    k.command(CMD_AUX_DISABLE);
    expect(k.c.commandByte & (CTR_KBD_DISABLE | CTR_AUX_DISABLE)).toBe(CTR_AUX_DISABLE);
  });

  it('pulses reset on 0xFE (Linux reboot=k) and on an output-port write with bit 0 clear', () => {
    const k = controller();
    k.command(0xfe);
    expect(k.resets()).toBe(1);
    k.command(0xff); // pulses nothing: bit 0 set
    expect(k.resets()).toBe(1);
    k.command(CMD_WRITE_OUTPUT_PORT);
    k.data(0x03);
    expect(k.resets()).toBe(1);
    k.command(CMD_WRITE_OUTPUT_PORT);
    k.data(0x02);
    expect(k.resets()).toBe(2);
    k.command(CMD_READ_OUTPUT_PORT);
    expect(k.drain()[0]! & 0x02).toBe(0x02);
  });

  it('resets the keyboard: 0xFF -> 0xFA 0xAA, with an IRQ 1 edge per byte', () => {
    const k = controller();
    k.data(0xff);
    expect(k.kbdIrq.level).toBe(true);
    expect(k.read()).toBe(0xfa);
    expect(k.kbdIrq.level).toBe(true);
    expect(k.read()).toBe(0xaa);
    expect(k.kbdIrq.level).toBe(false);
    expect(k.kbdIrq.risingEdges).toBe(2);
  });

  it('identifies the keyboard as MF2, translated or not', () => {
    const k = controller();
    k.data(0xf2);
    expect(k.drain()).toEqual([0xfa, 0xab, 0x41]);
    k.command(CMD_WRITE_CTR);
    k.data(CTR_DEFAULT & ~CTR_TRANSLATE);
    k.data(0xf2);
    expect(k.drain()).toEqual([0xfa, 0xab, 0x83]);
  });

  it('acknowledges keyboard commands with parameters and refuses unknown ones', () => {
    const k = controller();
    k.data(0xed);
    k.data(0x07);
    expect(k.drain()).toEqual([0xfa, 0xfa]);
    expect(k.c.keyboard.ledState).toBe(7);
    k.data(0xee);
    expect(k.drain()).toEqual([0xee]);
    k.data(0x42);
    expect(k.drain()).toEqual([0xfe]);
  });

  it("passes Linux's AUX loop test: D3 echoes the byte with the AUX data bit", () => {
    const k = controller();
    k.command(CMD_AUX_ENABLE);
    k.command(CMD_WRITE_AUX_OUTPUT);
    k.data(0x5a);
    expect(k.status() & STATUS_AUX_DATA).toBe(STATUS_AUX_DATA);
    expect(k.read()).toBe(0x5a);
  });

  it('answers the mouse probe at once: reset and get-ID through D4, IRQ 12 when enabled', () => {
    const k = controller();
    k.command(CMD_WRITE_CTR);
    k.data(CTR_KBD_INT | CTR_AUX_INT);
    k.command(CMD_WRITE_AUX);
    k.data(0xff);
    expect(k.auxIrq.level).toBe(true);
    expect(k.kbdIrq.level).toBe(false);
    expect(k.drain()).toEqual([0xfa, 0xaa, 0x00]);
    k.command(CMD_WRITE_AUX);
    k.data(0xf2);
    expect(k.drain()).toEqual([0xfa, 0x00]);
    k.command(CMD_WRITE_AUX);
    k.data(0xe9);
    expect(k.drain()).toEqual([0xfa, 0x00, 0x02, 100]);
  });

  it('sends host mouse motion as 3-byte PS/2 packets once the guest enables reporting', () => {
    const k = controller();
    k.command(CMD_WRITE_CTR);
    k.data(CTR_KBD_INT | CTR_AUX_INT);
    // Before F4 (enable data reporting) a real mouse sends nothing.
    expect(k.c.mouseEvent(5, 5, 0)).toBe(false);
    k.command(CMD_WRITE_AUX);
    k.data(0xf4);
    expect(k.drain()).toEqual([0xfa]);
    // Right 5, down 3 (PS/2 Y grows upward), left button: sync bit 3, Y sign bit 5.
    expect(k.c.mouseEvent(5, 3, 1)).toBe(true);
    expect(k.drain()).toEqual([0x08 | 0x01 | 0x20, 5, 0xfd]);
    // A 300-count jump left is split into packets of at most 255, never an overflow bit.
    k.c.mouseEvent(-300, 0, 0);
    expect(k.drain()).toEqual([0x18, 0x01, 0x00, 0x18, 0xd3, 0x00]);
    // Hostile values are clamped, and the queue stays whole packets.
    k.c.mouseEvent(Number.NaN, 1e9, 7);
    const bytes = k.drain();
    expect(bytes.length % 3).toBe(0);
    expect(bytes[0]! & 0x0f).toBe(0x0f);
  });

  it('holds device bytes while the port is disabled and releases them on enable', () => {
    const k = controller();
    k.command(CMD_KBD_DISABLE);
    k.command(CMD_WRITE_KBD_OUTPUT);
    k.data(0x1c);
    expect(k.status() & STATUS_OUTPUT_FULL).toBe(0);
    k.command(CMD_KBD_ENABLE);
    expect(k.drain()).toEqual([0x1c]);
  });

  it('raises no IRQ while the command byte disables it, and survives a flood of bytes', () => {
    const k = controller();
    k.command(CMD_WRITE_CTR);
    k.data(0);
    for (let i = 0; i < 1000; i++) k.data(0xee); // echo floods the queue
    expect(k.kbdIrq.risingEdges).toBe(0);
    expect(k.drain().length).toBe(1 + 256); // the output buffer plus a full queue
  });

  it('reads the last byte again from an empty buffer and splits wide accesses', () => {
    const k = controller();
    k.command(CMD_SELF_TEST);
    expect(k.read()).toBe(0x55);
    expect(k.read()).toBe(0x55);
    expect(readPort(k.c.dataPort, 0, 2) >> 8).toBe(0xff);
    writePort(k.c.commandPort, 0, 0xaaaa, 2); // only the first byte reaches port 0x64
    expect(k.drain()).toEqual([0x55]);
  });
});

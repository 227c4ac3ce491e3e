import { describe, expect, it } from 'vitest';
import {
  FCR_CLEAR_RX,
  FCR_ENABLE,
  IER_MSI,
  IER_RDA,
  IER_RLS,
  IER_THRE,
  IIR_CHAR_TIMEOUT,
  IIR_MSI,
  IIR_NONE,
  IIR_RDA,
  IIR_RLS,
  IIR_THRE,
  LCR_DLAB,
  LSR_DR,
  LSR_OE,
  LSR_TEMT,
  LSR_THRE,
  MCR_DTR,
  MCR_LOOP,
  MCR_OUT2,
  MCR_RTS,
  Serial16550,
  UART_FIFO_SIZE,
  UART_HOST_QUEUE_LIMIT,
  UART_IER_DLM,
  UART_IIR_FCR,
  UART_LCR,
  UART_LSR,
  UART_MCR,
  UART_MSR,
  UART_RBR_THR_DLL,
  UART_SCR,
} from '../../../main/engine/devices/serial16550/index.js';
import { IrqRecorder, readPort, writePort } from './irq-recorder.js';

function uart() {
  const irq = new IrqRecorder();
  const out: number[] = [];
  const dev = new Serial16550({ irq, onTransmit: (b) => out.push(b) });
  const rd = (reg: number) => readPort(dev, reg);
  const wr = (reg: number, v: number) => writePort(dev, reg, v);
  return { dev, irq, out, rd, wr };
}

describe('serial16550', () => {
  it('transmits THR writes through the callback and keeps THRE/TEMT set', () => {
    const u = uart();
    for (const c of 'ok\n') u.wr(UART_RBR_THR_DLL, c.charCodeAt(0));
    expect(String.fromCharCode(...u.out)).toBe('ok\n');
    expect(u.rd(UART_LSR) & (LSR_THRE | LSR_TEMT)).toBe(LSR_THRE | LSR_TEMT);
  });

  it('resets to the datasheet values: IIR no interrupt, FIFOs off, MCR 0', () => {
    const u = uart();
    expect(u.rd(UART_IIR_FCR)).toBe(IIR_NONE);
    expect(u.rd(UART_MCR)).toBe(0);
    expect(u.rd(UART_IER_DLM)).toBe(0);
  });

  it('DLAB switches offsets 0/1 to the divisor latch and back', () => {
    const u = uart();
    u.wr(UART_IER_DLM, 0x05);
    u.wr(UART_LCR, LCR_DLAB | 0x03);
    u.wr(UART_RBR_THR_DLL, 0x01);
    u.wr(UART_IER_DLM, 0x00);
    expect(u.rd(UART_RBR_THR_DLL)).toBe(0x01);
    expect(u.rd(UART_IER_DLM)).toBe(0x00);
    expect(u.out).toEqual([]); // divisor writes are not data
    u.wr(UART_LCR, 0x03);
    expect(u.rd(UART_IER_DLM)).toBe(0x05);
    expect(u.rd(UART_LCR)).toBe(0x03);
  });

  it('keeps only IER bits 0-3 and MCR bits 0-4; LSR and MSR ignore writes', () => {
    const u = uart();
    u.wr(UART_IER_DLM, 0xff);
    expect(u.rd(UART_IER_DLM)).toBe(0x0f);
    u.wr(UART_MCR, 0xff);
    expect(u.rd(UART_MCR)).toBe(0x1f);
    u.wr(UART_MCR, 0);
    u.wr(UART_LSR, 0x00);
    expect(u.rd(UART_LSR) & LSR_THRE).toBe(LSR_THRE);
    u.wr(UART_MSR, 0x00);
    expect(u.rd(UART_MSR) & 0xf0).toBe(0xb0); // CTS, DSR, DCD from the console side
  });

  it('scratch register holds any byte', () => {
    const u = uart();
    u.wr(UART_SCR, 0xa5);
    expect(u.rd(UART_SCR)).toBe(0xa5);
  });

  it('passes the Linux 8250 loopback probe (MCR=LOOP|RTS|OUT2 -> MSR&0xF0 == 0x90)', () => {
    const u = uart();
    u.wr(UART_MCR, MCR_LOOP | 0x0a);
    expect(u.rd(UART_MSR) & 0xf0).toBe(0x90);
    u.wr(UART_MCR, MCR_LOOP | MCR_DTR);
    expect(u.rd(UART_MSR) & 0xf0).toBe(0x20);
  });

  it('loops THR back into RBR without transmitting', () => {
    const u = uart();
    u.wr(UART_MCR, MCR_LOOP);
    u.wr(UART_RBR_THR_DLL, 0x41);
    expect(u.out).toEqual([]);
    expect(u.rd(UART_LSR) & LSR_DR).toBe(LSR_DR);
    expect(u.rd(UART_RBR_THR_DLL)).toBe(0x41);
    expect(u.rd(UART_LSR) & LSR_DR).toBe(0);
  });

  it('publishes LSR for the vCPU thread while a read has no side effect, and withdraws it', () => {
    const published: (number | undefined)[] = [];
    const dev = new Serial16550({
      irq: new IrqRecorder(),
      onTransmit: () => {},
      publishLsr: (v) => published.push(v),
    });
    const rd = (reg: number) => readPort(dev, reg);
    const wr = (reg: number, v: number) => writePort(dev, reg, v);
    expect(published.at(-1)).toBe(rd(UART_LSR));
    dev.receive(Uint8Array.of(0x41)); // host input: DR
    expect(published.at(-1)! & LSR_DR).toBe(LSR_DR);
    expect(published.at(-1)).toBe(rd(UART_LSR));
    rd(UART_RBR_THR_DLL);
    expect(published.at(-1)! & LSR_DR).toBe(0);
    // An overrun leaves an error bit that a read must clear: not published, until read.
    wr(UART_IIR_FCR, FCR_ENABLE);
    wr(UART_MCR, MCR_LOOP);
    for (let i = 0; i < UART_FIFO_SIZE + 1; i++) wr(UART_RBR_THR_DLL, i);
    expect(published.at(-1)).toBeUndefined();
    expect(rd(UART_LSR) & LSR_OE).toBe(LSR_OE);
    expect(published.at(-1)).toBe(rd(UART_LSR));
    expect(published.at(-1)! & LSR_OE).toBe(0);
  });

  it('overruns in loopback when the FIFO is full and reports OE once', () => {
    const u = uart();
    u.wr(UART_IIR_FCR, FCR_ENABLE);
    u.wr(UART_MCR, MCR_LOOP);
    for (let i = 0; i < UART_FIFO_SIZE + 3; i++) u.wr(UART_RBR_THR_DLL, i);
    expect(u.dev.receiveFifoBytes).toBe(UART_FIFO_SIZE);
    expect(u.rd(UART_LSR) & LSR_OE).toBe(LSR_OE);
    expect(u.rd(UART_LSR) & LSR_OE).toBe(0); // cleared by reading
    const got: number[] = [];
    while (u.rd(UART_LSR) & LSR_DR) got.push(u.rd(UART_RBR_THR_DLL));
    expect(got).toEqual([...Array(UART_FIFO_SIZE).keys()]); // first 16 kept, later lost
  });

  it('host input waits in a queue when the FIFO is full (back-pressure, no overrun)', () => {
    const u = uart();
    u.wr(UART_IIR_FCR, FCR_ENABLE);
    const input = Uint8Array.from({ length: 100 }, (_, i) => i);
    expect(u.dev.receive(input)).toBe(100);
    expect(u.dev.receiveFifoBytes).toBe(UART_FIFO_SIZE);
    expect(u.dev.queuedInputBytes).toBe(100 - UART_FIFO_SIZE);
    const got: number[] = [];
    while (u.rd(UART_LSR) & LSR_DR) got.push(u.rd(UART_RBR_THR_DLL));
    expect(got).toEqual([...input]);
    expect(u.rd(UART_LSR) & LSR_OE).toBe(0);
  });

  it('refuses host input beyond the queue limit and says how much it took', () => {
    const u = uart();
    expect(u.dev.receive(new Uint8Array(UART_HOST_QUEUE_LIMIT + 10))).toBe(UART_HOST_QUEUE_LIMIT);
    expect(u.dev.receive(new Uint8Array(5))).toBe(1); // one byte moved into the 1-byte holding register
  });

  it('without FIFOs holds one byte; reading RBR on empty gives 0', () => {
    const u = uart();
    expect(u.rd(UART_RBR_THR_DLL)).toBe(0);
    u.dev.receive(Uint8Array.of(1, 2));
    expect(u.dev.receiveFifoBytes).toBe(1);
    expect(u.rd(UART_RBR_THR_DLL)).toBe(1);
    expect(u.rd(UART_RBR_THR_DLL)).toBe(2);
  });

  it('FCR clears the receive FIFO and reports FIFOs in IIR bits 6-7', () => {
    const u = uart();
    u.wr(UART_IIR_FCR, FCR_ENABLE);
    expect(u.rd(UART_IIR_FCR) & 0xc0).toBe(0xc0);
    u.wr(UART_MCR, MCR_LOOP);
    u.wr(UART_RBR_THR_DLL, 7);
    u.wr(UART_IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX);
    expect(u.rd(UART_LSR) & LSR_DR).toBe(0);
    u.wr(UART_IIR_FCR, 0);
    expect(u.rd(UART_IIR_FCR) & 0xc0).toBe(0);
  });

  it('raises THRE when ETBEI is enabled with THR empty; reading IIR acknowledges it', () => {
    const u = uart();
    u.wr(UART_MCR, MCR_OUT2);
    u.wr(UART_IER_DLM, IER_THRE);
    expect(u.irq.level).toBe(true);
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_THRE);
    expect(u.irq.level).toBe(false);
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_NONE);
    u.wr(UART_RBR_THR_DLL, 0x41); // THR empties again at once
    expect(u.irq.level).toBe(true);
    expect(u.irq.risingEdges).toBe(2);
  });

  it('gates the IRQ pin with OUT2 and cuts it in loopback (PC/AT wiring)', () => {
    const u = uart();
    u.wr(UART_IER_DLM, IER_THRE);
    expect(u.irq.level).toBe(false);
    u.wr(UART_MCR, MCR_OUT2);
    expect(u.irq.level).toBe(true);
    u.wr(UART_MCR, MCR_OUT2 | MCR_LOOP);
    expect(u.irq.level).toBe(false);
  });

  it('orders interrupts: line status > received data > THRE > modem status', () => {
    const u = uart();
    u.wr(UART_IIR_FCR, FCR_ENABLE | 0x40); // trigger level 4
    u.wr(UART_IER_DLM, IER_RLS | IER_RDA | IER_THRE | IER_MSI);
    u.wr(UART_MCR, MCR_LOOP | MCR_RTS); // modem delta pending too
    for (let i = 0; i < UART_FIFO_SIZE + 1; i++) u.wr(UART_RBR_THR_DLL, i); // overrun
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_RLS);
    u.rd(UART_LSR);
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_RDA);
    while (u.rd(UART_LSR) & LSR_DR) u.rd(UART_RBR_THR_DLL);
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_THRE);
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_MSI);
    u.rd(UART_MSR);
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_NONE);
  });

  it('reports character timeout below the trigger level and RDA at it', () => {
    const u = uart();
    u.wr(UART_IIR_FCR, FCR_ENABLE | 0x80); // trigger level 8
    u.wr(UART_IER_DLM, IER_RDA);
    u.wr(UART_MCR, MCR_OUT2);
    u.dev.receive(Uint8Array.of(1, 2, 3));
    expect(u.irq.level).toBe(true);
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_CHAR_TIMEOUT);
    u.dev.receive(new Uint8Array(5));
    expect(u.rd(UART_IIR_FCR) & 0x0f).toBe(IIR_RDA);
    while (u.rd(UART_LSR) & LSR_DR) u.rd(UART_RBR_THR_DLL);
    expect(u.irq.level).toBe(false);
  });

  it('splits wide accesses into byte accesses and ignores bytes past the 8 registers', () => {
    const u = uart();
    writePort(u.dev, UART_SCR, 0x1234, 2); // 0x34 -> SCR, 0x12 dropped (offset 8)
    expect(u.rd(UART_SCR)).toBe(0x34);
    u.wr(UART_LCR, 0x03);
    expect(readPort(u.dev, UART_LCR, 2) & 0xff).toBe(0x03);
    expect(readPort(u.dev, UART_SCR, 4) >>> 8).toBe(0xffffff); // undecoded bytes stay 0xff
    readPort(u.dev, 100); // a nonsense offset neither throws nor changes state
    expect(u.rd(UART_SCR)).toBe(0x34);
  });
});

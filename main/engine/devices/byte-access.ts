/**
 * Wide accesses to 8-bit ISA devices.
 *
 * The UART, the keyboard controller, the RTC and the PM registers sit on an 8-bit bus: when a
 * guest issues a 16- or 32-bit `in`/`out` to such a port, the chipset splits it into byte
 * cycles at consecutive addresses, lowest byte first (Intel 82371AB PIIX4 datasheet, 3.1.1
 * "ISA bus cycle conversion"). Device models here answer one byte at a time and let these two
 * helpers do the split, so a hostile 4-byte access behaves like four 1-byte ones instead of
 * being misinterpreted. Bytes that fall past the device's own range stay untouched (the bus
 * pre-filled them with 0xff, what an undecoded ISA address reads).
 *
 * Runtime: engine.
 */

/** Fill `data` byte by byte from `readByte(offset + i)` for offsets below `length`. */
export function readBytes(
  offset: number,
  data: Uint8Array,
  length: number,
  readByte: (offset: number) => number,
): void {
  for (let i = 0; i < data.length; i++) {
    const at = offset + i;
    if (at >= 0 && at < length) data[i] = readByte(at) & 0xff;
  }
}

/** Feed each byte of `data` to `writeByte(offset + i, byte)` for offsets below `length`. */
export function writeBytes(
  offset: number,
  data: Uint8Array,
  length: number,
  writeByte: (offset: number, value: number) => void,
): void {
  for (let i = 0; i < data.length; i++) {
    const at = offset + i;
    if (at >= 0 && at < length) writeByte(at, data[i]!);
  }
}

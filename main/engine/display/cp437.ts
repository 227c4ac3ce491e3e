/**
 * Code page 437, the IBM PC character set the VGA BIOS font draws, mapped to Unicode so a text
 * console snapshot can be read as strings (IBM PC Technical Reference, "Character Set"; the
 * 0x00-0x1F and 0x7F glyphs are the PC's graphic symbols, 0x00 and 0xFF shown as spaces).
 *
 * Runtime: any.
 */

/** Unicode for each CP437 byte. */
export const CP437: readonly string[] = Array.from(
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼ !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~⌂ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ ',
);

/** Decode CP437 bytes (e.g. the characters of one text row) to a string. */
export function decodeCp437(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += CP437[bytes[i]! & 0xff]!;
  return s;
}

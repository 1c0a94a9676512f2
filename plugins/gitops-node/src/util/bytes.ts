/**
 * Byte-wise (UTF-8) order, as Go compares strings. JS compares UTF-16 code
 * units, which disagrees only between astral characters (surrogate pairs)
 * and U+E000..U+FFFF; shifting code units as below restores code point
 * order, which is UTF-8 byte order.
 */
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

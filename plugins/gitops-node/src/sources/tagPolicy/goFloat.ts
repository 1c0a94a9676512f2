// Go's strconv.ParseFloat(s, 64), which Flux's numerical policy uses: decimal
// and hexadecimal float syntax with `_` between digits, "inf"/"infinity"
// (signed) and "nan" in any case. Everything else, including surrounding
// spaces, a bare hex integer ("0x1f" needs a p exponent) and values out of
// float64 range, is an error.
const DEC = '[0-9](?:_?[0-9])*';
const HEX = '[0-9a-fA-F](?:_?[0-9a-fA-F])*';
const DECIMAL = new RegExp(
  `^[+-]?(?:${DEC}(?:\\.(?:${DEC})?)?|\\.${DEC})(?:[eE][+-]?${DEC})?$`,
);
const HEXADECIMAL = new RegExp(
  `^([+-]?)0[xX](?:_?(${HEX}))?(?:\\.(${HEX})?)?[pP]([+-]?${DEC})$`,
);
const INFINITY = /^([+-]?)inf(?:inity)?$/i;

/** The float64 Go would parse from `text`, or `undefined` where Go fails. */
export function parseGoFloat(text: string): number | undefined {
  let value: number;
  if (DECIMAL.test(text)) {
    value = Number(text.replace(/_/g, ''));
  } else if (/^nan$/i.test(text)) {
    return NaN;
  } else if (INFINITY.test(text)) {
    return text.startsWith('-') ? -Infinity : Infinity;
  } else {
    const hex = HEXADECIMAL.exec(text);
    if (!hex || (hex[2] === undefined && hex[3] === undefined)) {
      return undefined;
    }
    const [, sign, int = '', frac = '', exp] = hex;
    const digits = `${int}${frac}`.replace(/_/g, '');
    const exponent =
      Number(exp.replace(/_/g, '')) - 4 * frac.replace(/_/g, '').length;
    value = Number(BigInt(`0x${digits}`)) * 2 ** exponent;
    if (sign === '-') value = -value;
  }
  // Go reports a range error (and Flux then fails) where JS says Infinity.
  return Number.isFinite(value) ? value : undefined;
}

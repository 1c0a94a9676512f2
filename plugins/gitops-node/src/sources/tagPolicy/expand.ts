const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/**
 * Compiles an expansion `template` with the rules of Go's `Regexp.Expand`,
 * which Flux uses for `filterTags.extract`: `$$` is a literal `$`; `$name`
 * takes the longest run of letters, digits and `_` (so `$tsfoo` is the group
 * `tsfoo`, not `$ts` + `foo`); `${name}` delimits it; an all-digit name
 * without a leading zero is a group index; a reference to a missing or
 * unmatched group expands to nothing; a malformed reference (`$` then
 * nothing usable, or `${` without `}`) keeps the `$` as text.
 *
 * The template is parsed once; the returned function expands it for one
 * match of the same pattern, given its groups (undefined: unmatched).
 */
export function compileExpansion(
  template: string,
  namedGroups: Record<string, number>,
  groupCount: number,
): (group: (index: number) => string | undefined) => string {
  // Literal text, and group indexes to substitute.
  const parts: Array<string | number> = [];
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    parts.push(rest.slice(0, dollar));
    rest = rest.slice(dollar + 1);
    if (rest.startsWith('$')) {
      parts.push('$');
      rest = rest.slice(1);
      continue;
    }
    const ref = readReference(rest);
    if (!ref) {
      parts.push('$');
      continue;
    }
    rest = rest.slice(ref.length);
    const index = groupIndex(ref.name, namedGroups);
    if (index !== undefined && index <= groupCount) parts.push(index);
  }
  parts.push(rest);
  return group => {
    let out = '';
    for (const part of parts) {
      out += typeof part === 'string' ? part : group(part) ?? '';
    }
    return out;
  };
}

function readReference(
  text: string,
): { name: string; length: number } | undefined {
  const brace = text.startsWith('{');
  let i = brace ? 1 : 0;
  const start = i;
  for (const char of text.slice(start)) {
    if (!NAME_CHAR.test(char)) break;
    i += char.length;
  }
  if (i === start) return undefined;
  const name = text.slice(start, i);
  if (brace) {
    if (text[i] !== '}') return undefined;
    i++;
  }
  return { name, length: i };
}

function groupIndex(
  name: string,
  namedGroups: Record<string, number>,
): number | undefined {
  // Go reads an all-ASCII-digit name as an index unless it has a leading zero
  // (or is absurdly long); anything else is looked up by name.
  if (/^(?:0|[1-9][0-9]{0,8})$/.test(name)) return Number(name);
  return Object.prototype.hasOwnProperty.call(namedGroups, name)
    ? namedGroups[name]
    : undefined;
}

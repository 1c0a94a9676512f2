/**
 * A label selector in the API server's string syntax (`app=web,tier!=db`,
 * `env in (a,b)`, `env notin (c)`, `key`, `!key`) as a predicate on labels,
 * for filtering cached objects as a list with `labelSelector` would.
 * Undefined when the selector is not in that syntax: read it live instead.
 */
export function labelMatcher(
  selector: string,
): ((labels: Record<string, string> | undefined) => boolean) | undefined {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    if (selector[i] === '(') depth++;
    if (selector[i] === ')') depth--;
    if (selector[i] === ',' && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  const tests: Array<(labels: Record<string, string>) => boolean> = [];
  for (const raw of terms) {
    const term = raw.trim();
    if (!term) continue;
    const set = /^([\w./-]+)\s+(in|notin)\s+\(([^()]*)\)$/.exec(term);
    const compare = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    const exists = /^(!?)([\w./-]+)$/.exec(term);
    if (set) {
      const [, key, op, list] = set;
      const values = new Set(list.split(',').map(v => v.trim()));
      tests.push(labels =>
        op === 'in'
          ? key in labels && values.has(labels[key])
          : !(key in labels) || !values.has(labels[key]),
      );
    } else if (compare) {
      const [, key, op, value] = compare;
      tests.push(labels =>
        op === '!=' ? labels[key] !== value : labels[key] === value,
      );
    } else if (exists) {
      const [, not, key] = exists;
      tests.push(labels => key in labels !== Boolean(not));
    } else {
      return undefined;
    }
  }
  return labels => tests.every(test => test(labels ?? {}));
}

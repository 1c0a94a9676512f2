import {
  CST,
  Composer,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  parseDocument,
} from 'yaml';
import type { Document } from 'yaml';
import {
  ImagePolicyChoice,
  ImagePolicyChoices,
  SetterChange,
  SetterField,
  SetterFileChange,
  SetterInputFile,
  SetterObjectRef,
  SettersResult,
  SetterSkippedFile,
  SetterUnresolvedMarker,
} from './types';

/** Files without this literal are never parsed (Flux's cheap pre-filter). */
export const IMAGE_POLICY_MARKER = '$imagepolicy';

const FIELDS: ReadonlySet<string> = new Set(['tag', 'name', 'digest']);

export interface ParsedMarker {
  policy: string;
  field: SetterField;
}

/**
 * Reads a comment such as `# {"$imagepolicy": "default:gitops:tag"}`.
 * Returns undefined for ordinary comments; throws for a comment that is
 * clearly meant as a marker but names no valid policy, so the user hears
 * about the typo instead of the field silently never updating.
 */
export function parseMarker(comment: string): ParsedMarker | undefined {
  const match = /^#\s*(\{.*\})\s*$/.exec(comment);
  if (!match || !match[1].includes(IMAGE_POLICY_MARKER)) {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(match[1]);
  } catch {
    throw new Error(`marker is not valid JSON: ${match[1]}`);
  }
  const ref = (json as Record<string, unknown>)?.[IMAGE_POLICY_MARKER];
  if (typeof ref !== 'string') {
    throw new Error(`marker's "${IMAGE_POLICY_MARKER}" must be a string`);
  }
  const parts = ref.split(':');
  if (
    (parts.length !== 2 && parts.length !== 3) ||
    !parts[0] ||
    !parts[1] ||
    (parts.length === 3 && !FIELDS.has(parts[2]))
  ) {
    throw new Error(
      `marker "${ref}" must be <namespace>:<name> optionally followed by :tag, :name or :digest`,
    );
  }
  return {
    policy: `${parts[0]}:${parts[1]}`,
    field: (parts[2] as SetterField | undefined) ?? 'image',
  };
}

/** The value a marker's field receives; undefined when the result lacks it. */
export function setterValue(
  result: ImagePolicyChoice,
  field: SetterField,
): string | undefined {
  switch (field) {
    case 'tag':
      return result.tag;
    case 'name':
      return result.image;
    case 'digest':
      return result.digest;
    default:
      // As Flux's ImageRef.String(): the digest is only part of the reference
      // when the policy reflects one.
      return `${result.image}:${result.tag}${
        result.digest ? `@${result.digest}` : ''
      }`;
  }
}

type QuotableScalar = CST.FlowScalar & {
  type: 'scalar' | 'single-quoted-scalar' | 'double-quoted-scalar';
};

interface ValueScalar {
  token: QuotableScalar;
  inFlow: boolean;
}

/** Scalars in value position only: a marker after a key never rewrites the key. */
function collectValueScalars(
  token: CST.Token | null | undefined,
  inFlow: boolean,
  out: ValueScalar[],
): void {
  if (!token) return;
  switch (token.type) {
    case 'document':
      collectValueScalars(token.value, false, out);
      break;
    case 'block-map':
    case 'block-seq':
      for (const item of token.items)
        collectValueScalars(item.value, false, out);
      break;
    case 'flow-collection':
      for (const item of token.items)
        collectValueScalars(item.value, true, out);
      break;
    case 'scalar':
    case 'single-quoted-scalar':
    case 'double-quoted-scalar':
      out.push({ token: token as QuotableScalar, inFlow });
      break;
    default:
      break;
  }
}

function collectComments(node: unknown, out: CST.SourceToken[]): void {
  if (Array.isArray(node)) {
    for (const child of node) collectComments(child, out);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const token = node as { type?: string };
  if (token.type === 'comment') {
    out.push(node as CST.SourceToken);
    return;
  }
  for (const value of Object.values(node)) {
    if (value && typeof value === 'object') collectComments(value, out);
  }
}

/**
 * The scalar a marker comment belongs to: the value ending right before it on
 * the same line, allowing only blanks and one flow-sequence comma between.
 */
function scalarBeforeComment(
  text: string,
  comment: CST.SourceToken,
  byEnd: Map<number, ValueScalar>,
): ValueScalar | undefined {
  let i = comment.offset;
  const skipBlanks = () => {
    while (i > 0 && (text[i - 1] === ' ' || text[i - 1] === '\t')) i--;
  };
  skipBlanks();
  if (text[i - 1] === ',') {
    i--;
    skipBlanks();
  }
  return byEnd.get(i);
}

/** How a bare value resolves as a plain scalar in the given context, if it stays one scalar. */
function resolvePlain(
  value: string,
  inFlow: boolean,
): { ok: boolean; resolved?: unknown } {
  if (value === '' || /[\r\n]/.test(value)) return { ok: false };
  const doc = parseDocument(inFlow ? `[${value}]` : `k: ${value}`);
  if (doc.errors.length > 0) return { ok: false };
  const js = doc.toJS() as unknown;
  let resolved: unknown;
  if (!inFlow) resolved = (js as Record<string, unknown> | null)?.k;
  else if (Array.isArray(js) && js.length === 1) resolved = js[0];
  if (resolved === undefined || String(resolved) !== value) {
    // e.g. `a #b` or `a: b`: the value would not survive as this one scalar.
    return { ok: false };
  }
  return { ok: true, resolved };
}

/** The new token source, in the scalar's own quote style whenever that is faithful. */
function renderScalar(scalar: ValueScalar, value: string): string {
  const { token } = scalar;
  if (token.type === 'single-quoted-scalar') {
    return `'${value.replace(/'/g, "''")}'`;
  }
  if (token.type === 'double-quoted-scalar') {
    return JSON.stringify(value);
  }
  const next = resolvePlain(value, scalar.inFlow);
  if (next.ok) {
    if (typeof next.resolved === 'string') return value;
    // `tag: 1.10` would turn a string tag into the number 1.1; keep plain only
    // when the field already held a non-string plain scalar.
    const before = resolvePlain(token.source, scalar.inFlow);
    if (before.ok && typeof before.resolved !== 'string') return value;
  }
  return JSON.stringify(value);
}

function objectOf(doc: Document | undefined): SetterObjectRef {
  if (!doc) return {};
  const str = (path: string[]) => {
    const v = doc.getIn(path);
    return v === undefined || v === null || typeof v === 'object'
      ? undefined
      : String(v);
  };
  const ref: SetterObjectRef = {};
  const apiVersion = str(['apiVersion']);
  const kind = str(['kind']);
  const name = str(['metadata', 'name']);
  const namespace = str(['metadata', 'namespace']);
  if (apiVersion !== undefined) ref.apiVersion = apiVersion;
  if (kind !== undefined) ref.kind = kind;
  if (name !== undefined) ref.name = name;
  if (namespace !== undefined) ref.namespace = namespace;
  return ref;
}

/**
 * The path of the scalar at `offset` inside a document's node, in kyaml's
 * notation: a sequence item that is a map with a `name` reads
 * `[name=<name>]` (so a marker in an Application's component says which
 * component), any other item its index.
 */
function fieldPath(node: unknown, offset: number): string[] | undefined {
  const holds = (n: unknown) => {
    const range = (n as { range?: [number, number, number] } | null)?.range;
    return Boolean(range && range[0] <= offset && offset < range[2]);
  };
  if (isScalar(node)) return node.range?.[0] === offset ? [] : undefined;
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!holds(pair.value)) continue;
      const rest = fieldPath(pair.value, offset);
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      return rest && [String(key), ...rest];
    }
  }
  if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      if (!holds(item)) continue;
      const rest = fieldPath(item, offset);
      const name = isMap(item) ? item.get('name') : undefined;
      const segment =
        typeof name === 'string' ? `[name=${name}]` : String(index);
      return rest && [segment, ...rest];
    }
  }
  return undefined;
}

export interface SetFileResult {
  change?: SetterFileChange;
  skipped?: SetterSkippedFile;
  unresolved: SetterUnresolvedMarker[];
}

/** A marker and the scalar it belongs to. */
interface FoundMarker extends ParsedMarker {
  scalar: ValueScalar;
}

interface MarkedFile {
  markers: FoundMarker[];
  unresolved: SetterUnresolvedMarker[];
  skipped?: SetterSkippedFile;
  docs: Document.Parsed[];
  lineCounter: LineCounter;
}

/** Every marker of one YAML file with the scalar it marks, and the ones that mark none. */
function findMarkers(file: string, content: string): MarkedFile {
  const lineCounter = new LineCounter();
  const found: MarkedFile = {
    markers: [],
    unresolved: [],
    docs: [],
    lineCounter,
  };
  if (!content.includes(IMAGE_POLICY_MARKER)) return found;

  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(content));
  found.docs = Array.from(new Composer().compose(tokens, true, content.length));
  for (const doc of found.docs) {
    const error = doc.errors[0];
    if (error) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      found.skipped = {
        file,
        reason: `YAML does not parse at ${line}:${col}: ${error.message}`,
      };
      return found;
    }
  }

  const scalars: ValueScalar[] = [];
  const comments: CST.SourceToken[] = [];
  for (const token of tokens) {
    collectValueScalars(token, false, scalars);
    collectComments(token, comments);
  }
  const byEnd = new Map(
    scalars.map(s => [s.token.offset + s.token.source.length, s]),
  );

  for (const comment of comments) {
    const { line, col } = lineCounter.linePos(comment.offset);
    let marker: ParsedMarker | undefined;
    try {
      marker = parseMarker(comment.source);
    } catch (e) {
      found.unresolved.push({
        file,
        line,
        policy: '',
        reason: (e as Error).message,
      });
      continue;
    }
    if (!marker) continue;
    const scalar = scalarBeforeComment(content, comment, byEnd);
    if (!scalar) {
      found.unresolved.push({
        file,
        line,
        policy: marker.policy,
        reason: `marker at ${line}:${col} does not follow a scalar value on the same line`,
      });
      continue;
    }
    found.markers.push({ ...marker, scalar });
  }
  return found;
}

const scalarValue = (scalar: ValueScalar) =>
  String(CST.resolveAsScalar(scalar.token).value);

/**
 * What the markers of `policy` hold now, in file then source order: e.g.
 * the `image:tag@digest` a full-reference marker was last set to.
 */
export function markedValues(
  files: Iterable<SetterInputFile>,
  policy: string,
): Array<{ field: SetterField; value: string }> {
  const values: Array<{ field: SetterField; value: string }> = [];
  for (const { file, content } of files) {
    for (const marker of findMarkers(file, content).markers) {
      if (marker.policy === policy)
        values.push({ field: marker.field, value: scalarValue(marker.scalar) });
    }
  }
  return values;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The digest that markers holding these values (see `markedValues`) already
 * wrote for `tag`: a full reference `image:tag@digest`, or a `:digest`
 * marker beside a `:tag` marker that holds `tag`.
 */
export function markedDigest(
  values: Array<{ field: SetterField; value: string }>,
  tag: string,
): string | undefined {
  const holdsTag = values.some(v => v.field === 'tag' && v.value === tag);
  const written = values.map(({ field, value }) => {
    if (field === 'digest') return holdsTag ? value : undefined;
    const [reference, digest] = value.split('@');
    const colon = reference.lastIndexOf(':');
    const referenceTag =
      colon > reference.lastIndexOf('/') ? reference.slice(colon + 1) : '';
    return field === 'image' && referenceTag === tag ? digest : undefined;
  });
  return written.find(d => d !== undefined && DIGEST.test(d));
}

/**
 * Rewrites the marked fields of one YAML file. Only the bytes of each changed
 * scalar are replaced; everything else is copied from the input as is.
 */
export function setFileMarkers(
  file: string,
  content: string,
  policies: ImagePolicyChoices,
): SetFileResult {
  const { markers, unresolved, skipped, docs, lineCounter } = findMarkers(
    file,
    content,
  );
  if (skipped) return { unresolved, skipped };

  const edits: Array<{
    scalar: ValueScalar;
    source: string;
    change: SetterChange;
  }> = [];
  for (const { policy, field, scalar } of markers) {
    const pos = lineCounter.linePos(scalar.token.offset);
    const result = policies[policy];
    if (!result) {
      unresolved.push({
        file,
        line: pos.line,
        policy,
        reason: `no result for image policy ${policy}`,
      });
      continue;
    }
    const newValue = setterValue(result, field);
    if (newValue === undefined) {
      unresolved.push({
        file,
        line: pos.line,
        policy,
        reason: `image policy ${policy} has no digest for a :digest marker`,
      });
      continue;
    }
    const oldValue = scalarValue(scalar);
    if (oldValue === newValue) continue;
    const doc = docs.find(
      d =>
        d.range[0] <= scalar.token.offset && scalar.token.offset < d.range[2],
    );
    edits.push({
      scalar,
      source: renderScalar(scalar, newValue),
      change: {
        file,
        line: pos.line,
        column: pos.col,
        policy,
        field,
        oldValue,
        newValue,
        object: objectOf(doc),
        path: doc ? fieldPath(doc.contents, scalar.token.offset) ?? [] : [],
        result,
      },
    });
  }
  // In source order, whichever stage found them.
  unresolved.sort((a, b) => a.line - b.line);

  if (edits.length === 0) return { unresolved };
  edits.sort((a, b) => a.scalar.token.offset - b.scalar.token.offset);
  let out = '';
  let at = 0;
  for (const edit of edits) {
    out += content.slice(at, edit.scalar.token.offset) + edit.source;
    at = edit.scalar.token.offset + edit.scalar.token.source.length;
  }
  out += content.slice(at);
  return {
    unresolved,
    change: { file, content: out, changes: edits.map(e => e.change) },
  };
}

/**
 * Applies the policies' results to every marker in the given files. Pure:
 * the caller reads and writes the files (see `applySettersToDirectory`).
 */
export function applySetters(
  files: Iterable<SetterInputFile>,
  policies: ImagePolicyChoices,
): SettersResult {
  const result: SettersResult = {
    files: [],
    changes: [],
    skipped: [],
    unresolved: [],
  };
  for (const { file, content } of files) {
    const one = setFileMarkers(file, content, policies);
    result.unresolved.push(...one.unresolved);
    if (one.skipped) result.skipped.push(one.skipped);
    if (one.change) {
      result.files.push(one.change);
      result.changes.push(...one.change.changes);
    }
  }
  return result;
}

/**
 * The image an image policy currently selects, keyed elsewhere by the policy's
 * `<namespace>:<name>`. Only plain data, so the setters never depend on how
 * the policy engine or the registry scanner computed it.
 */
export interface ImagePolicyChoice {
  /** Image name without tag or digest, e.g. `registry.local:5000/team/app`. */
  image: string;
  tag: string;
  /** `sha256:…`, when the policy reflects digests. */
  digest?: string;
}

/** Policy results by `<namespace>:<name>`, the address a marker names. */
export type ImagePolicyChoices = Readonly<Record<string, ImagePolicyChoice>>;

/**
 * Which part of the image a marker receives: the whole reference, or the
 * `:tag`, `:name` or `:digest` suffix forms of the marker.
 */
export type SetterField = 'image' | 'tag' | 'name' | 'digest';

/** The Kubernetes object (YAML document) a changed field belongs to. */
export interface SetterObjectRef {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface SetterChange {
  /** Path of the file, as given by the caller (relative to the component path). */
  file: string;
  /** 1-based line and column of the changed scalar in the original file. */
  line: number;
  column: number;
  /** `<namespace>:<name>` of the policy the marker names. */
  policy: string;
  field: SetterField;
  oldValue: string;
  newValue: string;
  object: SetterObjectRef;
  /**
   * Where the field is inside its object, in kyaml's notation: e.g.
   * `['spec', 'components', '[name=test-server]', 'properties', 'image']`.
   */
  path: string[];
  /** The policy's full result, so callers can report `image:tag` per update. */
  result: ImagePolicyChoice;
}

export interface SetterFileChange {
  file: string;
  /** The rewritten file; identical to the input except the changed scalars. */
  content: string;
  changes: SetterChange[];
}

export interface SetterSkippedFile {
  file: string;
  reason: string;
}

/** A marker that names a policy with no result (yet); the field is left alone. */
export interface SetterUnresolvedMarker {
  file: string;
  line: number;
  policy: string;
  reason: string;
}

export interface SettersResult {
  /** Only files whose content changed, in input order. */
  files: SetterFileChange[];
  /** Every change across all files, in file then source order. */
  changes: SetterChange[];
  skipped: SetterSkippedFile[];
  unresolved: SetterUnresolvedMarker[];
}

export interface SetterInputFile {
  file: string;
  content: string;
}

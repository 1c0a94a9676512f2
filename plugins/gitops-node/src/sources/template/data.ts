import type { ImagePolicyChoice, SetterChange } from '../setters';

/**
 * The data a commit message template sees, shaped like the Go structs that
 * KubeVela (`.Updated`, Flux's v1beta1 `update.Result`) and today's Flux
 * (`.AutomationObject`, `.Changed`, `update.ResultV2`) hand to text/template,
 * so templates written for either run unchanged. Capitalised methods are
 * Go's niladic methods: templates call them as `.Updated.Images`.
 */

export class NamespacedName {
  constructor(readonly Namespace: string, readonly Name: string) {}

  String(): string {
    return `${this.Namespace}/${this.Name}`;
  }

  toString(): string {
    return this.String();
  }
}

/** An updated image; printing it gives `name:tag`, as the seed's template expects. */
export class ImageRef {
  constructor(
    private readonly ref: ImagePolicyChoice,
    private readonly policy: NamespacedName,
  ) {}

  String(): string {
    return `${this.ref.image}:${this.ref.tag}`;
  }

  toString(): string {
    return this.String();
  }

  /** The image name without tag, as written in the policy (registry included). */
  Name(): string {
    return this.ref.image;
  }

  Tag(): string {
    return this.ref.tag;
  }

  /** The tag, or the digest when the policy reflects one. */
  Identifier(): string {
    return this.ref.digest ?? this.ref.tag;
  }

  Registry(): string {
    return splitImageName(this.ref.image).registry;
  }

  Repository(): string {
    return splitImageName(this.ref.image).repository;
  }

  Policy(): NamespacedName {
    return this.policy;
  }
}

/** Docker's rules: the first path part is a registry only if it looks like a host. */
function splitImageName(image: string): {
  registry: string;
  repository: string;
} {
  const slash = image.indexOf('/');
  const head = slash === -1 ? '' : image.slice(0, slash);
  if (
    head &&
    (head.includes('.') || head.includes(':') || head === 'localhost')
  ) {
    return { registry: head, repository: image.slice(slash + 1) };
  }
  return {
    registry: 'index.docker.io',
    repository: slash === -1 ? `library/${image}` : image,
  };
}

/** kyaml's ResourceIdentifier, whose embedded fields Go templates reach as `.Kind`, `.Name`, … */
export class ObjectIdentifier {
  constructor(
    readonly APIVersion: string,
    readonly Kind: string,
    readonly Name: string,
    readonly Namespace: string,
  ) {}

  /** How Go prints the nested struct: `{{apiVersion kind} {name namespace}}`. */
  toString(): string {
    return `{{${this.APIVersion} ${this.Kind}} {${this.Name} ${this.Namespace}}}`;
  }
}

export class Change {
  constructor(
    readonly OldValue: string,
    readonly NewValue: string,
    readonly Setter: string,
  ) {}
}

export class FileResult {
  constructor(readonly Objects: Map<ObjectIdentifier, ImageRef[]>) {}
}

/** KubeVela's `.Updated` (Flux v1beta1 `update.Result`). */
export class UpdateResult {
  constructor(readonly Files: Map<string, FileResult>) {}

  /** Each updated image once, however many fields and files it was written to. */
  Images(): ImageRef[] {
    const seen = new Set<ImageRef>();
    for (const file of this.Files.values()) {
      for (const images of file.Objects.values())
        images.forEach(i => seen.add(i));
    }
    return [...seen];
  }

  Objects(): Map<ObjectIdentifier, ImageRef[]> {
    const out = new Map<ObjectIdentifier, ImageRef[]>();
    for (const file of this.Files.values()) {
      for (const [obj, images] of file.Objects) {
        out.set(obj, [...(out.get(obj) ?? []), ...images]);
      }
    }
    return out;
  }
}

/** Flux's `.Changed` (`update.ResultV2`). */
export class ResultV2 {
  constructor(
    readonly FileChanges: Map<string, Map<ObjectIdentifier, Change[]>>,
  ) {}

  Objects(): Map<ObjectIdentifier, Change[]> {
    const out = new Map<ObjectIdentifier, Change[]>();
    for (const objects of this.FileChanges.values()) {
      for (const [obj, changes] of objects) {
        out.set(obj, [...(out.get(obj) ?? []), ...changes]);
      }
    }
    return out;
  }

  Changes(): Change[] {
    return [...this.Objects().values()].flat();
  }
}

export interface CommitTemplateData {
  AutomationObject: NamespacedName;
  Updated: UpdateResult;
  Changed: ResultV2;
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

/**
 * Builds both data shapes from the setters' changes in one pass, sharing
 * one ImageRef per policy result and one ObjectIdentifier per object, so
 * that `.Updated.Images` lists each image once and map keys compare equal.
 */
export function buildCommitTemplateData(
  changes: readonly SetterChange[],
  automationObject: { namespace: string; name: string },
): CommitTemplateData {
  const refs = new Map<string, ImageRef>();
  const objects = new Map<string, ObjectIdentifier>();
  const files = new Map<string, Map<ObjectIdentifier, ImageRef[]>>();
  const fileChanges = new Map<string, Map<ObjectIdentifier, Change[]>>();

  for (const c of changes) {
    const [namespace, name] = c.policy.split(':');
    const { image, tag, digest } = c.result;
    const ref = getOrAdd(
      refs,
      `${c.policy}\n${image}:${tag}@${digest ?? ''}`,
      () => new ImageRef(c.result, new NamespacedName(namespace, name)),
    );
    const o = c.object;
    const obj = getOrAdd(
      objects,
      [o.apiVersion, o.kind, o.name, o.namespace].join('\n'),
      () =>
        new ObjectIdentifier(
          o.apiVersion ?? '',
          o.kind ?? '',
          o.name ?? '',
          o.namespace ?? '',
        ),
    );
    const images = getOrAdd(
      getOrAdd(files, c.file, () => new Map()),
      obj,
      () => [],
    );
    if (!images.includes(ref)) images.push(ref);
    const setter = c.field === 'image' ? c.policy : `${c.policy}:${c.field}`;
    getOrAdd(
      getOrAdd(fileChanges, c.file, () => new Map()),
      obj,
      () => [],
    ).push(new Change(c.oldValue, c.newValue, setter));
  }

  const fileResults = new Map<string, FileResult>();
  for (const [file, objs] of files) fileResults.set(file, new FileResult(objs));
  return {
    AutomationObject: new NamespacedName(
      automationObject.namespace,
      automationObject.name,
    ),
    Updated: new UpdateResult(fileResults),
    Changed: new ResultV2(fileChanges),
  };
}

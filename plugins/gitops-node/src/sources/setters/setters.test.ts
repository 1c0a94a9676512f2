import {
  applySetters,
  markedDigest,
  markedValues,
  parseMarker,
  setFileMarkers,
} from './setters';
import { ImagePolicyChoices, SetterField } from './types';

const D = `sha256:${'d'.repeat(64)}`;

const policies: ImagePolicyChoices = {
  'default:gitops': {
    image: 'registry.local/team/app',
    tag: 'master-abc123-1700000001',
  },
  'default:other': {
    image: 'registry.local/other',
    tag: '1.10',
    digest: 'sha256:0123456789abcdef',
  },
  'default:num': { image: 'registry.local/num', tag: '2.5' },
};

/** Rewrites `input` and returns the output; the table below spells out exact bytes. */
function rewrite(input: string): string {
  const result = setFileMarkers('app.yaml', input, policies);
  expect(result.skipped).toBeUndefined();
  return result.change?.content ?? input;
}

describe('setters', () => {
  it.each([
    [
      'the seed marker on a plain block value',
      'image: <your image> # {"$imagepolicy": "default:gitops"}\n',
      'image: registry.local/team/app:master-abc123-1700000001 # {"$imagepolicy": "default:gitops"}\n',
    ],
    [
      'double quotes stay double quotes',
      'image: "old:1"   # {"$imagepolicy": "default:gitops"}\n',
      'image: "registry.local/team/app:master-abc123-1700000001"   # {"$imagepolicy": "default:gitops"}\n',
    ],
    [
      'single quotes stay single quotes',
      'image: \'old:1\' # {"$imagepolicy": "default:gitops"}\n',
      'image: \'registry.local/team/app:master-abc123-1700000001\' # {"$imagepolicy": "default:gitops"}\n',
    ],
    [
      ':tag, :name and :digest forms',
      [
        'image:',
        '  repository: old # {"$imagepolicy": "default:other:name"}',
        '  tag: "0.9" # {"$imagepolicy": "default:other:tag"}',
        '  digest: sha256:aaa # {"$imagepolicy": "default:other:digest"}',
        '',
      ].join('\n'),
      [
        'image:',
        '  repository: registry.local/other # {"$imagepolicy": "default:other:name"}',
        '  tag: "1.10" # {"$imagepolicy": "default:other:tag"}',
        '  digest: sha256:0123456789abcdef # {"$imagepolicy": "default:other:digest"}',
        '',
      ].join('\n'),
    ],
    [
      'a string tag is quoted rather than turned into the number 1.1',
      'tag: v0.9 # {"$imagepolicy": "default:other:tag"}\n',
      'tag: "1.10" # {"$imagepolicy": "default:other:tag"}\n',
    ],
    [
      'a numeric plain tag stays plain, as the user wrote it',
      'tag: 0.9 # {"$imagepolicy": "default:num:tag"}\n',
      'tag: 2.5 # {"$imagepolicy": "default:num:tag"}\n',
    ],
    [
      'but is quoted when plain would read back as another number',
      'tag: 0.9 # {"$imagepolicy": "default:other:tag"}\n',
      'tag: "1.10" # {"$imagepolicy": "default:other:tag"}\n',
    ],
    [
      'the full form carries the digest when the policy reflects one',
      'image: x # {"$imagepolicy": "default:other"}\n',
      'image: registry.local/other:1.10@sha256:0123456789abcdef # {"$imagepolicy": "default:other"}\n',
    ],
    [
      'list items, comments, blank lines and key order are untouched',
      [
        '# leading comment',
        'containers:',
        '  - name: app',
        '    image: old:1 # {"$imagepolicy": "default:gitops"}',
        '',
        '    # a comment between',
        '    args: [a,  b]   # spacing kept',
        '  - old:2 # {"$imagepolicy": "default:gitops"}',
        'z: 1',
        'a: 2',
        '',
      ].join('\n'),
      [
        '# leading comment',
        'containers:',
        '  - name: app',
        '    image: registry.local/team/app:master-abc123-1700000001 # {"$imagepolicy": "default:gitops"}',
        '',
        '    # a comment between',
        '    args: [a,  b]   # spacing kept',
        '  - registry.local/team/app:master-abc123-1700000001 # {"$imagepolicy": "default:gitops"}',
        'z: 1',
        'a: 2',
        '',
      ].join('\n'),
    ],
    [
      'flow collections: a map value and a sequence item followed by a comma',
      [
        'spec: {image: old:1} # {"$imagepolicy": "default:gitops"}',
        'images: [',
        '  "old:1", # {"$imagepolicy": "default:gitops"}',
        '  keep:1,',
        ']',
        '',
      ].join('\n'),
      [
        'spec: {image: old:1} # {"$imagepolicy": "default:gitops"}',
        'images: [',
        '  "registry.local/team/app:master-abc123-1700000001", # {"$imagepolicy": "default:gitops"}',
        '  keep:1,',
        ']',
        '',
      ].join('\n'),
    ],
    [
      'a flow map whose value is followed by the marker inside the braces',
      'spec: {image: old:1, # {"$imagepolicy": "default:gitops"}\n  x: y}\n',
      'spec: {image: registry.local/team/app:master-abc123-1700000001, # {"$imagepolicy": "default:gitops"}\n  x: y}\n',
    ],
    [
      'multi-document files: only the marked document changes, separators stay',
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: cm}',
        'data: {image: "old:0"}',
        '---',
        '# second document',
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: web',
        '  namespace: prod',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        '        - image: old:1 # {"$imagepolicy": "default:gitops"}',
        '...',
        '',
      ].join('\n'),
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: cm}',
        'data: {image: "old:0"}',
        '---',
        '# second document',
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: web',
        '  namespace: prod',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        '        - image: registry.local/team/app:master-abc123-1700000001 # {"$imagepolicy": "default:gitops"}',
        '...',
        '',
      ].join('\n'),
    ],
    [
      'CRLF line endings and no final newline',
      'a: 1\r\nimage: old # {"$imagepolicy": "default:gitops"}\r\nb: 2',
      'a: 1\r\nimage: registry.local/team/app:master-abc123-1700000001 # {"$imagepolicy": "default:gitops"}\r\nb: 2',
    ],
    [
      'a marker after a key with no value on its line changes nothing',
      'image: # {"$imagepolicy": "default:gitops"}\n  old:1\n',
      'image: # {"$imagepolicy": "default:gitops"}\n  old:1\n',
    ],
    [
      'a marker on its own line changes nothing',
      'image: old:1\n# {"$imagepolicy": "default:gitops"}\n',
      'image: old:1\n# {"$imagepolicy": "default:gitops"}\n',
    ],
  ])('%s', (_name, input, expected) => {
    expect(rewrite(input)).toBe(expected);
  });

  it('reports each change with old and new value, position and object', () => {
    const input = [
      'apiVersion: core.oam.dev/v1beta1',
      'kind: Application',
      'metadata:',
      '  name: first-vela-workflow',
      '  namespace: default',
      'spec:',
      '  components:',
      '    - name: test-server',
      '      type: webservice',
      '      properties:',
      '        # replace the imagepolicy `default:gitops` with your policy later',
      '        image: <your image> # {"$imagepolicy": "default:gitops"}',
      '        port: 8088',
      '',
    ].join('\n');
    const result = applySetters(
      [
        { file: 'app.yaml', content: input },
        { file: 'plain.yaml', content: 'a: 1\n' },
      ],
      policies,
    );
    expect(result.files.map(f => f.file)).toEqual(['app.yaml']);
    expect(result.changes).toEqual([
      {
        file: 'app.yaml',
        line: 12,
        column: 16,
        policy: 'default:gitops',
        field: 'image',
        oldValue: '<your image>',
        newValue: 'registry.local/team/app:master-abc123-1700000001',
        object: {
          apiVersion: 'core.oam.dev/v1beta1',
          kind: 'Application',
          name: 'first-vela-workflow',
          namespace: 'default',
        },
        path: [
          'spec',
          'components',
          '[name=test-server]',
          'properties',
          'image',
        ],
        result: policies['default:gitops'],
      },
    ]);
  });

  it('says where each changed field sits in its object, naming list items by their name', () => {
    const input = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: web}',
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      '        - name: web',
      '          image: old # {"$imagepolicy": "default:gitops"}',
      'images:',
      '  - old # {"$imagepolicy": "default:gitops:tag"}',
      '',
    ].join('\n');
    const result = applySetters([{ file: 'd.yaml', content: input }], policies);
    expect(result.changes.map(c => c.path)).toEqual([
      ['spec', 'template', 'spec', 'containers', '[name=web]', 'image'],
      ['images', '0'],
    ]);
  });

  it('makes no change when the field already holds the selected image', () => {
    const input =
      'image: registry.local/team/app:master-abc123-1700000001 # {"$imagepolicy": "default:gitops"}\n';
    const result = applySetters([{ file: 'a.yaml', content: input }], policies);
    expect(result.files).toEqual([]);
    expect(result.changes).toEqual([]);
  });

  it('skips a file that does not parse, and never rewrites it', () => {
    const input =
      'image: old # {"$imagepolicy": "default:gitops"}\n  bad: [unclosed\n';
    const result = applySetters(
      [{ file: 'bad.yaml', content: input }],
      policies,
    );
    expect(result.files).toEqual([]);
    expect(result.skipped).toHaveLength(1);
    expect(result.skipped[0].file).toBe('bad.yaml');
    expect(result.skipped[0].reason).toMatch(
      /^YAML does not parse at \d+:\d+: /,
    );
  });

  it('reports markers for unknown policies and malformed markers, leaving them alone', () => {
    const input = [
      'a: old # {"$imagepolicy": "default:missing"}',
      'b: old # {"$imagepolicy": "default"}',
      'c: old # {"$imagepolicy": "default:gitops"}',
      '',
    ].join('\n');
    const result = applySetters([{ file: 'a.yaml', content: input }], policies);
    expect(result.unresolved.map(u => [u.line, u.reason])).toEqual([
      [1, 'no result for image policy default:missing'],
      [
        2,
        'marker "default" must be <namespace>:<name> optionally followed by :tag, :name or :digest',
      ],
    ]);
    expect(result.files[0].content).toBe(
      input.replace(
        'c: old',
        'c: registry.local/team/app:master-abc123-1700000001',
      ),
    );
  });

  it('reads what the markers of one policy hold now, in file and source order', () => {
    const files = [
      {
        file: 'a.yaml',
        content: [
          'image: "reg/app:1.0@sha256:aaa" # {"$imagepolicy": "default:gitops"}',
          'other: reg/other:2 # {"$imagepolicy": "default:other"}',
          '',
        ].join('\n'),
      },
      {
        file: 'b.yaml',
        content: [
          'tag: 1.0 # {"$imagepolicy": "default:gitops:tag"}',
          'digest: sha256:aaa # {"$imagepolicy": "default:gitops:digest"}',
          '',
        ].join('\n'),
      },
      {
        file: 'broken.yaml',
        content: 'a: [x # {"$imagepolicy": "default:gitops"}\n',
      },
    ];
    expect(markedValues(files, 'default:gitops')).toEqual([
      { field: 'image', value: 'reg/app:1.0@sha256:aaa' },
      { field: 'tag', value: '1.0' },
      { field: 'digest', value: 'sha256:aaa' },
    ]);
  });

  it.each<
    [
      string,
      Array<{ field: SetterField; value: string }>,
      string,
      string | undefined,
    ]
  >([
    [
      'a full reference with the tag',
      [{ field: 'image', value: `reg/app:1.0@${D}` }],
      '1.0',
      D,
    ],
    [
      'a full reference with another tag',
      [{ field: 'image', value: `reg/app:1.0@${D}` }],
      '1.1',
      undefined,
    ],
    [
      'a full reference without a digest',
      [{ field: 'image', value: 'reg/app:1.0' }],
      '1.0',
      undefined,
    ],
    [
      'a registry port is no tag',
      [{ field: 'image', value: `reg:5000/app@${D}` }],
      '5000',
      undefined,
    ],
    [
      'a :digest marker beside a :tag marker holding the tag',
      [
        { field: 'tag', value: '1.0' },
        { field: 'digest', value: D },
      ],
      '1.0',
      D,
    ],
    [
      'a :digest marker beside a :tag marker holding another tag',
      [
        { field: 'tag', value: '0.9' },
        { field: 'digest', value: D },
      ],
      '1.0',
      undefined,
    ],
    [
      'something that is not a digest',
      [{ field: 'image', value: 'reg/app:1.0@sha256:short' }],
      '1.0',
      undefined,
    ],
  ])('the digest written for a tag: %s', (_why, values, tag, digest) => {
    expect(markedDigest(values, tag)).toBe(digest);
  });

  it('never parses files without the literal marker', () => {
    const result = applySetters(
      [{ file: 'broken.yaml', content: 'a: [unclosed\n' }],
      policies,
    );
    expect(result.skipped).toEqual([]);
  });

  it.each([
    ['# {"$imagepolicy": "ns:name"}', { policy: 'ns:name', field: 'image' }],
    ['#{"$imagepolicy":"ns:name:tag"}', { policy: 'ns:name', field: 'tag' }],
    [
      '# {"$imagepolicy": "ns:name:digest"}  ',
      { policy: 'ns:name', field: 'digest' },
    ],
    ['# just a comment', undefined],
    ['# {"other": "x"}', undefined],
  ])('parses the marker %s', (comment, expected) => {
    expect(parseMarker(comment)).toEqual(expected);
  });
});

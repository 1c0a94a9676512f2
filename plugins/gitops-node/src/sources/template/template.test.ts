import { applySetters } from '../setters';
import {
  TemplateError,
  buildCommitTemplateData,
  renderCommitMessage,
  renderTemplate,
} from '.';

const data = {
  Name: 'app',
  Count: 3,
  Zero: 0,
  Empty: '',
  Flag: true,
  List: ['a', 'b', 'c'],
  None: [] as string[],
  Labels: new Map<string, unknown>([
    ['tier', 'web'],
    ['app', 'shop'],
  ]),
  Nested: { Inner: { Value: 'deep' } },
  Pi: 3.5,
};

describe('Go text/template', () => {
  it.each([
    ['text only', 'hello', 'hello'],
    ['field', '{{.Name}}', 'app'],
    ['nested fields', '{{.Nested.Inner.Value}}', 'deep'],
    ['dot', '{{.Count}}-{{.Flag}}', '3-true'],
    ['root variable', '{{with .Nested}}{{$.Name}}{{end}}', 'app'],
    ['map key as field', '{{.Labels.tier}}', 'web'],
    ['missing map key prints <no value>', '{{.Labels.nope}}', '<no value>'],
    ['range over a slice', '{{range .List}}[{{.}}]{{end}}', '[a][b][c]'],
    [
      'range with index and value',
      '{{range $i, $v := .List}}{{$i}}={{$v}} {{end}}',
      '0=a 1=b 2=c ',
    ],
    [
      'range over a map is sorted by key',
      '{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}',
      'app:shop;tier:web;',
    ],
    ['range else', '{{range .None}}x{{else}}empty{{end}}', 'empty'],
    ['range over an integer', '{{range 3}}{{.}}{{end}}', '012'],
    [
      'break and continue',
      '{{range .List}}{{if eq . "b"}}{{continue}}{{end}}{{if eq . "c"}}{{break}}{{end}}{{.}}{{end}}',
      'a',
    ],
    [
      'if/else if/else',
      '{{if .Zero}}z{{else if .Empty}}e{{else if .Flag}}f{{else}}n{{end}}',
      'f',
    ],
    [
      'with/else',
      '{{with .Empty}}x{{else}}none{{end}}{{with .Name}}<{{.}}>{{end}}',
      'none<app>',
    ],
    ['variables and assignment', '{{$x := 1}}{{$x = 2}}{{$x}}', '2'],
    [
      'pipelines feed the last argument',
      '{{.Name | printf "%s-%d" "x" | printf "<%s>"}}',
      '<x-%!d(string=app)>',
    ],
    [
      'printf verbs',
      '{{printf "%s %d %v %q %5.2f %-4s| %x %t %%" "s" 42 .List "q" .Pi "ab" 255 true}}',
      's 42 [a b c] "q"  3.50 ab  | ff true %',
    ],
    ['printf with a wrong verb', '{{printf "%d" "x"}}', '%!d(string=x)'],
    ['printf with extra args', '{{printf "%s" "a" 1}}', 'a%!(EXTRA int=1)'],
    ['print spaces non-string operands', '{{print 1 2 "a" 3 "b"}}', '1 2a3b'],
    ['println', '{{println "a" 1}}', 'a 1\n'],
    [
      'len and index',
      '{{len .List}} {{index .List 1}} {{index .Labels "app"}} {{len "héllo"}}',
      '3 b shop 6',
    ],
    [
      'slice',
      '{{slice "abcdef" 1 3}} {{slice .List 1}} {{slice .List}} {{slice .List 0 1 2}}',
      'bc [b c] [a b c] [a]',
    ],
    [
      'and/or/not',
      '{{and 1 0 2}} {{or 0 "" "x"}} {{not .Flag}} {{and .Flag .Name}}',
      '0 x false app',
    ],
    ['and short-circuits', '{{and false (index .List 99)}}', 'false'],
    [
      'comparisons',
      '{{eq 1 1}} {{eq "a" "b" "a"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}',
      'true true true true true true false',
    ],
    [
      'parenthesised pipeline',
      '{{(printf "%s" .Name)}} {{len (index .Labels "tier" | printf "%v")}}',
      'app 3',
    ],
    ['trim markers', 'a  {{- .Name -}}  \n b', 'aappb'],
    ['a dash without space is a number', '{{-3}}', '-3'],
    ['comments vanish', 'x{{/* a comment */}}y {{- /* trimmed */ -}} z', 'xyz'],
    ['raw strings and escapes', '{{`a\\n`}}|{{"tab\\tq\\""}}', 'a\\n|tab\tq"'],
    [
      'printing a slice and a struct',
      '{{.List}} {{.Nested}}',
      '[a b c] {{deep}}',
    ],
    [
      'booleans and nil as an argument',
      '{{if not .Empty}}y{{end}}{{true}} {{printf "%v" nil}}',
      'ytrue <nil>',
    ],
  ])('%s', (_name, source, expected) => {
    expect(renderTemplate(source, data)).toBe(expected);
  });

  it.each([
    ['{{.Name', 'template: t:1:1: unclosed action'],
    ['{{if .Flag}}x', 'template: t:1:3: unexpected EOF: {{if}} has no {{end}}'],
    ['a\n{{end}}', 'template: t:2:1: unexpected {{end}}'],
    [
      'line one\n  {{nofunc .Name}}',
      'template: t:2:5: function "nofunc" not defined',
    ],
    ['{{$x}}', 'template: t:1:3: undefined variable "$x"'],
    [
      '{{.Name }}\n{{ .Missing }}',
      'template: t:2:4: executing "t" at <.Missing>: can\'t evaluate field Missing in type struct',
    ],
    [
      '{{index .List 7}}',
      'template: t:1:3: executing "t" at <index .List 7>: error calling index: index out of range: 7',
    ],
    [
      '{{eq 1 "a"}}',
      'template: t:1:3: executing "t" at <eq 1 "a">: error calling eq: incompatible types for comparison: int and string',
    ],
    [
      '{{slice .List 2 1}}',
      'template: t:1:3: executing "t" at <slice .List 2 1>: error calling slice: invalid slice index: 2 > 1',
    ],
    ['{{break}}', 'template: t:1:3: {{break}} outside {{range}}'],
    [
      '{{define "x"}}{{end}}',
      'template: t:1:3: {{define}} is not supported in commit message templates',
    ],
    [
      '{{.Name 1}}',
      'template: t:1:3: executing "t" at <.Name>: Name has arguments but cannot be invoked as function',
    ],
    ['{{"unterminated}}', 'template: t:1:3: unterminated quoted string'],
  ])('reports %j with its position', (source, message) => {
    let error: unknown;
    try {
      renderTemplate(source, data, 't');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateError);
    expect((error as Error).message).toBe(message);
  });

  it('keeps JavaScript internals out of reach', () => {
    expect(() => renderTemplate('{{.constructor}}', data)).toThrow(
      /can't evaluate field constructor/,
    );
  });

  it('stops a runaway template', () => {
    expect(() => renderTemplate('{{range 100000000}}{{end}}', data)).toThrow(
      /execution budget/,
    );
  });
});

describe('commit message templates', () => {
  const app = [
    'apiVersion: core.oam.dev/v1beta1',
    'kind: Application',
    'metadata: {name: first-vela-workflow, namespace: default}',
    'spec:',
    '  components:',
    '    - name: test-server',
    '      properties:',
    '        image: <your image> # {"$imagepolicy": "default:gitops"}',
    '    - name: worker',
    '      properties:',
    '        image: old # {"$imagepolicy": "default:worker"}',
    '        sidecar: old # {"$imagepolicy": "default:gitops"}',
    '',
  ].join('\n');
  const values =
    'image:\n  tag: "1" # {"$imagepolicy": "default:gitops:tag"}\n';
  const setters = applySetters(
    [
      { file: 'app.yaml', content: app },
      { file: 'values.yaml', content: values },
    ],
    {
      'default:gitops': {
        image: 'registry.local/gitops',
        tag: 'master-a1b2c3-1700000002',
      },
      'default:worker': { image: 'registry.local/worker', tag: '2.0.0' },
    },
  );
  const commitData = buildCommitTemplateData(setters.changes, {
    namespace: 'default',
    name: 'gitops',
  });

  it("renders the seed's template as exactly one line per updated image", () => {
    const message = renderCommitMessage(
      '{{range .Updated.Images}}{{println .}}{{end}}',
      commitData,
    );
    expect(message).toBe(
      [
        'Update image automatically.',
        'registry.local/gitops:master-a1b2c3-1700000002',
        'registry.local/worker:2.0.0',
        '',
      ].join('\n'),
    );
  });

  it("renders the seed's Application field with its own prefix", () => {
    expect(
      renderCommitMessage(
        'Image: {{range .Updated.Images}}{{println .}}{{end}}',
        commitData,
      ),
    ).toBe(
      'Update image automatically.\nImage: registry.local/gitops:master-a1b2c3-1700000002\nregistry.local/worker:2.0.0\n',
    );
  });

  it('without a template the message is the prefix alone', () => {
    expect(renderCommitMessage(undefined, commitData)).toBe(
      'Update image automatically.',
    );
  });

  it('offers Files and Objects as KubeVela did', () => {
    const message = renderCommitMessage(
      [
        '{{range $file, $r := .Updated.Files}}{{$file}}:',
        '{{range $obj, $imgs := $r.Objects}}- {{$obj.Kind}} {{$obj.Name}}: {{range $imgs}}{{.Name}} {{.Tag}};{{end}}',
        '{{end}}{{end}}',
        '{{- len .Updated.Objects}} objects',
      ].join('\n'),
      commitData,
    );
    expect(message).toBe(
      [
        'Update image automatically.',
        'app.yaml:',
        '- Application first-vela-workflow: registry.local/gitops master-a1b2c3-1700000002;registry.local/worker 2.0.0;',
        'values.yaml:',
        '-  : registry.local/gitops master-a1b2c3-1700000002;',
        '2 objects',
      ].join('\n'),
    );
  });

  it("accepts Flux's template data", () => {
    const message = renderCommitMessage(
      [
        'Automation: {{ .AutomationObject }}',
        '{{ range $filename, $objects := .Changed.FileChanges -}}',
        '- File: {{ $filename }}',
        '{{- range $resource, $changes := $objects }}',
        '  - Object: {{ $resource.Kind }}/{{ $resource.Name }}',
        '    Changes:',
        '{{- range $_, $change := $changes }}',
        '    - {{ $change.OldValue }} -> {{ $change.NewValue }}',
        '{{ end -}}',
        '{{ end -}}',
        '{{ end -}}',
        '{{ len .Changed.Changes }} changes',
      ].join('\n'),
      commitData,
    );
    expect(message).toBe(
      [
        'Update image automatically.',
        'Automation: default/gitops',
        '- File: app.yaml',
        '  - Object: Application/first-vela-workflow',
        '    Changes:',
        '    - <your image> -> registry.local/gitops:master-a1b2c3-1700000002',
        '',
        '    - old -> registry.local/worker:2.0.0',
        '',
        '    - old -> registry.local/gitops:master-a1b2c3-1700000002',
        '- File: values.yaml',
        '  - Object: /',
        '    Changes:',
        '    - 1 -> master-a1b2c3-1700000002',
        '4 changes',
      ].join('\n'),
    );
  });

  it("reports errors at the user's line, not the prefix's", () => {
    expect(() =>
      renderCommitMessage('ok\n{{range .Updated.Image}}{{end}}', commitData),
    ).toThrow(
      'template: commitMessage:2:9: executing "commitMessage" at <.Updated.Image>: can\'t evaluate field Image in type UpdateResult',
    );
  });
});

import type { ClusterConnectionConfig } from '../clusters';
import { parseApplication } from '../render/parse';
import type {
  ApplicationComponent,
  ApplicationPolicy,
} from '../model/types';
import {
  applyOverrides,
  deployPolicies,
  mergePatch,
  resolveTopology,
} from './oamPolicies';

const clusters: ClusterConnectionConfig[] = [
  { name: 'local', url: 'https://127.0.0.1:1' },
  {
    name: 'staging',
    url: 'https://127.0.0.1:2',
    labels: { env: 'staging', region: 'eu' },
  },
  {
    name: 'prod-eu',
    url: 'https://127.0.0.1:3',
    labels: { env: 'prod', region: 'eu' },
  },
  {
    name: 'prod-us',
    url: 'https://127.0.0.1:4',
    labels: { env: 'prod', region: 'us' },
  },
];
const topology = (
  name: string,
  properties: Record<string, unknown>,
): ApplicationPolicy => ({
  name,
  type: 'topology',
  properties,
});
const targetsOf = (policies: ApplicationPolicy[]) =>
  resolveTopology(policies, clusters, 'local').map(t => [
    t.cluster.name,
    t.namespace ?? '',
    t.policy ?? '',
  ]);

describe('resolveTopology', () => {
  it.each([
    ['no policy: the local cluster', [], [['local', '', '']]],
    [
      'by name',
      [topology('p', { clusters: ['prod-us', 'staging'] })],
      [
        ['prod-us', '', 'p'],
        ['staging', '', 'p'],
      ],
    ],
    [
      'by labels (all must match)',
      [topology('p', { clusterLabelSelector: { env: 'prod', region: 'eu' } })],
      [['prod-eu', '', 'p']],
    ],
    [
      "by KubeVela's older clusterSelector",
      [topology('p', { clusterSelector: { env: 'prod' } })],
      [
        ['prod-eu', '', 'p'],
        ['prod-us', '', 'p'],
      ],
    ],
    [
      'an empty selector: every cluster',
      [topology('p', { clusterLabelSelector: {} })],
      clusters.map(c => [c.name, '', 'p']),
    ],
    [
      'with a namespace',
      [topology('p', { clusters: ['staging'], namespace: 'team-a' })],
      [['staging', 'team-a', 'p']],
    ],
    [
      'several policies, a cluster chosen twice counts once',
      [
        topology('a', { clusters: ['staging'] }),
        topology('b', { clusterLabelSelector: { region: 'eu' } }),
      ],
      [
        ['staging', '', 'a'],
        ['prod-eu', '', 'b'],
      ],
    ],
  ])('%s', (_title, policies, expected) => {
    expect(targetsOf(policies as ApplicationPolicy[])).toEqual(expected);
  });

  it.each([
    [
      topology('prod', { clusters: ['prod'] }),
      /topology policy "prod" names cluster "prod", which is not configured \(clusters: local, staging, prod-eu, prod-us\)/,
    ],
    [
      topology('gpu', { clusterLabelSelector: { gpu: 'yes' } }),
      /topology policy "gpu" selects no cluster/,
    ],
    [
      topology('empty', {}),
      /topology policy "empty" needs "clusters" or "clusterLabelSelector"/,
    ],
    [topology('typo', { cluster: ['staging'] }), /cluster/],
  ])('refuses %o', (policy, error) => {
    expect(() => resolveTopology([policy], clusters, 'local')).toThrow(error);
  });

  it('allowEmpty lets a selector match nothing', () => {
    expect(
      targetsOf([
        topology('gpu', {
          clusterLabelSelector: { gpu: 'yes' },
          allowEmpty: true,
        }),
      ]),
    ).toEqual([]);
  });
});

describe('mergePatch', () => {
  it.each([
    [{ a: 1, b: { c: 2, d: 3 } }, { b: { c: 9 } }, { a: 1, b: { c: 9, d: 3 } }],
    [{ a: 1, b: 2 }, { b: null }, { a: 1 }],
    [{ list: [1, 2, 3] }, { list: [4] }, { list: [4] }],
    [{ a: { b: 1 } }, { a: 'flat' }, { a: 'flat' }],
    [{}, { new: { deep: true } }, { new: { deep: true } }],
  ])('%j + %j = %j', (base, patch, expected) => {
    const before = JSON.stringify(base);
    expect(mergePatch(base, patch)).toEqual(expected);
    expect(JSON.stringify(base)).toBe(before);
  });
});

describe('applyOverrides', () => {
  const app = parseApplication({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'shop' },
    spec: {
      components: [
        {
          name: 'web',
          type: 'webservice',
          properties: {
            image: 'shop:1',
            port: 80,
            env: [{ name: 'STAGE', value: 'dev' }],
          },
          traits: [
            { type: 'scaler', properties: { replicas: 1 } },
            { type: 'labels', properties: { team: 'a' } },
          ],
        },
        { name: 'jobs', type: 'worker', properties: { image: 'jobs:1' } },
      ],
    },
  });
  const override = (
    properties: Record<string, unknown>,
  ): ApplicationPolicy => ({
    name: 'prod',
    type: 'override',
    properties,
  });
  const web = (components: ApplicationComponent[]) =>
    components.find(c => c.name === 'web')!;

  it('merges properties into the named component only', () => {
    const out = applyOverrides(app.spec.components, [
      override({
        components: [
          {
            name: 'web',
            properties: {
              image: 'shop:2',
              env: [{ name: 'STAGE', value: 'prod' }],
            },
          },
        ],
      }),
    ]);
    expect(web(out).properties).toEqual({
      image: 'shop:2',
      port: 80,
      env: [{ name: 'STAGE', value: 'prod' }],
    });
    expect(out[1].properties).toEqual({ image: 'jobs:1' });
    expect(app.spec.components[0].properties.image).toBe('shop:1');
  });

  it('replaces, adds and disables traits', () => {
    const out = applyOverrides(app.spec.components, [
      override({
        components: [
          {
            name: 'web',
            traits: [
              { type: 'scaler', properties: { replicas: 5 } },
              { type: 'labels', disable: true },
              { type: 'annotations', properties: { owner: 'ops' } },
            ],
          },
        ],
      }),
    ]);
    expect(web(out).traits).toEqual([
      { type: 'scaler', properties: { replicas: 5 } },
      { type: 'annotations', properties: { owner: 'ops' } },
    ]);
  });

  it('matches by type, or every component when the entry names neither', () => {
    const byType = applyOverrides(app.spec.components, [
      override({
        components: [{ type: 'worker', properties: { image: 'jobs:2' } }],
      }),
    ]);
    expect(byType.map(c => c.properties.image)).toEqual(['shop:1', 'jobs:2']);
    const all = applyOverrides(app.spec.components, [
      override({
        components: [
          { traits: [{ type: 'labels', properties: { tier: 'gold' } }] },
        ],
      }),
    ]);
    expect(
      all.map(c => c.traits.find(t => t.type === 'labels')?.properties),
    ).toEqual([{ team: 'a', tier: 'gold' }, { tier: 'gold' }]);
  });

  it('selector keeps only the listed components; later policies apply on top', () => {
    const out = applyOverrides(app.spec.components, [
      override({ selector: ['web'] }),
      {
        name: 'second',
        type: 'override',
        properties: {
          components: [{ name: 'web', properties: { port: 8080 } }],
        },
      },
    ]);
    expect(out.map(c => [c.name, c.properties.port])).toEqual([['web', 8080]]);
  });

  it.each([
    [
      { components: [{ name: 'ghost', properties: {} }] },
      /patches component "ghost", which the Application does not have/,
    ],
    [{ selector: ['ghost'] }, /selects component "ghost"/],
    [
      { components: [{ name: 'web', properties: { port: 'eighty' } }] },
      /override policy "prod" on component "web": properties\.port/,
    ],
    [
      { components: [{ name: 'web', traits: [{ type: 'teleport' }] }] },
      /unknown trait "teleport"/,
    ],
    [
      {
        components: [
          { name: 'web', traits: [{ type: 'scaler', disable: 'yes' }] },
        ],
      },
      /disable: must be true or false/,
    ],
  ])('refuses %j', (properties, error) => {
    expect(() =>
      applyOverrides(app.spec.components, [override(properties)]),
    ).toThrow(error);
  });
});

describe('deployPolicies', () => {
  const app = parseApplication({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'shop' },
    spec: {
      components: [
        { name: 'web', type: 'webservice', properties: { image: 'x' } },
      ],
      policies: [
        { name: 'prod', type: 'topology', properties: { clusters: ['prod'] } },
        { name: 'patch', type: 'override', properties: {} },
        { name: 'gc', type: 'garbage-collect', properties: {} },
      ],
    },
  });
  it('splits the named policies by type, in order', () => {
    const { topology: t, override: o } = deployPolicies(
      app,
      ['patch', 'prod'],
      'step "d"',
    );
    expect([t.map(p => p.name), o.map(p => p.name)]).toEqual([
      ['prod'],
      ['patch'],
    ]);
  });
  it.each([
    [
      ['nope'],
      /step "d": no policy is named "nope" \(policies: prod, patch, gc\)/,
    ],
    [['gc'], /policy "gc" is a garbage-collect policy/],
  ])('refuses %j', (names, error) => {
    expect(() => deployPolicies(app, names, 'step "d"')).toThrow(error);
  });
});

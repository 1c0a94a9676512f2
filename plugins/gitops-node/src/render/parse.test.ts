import { parseApplication } from './parse';

const base = (components: unknown) => ({
  apiVersion: 'core.oam.dev/v1beta1',
  kind: 'Application',
  metadata: { name: 'demo' },
  spec: { components },
});

describe('parseApplication', () => {
  it.each([
    [
      [
        { name: 'a', type: 'webservice', properties: { image: 'x' } },
        {
          name: 'b',
          type: 'webservice',
          properties: { image: 'y' },
          traits: [
            { type: 'ingress', properties: { domain: 'd', http: ['/'] } },
          ],
        },
      ],
      'spec.components[1].traits[0].properties.http: must be a map, got a list',
    ],
    [
      [
        {
          name: 'a',
          type: 'webservice',
          properties: { image: 'x' },
          traits: [
            {
              type: 'ingress',
              properties: { domain: 'd', http: { '/': 'eighty' } },
            },
          ],
        },
      ],
      'spec.components[0].traits[0].properties.http["/"]: must be an integer, got a string',
    ],
    [
      [{ name: 'a', type: 'webservice', properties: {} }],
      'spec.components[0].properties.image: is required',
    ],
    [
      [
        {
          name: 'a',
          type: 'webservice',
          properties: { image: 'x', replica: 2 },
        },
      ],
      'spec.components[0].properties.replica: is not a known field',
    ],
    [
      [
        {
          name: 'a',
          type: 'webservice',
          properties: { image: 'x', ports: [{ port: 70000 }] },
        },
      ],
      'spec.components[0].properties.ports[0].port: must be at most 65535, got 70000',
    ],
    [
      [{ name: 'a', type: 'helm' }],
      'spec.components[0].type: unknown component type "helm" (known: k8s-objects, kustomize, terraform, webservice, worker)',
    ],
    [
      [
        {
          name: 'a',
          type: 'worker',
          properties: { image: 'x' },
          traits: [{ type: 'sidecar' }],
        },
      ],
      'spec.components[0].traits[0].type: unknown trait "sidecar"',
    ],
    [
      [
        { name: 'a', type: 'worker', properties: { image: 'x' } },
        { name: 'a', type: 'worker', properties: { image: 'x' } },
      ],
      'spec.components[1].name: another component is already named "a"',
    ],
    [
      [
        {
          name: 'a',
          type: 'worker',
          properties: { image: 'x' },
          dependsOn: ['b'],
        },
      ],
      'spec.components[0].dependsOn[0]: no component is named "b"',
    ],
    [
      [{ name: 'Bad_Name', type: 'worker', properties: { image: 'x' } }],
      'spec.components[0].name: "Bad_Name" is not a valid name',
    ],
    [
      [
        {
          name: 'a',
          type: 'worker',
          properties: { image: 'x' },
          traits: [{ type: 'scaler', properties: { replicas: -1 } }],
        },
      ],
      'spec.components[0].traits[0].properties.replicas: must be at least 0',
    ],
    [
      [
        {
          name: 'a',
          type: 'k8s-objects',
          properties: {
            objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }],
          },
        },
      ],
      'spec.components[0].properties.objects[0].metadata.name: is required',
    ],
    [
      [{ name: 'a', type: 'kustomize', properties: { url: 'ssh://x' } }],
      'spec.components[0].properties.url: must be an http(s) URL',
    ],
    [
      [
        {
          name: 'a',
          type: 'worker',
          properties: {
            image: 'x',
            volumeMounts: { secret: [{ name: 's', mountPath: '/s' }] },
          },
        },
      ],
      'spec.components[0].properties.volumeMounts.secret[0].secretName: is required',
    ],
    [
      [
        {
          name: 'a',
          type: 'kustomize',
          properties: {
            url: 'https://git.example.com/a.git',
            imageRepository: {
              image: 'app',
              digestReflectionPolicy: 'Sometimes',
            },
          },
        },
      ],
      'spec.components[0].properties.imageRepository.digestReflectionPolicy: must be Never, IfNotPresent, Always; got "Sometimes"',
    ],
    [[], 'spec.components: must list at least one component'],
  ])('rejects %j with the field path and reason', (components, message) => {
    expect(() => parseApplication(base(components))).toThrow(
      expect.objectContaining({
        name: 'InputError',
        message: expect.stringContaining(message),
      }),
    );
  });

  it.each<[unknown, string]>([
    [{ onFailure: 'yes' }, 'rollback.onFailure: must be true or false'],
    [{ after: '5m' }, 'rollback.onFailure: is required'],
    [
      { onFailure: true, after: 'soon' },
      'rollback.after: "soon" is not a duration',
    ],
    [
      { onFailure: true, after: '0s' },
      'rollback.after: must be longer than 0s',
    ],
    [
      { onFailure: true, afterr: '1m' },
      'rollback.afterr: is not a known field (known: onFailure, after)',
    ],
    [true, 'rollback: must be a map'],
  ])(
    'rejects imageRepository.rollback %j naming the field',
    (rollback, reason) => {
      const app = base([
        {
          name: 'a',
          type: 'kustomize',
          properties: {
            url: 'http://git.test/x',
            imageRepository: { image: 'app', rollback },
          },
        },
      ]);
      expect(() => parseApplication(app)).toThrow(
        `spec.components[0].properties.imageRepository.${reason}`,
      );
    },
  );

  it('normalises a valid Application', () => {
    const app = parseApplication({
      ...base([{ name: 'a', type: 'worker', properties: { image: 'x' } }]),
      spec: {
        components: [{ name: 'a', type: 'worker', properties: { image: 'x' } }],
        policies: [
          {
            name: 'gc',
            type: 'garbage-collect',
            properties: { keepLegacyResource: true },
          },
        ],
        workflow: {
          mode: { steps: 'DAG' },
          steps: [
            {
              name: 'deploy',
              type: 'deploy',
              properties: { policies: ['gc'] },
            },
          ],
        },
      },
    });
    expect(app.metadata).toEqual({ name: 'demo', namespace: 'default' });
    expect(app.spec.components[0]).toEqual({
      name: 'a',
      type: 'worker',
      properties: { image: 'x' },
      traits: [],
      dependsOn: [],
    });
    expect(app.spec.policies).toEqual([
      {
        name: 'gc',
        type: 'garbage-collect',
        properties: { keepLegacyResource: true },
      },
    ]);
    expect(app.spec.workflow).toEqual({
      mode: { steps: 'DAG', subSteps: undefined },
      steps: [
        {
          name: 'deploy',
          type: 'deploy',
          properties: { policies: ['gc'] },
          dependsOn: [],
        },
      ],
    });
  });
});

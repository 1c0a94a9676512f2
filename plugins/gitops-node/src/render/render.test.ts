import { parseApplication, parseApplicationsYaml } from './parse';
import { renderApplication } from './render';
import { createBuiltinDefinitions } from '../definitions/builtins';
import { Fields } from '../model/fields';

const seed = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: first-vela-workflow
  namespace: default
spec:
  components:
  - name: test-server
    type: webservice
    properties:
      image: registry.local/app:master-abc123-1 # {"$imagepolicy": "default:gitops"}
      port: 8088
    traits:
    - type: ingress
      properties:
        domain: testsvc.example.com
        http:
          /: 8088
`;

function app(spec: unknown, name = 'demo') {
  return parseApplication({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, namespace: 'team-a' },
    spec,
  });
}

describe('renderApplication', () => {
  it("renders the seed's first-vela-workflow into a Deployment, Service and Ingress", async () => {
    const [parsed] = parseApplicationsYaml(seed, 'app.yaml');
    const rendered = await renderApplication(parsed);
    expect(
      rendered.objects.map(
        o => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`,
      ),
    ).toEqual([
      'Deployment/default/test-server',
      'Service/default/test-server',
      'Ingress/default/test-server',
    ]);
    const [deployment, service, ingress] = rendered.objects as any[];
    const labels = {
      'app.oam.dev/name': 'first-vela-workflow',
      'app.oam.dev/component': 'test-server',
    };
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    expect(deployment.spec.template.metadata.labels).toEqual(labels);
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.template.spec.containers).toEqual([
      {
        name: 'test-server',
        image: 'registry.local/app:master-abc123-1',
        ports: [{ containerPort: 8088, name: 'port-8088', protocol: 'TCP' }],
      },
    ]);
    for (const object of rendered.objects) {
      expect(object.metadata.labels).toEqual({
        ...labels,
        'app.oam.dev/namespace': 'default',
      });
    }
    expect(service.spec).toEqual({
      selector: labels,
      ports: [
        { name: 'port-8088', port: 8088, targetPort: 8088, protocol: 'TCP' },
      ],
    });
    expect(ingress.apiVersion).toBe('networking.k8s.io/v1');
    expect(ingress.metadata.annotations).toEqual({
      'kubernetes.io/ingress.class': 'nginx',
    });
    expect(ingress.spec.rules).toEqual([
      {
        host: 'testsvc.example.com',
        http: {
          paths: [
            {
              path: '/',
              pathType: 'ImplementationSpecific',
              backend: {
                service: { name: 'test-server', port: { number: 8088 } },
              },
            },
          ],
        },
      },
    ]);
    expect(rendered.components[0].traits).toEqual([
      {
        type: 'ingress',
        objectKeys: [
          '/Service/default/test-server',
          'networking.k8s.io/Ingress/default/test-server',
        ],
      },
    ]);
  });

  it('renders every webservice property the way KubeVela does', async () => {
    const rendered = await renderApplication(
      app({
        components: [
          {
            name: 'api',
            type: 'webservice',
            properties: {
              image: 'api:1',
              cmd: ['/bin/api'],
              args: ['--verbose'],
              env: [
                { name: 'MODE', value: 'prod' },
                {
                  name: 'TOKEN',
                  valueFrom: { secretKeyRef: { name: 's', key: 'k' } },
                },
              ],
              cpu: 0.5,
              memory: '256Mi',
              imagePullSecrets: ['regcred'],
              ports: [
                { port: 80, containerPort: 8080, expose: true },
                { port: 9090, name: 'metrics' },
                { port: 53, protocol: 'UDP', expose: true },
              ],
              livenessProbe: { httpGet: { path: '/healthz', port: 8080 } },
              readinessProbe: { tcpSocket: { port: 8080 } },
              replicas: 3,
            },
            traits: [
              { type: 'env', properties: { env: { MODE: 'dev', EXTRA: 'x' } } },
            ],
          },
        ],
      }),
    );
    const [deployment, service] = rendered.objects as any[];
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec.imagePullSecrets).toEqual([
      { name: 'regcred' },
    ]);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.command).toEqual(['/bin/api']);
    expect(container.args).toEqual(['--verbose']);
    expect(container.resources).toEqual({
      requests: { cpu: '0.5', memory: '256Mi' },
      limits: { cpu: '0.5', memory: '256Mi' },
    });
    expect(container.env).toEqual([
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
      { name: 'MODE', value: 'dev' },
      { name: 'EXTRA', value: 'x' },
    ]);
    expect(container.ports).toEqual([
      { containerPort: 8080, name: 'port-80', protocol: 'TCP' },
      { containerPort: 9090, name: 'metrics', protocol: 'TCP' },
      { containerPort: 53, name: 'port-53', protocol: 'UDP' },
    ]);
    expect(container.livenessProbe).toEqual({
      httpGet: { path: '/healthz', port: 8080 },
    });
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.ports).toEqual([
      { name: 'port-80', port: 80, targetPort: 8080, protocol: 'TCP' },
      { name: 'port-53', port: 53, targetPort: 53, protocol: 'UDP' },
    ]);
  });

  it('mounts KubeVela-style volumes', async () => {
    const rendered = await renderApplication(
      app({
        components: [
          {
            name: 'files',
            type: 'worker',
            properties: {
              image: 'files:1',
              volumeMounts: {
                configMap: [
                  { name: 'cfg', mountPath: '/etc/app', cmName: 'app-config' },
                ],
                secret: [
                  {
                    name: 'creds',
                    mountPath: '/secrets',
                    secretName: 'app-creds',
                    defaultMode: 256,
                  },
                ],
                pvc: [
                  {
                    name: 'data',
                    mountPath: '/data',
                    subPath: 'app',
                    claimName: 'app-data',
                  },
                ],
                emptyDir: [
                  { name: 'tmp', mountPath: '/tmp', medium: 'Memory' },
                ],
              },
            },
          },
        ],
      }),
    );
    const pod = (rendered.objects[0] as any).spec.template.spec;
    expect(pod.containers[0].volumeMounts).toEqual([
      { name: 'data', mountPath: '/data', subPath: 'app' },
      { name: 'cfg', mountPath: '/etc/app' },
      { name: 'creds', mountPath: '/secrets' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(pod.volumes).toEqual([
      { name: 'data', persistentVolumeClaim: { claimName: 'app-data' } },
      { name: 'cfg', configMap: { name: 'app-config', defaultMode: 420 } },
      { name: 'creds', secret: { secretName: 'app-creds', defaultMode: 256 } },
      { name: 'tmp', emptyDir: { medium: 'Memory' } },
    ]);
  });

  it('applies scaler, labels, annotations and gateway traits', async () => {
    const rendered = await renderApplication(
      app({
        components: [
          {
            name: 'web',
            type: 'webservice',
            properties: { image: 'web:1', ports: [{ port: 80, expose: true }] },
            traits: [
              { type: 'scaler', properties: { replicas: 4 } },
              { type: 'labels', properties: { tier: 'frontend' } },
              {
                type: 'annotations',
                properties: { 'owner.example/team': 'a' },
              },
              {
                type: 'gateway',
                properties: {
                  domain: 'web.example',
                  http: { '/': 80, '/api': 8080 },
                  class: 'traefik',
                  classInSpec: true,
                  secretName: 'tls',
                },
              },
            ],
          },
        ],
      }),
    );
    const [deployment, service, ingress] = rendered.objects as any[];
    expect(deployment.spec.replicas).toBe(4);
    expect(deployment.metadata.labels.tier).toBe('frontend');
    expect(deployment.spec.template.metadata.labels.tier).toBe('frontend');
    expect(deployment.metadata.annotations).toEqual({
      'owner.example/team': 'a',
    });
    expect(deployment.spec.template.metadata.annotations).toEqual({
      'owner.example/team': 'a',
    });
    // The gateway's ports are merged into the webservice's own Service, not a second one.
    expect(rendered.objects.filter(o => o.kind === 'Service')).toHaveLength(1);
    expect(service.spec.ports.map((p: any) => p.port)).toEqual([80, 8080]);
    expect(ingress.spec.ingressClassName).toBe('traefik');
    expect(ingress.metadata.annotations).toEqual({});
    expect(ingress.spec.tls).toEqual([
      { hosts: ['web.example'], secretName: 'tls' },
    ]);
  });

  it('renders worker and k8s-objects, defaulting the namespace but not on cluster-scoped kinds', async () => {
    const rendered = await renderApplication(
      app({
        components: [
          { name: 'jobs', type: 'worker', properties: { image: 'jobs:1' } },
          {
            name: 'raw',
            type: 'k8s-objects',
            properties: {
              objects: [
                {
                  apiVersion: 'v1',
                  kind: 'ConfigMap',
                  metadata: { name: 'cfg' },
                  data: { a: '1' },
                },
                {
                  apiVersion: 'v1',
                  kind: 'ConfigMap',
                  metadata: { name: 'other', namespace: 'elsewhere' },
                },
                {
                  apiVersion: 'v1',
                  kind: 'Namespace',
                  metadata: { name: 'extra' },
                },
              ],
            },
          },
        ],
      }),
    );
    const worker = rendered.objects[0] as any;
    expect(worker.kind).toBe('Deployment');
    expect(worker.spec.template.spec.containers[0].ports).toBeUndefined();
    expect(rendered.objects.filter(o => o.kind === 'Service')).toEqual([]);
    expect(rendered.objects.slice(1).map(o => o.metadata.namespace)).toEqual([
      'team-a',
      'elsewhere',
      undefined,
    ]);
    expect(rendered.objects[1].metadata.labels).toMatchObject({
      'app.oam.dev/component': 'raw',
    });
  });

  it('takes kustomize objects from the caller and says when there is no source', async () => {
    const application = app({
      components: [
        {
          name: 'gitops',
          type: 'kustomize',
          properties: {
            repoType: 'git',
            url: 'http://127.0.0.1/repo.git',
            path: '.',
            git: { branch: 'master' },
          },
        },
      ],
    });
    await expect(renderApplication(application)).rejects.toThrow(
      'spec.components[0]: component "gitops" is of type kustomize and needs its Git source, which was not provided',
    );
    const rendered = await renderApplication(application, {
      sources: new Map([
        [
          'gitops',
          [
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: 'gitops-cfg' },
            },
          ],
        ],
      ]),
    });
    expect(rendered.objects[0].metadata).toEqual({
      name: 'gitops-cfg',
      namespace: 'team-a',
      labels: {
        'app.oam.dev/name': 'demo',
        'app.oam.dev/namespace': 'team-a',
        'app.oam.dev/component': 'gitops',
      },
    });
  });

  it('rejects a nested Application that would not parse, before anything is applied', async () => {
    const application = app({
      components: [
        {
          name: 'gitops',
          type: 'kustomize',
          properties: { url: 'http://127.0.0.1/repo.git' },
        },
      ],
    });
    const nested = (trait: string) =>
      new Map([['gitops', [
        {
          apiVersion: 'core.oam.dev/v1beta1',
          kind: 'Application',
          metadata: { name: 'first-vela-workflow' },
          spec: {
            components: [
              {
                name: 'test-server',
                type: 'webservice',
                properties: { image: 'x' },
                traits: [{ type: trait }],
              },
            ],
          },
        },
      ]]]);
    await expect(
      renderApplication(application, { sources: nested('ingres') }),
    ).rejects.toThrow(
      'spec.components[0]: component "gitops" renders Application first-vela-workflow, which is invalid: spec.components[0].traits[0].type: unknown trait "ingres"',
    );
    const rendered = await renderApplication(application, {
      sources: nested('scaler'),
    });
    expect(rendered.objects[0].metadata.namespace).toBe('team-a');
  });

  it('lets other modules register their own component types and traits', async () => {
    const definitions = createBuiltinDefinitions().addComponentType({
      type: 'cron-task',
      validate: fields => void fields.string('schedule'),
      render: ctx => {
        const schedule = Fields.of(ctx.component.properties, '').string(
          'schedule',
        );
        const job = {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          metadata: { name: ctx.component.name },
          spec: { schedule },
        };
        return { workload: job, objects: [job] };
      },
    });
    expect(() =>
      definitions.addTrait(createBuiltinDefinitions().getTrait('scaler')!),
    ).toThrow('Trait "scaler" is already registered');
    const parsed = parseApplication(
      {
        apiVersion: 'core.oam.dev/v1beta1',
        kind: 'Application',
        metadata: { name: 'x' },
        spec: {
          components: [
            {
              name: 'c',
              type: 'cron-task',
              properties: { schedule: '* * * * *' },
              traits: [{ type: 'labels', properties: { a: 'b' } }],
            },
          ],
        },
      },
      { definitions },
    );
    const rendered = await renderApplication(parsed, { definitions });
    expect(rendered.objects[0]).toMatchObject({
      kind: 'CronJob',
      metadata: { namespace: 'default', labels: { a: 'b' } },
      spec: { schedule: '* * * * *' },
    });
  });
});

import { ConfigReader } from '@backstage/config';
import { buildOptionsOf, readGitopsConfig } from './config';

const read = (gitops: unknown) =>
  readGitopsConfig(new ConfigReader({ gitops } as any));

describe('readGitopsConfig', () => {
  it('fills in the defaults', () => {
    const config = read(undefined);
    expect(config).toMatchObject({
      clusters: [],
      matchLabels: {},
      concurrency: 4,
      tickSeconds: 5,
      retentionDays: 90,
      commitAuthor: {
        name: 'kubevelabot',
        email: 'kubevelabot@users.noreply.github.com',
      },
      webhooks: {},
    });
    expect(config.cacheDir).toContain('backstage-gitops');
  });

  it('takes numbers given as strings, as environment substitutions give them', () => {
    expect(read({ concurrency: '8' }).concurrency).toBe(8);
  });

  it('reads every key', () => {
    expect(
      read({
        clusters: [{ name: 'prod', url: 'https://10.0.0.1:6443', token: 't' }],
        selector: { matchLabels: { team: 'a' } },
        cacheDir: '/var/cache/gitops',
        concurrency: 8,
        commitAuthor: { name: 'Bot', email: 'bot@example.com' },
        kustomizePath: '/usr/local/bin/kustomize',
        tickSeconds: 2,
        shards: 8,
        history: { retentionDays: 30 },
        webhooks: { registrySecret: 'r'.repeat(16), gitSecret: 'g'.repeat(16) },
      }),
    ).toEqual({
      clusters: [
        expect.objectContaining({
          name: 'prod',
          url: 'https://10.0.0.1:6443',
          token: 't',
        }),
      ],
      matchLabels: { team: 'a' },
      cacheDir: '/var/cache/gitops',
      concurrency: 8,
      commitAuthor: { name: 'Bot', email: 'bot@example.com' },
      kustomizePath: '/usr/local/bin/kustomize',
      tickSeconds: 2,
      shards: 8,
      shardLeaseSeconds: 600,
      retentionDays: 30,
      webhooks: { registrySecret: 'r'.repeat(16), gitSecret: 'g'.repeat(16) },
      projects: [],
      // Read in their own test below.
      timeouts: expect.any(Object),
      limits: expect.any(Object),
      liveUpdates: expect.any(Object),
    });
  });

  it('reads timeouts and limits, in the units their names say, with defaults', () => {
    expect(read(undefined)).toMatchObject({
      timeouts: {
        kubernetesMs: 30_000,
        watchGraceMs: 30_000,
        gitMs: 60_000,
        cloneLockMs: 300_000,
        registryMs: 30_000,
        kustomizeMs: 60_000,
        tofuMs: 600_000,
        previewMs: 120_000,
      },
      limits: {
        maxRepositoryBytes: 512 * 1024 * 1024,
        maxCloneBytes: 1024 * 1024 * 1024,
        maxCloneAgeMs: 168 * 3600_000,
        maxFileBytes: 4 * 1024 * 1024,
        maxManifests: 5000,
      },
    });
    expect(
      read({
        timeouts: {
          kubernetesSeconds: 5,
          gitSeconds: '20',
          kustomizeSeconds: 9,
          previewSeconds: 30,
        },
        limits: { maxRepositoryMiB: 64, maxFileKiB: 512, maxManifests: 100 },
      }),
    ).toMatchObject({
      timeouts: {
        kubernetesMs: 5000,
        gitMs: 20_000,
        kustomizeMs: 9000,
        previewMs: 30_000,
      },
      limits: {
        maxRepositoryBytes: 64 * 1024 * 1024,
        maxFileBytes: 512 * 1024,
        maxManifests: 100,
      },
    });
    expect(
      buildOptionsOf(
        read({
          kustomizePath: '/bin/kustomize',
          timeouts: { kustomizeSeconds: 9 },
          limits: { maxFileKiB: 1, maxManifests: 2 },
        }),
      ),
    ).toEqual({
      kustomizePath: '/bin/kustomize',
      timeoutMs: 9000,
      maxFileBytes: 1024,
      maxManifests: 2,
    });
    expect(() => read({ timeouts: { registrySeconds: 0 } })).toThrow(
      'gitops.timeouts.registrySeconds must be a whole number from 1 to 3600, got 0',
    );
  });

  it('reads the bounds of live updates, with defaults', () => {
    expect(read(undefined).liveUpdates).toEqual({
      maxStreams: 1000,
      watchSeconds: 300,
    });
    expect(
      read({ liveUpdates: { maxStreams: 2, watchSeconds: 3600 } }).liveUpdates,
    ).toEqual({ maxStreams: 2, watchSeconds: 3600 });
    expect(() => read({ liveUpdates: { maxStreams: 0 } })).toThrow(
      'gitops.liveUpdates.maxStreams must be a whole number from 1 to 100000, got 0',
    );
  });

  it('reads projects with their safe defaults', () => {
    expect(
      read({
        projects: [
          {
            name: 'team-a',
            applications: { namespaces: ['team-a-*'] },
            destinations: [{ cluster: 'prod', namespace: 'team-a-*' }],
            clusterScopedKinds: [{ kind: 'Namespace' }],
            serviceAccountName: 'deployer',
          },
        ],
      }).projects,
    ).toEqual([
      {
        name: 'team-a',
        applications: { namespaces: ['team-a-*'] },
        sourceRepos: [],
        destinations: [{ cluster: 'prod', namespace: 'team-a-*' }],
        clusterScopedKinds: [{ group: '', kind: 'Namespace' }],
        deniedNamespacedKinds: [],
        integrationCredentials: false,
        notificationHosts: [],
        registryTokenHosts: [],
        remoteBases: false,
        terraform: false,
        serviceAccountName: 'deployer',
      },
    ]);
  });

  it.each([
    [
      { concurrency: 0 },
      'gitops.concurrency must be a whole number from 1 to 64, got 0',
    ],
    [
      { concurrency: 'four' },
      "Unable to convert config value for key 'gitops.concurrency'",
    ],
    [
      { tickSeconds: 0.5 },
      'gitops.tickSeconds must be a whole number from 1 to 3600, got 0.5',
    ],
    [
      { history: { retentionDays: -1 } },
      'gitops.history.retentionDays must be a whole number',
    ],
    [
      { selector: { matchLabels: ['a'] } },
      'gitops.selector.matchLabels must be a map',
    ],
    [
      { selector: { matchLabels: { team: 1 } } },
      'gitops.selector.matchLabels.team must be a string, got 1',
    ],
    [{ commitAuthor: { name: 'Bot' } }, 'gitops.commitAuthor.email'],
    [
      { commitAuthor: { name: 'Bot', email: 'bot' } },
      'gitops.commitAuthor.email must be an e-mail address, got "bot"',
    ],
    [
      { webhooks: { registrySecret: 'short' } },
      'gitops.webhooks.registrySecret must be at least 16 characters long',
    ],
    [
      {
        clusters: [
          { name: 'a', url: 'https://x' },
          { name: 'a', url: 'https://y' },
        ],
      },
      'gitops.clusters[1].name: the cluster name "a" is used twice',
    ],
    [
      { clusters: [{ name: 'prod' }] },
      'gitops.clusters[0]: cluster "prod" needs "kubeconfig" or "url"',
    ],
    [
      { projects: [{ name: 'default', applications: { namespaces: ['a'] } }] },
      'gitops.projects[0].name must be a DNS label other than "default"',
    ],
    [
      { projects: [{ name: 'all', applications: {} }] },
      'gitops.projects[0].applications must name namespaces or matchLabels',
    ],
    [
      { projects: [{ name: 'a', applications: { matchLabels: { x: 1 } } }] },
      'gitops.projects[0].applications.matchLabels must be a map of label names to strings',
    ],
  ])('refuses %j, naming the key', (gitops, message) => {
    expect(() => read(gitops)).toThrow(message);
  });
});

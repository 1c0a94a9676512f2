export interface Config {
  /** GitOps with Workflow backend plugin. */
  gitops?: {
    /**
     * The clusters Applications are read from and deployed to. The first one
     * is the default cluster, where Applications live.
     */
    clusters?: Array<{
      /** A unique name, used by topology policies and entity annotations. */
      name: string;
      /** Labels that topology policies select clusters by. */
      labels?: { [key: string]: string };
      /** Path to a kubeconfig file. */
      kubeconfig?: string;
      /** The context in the kubeconfig file; defaults to its current context. */
      context?: string;
      /** API server URL, when no kubeconfig is given. */
      url?: string;
      /**
       * Bearer token for `url`.
       * @visibility secret
       */
      token?: string;
      /** Base64 PEM of the cluster CA for `url`. */
      caData?: string;
      /** Path to the cluster CA file for `url`. */
      caFile?: string;
      /** Skip TLS verification for `url` (local development only). */
      skipTLSVerify?: boolean;
      /**
       * Requests per second this backend sends the cluster, sustained, like
       * client-go's QPS (watches count when they start). Requests of
       * Applications whose rollout is under way go first. Default 200; 0 for
       * no limit.
       */
      qps?: number;
      /** Requests that may go at once after a quiet spell. Default 500. */
      burst?: number;
    }>;
    /**
     * Only Applications carrying all of these labels are reconciled, so a
     * cluster that also runs KubeVela's own controller is never fought over.
     * Default: every Application.
     */
    selector?: { matchLabels?: { [key: string]: string } };
    /**
     * What the Applications of each project may do (like Argo CD's
     * AppProjects). An Application in no project gets the default: namespaced
     * objects in its own namespace on the first cluster only, no
     * cluster-scoped kinds, only its own Secrets (never the integration
     * tokens), no notification hosts, no remote kustomize bases, no terraform
     * components. Every object of a pass is checked before anything is
     * applied; one refused object stops the whole pass. Globs take `*` for any characters.
     */
    projects?: Array<{
      /** A DNS label, unique; named in refusals. */
      name: string;
      /** Which Applications belong: the first project that matches wins. */
      applications: {
        /** Namespaces (globs) the Applications live in. */
        namespaces?: string[];
        /** Labels the Applications carry, all of them. */
        matchLabels?: { [key: string]: string };
      };
      /** Git repository URLs (globs) kustomize components may sync. Default: none. */
      sourceRepos?: string[];
      /** Cluster names and namespaces (globs) objects may go to. Default: none. */
      destinations?: Array<{ cluster: string; namespace: string }>;
      /** Cluster-scoped kinds that may be created (group `''` is the core group). Default: none. */
      clusterScopedKinds?: Array<{ group?: string; kind: string }>;
      /** Namespaced kinds that may not be created, e.g. RoleBinding. */
      deniedNamespacedKinds?: Array<{ group?: string; kind: string }>;
      /**
       * Whether a repository without a secretRef may use the tokens of
       * Backstage's `integrations` config. Default false.
       */
      integrationCredentials?: boolean;
      /** Hosts (globs) notification steps may post to. Default: none. */
      notificationHosts?: string[];
      /** Hosts (globs) a registry may send its token requests to besides its own. */
      registryTokenHosts?: string[];
      /** Whether kustomizations may load remote bases. Default false. */
      remoteBases?: boolean;
      /**
       * Whether Applications may have `terraform` components. OpenTofu runs
       * their configurations on the backend's host with its rights (a
       * `local-exec` provisioner runs any command), so the default project
       * never may. Default false.
       */
      terraform?: boolean;
      /**
       * The ServiceAccount, in the Application's namespace, its reads and
       * writes go as when its `app.oam.dev/service-account-name` annotation
       * names none; the cluster's RBAC then decides.
       */
      serviceAccountName?: string;
    }>;
    /**
     * Deadlines of the calls the backend makes to other servers, in seconds
     * (1 to 3600). A call that runs out fails with an error naming what
     * timed out and after how long; the pass fails and is retried.
     * Notification steps have their own `timeout`.
     * @visibility backend
     */
    timeouts?: {
      /** One Kubernetes API request, from sending it to the end of the answer. Default 30. */
      kubernetesSeconds?: number;
      /**
       * How long past the end it asked the API server for a watch may stay
       * open before it is taken for a dead connection. Default 30.
       */
      watchGraceSeconds?: number;
      /** One Git remote operation: ref listing, clone, fetch or push. Default 60. */
      gitSeconds?: number;
      /** Waiting for another reconcile, here or in another replica, using the same working clone. Default 300. */
      cloneLockSeconds?: number;
      /** One registry HTTP request, body included (each retry gets its own). Default 30. */
      registrySeconds?: number;
      /** One kustomize build; the process is killed after it. Default 60. */
      kustomizeSeconds?: number;
      /** One OpenTofu command (init, plan, apply, destroy) of a `terraform` component; it is stopped after. Default 600. */
      tofuSeconds?: number;
      /** One whole diff preview (Git, build and every server-side dry-run). Default 120. */
      previewSeconds?: number;
      /** One analysis call of a progressive rollout: a Prometheus query or a webhook. Default 10. */
      analysisSeconds?: number;
    };
    /**
     * The Prometheus that progressive rollouts (`kruise-rollout` and
     * `blue-green` traits) ask their analysis queries.
     * @visibility backend
     */
    prometheus?: {
      /** Its base URL, e.g. http://prometheus.monitoring:9090. */
      url: string;
    };
    /**
     * Bounds on what one repository or component may take. What exceeds one
     * is refused with an error naming the file or repository and the limit.
     * @visibility backend
     */
    limits?: {
      /** Largest download of one clone or fetch, in MiB; a bigger repository is refused. Default 512. */
      maxRepositoryMiB?: number;
      /** A working clone grown past this many MiB is replaced by a fresh shallow clone. Default 1024. */
      maxCloneMiB?: number;
      /** A working clone older than this many hours is replaced by a fresh one. Default 168 (a week). */
      maxCloneAgeHours?: number;
      /** Largest YAML file a component's path may hold, in KiB. Default 4096. */
      maxFileKiB?: number;
      /** Most objects one component may produce. Default 5000. */
      maxManifests?: number;
    };
    /**
     * Live updates of open pages (server-sent events from a cache of the
     * clusters' objects).
     * @visibility backend
     */
    liveUpdates?: {
      /** Pages this backend process streams to at once, 1 to 100000; more are answered 503 and poll instead. Default 1000. */
      maxStreams?: number;
      /**
       * How long one watch of the cache asks the API server to stay open, in
       * seconds (1 to 3600); renewing it is one request, with no list. Default 300.
       */
      watchSeconds?: number;
    };
    /** Where working clones of Git repositories are kept between polls. Default: a directory under the OS temp dir. */
    cacheDir?: string;
    /** Reconciles running at once, 1 to 64. Default 4. */
    concurrency?: number;
    /** Author of the automation's commits. Default kubevelabot <kubevelabot@users.noreply.github.com>. */
    commitAuthor?: { name: string; email: string };
    /** Path of the kustomize binary; default: kustomize on PATH. */
    kustomizePath?: string;
    /**
     * Path of the OpenTofu binary that runs `terraform` components
     * (`scripts/build-k8s.sh --tofu` builds one); default: `tofu` on PATH.
     * @visibility backend
     */
    tofuPath?: string;
    /**
     * A provider mirror directory (`tofu providers mirror`): `terraform`
     * components install providers only from it, never from a registry.
     * Without one, only OpenTofu's built-in provider (`terraform_data`) is available.
     * @visibility backend
     */
    tofuProviderMirror?: string;
    /** Seconds between passes over the Applications, 1 to 3600. Default 5. */
    tickSeconds?: number;
    /**
     * Scheduler tasks the Applications are split over, 1 to 64. Replicas
     * sharing the database share them out. Default 4.
     */
    shards?: number;
    /**
     * How long a replica may hold a shard before another may take it over:
     * the wait after a replica dies. Longer than the slowest pass. Default 600.
     */
    shardLeaseSeconds?: number;
    /** Reconcile runs and image history. */
    history?: {
      /** Days runs and image history are kept; older rows are deleted daily. Default 90. */
      retentionDays?: number;
    };
    /**
     * Shared secrets of the webhooks under /api/gitops/webhooks (each at
     * least 16 characters). A webhook whose secret is not set answers 404.
     */
    webhooks?: {
      /**
       * What the registry sends as `Authorization: Bearer <secret>` (the
       * `headers` of its `notifications.endpoints` entry).
       * @visibility secret
       */
      registrySecret?: string;
      /**
       * The HMAC-SHA256 key of Git push hooks: GitHub's webhook secret
       * (`X-Hub-Signature-256`), or a generic sender's (`X-Signature`).
       * @visibility secret
       */
      gitSecret?: string;
    };
  };
}

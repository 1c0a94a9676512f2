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
    }>;
  };
}

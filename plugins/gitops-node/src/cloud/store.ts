import type { CloudResourceStatus } from '@gitops-workflow/plugin-gitops-common';

/** An Application, by namespace and name. */
export interface CloudAppRef {
  namespace: string;
  name: string;
}

/** What the backend keeps of one `terraform` component between passes. */
export interface CloudResourceRecord {
  status: CloudResourceStatus;
  /** Where its state and connection Secret live. */
  cluster: string;
  namespace: string;
  /** The inputs (configuration, variables, env) of what is applied. */
  appliedInputs?: string;
  /** A plan waiting for `approve: manual`: the inputs it was made from, its file's hash, and who approved it. */
  pendingPlan?: {
    inputs: string;
    id: string;
    approved?: { by: string; at: string };
  };
  /** The inputs whose plan or apply failed, and when: not tried again before the drift interval. */
  failed?: { inputs: string; at: string };
  /** An apply began once: there may be something to destroy. */
  applyStarted?: boolean;
  /** The last drift found was told to the pass (a condition). */
  driftReported?: boolean;
}

/** Where the records live (the backend's database). */
export interface CloudResourceStore {
  get(
    app: CloudAppRef,
    component: string,
  ): Promise<CloudResourceRecord | undefined>;
  put(
    app: CloudAppRef,
    component: string,
    record: CloudResourceRecord,
  ): Promise<void>;
  remove(app: CloudAppRef, component: string): Promise<void>;
}

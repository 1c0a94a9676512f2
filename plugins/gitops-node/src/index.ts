/**
 * The GitOps with Workflow engine. One pass of one Application runs the
 * stages in this order, each a folder: `sources` (Git, image scan + tag
 * policy, setters, commit/push, build) → `render` (pure, via definitions) →
 * `workflow` (steps per cluster) → `apply` (diff, server-side apply, prune)
 * → `assess` (kstatus health) → `record` (status and what to persist).
 * `model` is the OAM Application, `kube` and `clusters` reach the clusters,
 * `applications` lists and writes Applications.
 *
 * @packageDocumentation
 */

export * from './model';
export * from './clusters';
export * from './kube';
export * from './applications';
export * from './sources';
export * from './definitions';
export * from './render';
export * from './workflow';
export * from './apply';
export * from './assess';
export * from './record';
export * from './pipeline';
export * from './rollout';
export * from './util';
export * from './cloud';

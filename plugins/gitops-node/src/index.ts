/**
 * The GitOps with Workflow engine: pure logic (policy, setters, templates,
 * render, health) and thin adapters (registry, git, kubernetes).
 *
 * @packageDocumentation
 */

export * from './clusters';
export * from './policy';
export * from './registry';
export * from './setters';
export * from './template';
export * from './git';
export * from './automation';
export * from './application';
export * from './health';
export * from './kube';
export * from './reconcile';
export * from './workflow';

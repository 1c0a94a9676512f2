/**
 * The GitOps with Workflow engine: pure logic (policy, setters, templates,
 * render, health) and thin adapters (registry, git, kubernetes).
 *
 * @packageDocumentation
 */

export * from './clusters';
export * from './policy';
export * from './registry';

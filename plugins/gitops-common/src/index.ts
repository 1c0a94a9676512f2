/**
 * Types, permissions and the HTTP API contract shared by the GitOps with
 * Workflow plugins.
 *
 * @packageDocumentation
 */

export * from './annotations';
export * from './api';
export * from './permissions';
export * from './timeline';

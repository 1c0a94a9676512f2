/**
 * The GitOps with Workflow backend plugin.
 *
 * @packageDocumentation
 */

export { gitopsPlugin as default } from './plugin';

import {
  StatusError,
  StatusOK,
  StatusPending,
  StatusWarning,
} from '@backstage/core-components';
import {
  ApplicationDeletion,
  ApplicationPhase,
} from '@gitops-workflow/plugin-gitops-common';

/**
 * The application phase as a status light and KubeVela's word for it; a
 * deleted Application also says how many objects are left, and (on hover)
 * which and why.
 */
export function PhaseStatus({
  phase,
  deletion,
}: {
  phase?: ApplicationPhase;
  deletion?: ApplicationDeletion;
}) {
  if (deletion) {
    const left = deletion.remaining.length;
    return (
      <span title={deletion.message}>
        <StatusWarning>
          deleting: {left} object{left === 1 ? '' : 's'} left
        </StatusWarning>
      </span>
    );
  }
  switch (phase) {
    case 'running':
      return <StatusOK>running</StatusOK>;
    case 'unhealthy':
    case 'workflowFailed':
    case 'workflowTerminated':
      return <StatusError>{phase}</StatusError>;
    case 'workflowSuspending':
      return <StatusWarning>{phase}</StatusWarning>;
    case undefined:
      return <StatusPending>not reconciled yet</StatusPending>;
    default:
      return <StatusPending>{phase}</StatusPending>;
  }
}

/** A component's health as a status light with KubeVela's message. */
export function HealthyStatus({
  healthy,
  message,
}: {
  healthy: boolean;
  message?: string;
}) {
  const text = message || (healthy ? 'healthy' : 'unhealthy');
  return healthy ? (
    <StatusOK>{text}</StatusOK>
  ) : (
    <StatusError>{text}</StatusError>
  );
}

/** kstatus health (Current, InProgress, Failed, NotFound, Unknown) as a status light with its word. */
export function KstatusHealth({ health }: { health: string }) {
  switch (health) {
    case 'Current':
      return <StatusOK>{health}</StatusOK>;
    case 'InProgress':
      return <StatusPending>{health}</StatusPending>;
    case 'Failed':
    case 'NotFound':
      return <StatusError>{health}</StatusError>;
    default:
      return <StatusWarning>{health}</StatusWarning>;
  }
}

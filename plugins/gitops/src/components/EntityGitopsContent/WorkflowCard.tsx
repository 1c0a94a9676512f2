import { InfoCard, Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  gitopsWorkflowResumePermission,
  WorkflowStatus,
  WorkflowStepStatus,
} from '@gitops-workflow/plugin-gitops-common';
import Button from '@material-ui/core/Button';
import Typography from '@material-ui/core/Typography';
import { useState } from 'react';
import { gitopsApiRef } from '../../api';
import { backendMessage } from '../common/errors';
import { formatDuration } from '../common/format';
import { useEntityPermissionReason, WithReason } from '../common/WithReason';

function ResumeButton(props: {
  appRef: ApplicationRef;
  step: string;
  onDone: () => void;
}) {
  const api = useApi(gitopsApiRef);
  const { loading, reason } = useEntityPermissionReason(
    gitopsWorkflowResumePermission,
    `resume the workflow step ${props.step}`,
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const button = (
    <Button
      size="small"
      variant="outlined"
      color="primary"
      aria-label={`Resume workflow step ${props.step}`}
      disabled={loading || busy || Boolean(reason)}
      onClick={async () => {
        setBusy(true);
        setError(undefined);
        try {
          await api.resumeWorkflow(props.appRef, props.step);
          props.onDone();
        } catch (e) {
          setError(`Could not resume: ${backendMessage(e as Error)}`);
        } finally {
          setBusy(false);
        }
      }}
    >
      Resume
    </Button>
  );
  return (
    <>
      <WithReason reason={loading ? undefined : reason}>{button}</WithReason>
      {error && (
        <Typography
          role="alert"
          variant="caption"
          color="error"
          display="block"
        >
          {error}
        </Typography>
      )}
    </>
  );
}

/** The Application's KubeVela workflow: each step, and Resume for a suspended one. */
export function WorkflowCard(props: {
  appRef: ApplicationRef;
  workflow?: WorkflowStatus;
  onDone: () => void;
}) {
  const { workflow, appRef, onDone } = props;
  if (!workflow || workflow.steps.length === 0) {
    return (
      <InfoCard title="Workflow">
        <Typography>
          This Application has no workflow: its components are applied directly.
          To deploy in steps (e.g. staging, an approval, then production), add a{' '}
          <code>workflow</code> with <code>deploy</code> and{' '}
          <code>suspend</code> steps to its spec.
        </Typography>
      </InfoCard>
    );
  }
  const waiting = (s: WorkflowStepStatus) =>
    workflow.suspend &&
    (s.type === 'suspend' || s.phase === 'suspending') &&
    s.phase !== 'succeeded';
  const columns: TableColumn<WorkflowStepStatus>[] = [
    { title: 'Step', field: 'name' },
    { title: 'Type', field: 'type' },
    {
      title: 'Phase',
      render: s => (waiting(s) ? 'suspended' : s.phase ?? 'pending'),
    },
    {
      title: 'Duration',
      render: s => formatDuration(s.firstExecuteTime, s.lastExecuteTime),
    },
    { title: 'Message', render: s => s.message || s.reason || '' },
    {
      title: 'Action',
      render: s =>
        waiting(s) ? (
          <ResumeButton appRef={appRef} step={s.name} onDone={onDone} />
        ) : null,
    },
  ];
  let state = 'running';
  if (workflow.finished) state = 'finished';
  else if (workflow.terminated) state = 'terminated';
  else if (workflow.suspend) state = 'suspended, waiting to be resumed';
  return (
    <Table
      title={`Workflow (${state})`}
      subtitle={workflow.message}
      options={{ paging: false, search: false, padding: 'dense' }}
      columns={columns}
      data={workflow.steps}
    />
  );
}

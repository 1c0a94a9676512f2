import {
  StatusError,
  StatusOK,
  StatusPending,
  StatusWarning,
  StructuredMetadataTable,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  CloudResourceStatus,
  gitopsCloudApprovePermission,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import { useState } from 'react';
import { gitopsApiRef } from '../../api';
import { ConfirmedAction } from '../common/ConfirmedAction';
import { DecisionCard, DecisionSection } from '../common/DecisionSection';
import { RelativeTime } from '../common/RelativeTime';

type Plan = NonNullable<CloudResourceStatus['plan']>;

/** A component's state in words, with the light that goes with it. */
function CloudState({ state }: { state: CloudResourceStatus['state'] }) {
  switch (state) {
    case 'planning':
      return <StatusPending>planning</StatusPending>;
    case 'waitingForApproval':
      return (
        <StatusWarning>
          waiting for approval: the plan is applied once someone approves it
        </StatusWarning>
      );
    case 'applying':
      return <StatusPending>applying the plan</StatusPending>;
    case 'ready':
      return <StatusOK>ready: applied, outputs written</StatusOK>;
    case 'drifted':
      return (
        <StatusWarning>
          drifted: the real resources no longer match the state
        </StatusWarning>
      );
    case 'failed':
      return <StatusError>failed</StatusError>;
    case 'destroying':
      return <StatusPending>destroying</StatusPending>;
    case 'destroyed':
      return <StatusOK>destroyed</StatusOK>;
    default:
      return <StatusWarning>{state}</StatusWarning>;
  }
}

/** `2 to add, 1 to change, 0 to destroy`, as OpenTofu says it. */
function planInWords(plan: Plan): string {
  return `${plan.add} to add, ${plan.change} to change, ${plan.destroy} to destroy`;
}

/** `+2 ~1 −0`, the words on hover, and when it was planned. */
function PlanSummary({ plan }: { plan?: Plan }) {
  if (!plan) return <>no plan yet</>;
  return (
    <>
      <span title={planInWords(plan)} aria-label={planInWords(plan)}>
        <code>
          +{plan.add} ~{plan.change} −{plan.destroy}
        </code>
      </span>{' '}
      (planned <RelativeTime iso={plan.at} />)
    </>
  );
}

/** Each output by name; a sensitive one says so and never shows a value. */
function Outputs({ outputs }: { outputs: CloudResourceStatus['outputs'] }) {
  if (outputs.length === 0) return <>none yet</>;
  return (
    <ul style={{ margin: 0, paddingLeft: 16 }}>
      {outputs.map(o => (
        <li key={o.name}>
          <code>{o.name}</code>
          {o.sensitive
            ? ': sensitive'
            : o.value !== undefined && `: ${o.value}`}
        </li>
      ))}
    </ul>
  );
}

function Drift({ drift }: { drift: CloudResourceStatus['drift'] }) {
  if (!drift) return <>not checked yet</>;
  const checked = (
    <>
      checked <RelativeTime iso={drift.checkedAt} />
    </>
  );
  return drift.drifted ? (
    <StatusWarning>
      drifted ({checked}){drift.message ? `: ${drift.message}` : ''}
    </StatusWarning>
  ) : (
    <StatusOK>no drift ({checked})</StatusOK>
  );
}

function CloudResource(props: {
  resource: CloudResourceStatus;
  appRef: ApplicationRef;
  denied?: string;
  onDone: () => void;
}) {
  const { resource, appRef, denied, onDone } = props;
  const api = useApi(gitopsApiRef);
  const [outcome, setOutcome] = useState<string>();
  const name = resource.component;
  return (
    <DecisionSection
      title={`Cloud resource ${name}`}
      outcome={outcome}
      actions={
        resource.state === 'waitingForApproval' && (
          <ConfirmedAction
            label="Approve"
            ariaLabel={`Approve the plan of ${name}`}
            color="primary"
            denied={denied}
            dialog={{
              title: `Approve the plan of ${name}?`,
              description: resource.plan
                ? `OpenTofu applies the plan: ${planInWords(resource.plan)}.`
                : 'OpenTofu applies the plan it made.',
              failure: 'Could not approve the plan',
              onConfirm: async reason => {
                const { resource: after } = await api.approveCloudPlan(
                  appRef,
                  name,
                  { reason },
                );
                setOutcome(
                  `Approved the plan of ${name}${
                    after.message ? `: ${after.message}` : '.'
                  }`,
                );
                onDone();
              },
            }}
          />
        )
      }
    >
      <StructuredMetadataTable
        metadata={{
          state: <CloudState state={resource.state} />,
          'last plan': <PlanSummary plan={resource.plan} />,
          outputs: <Outputs outputs={resource.outputs} />,
          'connection secret': resource.connectionSecret ?? 'none',
          drift: <Drift drift={resource.drift} />,
          'last applied': (
            <RelativeTime iso={resource.lastAppliedAt} missing="never" />
          ),
          ...(resource.message && { message: resource.message }),
        }}
      />
    </DecisionSection>
  );
}

/**
 * The Application's `terraform` components: state, the last plan's
 * summary, outputs by name, the connection Secret, drift, and Approve for a
 * plan that waits on a person.
 */
export function CloudResourcesCard(props: {
  resources: CloudResourceStatus[];
  appRef: ApplicationRef;
  onDone: () => void;
}) {
  const { resources, appRef, onDone } = props;
  return (
    <DecisionCard
      title="Cloud resources (OpenTofu)"
      items={resources}
      keyOf={resource => resource.component}
      permission={gitopsCloudApprovePermission}
      what={`approve cloud resource plans of ${stringifyApplicationRef(
        appRef,
      )}`}
      open={resource => resource.state === 'waitingForApproval'}
    >
      {(resource, denied) => (
        <CloudResource
          resource={resource}
          appRef={appRef}
          denied={denied}
          onDone={onDone}
        />
      )}
    </DecisionCard>
  );
}

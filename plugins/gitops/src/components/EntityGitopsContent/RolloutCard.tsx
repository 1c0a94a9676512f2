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
  gitopsRolloutPermission,
  RolloutAnalysisResult,
  RolloutStatus,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import Box from '@material-ui/core/Box';
import LinearProgress from '@material-ui/core/LinearProgress';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import { useState } from 'react';
import { gitopsApiRef } from '../../api';
import { ConfirmedAction } from '../common/ConfirmedAction';
import { DecisionCard, DecisionSection } from '../common/DecisionSection';
import { RelativeTime } from '../common/RelativeTime';
import { ShortRef } from '../common/ShortRef';

/** The phases in which a person may still decide: the rollout is in flight. */
const IN_FLIGHT = new Set<RolloutStatus['phase']>([
  'progressing',
  'paused',
  'waitingForApproval',
]);

/** A rollout's phase in words, with the light that goes with it. */
function RolloutPhaseStatus({ rollout }: { rollout: RolloutStatus }) {
  const newVersion = rollout.strategy === 'canary' ? 'canary' : 'preview';
  switch (rollout.phase) {
    case 'progressing':
      return (
        <StatusPending>
          {rollout.strategy === 'canary'
            ? 'progressing: shifting traffic to the canary step by step'
            : 'progressing: the preview is starting'}
        </StatusPending>
      );
    case 'paused':
      return (
        <StatusPending>paused: waiting out this step's pause</StatusPending>
      );
    case 'waitingForApproval':
      return (
        <StatusWarning>
          waiting for someone to promote or abort the {newVersion}
        </StatusWarning>
      );
    case 'healthy':
      return <StatusOK>healthy: the new version is stable</StatusOK>;
    case 'aborted':
      return (
        <StatusError>
          aborted: all traffic is back on the stable version
        </StatusError>
      );
    default:
      return <StatusWarning>{rollout.phase}</StatusWarning>;
  }
}

/** Where the traffic is: the step (canary) and the share on the new version, as words and a bar. */
function Traffic({ rollout }: { rollout: RolloutStatus }) {
  const { currentStep, totalSteps, canaryWeight } = rollout;
  const newVersion = rollout.strategy === 'canary' ? 'canary' : 'preview';
  const step =
    rollout.strategy === 'canary' &&
    currentStep !== undefined &&
    totalSteps !== undefined &&
    IN_FLIGHT.has(rollout.phase)
      ? `step ${currentStep + 1} of ${totalSteps} at `
      : '';
  const label = `${step}${canaryWeight}% of traffic on the ${newVersion}`;
  return (
    <Box minWidth={240}>
      <Typography variant="body2">{label}</Typography>
      <LinearProgress
        variant="determinate"
        value={canaryWeight}
        aria-label={`Traffic on the ${newVersion} of ${rollout.component}`}
      />
    </Box>
  );
}

function AnalysisTable({ rollout }: { rollout: RolloutStatus }) {
  if (rollout.analysis.length === 0) {
    return (
      <Typography variant="body2">
        No analysis has run in this rollout yet.
      </Typography>
    );
  }
  const label = (a: RolloutAnalysisResult) =>
    a.passed ? <StatusOK>passed</StatusOK> : <StatusError>failed</StatusError>;
  return (
    <Table
      size="small"
      aria-label={`Analysis of ${rollout.component} on ${rollout.cluster}`}
    >
      <TableHead>
        <TableRow>
          <TableCell>Check</TableCell>
          <TableCell>Measured</TableCell>
          <TableCell>Threshold</TableCell>
          <TableCell>Result</TableCell>
          <TableCell>When</TableCell>
          <TableCell>Message</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {rollout.analysis.map((a, i) => (
          <TableRow key={`${a.name}-${a.at}-${i}`}>
            <TableCell>{a.name}</TableCell>
            <TableCell>{a.value ?? 'no value'}</TableCell>
            <TableCell>{a.threshold ?? ''}</TableCell>
            <TableCell>{label(a)}</TableCell>
            <TableCell>
              <RelativeTime iso={a.at} />
            </TableCell>
            <TableCell>{a.message ?? ''}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

function Rollout(props: {
  rollout: RolloutStatus;
  appRef: ApplicationRef;
  denied?: string;
  onDone: () => void;
}) {
  const { rollout, appRef, denied, onDone } = props;
  const api = useApi(gitopsApiRef);
  const [outcome, setOutcome] = useState<string>();
  const where = `${rollout.component} on ${rollout.cluster}`;
  const newVersion = rollout.strategy === 'canary' ? 'canary' : 'preview';
  const decide = async (
    decision: 'promote' | 'abort',
    reason: string | undefined,
  ) => {
    const request = { cluster: rollout.cluster, reason };
    const { rollout: after } =
      decision === 'promote'
        ? await api.promoteRollout(appRef, rollout.component, request)
        : await api.abortRollout(appRef, rollout.component, request);
    setOutcome(
      `${
        decision === 'promote' ? 'Promoted' : 'Aborted'
      } the rollout of ${where}${after.message ? `: ${after.message}` : '.'}`,
    );
    onDone();
  };
  const metadata = {
    strategy: rollout.strategy === 'canary' ? 'canary' : 'blue-green',
    phase: <RolloutPhaseStatus rollout={rollout} />,
    traffic: <Traffic rollout={rollout} />,
    stable: rollout.stableImage ? (
      <ShortRef value={rollout.stableImage} label="image" />
    ) : (
      'not known'
    ),
    [newVersion]: rollout.canaryImage ? (
      <ShortRef value={rollout.canaryImage} label="image" />
    ) : (
      'none'
    ),
    ...(rollout.startedAt && {
      started: <RelativeTime iso={rollout.startedAt} />,
    }),
    ...(rollout.message && { message: rollout.message }),
  };
  return (
    <DecisionSection
      title={`Rollout of ${where}`}
      outcome={outcome}
      actions={
        IN_FLIGHT.has(rollout.phase) && (
          <>
            <ConfirmedAction
              label="Promote"
              ariaLabel={`Promote the rollout of ${where}`}
              color="primary"
              denied={denied}
              dialog={{
                title: `Promote the rollout of ${where}?`,
                description: `The ${newVersion}'s version${
                  rollout.canaryImage ? ` (${rollout.canaryImage})` : ''
                } becomes stable now: all traffic moves to it, skipping the steps and analysis left.`,
                failure: 'Could not promote the rollout',
                onConfirm: reason => decide('promote', reason),
              }}
            />
            <ConfirmedAction
              label="Abort"
              ariaLabel={`Abort the rollout of ${where}`}
              denied={denied}
              dialog={{
                title: `Abort the rollout of ${where}?`,
                description: `All traffic goes back to the stable version${
                  rollout.stableImage ? ` (${rollout.stableImage})` : ''
                }, the ${newVersion} is scaled to zero and its tag is held, so automation does not roll it out again until someone releases the hold.`,
                failure: 'Could not abort the rollout',
                onConfirm: reason => decide('abort', reason),
              }}
            />
          </>
        )
      }
    >
      <StructuredMetadataTable metadata={metadata} />
      <AnalysisTable rollout={rollout} />
    </DecisionSection>
  );
}

/**
 * The Application's progressive rollouts (canary or blue-green), one per
 * component and cluster: where the traffic is, each analysis result, and
 * Promote / Abort while one is in flight.
 */
export function RolloutCard(props: {
  rollouts: RolloutStatus[];
  appRef: ApplicationRef;
  onDone: () => void;
}) {
  const { rollouts, appRef, onDone } = props;
  return (
    <DecisionCard
      title="Progressive rollouts"
      items={rollouts}
      keyOf={rollout =>
        `${rollout.cluster}/${rollout.namespace ?? ''}/${rollout.component}`
      }
      permission={gitopsRolloutPermission}
      what={`promote or abort rollouts of ${stringifyApplicationRef(appRef)}`}
      open={rollout => IN_FLIGHT.has(rollout.phase)}
    >
      {(rollout, denied) => (
        <Rollout
          rollout={rollout}
          appRef={appRef}
          denied={denied}
          onDone={onDone}
        />
      )}
    </DecisionCard>
  );
}

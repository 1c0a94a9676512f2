import {
  describeDuration,
  DoraFigures as DoraFiguresData,
} from '@gitops-workflow/plugin-gitops-common';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';

const plural = (n: number, one: string, many = `${one}s`) =>
  `${n} ${n === 1 ? one : many}`;

/** Two significant digits under ten a day (0.57), whole numbers above. */
function perDay(value: number): string {
  if (value === 0 || value >= 10) return String(Math.round(value));
  return String(Number(value.toPrecision(2)));
}

function Figure(props: { name: string; value: string; detail: string }) {
  return (
    <Grid item xs={12} sm={6} md={3} role="group" aria-label={props.name}>
      <Typography variant="overline" component="div">
        {props.name}
      </Typography>
      <Typography variant="h5" component="div">
        {props.value}
      </Typography>
      <Typography variant="body2" color="textSecondary">
        {props.detail}
      </Typography>
    </Grid>
  );
}

function leadTimeDetail(lead: DoraFiguresData['leadTime']): string {
  if (lead.samples === 0) return 'no deployments in this window';
  const p90 = `p90 ${describeDuration(lead.p90Ms!)}`;
  if (lead.fromTagPush === lead.samples) return `${p90}, from the tag push`;
  if (lead.fromTagPush === 0) {
    return `${p90}, from when the policy picked the tag (the registry sent no push notification), so the push was earlier`;
  }
  return `${p90}, from the tag push for ${lead.fromTagPush} of ${lead.samples}; from the policy's pick for the rest`;
}

/**
 * The four DORA figures of an Application over the window `windowLabel`
 * names, as the backend computed them from its image history.
 */
export function DoraFigures(props: {
  dora: DoraFiguresData;
  windowLabel: string;
}) {
  const { dora, windowLabel } = props;
  const restore = dora.timeToRestore;
  let restoreDetail = 'no failures in this window';
  if (restore.restored + restore.unrestored > 0) {
    restoreDetail = `${restore.restored} restored`;
    if (restore.unrestored)
      restoreDetail += `, ${restore.unrestored} not restored yet`;
  }
  return (
    <Grid container spacing={2} aria-label="DORA figures">
      <Figure
        name="Deployment frequency"
        value={`${perDay(dora.deploymentsPerDay)} / day`}
        detail={`${plural(dora.deployments, 'deployment')} of ${plural(
          dora.rollouts,
          'rollout',
        )} in the last ${windowLabel}`}
      />
      <Figure
        name="Lead time"
        value={
          dora.leadTime.medianMs === undefined
            ? '—'
            : describeDuration(dora.leadTime.medianMs)
        }
        detail={leadTimeDetail(dora.leadTime)}
      />
      <Figure
        name="Change failure rate"
        value={
          dora.changeFailureRate === undefined
            ? '—'
            : `${Math.round(dora.changeFailureRate * 100)} %`
        }
        detail={
          dora.finished
            ? `${dora.failures} of ${plural(
                dora.finished,
                'finished rollout',
              )} failed or rolled back`
            : 'no finished rollouts in this window'
        }
      />
      <Figure
        name="Time to restore"
        value={
          restore.medianMs === undefined
            ? '—'
            : describeDuration(restore.medianMs)
        }
        detail={restoreDetail}
      />
    </Grid>
  );
}

import { InfoCard, Progress } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  DiffPreview,
  gitopsSyncPermission,
  ObjectDiff,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import { alpha, makeStyles } from '@material-ui/core/styles';
import Typography from '@material-ui/core/Typography';
import Alert from '@material-ui/lab/Alert';
import { useState } from 'react';
import { gitopsApiRef } from '../../api';
import { backendMessage } from '../common/errors';
import { RelativeTime } from '../common/RelativeTime';
import { useEntityPermissionReason, WithReason } from '../common/WithReason';

const useStyles = makeStyles(theme => ({
  object: { marginTop: theme.spacing(2) },
  diff: {
    margin: 0,
    marginTop: theme.spacing(0.5),
    padding: theme.spacing(1),
    fontFamily: 'monospace',
    fontSize: '0.8rem',
    background: theme.palette.background.default,
    // Long lines wrap: nobody scrolls sideways to read a diff.
    whiteSpace: 'pre-wrap',
    overflowWrap: 'anywhere',
  },
  added: { background: alpha(theme.palette.success.main, 0.18) },
  removed: { background: alpha(theme.palette.error.main, 0.18) },
  hunk: { color: theme.palette.text.secondary },
  line: { display: 'block' },
}));

const VERBS: Record<ObjectDiff['action'], string> = {
  created: 'would be created',
  changed: 'would change',
  pruned: 'would be deleted (no longer in Git)',
  unchanged: 'unchanged',
};

function describe(o: ObjectDiff): string {
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}

function DiffLines({ diff, title }: { diff: string; title: string }) {
  const classes = useStyles();
  const lines = diff.replace(/\n$/, '').split('\n');
  return (
    <pre className={classes.diff} aria-label={`Diff of ${title}`}>
      {lines.map((line, i) => {
        let kind: 'added' | 'removed' | 'hunk' | 'context' = 'context';
        if (line.startsWith('+++') || line.startsWith('---')) kind = 'hunk';
        else if (line.startsWith('+')) kind = 'added';
        else if (line.startsWith('-')) kind = 'removed';
        else if (line.startsWith('@@')) kind = 'hunk';
        return (
          <span
            key={i}
            data-line={kind}
            className={`${classes.line} ${
              kind === 'context' ? '' : classes[kind]
            }`}
          >
            {line}
          </span>
        );
      })}
    </pre>
  );
}

function ObjectChange({ object }: { object: ObjectDiff }) {
  const classes = useStyles();
  const title = describe(object);
  return (
    <section
      className={classes.object}
      aria-label={`${title} ${VERBS[object.action]}`}
    >
      <Typography variant="subtitle2" component="h4">
        {title} {VERBS[object.action]}
        <Typography variant="caption" color="textSecondary">
          {' '}
          on {object.cluster}
          {object.changedFields?.length
            ? `: ${object.changedFields.join(', ')}`
            : ''}
        </Typography>
      </Typography>
      {object.diff ? <DiffLines diff={object.diff} title={title} /> : null}
    </section>
  );
}

function summaryOf(preview: DiffPreview): string {
  const { created, changed, pruned, unchanged } = preview.counts;
  const parts = [
    changed && `${changed} to change`,
    created && `${created} to create`,
    pruned && `${pruned} to delete`,
    `${unchanged} unchanged`,
  ].filter(Boolean);
  return parts.join(', ');
}

function PreviewResult({ preview }: { preview: DiffPreview }) {
  const [showUnchanged, setShowUnchanged] = useState(false);
  const changes = preview.objects.filter(o => o.action !== 'unchanged');
  const unchanged = preview.objects.filter(o => o.action === 'unchanged');
  const revisions = Object.entries(preview.revisions);
  return (
    <>
      <Typography variant="body1">
        {changes.length === 0
          ? 'Nothing would change: the cluster already matches Git.'
          : summaryOf(preview)}
      </Typography>
      <Typography variant="caption" color="textSecondary">
        As of <RelativeTime iso={preview.generatedAt} />
        {revisions.length
          ? `, from ${revisions.map(([c, r]) => `${c} at ${r}`).join(', ')}`
          : ''}
      </Typography>
      {(preview.warnings ?? []).map(warning => (
        <Alert key={warning} severity="warning">
          {warning}
        </Alert>
      ))}
      {changes.map(o => (
        <ObjectChange
          key={`${o.cluster}/${o.apiVersion}/${describe(o)}`}
          object={o}
        />
      ))}
      {unchanged.length > 0 && (
        <Box mt={2}>
          <Button
            size="small"
            aria-expanded={showUnchanged}
            onClick={() => setShowUnchanged(!showUnchanged)}
          >
            {showUnchanged ? 'Hide' : 'Show'} {unchanged.length} unchanged
            object{unchanged.length === 1 ? '' : 's'}
          </Button>
          {showUnchanged && (
            <ul aria-label="Unchanged objects">
              {unchanged.map(o => (
                <li key={`${o.cluster}/${o.apiVersion}/${describe(o)}`}>
                  {describe(o)} on {o.cluster}
                </li>
              ))}
            </ul>
          )}
        </Box>
      )}
    </>
  );
}

/**
 * "Preview next sync": on demand, what a sync would change now, object by
 * object as a diff. The backend dry-runs Git's HEAD against the cluster,
 * so asking needs the sync permission; nothing is changed.
 */
export function DiffPreviewCard({ appRef }: { appRef: ApplicationRef }) {
  const api = useApi(gitopsApiRef);
  const name = stringifyApplicationRef(appRef);
  const permission = useEntityPermissionReason(
    gitopsSyncPermission,
    `preview the next sync of ${name}`,
  );
  const [state, setState] = useState<{
    busy: boolean;
    preview?: DiffPreview;
    error?: string;
  }>({ busy: false });

  async function run() {
    setState(prev => ({ ...prev, busy: true, error: undefined }));
    try {
      setState({ busy: false, preview: await api.previewDiff(appRef) });
    } catch (e) {
      setState({
        busy: false,
        error: `Could not preview the next sync: ${backendMessage(e as Error)}`,
      });
    }
  }

  return (
    <InfoCard title="Next sync">
      <Typography variant="body2" color="textSecondary" paragraph>
        What a sync would change now: Git's latest commit (without new image
        updates) dry-run against the cluster. Nothing is changed.
      </Typography>
      <WithReason reason={permission.reason}>
        <Button
          variant="contained"
          color="primary"
          disabled={Boolean(permission.reason) || state.busy}
          onClick={run}
        >
          {state.preview ? 'Preview again' : 'Preview next sync'}
        </Button>
      </WithReason>
      {state.busy && (
        <Box mt={2}>
          <Progress />
        </Box>
      )}
      {state.error && (
        <Box mt={2}>
          <Alert severity="error">{state.error}</Alert>
        </Box>
      )}
      {state.preview && !state.busy && (
        <Box mt={2}>
          <PreviewResult preview={state.preview} />
        </Box>
      )}
    </InfoCard>
  );
}

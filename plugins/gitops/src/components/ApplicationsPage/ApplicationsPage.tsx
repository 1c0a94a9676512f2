import {
  Content,
  Header,
  Page,
  Progress,
  ResponseErrorPanel,
  Table,
  TableColumn,
  WarningPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import { ApplicationSummary } from '@gitops-workflow/plugin-gitops-common';
import { gitopsApiRef } from '../../api';
import Typography from '@material-ui/core/Typography';
import { backendMessage } from '../common/errors';
import { HealthyStatus, PhaseStatus } from '../common/HealthStatus';
import { compactColumns, useTableLayoutStyles } from '../common/layout';
import { RelativeTime } from '../common/RelativeTime';
import { usePolling } from '../common/usePolling';

/** Each component on its own line with its traits, so the column stays narrow. */
function Components({ app }: { app: ApplicationSummary }) {
  if (app.components.length === 0) return <>none</>;
  return (
    <>
      {app.components.map(c => (
        <div key={c.name}>
          <span>
            {c.name} ({c.type})
          </span>
          {c.traits.length > 0 && (
            <Typography variant="caption" color="textSecondary">
              {' '}
              {c.traits.join(', ')}
            </Typography>
          )}
        </div>
      ))}
    </>
  );
}

/*
 * Seven columns that fit 1280 px beside the sidebar: traits ride with their
 * components, health with the phase (as `vela ls` has both), the creation
 * time is relative, and cells wrap between words.
 */
const columns: TableColumn<ApplicationSummary>[] = [
  {
    title: 'Application',
    // May break after the namespace (and at hyphens), never inside a word.
    render: a => (
      <>
        {a.namespace}/<wbr />
        {a.name}
      </>
    ),
  },
  { title: 'Cluster', field: 'cluster' },
  { title: 'Components and traits', render: a => <Components app={a} /> },
  {
    title: 'Phase and health',
    render: a => (
      <>
        <PhaseStatus phase={a.phase} deletion={a.deletion} />
        <div>
          <HealthyStatus healthy={a.healthy} />
        </div>
      </>
    ),
  },
  {
    title: 'Status',
    render: a =>
      a.components
        .filter(c => c.message)
        .map(c => `${c.name}: ${c.message}`)
        .join('; '),
  },
  { title: 'Created', render: a => <RelativeTime iso={a.createdAt} /> },
  {
    title: 'Catalog entity',
    render: a =>
      a.entityRef ? (
        <EntityRefLink entityRef={a.entityRef} />
      ) : (
        'not in the catalog'
      ),
  },
];

// A constant: the table rebuilds its body whenever this element changes.
const NO_APPLICATIONS = (
  <div style={{ padding: 16 }}>
    No Applications found. Apply a KubeVela Application to a cluster under{' '}
    <code>gitops.clusters</code> (with the labels of{' '}
    <code>gitops.selector.matchLabels</code>, if set) and it appears here.
  </div>
);

/** Every Application on every configured cluster, like `vela ls`. */
export function ApplicationsPage() {
  const api = useApi(gitopsApiRef);
  const classes = useTableLayoutStyles();
  const { value, loading, error } = usePolling(
    () => api.listApplications(),
    [api],
  );
  return (
    <Page themeId="tool">
      <Header
        title="GitOps applications"
        subtitle="KubeVela Applications on every configured cluster"
      />
      <Content className={classes.tables}>
        {loading && <Progress />}
        {error && !value && (
          <ResponseErrorPanel
            error={error}
            title="Could not list Applications"
          />
        )}
        {error && value && (
          <WarningPanel
            title="Showing the last known list: refreshing failed"
            message={backendMessage(error)}
          />
        )}
        {value?.errors?.map(e => (
          <WarningPanel
            key={e.cluster}
            title={`Cluster ${e.cluster} could not be listed`}
            message={e.error}
          />
        ))}
        {value && (
          <Table
            title={`Applications (${value.items.length})`}
            options={{ paging: false, padding: 'dense' }}
            columns={compactColumns(columns)}
            data={value.items}
            emptyContent={NO_APPLICATIONS}
          />
        )}
      </Content>
    </Page>
  );
}

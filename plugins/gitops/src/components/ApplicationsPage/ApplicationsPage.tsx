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
import { backendMessage } from '../common/errors';
import { formatTime } from '../common/format';
import { HealthyStatus, PhaseStatus } from '../common/HealthStatus';
import { usePolling } from '../common/usePolling';

const columns: TableColumn<ApplicationSummary>[] = [
  { title: 'Application', render: a => `${a.namespace}/${a.name}` },
  { title: 'Cluster', field: 'cluster' },
  {
    title: 'Components',
    render: a =>
      a.components.map(c => `${c.name} (${c.type})`).join(', ') || 'none',
  },
  {
    title: 'Traits',
    render: a =>
      [...new Set(a.components.flatMap(c => c.traits))].join(', ') || 'none',
  },
  {
    title: 'Phase',
    render: a => <PhaseStatus phase={a.phase} deletion={a.deletion} />,
  },
  { title: 'Healthy', render: a => <HealthyStatus healthy={a.healthy} /> },
  {
    title: 'Status',
    render: a =>
      a.components
        .filter(c => c.message)
        .map(c => `${c.name}: ${c.message}`)
        .join('; '),
  },
  { title: 'Created', render: a => formatTime(a.createdAt) },
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

/** Every Application on every configured cluster, like `vela ls`. */
export function ApplicationsPage() {
  const api = useApi(gitopsApiRef);
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
      <Content>
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
            columns={columns}
            data={value.items}
            emptyContent={
              <div style={{ padding: 16 }}>
                No Applications found. Apply a KubeVela Application to a
                configured cluster and it appears here.
              </div>
            }
          />
        )}
      </Content>
    </Page>
  );
}

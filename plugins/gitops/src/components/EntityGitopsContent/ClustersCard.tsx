import {
  InfoCard,
  Progress,
  ResponseErrorPanel,
  StatusError,
  StatusOK,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { ClusterStatus } from '@gitops-workflow/plugin-gitops-common';
import Typography from '@material-ui/core/Typography';
import useAsync from 'react-use/esm/useAsync';
import { gitopsApiRef } from '../../api';

const columns: TableColumn<ClusterStatus>[] = [
  { title: 'Cluster', field: 'name' },
  { title: 'API server', field: 'server' },
  {
    title: 'Labels',
    render: c =>
      Object.entries(c.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', '),
  },
  {
    title: 'Status',
    render: c =>
      c.reachable ? (
        <StatusOK>reachable, {c.version}</StatusOK>
      ) : (
        <StatusError>{c.error}</StatusError>
      ),
  },
];

/** The clusters the backend deploys to, and whether each answers right now. */
export function ClustersCard() {
  const api = useApi(gitopsApiRef);
  const { value, loading, error } = useAsync(() => api.getClusters(), [api]);
  if (loading) return <Progress />;
  if (error)
    return <ResponseErrorPanel error={error} title="Could not list clusters" />;
  if (!value?.items.length) {
    return (
      <InfoCard title="Clusters">
        <Typography>
          The gitops backend has no clusters configured. Add them under{' '}
          <code>gitops.clusters</code> in app-config.yaml.
        </Typography>
      </InfoCard>
    );
  }
  return (
    <Table
      title="Clusters"
      options={{ paging: false, search: false, padding: 'dense' }}
      columns={columns}
      data={value.items}
    />
  );
}

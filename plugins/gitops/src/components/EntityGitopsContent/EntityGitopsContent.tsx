import {
  EmptyState,
  InfoCard,
  Progress,
  ResponseErrorPanel,
  StructuredMetadataTable,
  Table,
  TableColumn,
} from '@backstage/core-components';
import {
  MissingAnnotationEmptyState,
  useEntity,
} from '@backstage/plugin-catalog-react';
import {
  ApplicationDetails,
  GITOPS_APPLICATION_ANNOTATION,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import Grid from '@material-ui/core/Grid';
import { backendMessage, isNotFound } from '../common/errors';
import { HealthyStatus, PhaseStatus } from '../common/HealthStatus';
import { isGitopsAvailable, useApplication } from '../common/useApplication';
import { ClustersCard } from './ClustersCard';

type ComponentRow = ApplicationDetails['components'][number] & {
  status?: ApplicationDetails['services'][number];
};

const componentColumns: TableColumn<ComponentRow>[] = [
  { title: 'Component', field: 'name' },
  { title: 'Type', field: 'type' },
  { title: 'Traits', render: c => c.traits.join(', ') },
  { title: 'Cluster', render: c => c.status?.cluster ?? 'local' },
  {
    title: 'Healthy',
    render: c =>
      c.status ? (
        <HealthyStatus healthy={c.status.healthy} message={c.status.message} />
      ) : (
        'not reported yet'
      ),
  },
];

function ApplicationOverview({ app }: { app: ApplicationDetails }) {
  const rows: ComponentRow[] = app.components.map(c => ({
    ...c,
    status: app.services.find(s => s.name === c.name),
  }));
  return (
    <Grid container spacing={3}>
      <Grid item xs={12} md={6}>
        <InfoCard title={`Application ${app.namespace}/${app.name}`}>
          <StructuredMetadataTable
            metadata={{
              phase: <PhaseStatus phase={app.phase} />,
              cluster: app.cluster,
              created: app.createdAt ?? 'unknown',
              conditions:
                app.conditions
                  .map(c => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`)
                  .join(', ') || 'none',
            }}
          />
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={6}>
        <ClustersCard />
      </Grid>
      <Grid item xs={12}>
        <Table
          title="Components"
          options={{ paging: false, search: false, padding: 'dense' }}
          columns={componentColumns}
          data={rows}
        />
      </Grid>
    </Grid>
  );
}

/** The GitOps tab of an entity page. */
export function EntityGitopsContent() {
  const { entity } = useEntity();
  const available = isGitopsAvailable(entity);
  const { value, loading, error, ref, annotationError } = useApplication(entity);

  if (!available) {
    return <MissingAnnotationEmptyState annotation={GITOPS_APPLICATION_ANNOTATION} />;
  }
  if (annotationError) {
    return (
      <EmptyState
        missing="field"
        title="The GitOps annotation is malformed"
        description={annotationError}
      />
    );
  }
  if (loading) return <Progress />;
  if (error) {
    if (isNotFound(error) && ref) {
      return (
        <EmptyState
          missing="data"
          title={`Application ${stringifyApplicationRef(ref)} not found`}
          description={`${backendMessage(error)}. Apply the Application to the cluster, or fix the ${GITOPS_APPLICATION_ANNOTATION} annotation of this entity.`}
        />
      );
    }
    return <ResponseErrorPanel error={error} title="Could not load the Application" />;
  }
  return value ? <ApplicationOverview app={value} /> : null;
}

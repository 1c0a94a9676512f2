import {
  EmptyState,
  InfoCard,
  Progress,
  ResponseErrorPanel,
  StructuredMetadataTable,
  WarningPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  MissingAnnotationEmptyState,
  useEntity,
} from '@backstage/plugin-catalog-react';
import { stringifyEntityRef } from '@backstage/catalog-model';
import {
  applicationAnnotationOf,
  ApplicationDetails,
  ApplicationRef,
  deprecatedAnnotationMessage,
  GITOPS_APPLICATION_ANNOTATION,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import Grid from '@material-ui/core/Grid';
import Alert from '@material-ui/lab/Alert';
import { gitopsApiRef } from '../../api';
import { backendMessage, isNotFound } from '../common/errors';
import { HealthyStatus, PhaseStatus } from '../common/HealthStatus';
import { useTableLayoutStyles } from '../common/layout';
import { RelativeTime } from '../common/RelativeTime';
import { isGitopsAvailable, useApplication } from '../common/useApplication';
import { usePolling } from '../common/usePolling';
import { ApplicationActions } from './ApplicationActions';
import { AuditTable } from './AuditTable';
import { CloudResourcesCard } from './CloudResourcesCard';
import { ClustersCard } from './ClustersCard';
import { ComponentsTable } from './ComponentsTable';
import { ManagedByHeader, Revision } from './ManagedByHeader';
import { DiffPreviewCard } from './DiffPreview';
import { HoldBanner } from './HoldBanner';
import { ImageHistoryTable } from './ImageHistoryTable';
import { ResourceTreeCard } from './ResourceTree';
import { RolloutCard } from './RolloutCard';
import { RunsTable } from './RunsTable';
import { SyncConfigCard } from './SyncConfigCard';
import { TimelineCard } from './TimelineCard';
import { WorkflowCard } from './WorkflowCard';

const HISTORY_ROWS = 20;
const RUN_ROWS = 10;
const AUDIT_ROWS = 20;

function automationState(sync: ApplicationDetails['sync']): string {
  if (sync?.suspended) return 'suspended: new image tags are not committed';
  const held = sync?.holds ?? [];
  if (held.length > 0) {
    return `held: ${held
      .map(h => `${h.component} at ${h.tag}`)
      .join(', ')} until released`;
  }
  return 'active';
}

function Header(props: {
  app: ApplicationDetails;
  appRef: ApplicationRef;
  gitUrl?: string;
  refresh: () => void;
}) {
  const { app, appRef, gitUrl, refresh } = props;
  const sync = app.sync;
  const healthy =
    app.services.length > 0 &&
    app.components.every(
      c => app.services.find(s => s.name === c.name)?.healthy,
    );
  return (
    <InfoCard
      title={`Application ${app.namespace}/${app.name}`}
      subheader={app.managedBy && <ManagedByHeader managedBy={app.managedBy} />}
    >
      <StructuredMetadataTable
        metadata={{
          phase: <PhaseStatus phase={app.phase} deletion={app.deletion} />,
          health: (
            <HealthyStatus
              healthy={healthy}
              message={
                healthy
                  ? 'all components healthy'
                  : `${app.services.filter(s => s.healthy).length}/${
                      app.components.length
                    } components healthy`
              }
            />
          ),
          // Applied from Git by another Application: the revision of its that carried this spec.
          revision: sync?.revision ? (
            <Revision revision={sync.revision} gitUrl={gitUrl} />
          ) : (
            <Revision
              revision={app.managedBy?.revision}
              gitUrl={app.managedBy?.url}
            />
          ),
          'last sync': sync?.lastSyncAt ? (
            <>
              <RelativeTime iso={sync.lastSyncAt} />
              {sync.lastSyncResult ? ` (${sync.lastSyncResult})` : ''}
            </>
          ) : (
            'never'
          ),
          ...(sync?.lastSyncError ? { 'last error': sync.lastSyncError } : {}),
          'next sync': (
            <RelativeTime
              iso={sync?.nextSyncAt}
              missing="not scheduled by this backend"
            />
          ),
          automation: automationState(sync),
          cluster: app.cluster,
          conditions:
            app.conditions
              .map(
                c => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`,
              )
              .join(', ') || 'none',
        }}
      />
      <ApplicationActions
        appRef={appRef}
        suspended={Boolean(sync?.suspended)}
        onDone={refresh}
      />
    </InfoCard>
  );
}

function ApplicationView(props: {
  app: ApplicationDetails;
  appRef: ApplicationRef;
  refresh: () => void;
  staleError?: Error;
}) {
  const { app, appRef, refresh, staleError } = props;
  const api = useApi(gitopsApiRef);
  const key = stringifyApplicationRef(appRef);
  // Each read again when the backend says the Application changed.
  const live = { refreshOn: appRef };
  const history = usePolling(
    () => api.getImageHistory(appRef, { limit: HISTORY_ROWS }),
    [api, key],
    live,
  );
  const config = usePolling(() => api.getSyncConfig(appRef), [api, key], live);
  const runs = usePolling(
    () => api.getRuns(appRef, { limit: RUN_ROWS }),
    [api, key],
    live,
  );
  const audit = usePolling(
    () => api.getAudit(appRef, { limit: AUDIT_ROWS }),
    [api, key],
    live,
  );
  const gitUrl = config.value?.components[0]?.git.url;
  const refreshAll = () => {
    refresh();
    history.refresh();
    runs.refresh();
    config.refresh();
    audit.refresh();
  };
  return (
    <>
      <HoldBanner sync={app.sync} appRef={appRef} onDone={refreshAll} />
      <Grid container spacing={3}>
        {staleError && (
          <Grid item xs={12}>
            <WarningPanel
              title="Showing the last known state: refreshing failed"
              message={backendMessage(staleError)}
            />
          </Grid>
        )}
        <Grid item xs={12} md={6}>
          <Header
            app={app}
            appRef={appRef}
            gitUrl={gitUrl}
            refresh={refreshAll}
          />
        </Grid>
        <Grid item xs={12} md={6}>
          <ClustersCard />
        </Grid>
        <Grid item xs={12}>
          <ComponentsTable app={app} />
        </Grid>
        {app.rollouts && app.rollouts.length > 0 && (
          <Grid item xs={12}>
            <RolloutCard
              rollouts={app.rollouts}
              appRef={appRef}
              onDone={refreshAll}
            />
          </Grid>
        )}
        {app.cloudResources && app.cloudResources.length > 0 && (
          <Grid item xs={12}>
            <CloudResourcesCard
              resources={app.cloudResources}
              appRef={appRef}
              onDone={refreshAll}
            />
          </Grid>
        )}
        <Grid item xs={12}>
          <TimelineCard
            appRef={appRef}
            components={app.components.map(c => c.name)}
            gitUrl={gitUrl}
          />
        </Grid>
        <Grid item xs={12}>
          <ResourceTreeCard appRef={appRef} />
        </Grid>
        <Grid item xs={12}>
          <DiffPreviewCard appRef={appRef} />
        </Grid>
        <Grid item xs={12}>
          <WorkflowCard
            appRef={appRef}
            workflow={app.workflow}
            onDone={refresh}
          />
        </Grid>
        <Grid item xs={12}>
          {history.value && (
            <ImageHistoryTable
              history={history.value}
              gitUrl={gitUrl}
              appRef={appRef}
              onDone={refreshAll}
            />
          )}
          {!history.value && history.error && (
            <ResponseErrorPanel
              error={history.error}
              title="Could not load the image history"
            />
          )}
        </Grid>
        <Grid item xs={12}>
          {runs.value && <RunsTable runs={runs.value} gitUrl={gitUrl} />}
          {!runs.value && runs.error && (
            <ResponseErrorPanel
              error={runs.error}
              title="Could not load the recent syncs"
            />
          )}
        </Grid>
        <Grid item xs={12}>
          {audit.value && <AuditTable audit={audit.value} />}
          {!audit.value && audit.error && (
            <ResponseErrorPanel
              error={audit.error}
              title="Could not load the audit trail"
            />
          )}
        </Grid>
        <Grid item xs={12}>
          {config.value && <SyncConfigCard config={config.value} />}
          {!config.value && config.error && (
            <ResponseErrorPanel
              error={config.error}
              title="Could not load the sync configuration"
            />
          )}
        </Grid>
      </Grid>
    </>
  );
}

/** The tab's note for an entity that still uses the deprecated annotation. */
function DeprecatedAnnotationNote() {
  const { entity } = useEntity();
  if (!applicationAnnotationOf(entity.metadata.annotations)?.deprecated) {
    return null;
  }
  return (
    <Alert severity="info" style={{ marginBottom: 16 }}>
      {deprecatedAnnotationMessage(stringifyEntityRef(entity))}
    </Alert>
  );
}

/** The GitOps tab of an entity page. */
export function EntityGitopsContent() {
  const classes = useTableLayoutStyles();
  return (
    <div className={classes.tables}>
      <DeprecatedAnnotationNote />
      <TabContent />
    </div>
  );
}

function TabContent() {
  const { entity } = useEntity();
  const available = isGitopsAvailable(entity);
  const { value, loading, error, ref, annotationError, refresh } =
    useApplication(entity);
  const annotation =
    applicationAnnotationOf(entity.metadata.annotations)?.annotation ??
    GITOPS_APPLICATION_ANNOTATION;

  if (!available) {
    return (
      <MissingAnnotationEmptyState annotation={GITOPS_APPLICATION_ANNOTATION} />
    );
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
  if (value && ref) {
    return (
      <ApplicationView
        app={value}
        appRef={ref}
        refresh={refresh}
        staleError={error}
      />
    );
  }
  if (error && isNotFound(error) && ref) {
    return (
      <EmptyState
        missing="data"
        title={`Application ${stringifyApplicationRef(ref)} not found`}
        description={`${backendMessage(
          error,
        )}. Apply the Application to the cluster, or fix the ${annotation} annotation of this entity.`}
      />
    );
  }
  if (error) {
    return (
      <ResponseErrorPanel
        error={error}
        title="Could not load the Application"
      />
    );
  }
  return null;
}

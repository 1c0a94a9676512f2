import {
  InfoCard,
  Progress,
  ResponseErrorPanel,
  StructuredMetadataTable,
} from '@backstage/core-components';
import {
  MissingAnnotationEmptyState,
  useEntity,
} from '@backstage/plugin-catalog-react';
import { GITOPS_APPLICATION_ANNOTATION } from '@gitops-workflow/plugin-gitops-common';
import { PhaseStatus } from '../common/HealthStatus';
import { isGitopsAvailable, useApplication } from '../common/useApplication';

/** An overview card: the Application's phase and how many components are healthy. */
export function EntityGitopsCard() {
  const { entity } = useEntity();
  const { value, loading, error } = useApplication(entity);

  if (!isGitopsAvailable(entity)) {
    return (
      <MissingAnnotationEmptyState annotation={GITOPS_APPLICATION_ANNOTATION} />
    );
  }
  return (
    <InfoCard title="GitOps">
      {loading && <Progress />}
      {error && (
        <ResponseErrorPanel
          error={error}
          title="Could not load the Application"
        />
      )}
      {value && (
        <StructuredMetadataTable
          metadata={{
            application: `${value.namespace}/${value.name}`,
            phase: <PhaseStatus phase={value.phase} />,
            healthy: `${value.services.filter(s => s.healthy).length}/${
              value.components.length
            } components`,
          }}
        />
      )}
    </InfoCard>
  );
}

import { InfoCard, StructuredMetadataTable } from '@backstage/core-components';
import { SyncConfiguration } from '@gitops-workflow/plugin-gitops-common';
import Typography from '@material-ui/core/Typography';

/** How each kustomize component is synced; secrets are named, never shown. */
export function SyncConfigCard({ config }: { config: SyncConfiguration }) {
  if (config.components.length === 0) {
    return (
      <InfoCard title="Sync configuration">
        <Typography>
          No component syncs from Git: add a component of type kustomize with a
          Git repository to sync this Application.
        </Typography>
      </InfoCard>
    );
  }
  return (
    <InfoCard title="Sync configuration">
      {config.components.map(c => (
        <div key={c.name}>
          <Typography variant="h6">{c.name}</Typography>
          <StructuredMetadataTable
            dense
            metadata={{
              'Git URL': c.git.url,
              branch: c.git.branch,
              path: c.git.path || '/',
              interval: c.git.pullInterval,
              prune: c.git.prune ? 'yes' : 'no',
              'Git secret': c.git.secretRef ?? 'none',
              ...(c.image
                ? {
                    image: c.image.image,
                    'scan interval': c.image.interval,
                    'tag pattern': c.image.pattern ?? 'any',
                    extract: c.image.extract ?? '—',
                    policy: c.image.policy,
                    'commit template': c.image.commitMessage ?? 'default',
                    'registry secret': c.image.secretRef ?? 'none',
                  }
                : { image: 'no image automation' }),
            }}
          />
        </div>
      ))}
      <Typography variant="body2">
        Commits are authored by {config.commitAuthor.name} &lt;
        {config.commitAuthor.email}&gt;.
      </Typography>
    </InfoCard>
  );
}

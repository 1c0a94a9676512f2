import { InfoCard, StructuredMetadataTable } from '@backstage/core-components';
import { SyncConfiguration } from '@gitops-workflow/plugin-gitops-common';
import Typography from '@material-ui/core/Typography';
import { ShortRef } from '../common/ShortRef';
import { HoldStory, WouldPick } from './HoldBanner';

/** Flux's digestReflectionPolicy values, in words. */
const DIGEST_POLICIES: Record<string, string> = {
  Never: 'Never: markers get the tag only',
  IfNotPresent:
    'IfNotPresent: a tag’s digest is read once; a tag moved later is not followed',
  Always:
    'Always: digests are read on every scan; a tag moved to a new digest is rolled out',
};

type ImageConfig = NonNullable<
  SyncConfiguration['components'][number]['image']
>;

function imageMetadata(image: ImageConfig) {
  const digestPolicy = image.digestReflectionPolicy ?? 'Never';
  return {
    image: <ShortRef value={image.image} label="image" />,
    'scan interval': image.interval,
    'tag pattern': image.pattern ?? 'any',
    extract: image.extract ?? '—',
    policy: image.policy,
    digests: DIGEST_POLICIES[digestPolicy] ?? digestPolicy,
    'automatic rollback': image.rollback?.onFailure
      ? `on: a rollout not healthy within ${image.rollback.after} (or failed) is rolled back to the previous tag and held`
      : 'off: a failed rollout stays until someone rolls it back',
    hold: image.hold ? (
      <>
        held at {image.hold.tag}. <HoldStory hold={image.hold} />{' '}
        <WouldPick hold={image.hold} />
      </>
    ) : (
      'none: new tags are committed'
    ),
    'commit template': image.commitMessage ?? 'default',
    'registry secret': image.secretRef ?? 'none',
  };
}

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
                ? imageMetadata(c.image)
                : {
                    image:
                      'no image automation: add an imageRepository to this component to commit new tags',
                  }),
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

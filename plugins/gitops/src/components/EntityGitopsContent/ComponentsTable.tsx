import { Table, TableColumn } from '@backstage/core-components';
import {
  ApplicationDetails,
  ResourceStatus,
} from '@gitops-workflow/plugin-gitops-common';
import Button from '@material-ui/core/Button';
import Tooltip from '@material-ui/core/Tooltip';
import { useState } from 'react';
import { HealthyStatus, KstatusHealth } from '../common/HealthStatus';
import { ShortRef } from '../common/ShortRef';

type ComponentRow = ApplicationDetails['components'][number] & {
  status?: ApplicationDetails['services'][number];
  resources: ResourceStatus[];
};

/** The images a component's live workloads run, or a dash that says on hover why none is known. */
function RunningImages({ row }: { row: ComponentRow }) {
  if (row.images?.length) {
    return (
      <>
        {row.images.map(image => (
          <div key={image}>
            <ShortRef value={image} label="image" />
          </div>
        ))}
      </>
    );
  }
  const why = row.imagesUnknown ?? 'The backend did not say which image runs';
  return (
    <Tooltip title={why}>
      <span aria-label={`No running image known: ${why}`}>—</span>
    </Tooltip>
  );
}

function Resources(props: { row: ComponentRow }) {
  const { row } = props;
  const [open, setOpen] = useState(false);
  if (row.resources.length === 0) return <>none reported</>;
  return (
    <>
      <Button
        size="small"
        aria-expanded={open}
        aria-label={`${open ? 'Hide' : 'Show'} resources of ${row.name}`}
        onClick={() => setOpen(!open)}
      >
        {open ? 'Hide' : 'Show'} {row.resources.length}
      </Button>
      {open && (
        <ul
          aria-label={`Resources of ${row.name}`}
          style={{ margin: 0, paddingLeft: 16 }}
        >
          {row.resources.map(r => (
            <li key={`${r.apiVersion}/${r.kind}/${r.namespace}/${r.name}`}>
              {r.kind} {r.namespace ? `${r.namespace}/` : ''}
              {r.name} <KstatusHealth health={r.health} />
              {r.message ? ` ${r.message}` : ''}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/**
 * The Application's components like `vela status` lists them, with the
 * image each one's live workloads run (not what Git says they should).
 */
export function ComponentsTable(props: { app: ApplicationDetails }) {
  const { app } = props;
  const rows: ComponentRow[] = app.components.map(c => ({
    ...c,
    status: app.services.find(s => s.name === c.name),
    resources: app.resources?.[c.name] ?? [],
  }));
  const columns: TableColumn<ComponentRow>[] = [
    { title: 'Component', field: 'name' },
    { title: 'Type', field: 'type' },
    { title: 'Traits', render: c => c.traits.join(', ') || 'none' },
    { title: 'Phase', render: () => app.phase ?? 'not reconciled yet' },
    {
      title: 'Healthy',
      render: c =>
        c.status ? (
          <HealthyStatus healthy={c.status.healthy} />
        ) : (
          'not reported yet'
        ),
    },
    { title: 'Message', render: c => c.status?.message ?? '' },
    { title: 'Cluster', render: c => c.status?.cluster || app.cluster },
    { title: 'Running image', render: c => <RunningImages row={c} /> },
    { title: 'Resources', render: c => <Resources row={c} /> },
  ];
  return (
    <Table
      title="Components"
      options={{ paging: false, search: false, padding: 'dense' }}
      columns={columns}
      data={rows}
      emptyContent={
        <div style={{ padding: 16 }}>This Application has no components.</div>
      }
    />
  );
}

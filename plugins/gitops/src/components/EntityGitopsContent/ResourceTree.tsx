import {
  InfoCard,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  ResourceTree,
  ResourceTreeNode,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import IconButton from '@material-ui/core/IconButton';
import { makeStyles } from '@material-ui/core/styles';
import Typography from '@material-ui/core/Typography';
import ChevronRight from '@material-ui/icons/ChevronRight';
import ExpandMore from '@material-ui/icons/ExpandMore';
import { ReactNode, useState } from 'react';
import { gitopsApiRef } from '../../api';
import { backendMessage } from '../common/errors';
import { KstatusHealth } from '../common/HealthStatus';
import { usePolling } from '../common/usePolling';

/** A node with more children than this starts collapsed. */
const OPEN_UP_TO = 10;

const useStyles = makeStyles(theme => ({
  tree: { listStyle: 'none', margin: 0, padding: 0 },
  // Depth is indentation, not columns: the tree fits a narrow page.
  group: { listStyle: 'none', margin: 0, paddingLeft: theme.spacing(3) },
  row: {
    display: 'flex',
    alignItems: 'center',
    flexWrap: 'wrap',
    columnGap: theme.spacing(1),
    minHeight: 32,
  },
  toggle: { padding: 2 },
  spacer: { display: 'inline-block', width: 28 },
  kind: { fontWeight: 500 },
  // Object names have no spaces: break one only when it alone is wider than the page.
  name: { overflowWrap: 'anywhere' },
  note: { paddingLeft: 28 + theme.spacing(1) },
}));

interface Item {
  id: string;
  /** Names the node for screen readers and the toggle, e.g. `Deployment default/web`. */
  title: string;
  label: ReactNode;
  health: string;
  message?: string;
  items: Item[];
  omitted?: number;
  error?: string;
}

function objectTitle(node: ResourceTreeNode): string {
  return `${node.kind} ${node.namespace ? `${node.namespace}/` : ''}${
    node.name
  }`;
}

function objectItem(node: ResourceTreeNode, parent: string): Item {
  const id = `${parent}/${node.apiVersion}/${node.kind}/${node.namespace}/${node.name}`;
  const title = objectTitle(node);
  return {
    id,
    title,
    label: <ObjectLabel node={node} />,
    health: node.health,
    message: node.message,
    items: node.children.map(child => objectItem(child, id)),
    omitted: node.omittedChildren,
    error: node.childrenError,
  };
}

function ObjectLabel({ node }: { node: ResourceTreeNode }) {
  const classes = useStyles();
  return (
    <span>
      <span className={classes.kind}>{node.kind}</span>{' '}
      <span className={classes.name}>
        {node.namespace ? `${node.namespace}/` : ''}
        {node.name}
      </span>
      {node.cluster ? (
        <Typography variant="caption" color="textSecondary">
          {' '}
          on {node.cluster}
        </Typography>
      ) : null}
    </span>
  );
}

function treeItems(tree: ResourceTree): Item {
  const root = `${tree.cluster}/${tree.namespace}/${tree.name}`;
  return {
    id: root,
    title: `Application ${tree.namespace}/${tree.name}`,
    label: (
      <span>
        <strong>Application</strong> {tree.namespace}/{tree.name}
        {tree.phase ? ` (${tree.phase})` : ''}
      </span>
    ),
    health: tree.health,
    message: tree.message,
    items: tree.components.map(component => {
      const id = `${root}/${component.name}`;
      return {
        id,
        title: `Component ${component.name}`,
        label: (
          <span>
            <strong>Component</strong> {component.name}
            {component.type ? ` (${component.type})` : ''}
          </span>
        ),
        health: component.health,
        message:
          component.objects.length === 0
            ? 'No objects applied yet: they appear after its first sync'
            : component.message,
        items: component.objects.map(o => objectItem(o, id)),
      };
    }),
  };
}

function TreeItem({ item, level }: { item: Item; level: number }) {
  const classes = useStyles();
  const [open, setOpen] = useState(item.items.length <= OPEN_UP_TO);
  const expandable = item.items.length > 0;
  return (
    <li
      role="treeitem"
      aria-level={level}
      aria-label={item.title}
      aria-selected={false}
      aria-expanded={expandable ? open : undefined}
    >
      <div className={classes.row}>
        {expandable ? (
          <IconButton
            className={classes.toggle}
            size="small"
            aria-label={`${open ? 'Collapse' : 'Expand'} ${item.title}`}
            onClick={() => setOpen(!open)}
          >
            {open ? (
              <ExpandMore fontSize="small" />
            ) : (
              <ChevronRight fontSize="small" />
            )}
          </IconButton>
        ) : (
          <span className={classes.spacer} />
        )}
        <KstatusHealth health={item.health} />
        {item.label}
        {item.message ? (
          <Typography variant="body2" color="textSecondary" component="span">
            {item.message}
          </Typography>
        ) : null}
      </div>
      {item.error ? (
        <Typography variant="body2" color="error" className={classes.note}>
          {item.error}
        </Typography>
      ) : null}
      {expandable && open ? (
        <ul role="group" className={classes.group}>
          {item.items.map(child => (
            <TreeItem key={child.id} item={child} level={level + 1} />
          ))}
          {item.omitted ? (
            <li role="none" className={classes.note}>
              <Typography variant="body2" color="textSecondary">
                +{item.omitted} more not shown
              </Typography>
            </li>
          ) : null}
        </ul>
      ) : null}
    </li>
  );
}

/** The resource tree of an Application, collapsible, with each node's kstatus health. */
export function ResourceTreeView({ tree }: { tree: ResourceTree }) {
  const classes = useStyles();
  return (
    <ul
      role="tree"
      aria-label={`Resource tree of ${tree.namespace}/${tree.name}`}
      className={classes.tree}
    >
      <TreeItem item={treeItems(tree)} level={1} />
    </ul>
  );
}

/**
 * Application → components → objects → ReplicaSets → Pods, like Argo CD's
 * tree: what runs, read live, and how healthy each part is.
 */
export function ResourceTreeCard({ appRef }: { appRef: ApplicationRef }) {
  const api = useApi(gitopsApiRef);
  const key = stringifyApplicationRef(appRef);
  const tree = usePolling(() => api.getResourceTree(appRef), [api, key], {
    refreshOn: appRef,
  });
  return (
    <InfoCard title="Resource tree">
      {tree.loading && <Progress />}
      {tree.value && <ResourceTreeView tree={tree.value} />}
      {tree.value && tree.error && (
        <Typography variant="body2" color="error">
          Showing the last known tree: refreshing failed (
          {backendMessage(tree.error)})
        </Typography>
      )}
      {!tree.value && tree.error && (
        <ResponseErrorPanel
          error={tree.error}
          title="Could not load the resource tree"
        />
      )}
    </InfoCard>
  );
}

import { InputError, NotAllowedError } from '@backstage/errors';
import { isRecord } from '../model/fields';
import type {
  StepContext,
  StepDeployment,
  StepTypeDefinition,
} from '../definitions/registry';
import { matchesAny } from '../model/project';
import {
  applyOverrides,
  deployPolicies,
  resolveTopology,
  type DeployTarget,
} from './oamPolicies';
import type { StepOutcome } from './plan';
import { hasRollout } from '../rollout/controller';

const waitingOrDone = (waiting: string[], clusters: string): StepOutcome =>
  waiting.length > 0
    ? { phase: 'running', message: `waiting for ${waiting.join('; ')}` }
    : { phase: 'succeeded', message: `healthy on ${clusters}` };

/** The deploy step's components and targets; an InputError for bad properties or policies. */
function planDeploy(ctx: StepContext): StepDeployment {
  const { app, step, where } = ctx;
  const names = step.properties.policies ?? [];
  if (!Array.isArray(names) || names.some(n => typeof n !== 'string'))
    throw new InputError(
      `${where}: properties.policies must list policy names`,
    );
  const policies = deployPolicies(app, names as string[], where);
  return {
    targets: resolveTopology(policies.topology, ctx.clusters, ctx.localCluster),
    components: applyOverrides(
      app.spec.components,
      policies.override,
      ctx.definitions,
    ),
  };
}

/**
 * KubeVela's `deploy`: every component, on the clusters its topology
 * policies choose (the local cluster without one), patched by its override
 * policies; clusters `parallelism` at a time. Done when all are healthy.
 */
const deployStep: StepTypeDefinition = {
  type: 'deploy',
  plan: ctx => [planDeploy(ctx)],
  async run(ctx) {
    const { step, where } = ctx;
    let planned: StepDeployment;
    try {
      planned = planDeploy(ctx);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      return {
        phase: 'failed',
        reason: 'PolicyFailed',
        message: error.message,
      };
    }
    const { targets, components } = planned;
    const parallelism = Number(step.properties.parallelism ?? 5);
    if (!Number.isInteger(parallelism) || parallelism < 1)
      throw new InputError(
        `${where}: properties.parallelism must be a positive integer`,
      );
    const byCluster = new Map<string, DeployTarget[]>();
    for (const target of targets) {
      byCluster.set(target.cluster.name, [
        ...(byCluster.get(target.cluster.name) ?? []),
        target,
      ]);
    }
    const groups = [...byCluster.values()];
    // A progressive rollout goes one cluster after the other: the next
    // cluster gets the new version once the one before promoted it.
    const sequential = hasRollout(components);
    const waiting: string[] = [];
    const batch = sequential ? 1 : parallelism;
    for (let i = 0; i < groups.length; i += batch) {
      const results = await Promise.all(
        groups
          .slice(i, i + batch)
          .map(group => ctx.deploy(components, group, 'all')),
      );
      waiting.push(...results.flat());
      if (sequential && waiting.length > 0) break;
    }
    return waitingOrDone(waiting, [...byCluster.keys()].join(', '));
  },
};

/** The apply-component step's component and its one target. */
function planApplyComponent(ctx: StepContext): StepDeployment {
  const { app, step } = ctx;
  const { component: name, cluster: clusterName, namespace } = step.properties;
  const component = app.spec.components.find(c => c.name === name);
  if (!component)
    throw new InputError(
      `${
        ctx.where
      }: properties.component names no component of the Application ("${String(
        name,
      )}")`,
    );
  const wanted =
    typeof clusterName === 'string' ? clusterName : ctx.localCluster;
  const cluster = ctx.clusters.find(c => c.name === wanted);
  if (!cluster)
    throw new InputError(`${ctx.where}: cluster "${wanted}" is not configured`);
  const target: DeployTarget = { cluster };
  if (typeof namespace === 'string') target.namespace = namespace;
  return { components: [component], targets: [target] };
}

/** KubeVela's `apply-component`: one component, on one cluster and namespace. */
const applyComponentStep: StepTypeDefinition = {
  type: 'apply-component',
  plan: ctx => [planApplyComponent(ctx)],
  async run(ctx) {
    const { components, targets } = planApplyComponent(ctx);
    return waitingOrDone(
      await ctx.deploy(components, targets, 'listed'),
      targets[0].cluster.name,
    );
  },
};

/** The notification's URL, checked; the URL itself never goes into a message (it often embeds a token). */
function notificationUrl(ctx: StepContext, channel: Record<string, unknown>) {
  const rawUrl = isRecord(channel.url) ? channel.url.value : channel.url;
  if (typeof rawUrl !== 'string')
    throw new InputError(
      `${ctx.where}: the webhook url must be a string or { value: string } (secretRef is not supported yet)`,
    );
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new InputError(`${ctx.where}: the webhook url is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InputError(`${ctx.where}: the webhook url must be http(s)`);
  // The backend's network is not the Application's: it reaches only the hosts its project names.
  const { project } = ctx;
  if (project && !matchesAny(project.notificationHosts, url.hostname))
    throw new NotAllowedError(
      `${ctx.where}: project "${
        project.name
      }" does not allow notifications to ${url.hostname} (notificationHosts: ${
        project.notificationHosts.join(', ') || 'none'
      })`,
    );
  return url;
}

/** KubeVela's `notification` (webhook or Slack-style URL): posts a summary of the run. */
const notificationStep: StepTypeDefinition = {
  type: 'notification',
  async run(ctx) {
    const { app, step, where } = ctx;
    const props = step.properties;
    const channel =
      (isRecord(props.webhook) && props.webhook) ||
      (isRecord(props.slack) && props.slack) ||
      undefined;
    if (!channel)
      throw new InputError(
        `${where}: properties.webhook.url (or slack.url) is required`,
      );
    const url = notificationUrl(ctx, channel);
    const message = channel.message ?? props.message;
    const summary = ctx.steps
      .filter(s => s.name !== step.name)
      .map(s => `${s.name}: ${s.phase}${s.reason ? ` (${s.reason})` : ''}`)
      .join(', ');
    const body = isRecord(message)
      ? message
      : {
          text:
            typeof message === 'string'
              ? message
              : `Application ${app.metadata.namespace}/${app.metadata.name} revision ${ctx.revision}: ${summary}`,
        };
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(ctx.httpTimeoutMs),
    }).catch(error => {
      throw new Error(
        `${where}: the webhook could not be reached (${
          (error as Error).name === 'TimeoutError'
            ? `no answer within ${ctx.httpTimeoutMs} ms`
            : (error as { cause?: { code?: string } }).cause?.code ??
              'network error'
        })`,
      );
    });
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300)
      return {
        phase: 'succeeded',
        message: `delivered (HTTP ${response.status})`,
      };
    // A busy or broken receiver may recover: retried until the step's timeout.
    return {
      phase:
        response.status >= 500 || response.status === 429
          ? 'running'
          : 'failed',
      reason: 'NotificationFailed',
      message: `the webhook answered HTTP ${response.status}`,
    };
  },
};

/** The step types of KubeVela's workflow that we run; suspend and step-group are planned, not run. */
export const builtinStepTypes: StepTypeDefinition[] = [
  deployStep,
  applyComponentStep,
  notificationStep,
  { type: 'suspend' },
  { type: 'step-group' },
];

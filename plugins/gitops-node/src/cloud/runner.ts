import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError, NotAllowedError, stringifyError } from '@backstage/errors';
import type { CloudResourceStatus } from '@gitops-workflow/plugin-gitops-common';
import { DEFAULT_FIELD_MANAGER } from '../apply/apply';
import { kubeConfigFor, type ClusterConnectionConfig } from '../clusters';
import type {
  ProvisionContext,
  ProvisionResult,
  ReleaseContext,
} from '../definitions/registry';
import { withRequestSignal, type KubeClient } from '../kube/client';
import { gitCredentialsOf } from '../sources/prepare';
import { revisionOf, type GitSource } from '../sources/git';
import { resolveInside } from '../util/paths';
import { Fields, isRecord } from '../model/fields';
import { applicationOwner, LABEL_COMPONENT } from '../model/types';
import {
  readTerraformProperties,
  type TerraformProperties,
} from './properties';
import type {
  CloudAppRef,
  CloudResourceRecord,
  CloudResourceStore,
} from './store';
import { describeDiagnostic, Tofu, type TofuResult } from './tofu';

const SECRET = { group: '', version: 'v1', kind: 'Secret' };
const LEASE = { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' };

export interface TerraformRunnerOptions {
  tofu: Tofu;
  /** Where `source.git` configurations come from (the backend's working clones). */
  git?: GitSource;
  store: CloudResourceStore;
  /** Where each component's working directory is kept between passes. */
  workDir: string;
  logger: { info(message: string): void; warn(message: string): void };
  now?: () => Date;
}

/** What a pass resolved for a run: the component's inputs and where it goes. */
interface RunInput {
  app: CloudAppRef;
  component: string;
  props: TerraformProperties;
  cluster: ClusterConnectionConfig;
  namespace: string;
  client: KubeClient;
  env: Record<string, string>;
  /**
   * The configuration's files, by path relative to its directory; absent:
   * the files of the last run stay (a destroy of a Git configuration).
   */
  files?: Record<string, string>;
  /** The hash of everything a plan depends on. */
  inputs: string;
}

type RunKind = 'plan' | 'apply' | 'drift' | 'outputs' | 'destroy';

const sha256 = (text: string | Buffer) =>
  createHash('sha256').update(text).digest('hex');

/** A plan saved for apply; exit code 2 when it changes anything. */
const PLAN = [
  'plan',
  '-input=false',
  '-no-color',
  '-json',
  '-detailed-exitcode',
  '-out=tfplan',
];

/** What the backend writes beside the configuration in its directory. */
const BACKEND_FILES = [
  'zz_gitops_backend.tf',
  'terraform.tfvars.json',
  'kubeconfig',
  'tofu.rc',
  'tfplan',
  '.terraform.lock.hcl',
];

const MAX_SOURCE_BYTES = 4 * 1024 * 1024;

/** The `failed.inputs` of a destroy. */
const DESTROY = 'destroy';

const runKey = (app: CloudAppRef, component: string) =>
  `${app.namespace}/${app.name}/${component}`;

/**
 * A plan waiting for approval is kept in a Secret beside the state, so the
 * replica that holds the shard when it is approved can apply it. Bigger
 * plans than fit a Secret stay on the planning replica's disk only.
 */
const MAX_SHARED_PLAN_BYTES = 768 * 1024;

/** The state Secret is `tfstate-default-<suffix>`: a name Kubernetes accepts. */
function stateSuffix(app: CloudAppRef, component: string): string {
  const readable = `${app.name}-${component}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 200);
  return `${readable}-${sha256(runKey(app, component)).slice(0, 8)}`;
}

/** The Secret that holds a component's plan while it waits for approval. */
const planSecret = (app: CloudAppRef, component: string) => ({
  ...SECRET,
  name: `tfplan-default-${stateSuffix(app, component)}`,
});

const describe = (input: RunInput) =>
  `terraform component ${input.component} of ${input.app.namespace}/${input.app.name}`;

/** "+1 ~0 -0" */
const summaryOf = (plan: NonNullable<CloudResourceStatus['plan']>) =>
  `+${plan.add} ~${plan.change} -${plan.destroy}`;

/** The first error of a command, named by file and line or by resource. */
function failureOf(result: TofuResult, what: string): string {
  const error = result.diagnostics.find(d => d.severity === 'error');
  const failedResource = result.messages.find(m => m.type === 'apply_errored')
    ?.hook?.resource?.addr;
  if (error && !error.address && failedResource) error.address = failedResource;
  return `tofu ${what} failed: ${
    error ? describeDiagnostic(error) : `exit code ${result.exitCode}`
  }`;
}

/** The resources a plan changes, as `address (action)`. */
function plannedChanges(result: TofuResult): string[] {
  return result.messages
    .filter(m => m.type === 'planned_change' && m.change?.resource?.addr)
    .map(m => `${m.change.resource.addr} (${m.change.action})`);
}

/**
 * Runs the `terraform` components of Applications with OpenTofu, one run
 * per component at a time, in the background: a pass starts a run and
 * looks at its outcome in a later pass, so no pass waits on tofu. Records
 * persist in the store (the API shows them); state lives in OpenTofu's
 * `kubernetes` backend next to the Application.
 */
export class TerraformRunner {
  private readonly runs = new Map<
    string,
    { kind: RunKind; done: Promise<void> }
  >();
  private readonly stopping = new AbortController();

  constructor(private readonly options: TerraformRunnerOptions) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Stops runs in flight (tofu gets SIGTERM and releases its lock) and waits for them. */
  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.all([...this.runs.values()].map(r => r.done));
  }

  async provision(ctx: ProvisionContext): Promise<ProvisionResult> {
    if (!ctx.project?.terraform) {
      throw new NotAllowedError(
        `${ctx.path}: project "${
          ctx.project?.name ?? 'default'
        }" does not allow terraform components (OpenTofu would run the configuration on the backend's host with its rights); a platform team allows them with gitops.projects[].terraform`,
      );
    }
    const props = readTerraformProperties(
      Fields.of(ctx.component.properties, `${ctx.path}.properties`),
    );
    const app = {
      namespace: ctx.app.metadata.namespace,
      name: ctx.app.metadata.name,
    };
    const key = runKey(app, ctx.component.name);
    const record = await this.options.store.get(app, ctx.component.name);
    const running = this.runs.get(key);
    if (running) {
      const message = record?.status.message ?? `tofu ${running.kind} running`;
      return { ready: running.kind === 'drift', message };
    }
    const input = await this.inputOf(ctx, props, app);
    const pending = record?.pendingPlan;
    if (pending?.inputs === input.inputs) {
      if (pending.approved) {
        this.start(key, 'apply', input, () =>
          this.applyApproved(input, record!),
        );
        return { ready: false, message: 'applying the approved plan' };
      }
      return {
        // Drift waiting for approval leaves what was applied in use.
        ready: record!.appliedInputs === input.inputs,
        message: record!.status.message ?? 'waiting for approval',
      };
    }
    if (record?.appliedInputs !== input.inputs) {
      const failed = record?.failed;
      if (
        failed?.inputs === input.inputs &&
        this.now().getTime() - Date.parse(failed.at) < props.driftIntervalMs
      )
        throw new InputError(
          record!.status.message ?? 'the last tofu run failed',
        );
      this.start(key, 'plan', input, () => this.plan(input, record, 'plan'));
      return { ready: false, message: 'planning' };
    }
    if (
      props.connectionSecret &&
      !(await ctx.client.get({
        ...SECRET,
        namespace: input.namespace,
        name: props.connectionSecret,
      }))
    ) {
      this.start(key, 'outputs', input, () =>
        this.writeOutputs(input, record!),
      );
      return {
        ready: false,
        message: `writing the connection Secret ${props.connectionSecret}`,
      };
    }
    const checked = Date.parse(
      record.status.drift?.checkedAt ?? record.status.lastAppliedAt ?? '',
    );
    if (!(this.now().getTime() - checked < props.driftIntervalMs))
      this.start(key, 'drift', input, () => this.plan(input, record, 'drift'));
    const result: ProvisionResult = {
      ready: true,
      message: record.status.message ?? 'ready',
    };
    if (record.status.drift?.drifted && !record.driftReported) {
      result.drifted = [
        `${ctx.component.name} (${record.status.drift.message ?? 'drifted'})`,
      ];
      await this.options.store.put(app, ctx.component.name, {
        ...record,
        driftReported: true,
      });
    }
    return result;
  }

  /** Destroys (deletionPolicy Delete) or keeps (Retain) a deleted Application's resources. */
  async release(
    ctx: ReleaseContext,
  ): Promise<{ done: boolean; message: string }> {
    const { app, component } = ctx;
    const key = runKey(app, component.name);
    if (this.runs.has(key))
      return { done: false, message: `destroying ${component.name}` };
    const record = await this.options.store.get(app, component.name);
    if (!record) return { done: true, message: 'nothing provisioned' };
    let props: TerraformProperties;
    try {
      props = readTerraformProperties(
        Fields.of(component.properties, `component ${component.name}`),
      );
    } catch (error) {
      // Its spec no longer parses: nothing tells us to destroy, so it stays.
      await this.options.store.remove(app, component.name);
      return { done: true, message: `kept: ${(error as Error).message}` };
    }
    if (
      props.deletionPolicy === 'Retain' ||
      record.status.state === 'destroyed' ||
      !record.applyStarted
    ) {
      await this.options.store.remove(app, component.name);
      // Its kubeconfig and plan are of no use any more.
      await fs.rm(this.workspaceDir(app, component.name), {
        recursive: true,
        force: true,
      });
      return {
        done: true,
        message: record.applyStarted
          ? `kept (deletionPolicy ${props.deletionPolicy})`
          : 'nothing was applied',
      };
    }
    const target = ctx.cluster(record.cluster);
    if (!target)
      return {
        done: false,
        message: `cluster "${record.cluster}" of ${component.name}'s state is not configured in this backend`,
      };
    const failed = record.failed;
    if (
      record.status.state === 'failed' &&
      failed?.inputs === DESTROY &&
      this.now().getTime() - Date.parse(failed.at) < props.driftIntervalMs
    )
      return {
        done: false,
        message: record.status.message ?? 'destroy failed',
      };
    const input: RunInput = {
      app,
      component: component.name,
      props,
      cluster: target.config,
      namespace: record.namespace,
      client: target.client,
      env: await this.envOf(props, target.client, record.namespace),
      files:
        'hcl' in props.source ? { 'main.tf': props.source.hcl } : undefined,
      inputs: DESTROY,
    };
    this.start(key, 'destroy', input, () => this.destroy(input, record));
    return { done: false, message: `destroying ${component.name}` };
  }

  /**
   * Runs `job` in the background. What stops it before tofu could answer
   * (no binary, the deadline, the cluster) fails the run with that sentence.
   */
  private start(
    key: string,
    kind: RunKind,
    input: RunInput,
    job: () => Promise<void>,
  ): void {
    // Stopping: the next backend plans again; nothing here failed.
    if (this.stopping.signal.aborted) return;
    // Its requests end when the runner stops, not with the pass that started it.
    const done = withRequestSignal(this.stopping.signal, job)
      .catch(async error => {
        if (this.stopping.signal.aborted) return;
        const message = (error as Error).message;
        this.options.logger.warn(
          `${describe(input)}: tofu ${kind}: ${message}`,
        );
        const record = await this.options.store.get(input.app, input.component);
        await this.options.store.put(input.app, input.component, {
          ...this.base(input, record),
          failed: { inputs: input.inputs, at: this.now().toISOString() },
          status: {
            ...this.base(input, record).status,
            state: 'failed',
            message: `tofu ${kind}: ${message}`,
          },
        });
      })
      .catch(error =>
        this.options.logger.warn(
          `tofu ${kind} of ${key} could not be recorded: ${stringifyError(
            error,
          )}`,
        ),
      )
      .finally(() => this.runs.delete(key));
    this.runs.set(key, { kind, done });
  }

  private async inputOf(
    ctx: ProvisionContext,
    props: TerraformProperties,
    app: CloudAppRef,
  ): Promise<RunInput> {
    const env = await this.envOf(props, ctx.client, ctx.namespace);
    const { files, revision } = await this.sourceOf(ctx, props);
    // Secret values are not hashed; their versions are.
    const versions = await Promise.all(
      [
        ...new Set(
          props.env.flatMap(e =>
            'secretKeyRef' in e ? [e.secretKeyRef.name] : [],
          ),
        ),
      ].map(
        async name =>
          (
            await ctx.client.get({ ...SECRET, namespace: ctx.namespace, name })
          )?.metadata.resourceVersion,
      ),
    );
    return {
      app,
      component: ctx.component.name,
      props,
      cluster: ctx.cluster,
      namespace: ctx.namespace,
      client: ctx.client,
      env,
      files,
      inputs: sha256(
        JSON.stringify([
          props.source,
          revision,
          props.variables,
          props.env.map(e =>
            'value' in e ? e : { ...e.secretKeyRef, as: e.name },
          ),
          versions,
          ctx.cluster.name,
          ctx.namespace,
        ]),
      ).slice(0, 32),
    };
  }

  /**
   * The configuration's files: inline `hcl` as `main.tf`, or the files of
   * `source.git`'s path at its branch's head (synced through the backend's
   * working clone, within the Application's project), with that commit.
   */
  private async sourceOf(
    ctx: ProvisionContext,
    props: TerraformProperties,
  ): Promise<{ files: Record<string, string>; revision?: string }> {
    if ('hcl' in props.source)
      return { files: { 'main.tf': props.source.hcl } };
    const { git } = props.source;
    if (!this.options.git)
      throw new InputError(
        `${ctx.path}.properties.source.git: this backend has no Git source for terraform components`,
      );
    const credentials = await gitCredentialsOf(
      { client: ctx.client, project: ctx.project },
      ctx.app,
      ctx.component.name,
      git,
    );
    return this.options.git.withClone(
      { url: git.url, branch: git.branch, credentials },
      async clone => {
        const { sha } = await clone.sync();
        const root = resolveInside(clone.dir, git.path);
        const files: Record<string, string> = {};
        let bytes = 0;
        const walk = async (dir: string) => {
          for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
            const file = path.join(dir, entry.name);
            const relative = path.relative(root, file);
            if (entry.name === '.git' || entry.name === '.terraform') continue;
            if (entry.isDirectory()) await walk(file);
            else if (entry.isFile()) {
              const content = await fs.readFile(file, 'utf8');
              bytes += content.length;
              if (bytes > MAX_SOURCE_BYTES)
                throw new InputError(
                  `${git.url} ${git.path}: the configuration is larger than ${
                    MAX_SOURCE_BYTES / 1024 / 1024
                  } MiB`,
                );
              files[relative] = content;
            } else
              throw new InputError(
                `${git.url} ${git.path}: ${relative} is not a regular file (symlinks are not followed)`,
              );
          }
        };
        await walk(root);
        return { files, revision: revisionOf(git.branch, sha) };
      },
    );
  }

  private async envOf(
    props: TerraformProperties,
    client: KubeClient,
    namespace: string,
  ): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const entry of props.env) {
      if ('value' in entry) {
        env[entry.name] = entry.value;
        continue;
      }
      const { name, key } = entry.secretKeyRef;
      const secret = await client.get({ ...SECRET, namespace, name });
      const data = secret?.data as Record<string, string> | undefined;
      if (!secret)
        throw new InputError(
          `env ${entry.name}: Secret ${namespace}/${name} does not exist`,
        );
      if (data?.[key] === undefined)
        throw new InputError(
          `env ${entry.name}: Secret ${namespace}/${name} has no key "${key}"`,
        );
      env[entry.name] = Buffer.from(data[key], 'base64').toString();
    }
    return env;
  }

  /** The component's working directory, with its configuration, variables, kubeconfig and CLI config written. */
  private workspaceDir(app: CloudAppRef, component: string): string {
    return path.join(
      this.options.workDir,
      sha256(runKey(app, component)).slice(0, 16),
    );
  }

  private async workspace(input: RunInput): Promise<string> {
    const dir = this.workspaceDir(input.app, input.component);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const write = async (name: string, content: string) => {
      await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await fs.writeFile(path.join(dir, name), content, { mode: 0o600 });
    };
    if (input.files) {
      // A file that left the configuration must not stay in its directory.
      const kept = new Set([...Object.keys(input.files), ...BACKEND_FILES]);
      for (const entry of await fs.readdir(dir, {
        recursive: true,
        withFileTypes: true,
      })) {
        const relative = path.relative(
          dir,
          path.join(entry.parentPath, entry.name),
        );
        if (
          entry.isFile() &&
          !relative.startsWith('.terraform') &&
          !kept.has(relative)
        )
          await fs.rm(path.join(dir, relative));
      }
      for (const [name, content] of Object.entries(input.files))
        await write(name, content);
    }
    await write(
      'zz_gitops_backend.tf',
      '# Written by the gitops backend: state in a Secret next to the Application.\nterraform {\n  backend "kubernetes" {}\n}\n',
    );
    await write(
      'terraform.tfvars.json',
      JSON.stringify(input.props.variables, null, 2),
    );
    await write('kubeconfig', kubeConfigFor(input.cluster).exportConfig());
    await this.options.tofu.writeCliConfig(dir);
    return dir;
  }

  private tofu(input: RunInput, dir: string, args: string[]) {
    return this.options.tofu.run(dir, args, input.env, this.stopping.signal);
  }

  /** `tofu init` with the state backend's settings; the failure message when it fails. */
  private async init(
    input: RunInput,
    dir: string,
  ): Promise<string | undefined> {
    const result = await this.tofu(input, dir, [
      'init',
      '-input=false',
      '-no-color',
      '-json',
      '-reconfigure',
      `-backend-config=secret_suffix=${stateSuffix(
        input.app,
        input.component,
      )}`,
      `-backend-config=namespace=${input.namespace}`,
      `-backend-config=config_path=${path.join(dir, 'kubeconfig')}`,
    ]);
    return result.exitCode === 0 ? undefined : failureOf(result, 'init');
  }

  private async update(
    input: RunInput,
    record: CloudResourceRecord,
  ): Promise<CloudResourceRecord> {
    await this.options.store.put(input.app, input.component, record);
    return record;
  }

  private base(
    input: RunInput,
    previous?: CloudResourceRecord,
  ): CloudResourceRecord {
    return {
      ...previous,
      cluster: input.cluster.name,
      namespace: input.namespace,
      status: {
        outputs: [],
        ...previous?.status,
        component: input.component,
        connectionSecret: input.props.connectionSecret,
        state: previous?.status.state ?? 'planning',
      },
    };
  }

  /**
   * Plans; with `approve: auto` (or nothing to change) applies at once,
   * with `manual` leaves the plan waiting. A drift check is the same plan
   * of the applied inputs: changes found are drift.
   */
  private async plan(
    input: RunInput,
    previous: CloudResourceRecord | undefined,
    kind: 'plan' | 'drift',
  ): Promise<void> {
    let record = this.base(input, previous);
    const at = this.now().toISOString();
    if (kind === 'plan')
      record = await this.update(input, {
        ...record,
        status: { ...record.status, state: 'planning', message: 'planning' },
      });
    const fail = async (message: string) => {
      if (kind === 'drift') {
        await this.update(input, {
          ...record,
          status: {
            ...record.status,
            drift: { checkedAt: at, drifted: false, message },
          },
        });
        return;
      }
      this.options.logger.warn(`${describe(input)}: ${message}`);
      await this.update(input, {
        ...record,
        pendingPlan: undefined,
        failed: { inputs: input.inputs, at },
        status: { ...record.status, state: 'failed', message },
      });
    };
    const dir = await this.workspace(input);
    const initFailed = await this.init(input, dir);
    if (initFailed) {
      await fail(initFailed);
      return;
    }
    const result = await this.tofu(input, dir, PLAN);
    if (result.exitCode !== 0 && result.exitCode !== 2) {
      await fail(failureOf(result, 'plan'));
      return;
    }
    const counts = result.messages.find(m => m.type === 'change_summary')
      ?.changes ?? { add: 0, change: 0, remove: 0 };
    const plan = {
      add: Number(counts.add ?? 0),
      change: Number(counts.change ?? 0),
      destroy: Number(counts.remove ?? 0),
      at,
    };
    record.status = { ...record.status, plan };
    if (kind === 'drift') {
      const changes = plannedChanges(result);
      record.status.drift = {
        checkedAt: at,
        drifted: result.exitCode === 2,
        ...(result.exitCode === 2
          ? { message: `changed outside: ${changes.join(', ')}` }
          : {}),
      };
      if (result.exitCode === 2) {
        record.driftReported = false;
        record.status.state = 'drifted';
        this.options.logger.info(
          `${describe(input)} drifted: ${changes.join(', ')}`,
        );
      }
    }
    if (result.exitCode === 2 && input.props.approve === 'manual') {
      const planFile = await fs.readFile(path.join(dir, 'tfplan'));
      await this.sharePlan(input, planFile);
      await this.update(input, {
        ...record,
        pendingPlan: { inputs: input.inputs, id: sha256(planFile) },
        status: {
          ...record.status,
          state: 'waitingForApproval',
          message: `waiting for approval of the plan (${summaryOf(plan)})`,
        },
      });
      return;
    }
    if (result.exitCode === 2) {
      await this.apply(input, record, dir, kind === 'drift');
      return;
    }
    await this.outputsAndReady(
      input,
      record,
      dir,
      kind === 'drift' ? record.status.lastAppliedAt : at,
    );
  }

  /** Keeps a plan that waits for approval in its Secret, for whichever replica applies it. */
  private async sharePlan(input: RunInput, planFile: Buffer): Promise<void> {
    if (planFile.length > MAX_SHARED_PLAN_BYTES) {
      this.options.logger.warn(
        `${describe(input)}: the plan (${
          planFile.length
        } bytes) is too big for a Secret; only this replica can apply it once approved, another plans again`,
      );
      return;
    }
    await this.applySecret(input, planSecret(input.app, input.component).name, {
      tfplan: planFile.toString('base64'),
    });
  }

  /** Writes a Secret of the component in its namespace, labelled as the Application's. */
  private async applySecret(
    input: RunInput,
    name: string,
    data: Record<string, string>,
  ): Promise<void> {
    const owner = applicationOwner(input.app);
    await input.client.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name,
          namespace: input.namespace,
          labels: { ...owner.labels, [LABEL_COMPONENT]: input.component },
        },
        type: 'Opaque',
        data,
      },
      { fieldManager: DEFAULT_FIELD_MANAGER },
    );
  }

  /** The plan another replica kept in the component's Secret, if any. */
  private async sharedPlan(input: RunInput): Promise<Buffer | undefined> {
    const secret = await input.client.get({
      ...planSecret(input.app, input.component),
      namespace: input.namespace,
    });
    const data = (secret as { data?: Record<string, string> } | undefined)?.data
      ?.tfplan;
    return data === undefined ? undefined : Buffer.from(data, 'base64');
  }

  private async applyApproved(
    input: RunInput,
    previous: CloudResourceRecord,
  ): Promise<void> {
    const record = this.base(input, previous);
    const dir = await this.workspace(input);
    const id = previous.pendingPlan?.id;
    const planPath = path.join(dir, 'tfplan');
    const local = await fs.readFile(planPath).catch(() => undefined);
    if (!local || sha256(local) !== id) {
      // Planned by another replica (or before a restart): its Secret has it.
      const shared = await this.sharedPlan(input);
      if (!shared || sha256(shared) !== id) {
        // Gone, or replaced since: plan again, to be approved again.
        await this.plan(input, { ...record, pendingPlan: undefined }, 'plan');
        return;
      }
      await fs.writeFile(planPath, shared, { mode: 0o600 });
    }
    const initFailed = await this.init(input, dir);
    if (initFailed) {
      await this.update(input, {
        ...record,
        pendingPlan: undefined,
        failed: { inputs: input.inputs, at: this.now().toISOString() },
        status: { ...record.status, state: 'failed', message: initFailed },
      });
      return;
    }
    await this.apply(input, record, dir);
  }

  /**
   * Applies the plan in `dir`. With `settle` (putting drift back without a
   * person) the configuration is planned once more and that applied too: a
   * resource whose inputs read the world (files, remote state) may only
   * agree with it after the first apply changed the world.
   */
  private async apply(
    input: RunInput,
    previous: CloudResourceRecord,
    dir: string,
    settle = false,
  ): Promise<void> {
    const record = await this.update(input, {
      ...previous,
      pendingPlan: undefined,
      applyStarted: true,
      status: { ...previous.status, state: 'applying', message: 'applying' },
    });
    // Applied once, by whoever applies it now: nobody may apply it again.
    if (input.props.approve === 'manual')
      await input.client.delete({
        ...planSecret(input.app, input.component),
        namespace: input.namespace,
      });
    const result = await this.tofu(input, dir, [
      'apply',
      '-input=false',
      '-no-color',
      '-json',
      'tfplan',
    ]);
    if (result.exitCode !== 0) {
      const message = failureOf(result, 'apply');
      this.options.logger.warn(`${describe(input)}: ${message}`);
      await this.update(input, {
        ...record,
        failed: { inputs: input.inputs, at: this.now().toISOString() },
        status: { ...record.status, state: 'failed', message },
      });
      return;
    }
    this.options.logger.info(`${describe(input)} applied`);
    if (settle) {
      const again = await this.tofu(input, dir, PLAN);
      if (again.exitCode === 2) {
        await this.apply(input, record, dir);
        return;
      }
    }
    await this.outputsAndReady(input, record, dir, this.now().toISOString());
  }

  /** Writes the outputs to the connection Secret, then records the component ready. */
  private async outputsAndReady(
    input: RunInput,
    record: CloudResourceRecord,
    dir: string,
    appliedAt: string | undefined,
  ): Promise<void> {
    const result = await this.tofu(input, dir, [
      'output',
      '-json',
      '-no-color',
    ]);
    if (result.exitCode !== 0) {
      await this.update(input, {
        ...record,
        status: {
          ...record.status,
          state: 'failed',
          message: failureOf(result, 'output'),
        },
      });
      return;
    }
    const raw = JSON.parse(result.stdout || '{}') as Record<
      string,
      { sensitive?: boolean; value?: unknown }
    >;
    const data: Record<string, string> = {};
    const outputs: CloudResourceStatus['outputs'] = [];
    for (const [name, output] of Object.entries(raw)) {
      const text =
        typeof output.value === 'string'
          ? output.value
          : JSON.stringify(output.value);
      data[name] = Buffer.from(text).toString('base64');
      const sensitive = output.sensitive === true;
      outputs.push(
        sensitive ? { name, sensitive } : { name, sensitive, value: text },
      );
    }
    const secret = input.props.connectionSecret;
    if (secret) await this.applySecret(input, secret, data);
    const drift = record.status.drift;
    await this.update(input, {
      ...record,
      appliedInputs: input.inputs,
      applyStarted: true,
      failed: undefined,
      pendingPlan: undefined,
      status: {
        ...record.status,
        state: 'ready',
        outputs,
        message: drift?.drifted
          ? `ready; ${drift.message} (at ${drift.checkedAt}), applied again`
          : 'ready',
        ...(appliedAt ? { lastAppliedAt: appliedAt } : {}),
      },
    });
  }

  private async writeOutputs(
    input: RunInput,
    previous: CloudResourceRecord,
  ): Promise<void> {
    const record = this.base(input, previous);
    const dir = await this.workspace(input);
    const initFailed = await this.init(input, dir);
    if (initFailed) {
      await this.update(input, {
        ...record,
        status: { ...record.status, message: initFailed },
      });
      return;
    }
    await this.outputsAndReady(input, record, dir, record.status.lastAppliedAt);
  }

  private async destroy(
    input: RunInput,
    previous: CloudResourceRecord,
  ): Promise<void> {
    const record = await this.update(input, {
      ...previous,
      status: {
        ...previous.status,
        state: 'destroying',
        message: 'destroying',
      },
    });
    const dir = await this.workspace(input);
    const failed = async (message: string) => {
      this.options.logger.warn(`${describe(input)}: ${message}`);
      await this.update(input, {
        ...record,
        failed: { inputs: DESTROY, at: this.now().toISOString() },
        status: { ...record.status, state: 'failed', message },
      });
    };
    const initFailed = await this.init(input, dir);
    if (initFailed) {
      await failed(initFailed.replace('init', 'init for destroy'));
      return;
    }
    const result = await this.tofu(input, dir, [
      'destroy',
      '-auto-approve',
      '-input=false',
      '-no-color',
      '-json',
    ]);
    if (result.exitCode !== 0) {
      await failed(failureOf(result, 'destroy'));
      return;
    }
    const suffix = stateSuffix(input.app, input.component);
    const gone = [
      input.props.connectionSecret && {
        ...SECRET,
        name: input.props.connectionSecret,
      },
      { ...SECRET, name: `tfstate-default-${suffix}` },
      planSecret(input.app, input.component),
      { ...LEASE, name: `lock-tfstate-default-${suffix}` },
    ].filter(isRecord) as Array<typeof SECRET & { name: string }>;
    for (const ref of gone)
      await input.client.delete({ ...ref, namespace: input.namespace });
    await fs.rm(dir, { recursive: true, force: true });
    this.options.logger.info(`${describe(input)} destroyed`);
    await this.update(input, {
      ...record,
      status: {
        ...record.status,
        state: 'destroyed',
        outputs: [],
        message: 'destroyed',
      },
    });
  }
}

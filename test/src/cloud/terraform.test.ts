import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
  type TestBackend,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import gitopsPlugin from '@gitops-workflow/plugin-gitops-backend';
import request from 'supertest';
import {
  startCluster,
  startGitServer,
  startPostgres,
  tofuBinary,
  type Cluster,
  type GitServer,
  type Postgres,
} from '../infra';
import { installCrd, startGitopsBackend, waitUntil } from '../backend/support';

const run = promisify(execFile);

/*
 * `terraform` components run by a real OpenTofu against a real PostgreSQL:
 * with OpenTofu's built-in terraform_data and local-exec, an Application
 * creates a database and a role, a webservice of the same Application gets
 * the connection string from the connection Secret, a database dropped by
 * hand is put back, `approve: manual` waits for the Approve endpoint, and
 * deleting the Application destroys (Delete) or keeps (Retain) it.
 */

/*
 * The database lives in a tablespace of its own, so whether it exists can
 * be read at plan time from the files PostgreSQL keeps there (fileset):
 * dropping it by hand is a change the next plan sees.
 */
const DATABASE_HCL = `
variable "database" { type = string }
variable "role" { type = string }
variable "tablespace_dir" { type = string }
variable "host" { type = string }
variable "port" { type = number }
variable "role_password" {
  type      = string
  sensitive = true
}

locals {
  # Read through the database resource: while it is being created the
  # directory is unknown, so the files are looked at once it exists
  # (OpenTofu keeps a function's plan-time result for the apply).
  present = length(fileset(terraform_data.database.output.tablespace_dir, "PG_*/*/PG_VERSION")) > 0
  psql    = "psql -X -q -v ON_ERROR_STOP=1"
}

resource "terraform_data" "database" {
  input = { database = var.database, role = var.role, tablespace_dir = var.tablespace_dir }
  provisioner "local-exec" {
    command = <<-EOT
      set -e
      \${local.psql} -c "CREATE ROLE \${var.role} LOGIN PASSWORD '$ROLE_PASSWORD'"
      \${local.psql} -c "CREATE TABLESPACE \${var.database}_space OWNER \${var.role} LOCATION '\${var.tablespace_dir}'"
      \${local.psql} -c "CREATE DATABASE \${var.database} OWNER \${var.role} TABLESPACE \${var.database}_space"
    EOT
    environment = { ROLE_PASSWORD = var.role_password }
  }
  provisioner "local-exec" {
    when    = destroy
    command = <<-EOT
      set -e
      psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \${self.input.database} WITH (FORCE)"
      psql -X -q -v ON_ERROR_STOP=1 -c "DROP TABLESPACE IF EXISTS \${self.input.database}_space"
      psql -X -q -v ON_ERROR_STOP=1 -c "DROP ROLE IF EXISTS \${self.input.role}"
    EOT
  }
}

# Unknown until the database resource exists, so what is stored is the world
# after it; a database dropped by hand changes it, and its replacement
# creates the database again.
resource "terraform_data" "database_present" {
  triggers_replace = "\${terraform_data.database.id}:\${local.present}"
  provisioner "local-exec" {
    command = <<-EOT
      \${local.psql} -tAc "SELECT 1 FROM pg_database WHERE datname = '\${var.database}'" | grep -q 1 ||
        \${local.psql} -c "CREATE DATABASE \${var.database} OWNER \${var.role} TABLESPACE \${var.database}_space"
    EOT
  }
}

output "database" { value = var.database }
output "present" { value = local.present }
output "connection_string" {
  value     = "postgresql://\${var.role}:\${var.role_password}@\${var.host}:\${var.port}/\${var.database}"
  sensitive = true
}
`;

describe('terraform components (OpenTofu)', () => {
  let cluster: Cluster | undefined;
  let postgres: Postgres | undefined;
  let git: GitServer | undefined;
  let backend: TestBackend | undefined;
  let cacheDir: string;
  let tablespaces: string;
  const rolePassword = crypto.randomBytes(12).toString('hex');

  beforeAll(async () => {
    const tofuPath = tofuBinary();
    [cluster, postgres, git] = await Promise.all([
      startCluster(),
      startPostgres(),
      startGitServer(),
    ]);
    await installCrd(cluster);
    // PostgreSQL (the postgres user when we are root) owns its tablespaces.
    tablespaces = path.join(postgres.dir, 'tablespaces');
    fs.mkdirSync(tablespaces);
    const owner = fs.statSync(postgres.dir);
    fs.chownSync(tablespaces, owner.uid, owner.gid);
    const { connection } = postgres;
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'pg-admin',
      `--from-literal=host=${connection.host}`,
      `--from-literal=port=${connection.port}`,
      `--from-literal=user=${connection.user}`,
      `--from-literal=password=${connection.password}`,
      `--from-literal=role-password=${rolePassword}`,
    ]);
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'git-creds',
      `--from-literal=username=${git.username}`,
      `--from-literal=password=${git.password}`,
    ]);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-tofu-'));
    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      // OpenTofu runs configurations with the backend's rights: only a
      // project that says so may have terraform components.
      projects: [
        {
          name: 'data',
          applications: { namespaces: ['default'] },
          sourceRepos: ['*'],
          destinations: [{ cluster: 'local', namespace: 'default' }],
          terraform: true,
        },
      ],
      cacheDir,
      tickSeconds: 1,
      shards: 1,
      tofuPath,
    });
  }, 600_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([cluster?.stop(), postgres?.stop(), git?.stop()]);
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  /** Runs SQL as the admin user; resolves with psql's unaligned output. */
  const psql = async (sql: string, url?: string) => {
    const { connection } = postgres!;
    const { stdout } = await run(
      'psql',
      [...(url ? [url] : []), '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      {
        env: {
          ...process.env,
          PGHOST: connection.host,
          PGPORT: String(connection.port),
          PGUSER: connection.user,
          PGPASSWORD: connection.password,
          PGDATABASE: 'postgres',
        },
      },
    );
    return stdout.trim();
  };
  const databaseExists = async (name: string) =>
    (await psql(`SELECT 1 FROM pg_database WHERE datname = '${name}'`)) === '1';

  /** A terraform component with the database configuration, credentials from pg-admin. */
  const databaseComponent = (
    database: string,
    properties: Record<string, unknown> = {},
  ) => {
    const dir = path.join(tablespaces, database);
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir);
      const owner = fs.statSync(tablespaces);
      fs.chownSync(dir, owner.uid, owner.gid);
    }
    const admin = (key: string) => ({
      valueFrom: { secretKeyRef: { name: 'pg-admin', key } },
    });
    return {
      name: 'db',
      type: 'terraform',
      properties: {
        source: { hcl: DATABASE_HCL },
        variables: {
          database,
          role: `${database}_app`,
          tablespace_dir: dir,
          host: postgres!.connection.host,
          port: postgres!.connection.port,
        },
        env: [
          { name: 'PGHOST', ...admin('host') },
          { name: 'PGPORT', ...admin('port') },
          { name: 'PGUSER', ...admin('user') },
          { name: 'PGPASSWORD', ...admin('password') },
          { name: 'PGDATABASE', value: 'postgres' },
          { name: 'TF_VAR_role_password', ...admin('role-password') },
        ],
        writeConnectionSecretToRef: { name: `${database}-db` },
        driftInterval: '5s',
        ...properties,
      },
    };
  };

  const application = (name: string, components: object[]) => ({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: { components },
  });
  const applyApp = (app: object) =>
    cluster!.kubectl(['apply', '-f', '-'], { input: JSON.stringify(app) });
  const details = async (name: string) => {
    const res = await request(backend!.server)
      .get(`/api/gitops/applications/default/${name}`)
      .set('Authorization', mockCredentials.user.header());
    return res.status === 200 ? res.body : undefined;
  };
  const cloud = async (name: string) =>
    (await details(name))?.cloudResources?.[0];
  const story = (name: string) => async () =>
    JSON.stringify(
      {
        details: await details(name),
        runs: (
          await request(backend!.server)
            .get(`/api/gitops/applications/default/${name}/runs`)
            .set('Authorization', mockCredentials.user.header())
        ).body,
      },
      null,
      1,
    );
  const cloudWhere = (
    name: string,
    what: string,
    match: (resource: any) => boolean,
  ) =>
    waitUntil(
      `${name}: ${what}`,
      async () => {
        const resource = await cloud(name);
        return resource && match(resource) ? resource : undefined;
      },
      story(name),
      120_000,
    );
  const secretValue = async (name: string, key: string) => {
    const secret = JSON.parse(
      await cluster!.kubectl(['get', 'secret', name, '-o', 'json']),
    );
    return Buffer.from(secret.data[key], 'base64').toString();
  };
  const exists = async (kind: string, name: string) =>
    (
      await cluster!.kubectl([
        'get',
        kind,
        name,
        '--ignore-not-found',
        '-o',
        'name',
      ])
    ).trim() !== '';

  /** The Secrets holding a plan of the Application's `db` component. */
  const planSecrets = async (app: string) =>
    (
      await cluster!.kubectl([
        'get',
        'secrets',
        '-l',
        `app.oam.dev/name=${app},app.oam.dev/component=db`,
        '-o',
        'name',
      ])
    )
      .split('\n')
      .filter(line => line.startsWith('secret/tfplan-'));
  /** The backend's working directory of the component that provisions `database`. */
  const workspaceOf = (database: string) => {
    const root = path.join(cacheDir, 'tofu');
    const dir = fs
      .readdirSync(root)
      .map(name => path.join(root, name))
      .find(
        d =>
          JSON.parse(
            fs.readFileSync(path.join(d, 'terraform.tfvars.json'), 'utf8'),
          ).database === database,
      );
    if (!dir) throw new Error(`no working directory provisions ${database}`);
    return dir;
  };

  it('provisions a database and role, and a webservice of the same Application gets its connection string', async () => {
    await applyApp(
      application('shop', [
        databaseComponent('shop'),
        {
          name: 'api',
          type: 'webservice',
          dependsOn: ['db'],
          properties: {
            image: 'nginx:1.27',
            port: 80,
            env: [
              {
                name: 'DATABASE_URL',
                valueFrom: {
                  secretKeyRef: { name: 'shop-db', key: 'connection_string' },
                },
              },
            ],
          },
        },
      ]),
    );
    const ready = await cloudWhere(
      'shop',
      'db ready',
      r => r.state === 'ready',
    );
    expect(ready.plan).toMatchObject({ add: 2, change: 0, destroy: 0 });
    expect(ready.connectionSecret).toBe('shop-db');
    // Outputs by name; a sensitive one's value never leaves the backend.
    expect(ready.outputs).toEqual(
      expect.arrayContaining([
        { name: 'database', sensitive: false, value: 'shop' },
        { name: 'connection_string', sensitive: true },
      ]),
    );
    expect(JSON.stringify(await details('shop'))).not.toContain(rolePassword);

    expect(await databaseExists('shop')).toBe(true);
    const url = await secretValue('shop-db', 'connection_string');
    // The connection string works: the role logs in to its database.
    expect(await psql('SELECT current_user, current_database()', url)).toBe(
      'shop_app|shop',
    );

    // The webservice waited for the Secret and reads it through env.
    const deployment = await waitUntil(
      'the api Deployment',
      async () => {
        const out = await cluster!.kubectl([
          'get',
          'deployment',
          'api',
          '--ignore-not-found',
          '-o',
          'json',
        ]);
        return out.trim() ? JSON.parse(out) : undefined;
      },
      story('shop'),
      120_000,
    );
    expect(deployment.spec.template.spec.containers[0].env).toEqual([
      {
        name: 'DATABASE_URL',
        valueFrom: {
          secretKeyRef: { name: 'shop-db', key: 'connection_string' },
        },
      },
    ]);
  });

  it('reports a database dropped by hand as drift and creates it again (approve: auto)', async () => {
    const before = await cloud('shop');
    await psql('DROP DATABASE shop WITH (FORCE)');
    expect(await databaseExists('shop')).toBe(false);
    const drifted = await cloudWhere(
      'shop',
      'drift found and applied again',
      r =>
        r.state === 'ready' &&
        r.drift?.drifted === true &&
        r.lastAppliedAt !== before.lastAppliedAt,
    );
    expect(drifted.drift.message).toContain('terraform_data.database_present');
    expect(await databaseExists('shop')).toBe(true);
    // The pass that heard of it keeps it in its run row and the timeline.
    const get = (url: string) =>
      request(backend!.server)
        .get(`/api/gitops/applications/default/shop/${url}`)
        .set('Authorization', mockCredentials.user.header());
    await waitUntil(
      'a run row naming the drift',
      async () =>
        (
          await get('runs')
        ).body.items.find((r: any) =>
          r.cloudDrift?.some((d: string) =>
            d.includes('terraform_data.database_present'),
          ),
        ),
      story('shop'),
      60_000,
    );
    expect(
      (await get('timeline')).body.events.some((e: any) =>
        e.sentence.includes('found changed outside Git: db'),
      ),
    ).toBe(true);
    // Put back once: the next check finds nothing changed.
    await cloudWhere(
      'shop',
      'a drift check that finds nothing',
      r =>
        r.drift?.drifted === false &&
        Date.parse(r.drift.checkedAt) > Date.parse(drifted.drift.checkedAt),
    );
  });

  it('waits for approval with the plan summary (approve: manual), and applies once approved', async () => {
    await applyApp(
      application('reports', [
        databaseComponent('reports', {
          approve: 'manual',
          deletionPolicy: 'Retain',
        }),
      ]),
    );
    const waiting = await cloudWhere(
      'reports',
      'waiting for approval',
      r => r.state === 'waitingForApproval',
    );
    expect(waiting.plan).toMatchObject({ add: 2, change: 0, destroy: 0 });
    expect(waiting.message).toContain('+2 ~0 -0');
    expect(await databaseExists('reports')).toBe(false);
    // The plan waits in a Secret beside the state, for whichever replica applies it.
    expect(await planSecrets('reports')).toHaveLength(1);
    // Approved on a replica that did not plan it: none of its files are here.
    fs.rmSync(workspaceOf('reports'), { recursive: true });

    const approve = (server = backend!.server) =>
      request(server)
        .post('/api/gitops/applications/default/reports/cloud/db/approve')
        .set('Authorization', mockCredentials.user.header())
        .send({ reason: 'reviewed the plan' });
    // Without the permission: 403 naming it, and the plan still waits. (A
    // backend with no cluster: it must not reconcile these Applications.)
    const denied = await startTestBackend({
      features: [
        gitopsPlugin,
        mockServices.permissions.factory({ result: AuthorizeResult.DENY }),
        mockServices.rootConfig.factory({ data: { gitops: { clusters: [] } } }),
      ],
    });
    try {
      const refused = await approve(denied.server);
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toContain('gitops.cloud.approve');
    } finally {
      await denied.stop();
    }
    expect((await cloud('reports')).state).toBe('waitingForApproval');
    const approved = await approve();
    expect(approved.status).toBe(200);
    expect(approved.body.resource).toMatchObject({ component: 'db' });
    await cloudWhere(
      'reports',
      'ready after approval',
      r => r.state === 'ready',
    );
    expect(await databaseExists('reports')).toBe(true);
    // Nothing waits any more: a second approval is refused, and the plan is gone.
    expect((await approve()).status).toBe(409);
    expect(await planSecrets('reports')).toEqual([]);

    const audit = await request(backend!.server)
      .get('/api/gitops/applications/default/reports/audit')
      .set('Authorization', mockCredentials.user.header());
    expect(audit.body.items[0]).toMatchObject({
      action: 'cloudApprove',
      component: 'db',
      reason: 'reviewed the plan',
    });
  });

  it('refuses a terraform component outside a project that allows them, and OpenTofu never runs it', async () => {
    await cluster!.kubectl(['create', 'namespace', 'sandbox']);
    const marker = path.join(cacheDir, 'sandbox-ran');
    await applyApp({
      ...application('intruder', [
        {
          name: 'shell',
          type: 'terraform',
          properties: {
            source: {
              hcl: `resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "touch ${marker}"\n  }\n}\n`,
            },
          },
        },
      ]),
      metadata: { name: 'intruder', namespace: 'sandbox' },
    });
    const refused = await waitUntil(
      'intruder: refused by its project',
      async () => {
        const res = await request(backend!.server)
          .get('/api/gitops/applications/sandbox/intruder')
          .set('Authorization', mockCredentials.user.header());
        const text = JSON.stringify(res.body);
        return text.includes('does not allow terraform components')
          ? res.body
          : undefined;
      },
      async () => '',
      120_000,
    );
    // Its status names the project that refused it (quotes escaped in JSON).
    expect(JSON.stringify(refused)).toMatch(
      /project \\"default\\" does not allow terraform components/,
    );
    expect(refused.cloudResources ?? []).toEqual([]);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('names the file and line of a syntax error and a missing variable, and the resource of a failing apply, keeping the last good state', async () => {
    const broken = (hcl: string) =>
      application('broken', [
        {
          name: 'db',
          type: 'terraform',
          properties: { source: { hcl }, driftInterval: '1m' },
        },
      ]);
    await applyApp(broken('resource "terraform_data" "x" {\n  input = \n}\n'));
    const syntax = await cloudWhere(
      'broken',
      'a syntax error',
      r => r.state === 'failed',
    );
    expect(syntax.message).toMatch(/main\.tf line 2: Invalid expression/);

    await applyApp(
      broken(
        'variable "size" { type = number }\nresource "terraform_data" "x" {\n  input = var.size\n}\n',
      ),
    );
    const missing = await cloudWhere(
      'broken',
      'a missing variable',
      r => r.state === 'failed' && /variable/i.test(r.message),
    );
    expect(missing.message).toMatch(/main\.tf line 1/);

    // A failing apply on shop: what it provisioned stays in force.
    const shop = databaseComponent('shop');
    await applyApp(
      application('shop', [
        {
          ...shop,
          properties: {
            ...shop.properties,
            source: {
              hcl: `${DATABASE_HCL}\nresource "terraform_data" "migrate" {\n  provisioner "local-exec" {\n    command = "exit 3"\n  }\n}\n`,
            },
          },
        },
      ]),
    );
    const failed = await cloudWhere(
      'shop',
      'a failing apply',
      r => r.state === 'failed',
    );
    expect(failed.message).toContain('terraform_data.migrate');
    expect(await databaseExists('shop')).toBe(true);
    expect(await secretValue('shop-db', 'connection_string')).toContain(
      '/shop',
    );
  });

  it('takes its configuration from a directory of a Git branch, and plans again when the branch moves', async () => {
    const files = (version: string) => ({
      'infra/flags/main.tf': `resource "terraform_data" "flags" {\n  input = "${version}"\n}\n`,
      'infra/flags/outputs.tf': `output "version" { value = terraform_data.flags.output }\n`,
      'README.md': 'not part of the configuration\n',
    });
    await git!.createRepo('platform');
    await git!.pushAsHuman('platform', { files: files('v1') });
    await applyApp(
      application('flags', [
        {
          name: 'flags',
          type: 'terraform',
          properties: {
            source: {
              git: {
                url: git!.repoUrl('platform'),
                ref: 'main',
                path: 'infra/flags',
                secretRef: 'git-creds',
              },
            },
            driftInterval: '2s',
          },
        },
      ]),
    );
    const first = await cloudWhere('flags', 'applied from Git', r =>
      r.outputs.some((o: any) => o.value === 'v1'),
    );
    expect(first.state).toBe('ready');

    await git!.pushAsHuman('platform', { files: files('v2') });
    const moved = await cloudWhere('flags', 'applied the new commit', r =>
      r.outputs.some((o: any) => o.value === 'v2'),
    );
    expect(moved.lastAppliedAt).not.toBe(first.lastAppliedAt);
  });

  it('destroys the database when its Application is deleted (Delete), and keeps it (Retain)', async () => {
    await cluster!.kubectl([
      'delete',
      'application',
      'shop',
      'reports',
      'broken',
      'flags',
      '--wait=false',
    ]);
    await waitUntil(
      'the Applications to be gone',
      async () =>
        (
          await cluster!.kubectl(['get', 'applications', '-o', 'name'])
        ).trim() === ''
          ? true
          : undefined,
      story('shop'),
      120_000,
    );
    expect(await databaseExists('shop')).toBe(false);
    expect(
      await psql("SELECT count(*) FROM pg_roles WHERE rolname = 'shop_app'"),
    ).toBe('0');
    expect(await exists('secret', 'shop-db')).toBe(false);
    // Retain: the database, its role and the connection Secret stay.
    expect(await databaseExists('reports')).toBe(true);
    expect(await exists('secret', 'reports-db')).toBe(true);
  });
});

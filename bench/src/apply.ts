/*
 * Apply benchmark: 500 ConfigMaps applied by the engine (first, then again
 * unchanged) against `kubectl apply --server-side` of the same files on the
 * same cluster in the same run. Reports ratios (ours / kubectl), never a
 * verdict on a bare time.
 *
 *   yarn workspace @gitops-workflow/bench bench:apply [--objects 500] [--rounds 3] [--kubeconfig FILE] [--kubectl PATH]
 *     [--qps N] [--burst N]   the engine's client-side rate limit (default: the backend's)
 *
 * Without --kubeconfig it starts its own cluster from test/infra and stops it.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  applicationOwner,
  applyObjects,
  KubeClient,
  type InventoryEntry,
  type KubeObject,
} from '@gitops-workflow/plugin-gitops-node';
import { k8sBinaries } from '@gitops-workflow/test/src/infra/binaries';
import { startCluster } from '@gitops-workflow/test/src/infra/cluster';

const run = promisify(execFile);

function flag(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function findKubectl(): string {
  const explicit = flag('kubectl') ?? process.env.KUBECTL;
  if (explicit) return explicit;
  try {
    return k8sBinaries().kubectl;
  } catch (error) {
    if (existsSync('/usr/bin/kubectl')) return '/usr/bin/kubectl';
    throw error;
  }
}

function configMaps(namespace: string, count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `bench-${String(i).padStart(4, '0')}`, namespace },
    data: { index: String(i), payload: 'x'.repeat(256) },
  }));
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return [Number(process.hrtime.bigint() - start) / 1e6, result];
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const count = Number(flag('objects', '500'));
  const rounds = Number(flag('rounds', '3'));
  const kubectl = findKubectl();
  const given = flag('kubeconfig') ?? process.env.KUBECONFIG;
  const own = given ? undefined : await startCluster();
  const kubeconfig = given ?? own!.kubeconfigPath;
  const qps = flag('qps');
  const burst = flag('burst');
  const client = KubeClient.fromKubeconfigFile(kubeconfig, undefined, {
    qps: qps === undefined ? undefined : Number(qps),
    burst: burst === undefined ? undefined : Number(burst),
  });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gitops-bench-apply-'));
  const rows: Array<Record<string, number>> = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const nsOurs = `bench-ours-${process.pid}-${round}`;
      const nsKubectl = `bench-kubectl-${process.pid}-${round}`;
      for (const ns of [nsOurs, nsKubectl]) {
        await client.apply(
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
          { fieldManager: 'bench' },
        );
      }
      const ours = configMaps(nsOurs, count);
      const file = path.join(dir, `round-${round}.yaml`);
      // JSON is YAML: one document per object, as a Git repository holds them.
      await fs.writeFile(
        file,
        configMaps(nsKubectl, count)
          .map(o => `---\n${JSON.stringify(o)}\n`)
          .join(''),
      );
      const owner = applicationOwner({ name: 'bench', namespace: nsOurs });
      const kubectlApply = () =>
        run(
          kubectl,
          [
            '--kubeconfig',
            kubeconfig,
            'apply',
            '--server-side',
            '--field-manager',
            'bench-kubectl',
            '-f',
            file,
          ],
          {
            maxBuffer: 64 * 1024 * 1024,
          },
        );

      // Alternate who goes first so neither always meets a warmer server.
      const oursFirst = round % 2 === 0;
      let inventory: InventoryEntry[] | undefined;
      const measure = async () => {
        const ourApply = () =>
          timed(() => applyObjects(client, ours, { owner, inventory }));
        const a = oursFirst ? await ourApply() : undefined;
        const k = await timed(kubectlApply);
        const b = oursFirst ? a! : await ourApply();
        inventory = b[1].inventory;
        return { oursMs: b[0], result: b[1], kubectlMs: k[0] };
      };
      const first = await measure();
      // The second apply gets the first's inventory, as the controller's next reconcile does.
      const second = await measure();
      if (first.result.writes !== count || second.result.writes !== 0) {
        throw new Error(
          `expected ${count} writes then 0, got ${first.result.writes} then ${second.result.writes}`,
        );
      }
      // Without the inventory (a controller that lost it) every object is dry-run.
      const [dryRunMs, cold] = await timed(() =>
        applyObjects(client, ours, { owner }),
      );
      if (cold.writes !== 0) {
        throw new Error(
          `expected 0 writes without inventory, got ${cold.writes}`,
        );
      }
      rows.push({
        firstOursMs: first.oursMs,
        firstKubectlMs: first.kubectlMs,
        unchangedOursMs: second.oursMs,
        unchangedKubectlMs: second.kubectlMs,
        unchangedNoInventoryOursMs: dryRunMs,
      });
      for (const ns of [nsOurs, nsKubectl]) {
        await client.delete({
          group: '',
          version: 'v1',
          kind: 'Namespace',
          name: ns,
        });
      }
    }
  } finally {
    client.close();
    await fs.rm(dir, { recursive: true, force: true });
    await own?.stop();
  }
  const firstRatio = median(rows.map(r => r.firstOursMs / r.firstKubectlMs));
  const unchangedRatio = median(
    rows.map(r => r.unchangedOursMs / r.unchangedKubectlMs),
  );
  const noInventoryRatio = median(
    rows.map(r => r.unchangedNoInventoryOursMs / r.unchangedKubectlMs),
  );
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  process.stdout.write(
    `apply benchmark: ${count} ConfigMaps, ${rounds} rounds, kubectl ${kubectl}\n`,
  );
  rows.forEach((r, i) =>
    process.stdout.write(
      `  round ${i + 1}: first ${fmt(r.firstOursMs)} vs kubectl ${fmt(
        r.firstKubectlMs,
      )}; unchanged ${fmt(r.unchangedOursMs)} (no inventory ${fmt(
        r.unchangedNoInventoryOursMs,
      )}) vs kubectl ${fmt(r.unchangedKubectlMs)}\n`,
    ),
  );
  process.stdout.write(
    `  first apply:     ${firstRatio.toFixed(
      2,
    )}x kubectl apply --server-side (median; <1 is faster)\n`,
  );
  process.stdout.write(
    `  unchanged apply: ${unchangedRatio.toFixed(
      2,
    )}x kubectl apply --server-side (median; 0 writes)\n`,
  );
  process.stdout.write(
    `  unchanged, no inventory (dry-run of every object): ${noInventoryRatio.toFixed(
      2,
    )}x kubectl apply --server-side (median; 0 writes)\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      bench: 'apply',
      objects: count,
      rounds,
      firstRatio,
      unchangedRatio,
      noInventoryRatio,
      rows,
    })}\n`,
  );
}

main().catch(error => {
  process.stderr.write(
    `bench apply: ${error instanceof Error ? error.message : error}\n`,
  );
  process.exit(1);
});

/*
 * A real Prometheus for tests (Debian's `prometheus` package): bound to
 * 127.0.0.1 on a free port, its TSDB in a temp dir, scraping the targets a
 * test gives it every second, so a canary's analysis sees what the test
 * serves within a few seconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  freePort,
  makeTempDir,
  requireExecutable,
  ServiceHandle,
  waitFor,
} from './process';

const PROMETHEUS_BIN = process.env.GITOPS_PROMETHEUS ?? '/usr/bin/prometheus';

export interface Prometheus {
  /** `http://127.0.0.1:<port>`: what `gitops.prometheus.url` points at. */
  url: string;
  /** Resolves once every scrape target has been scraped successfully. */
  targetsUp(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** `host:port` of each endpoint to scrape (its `/metrics`). */
  targets: string[];
  /** How often to scrape (default `1s`). */
  scrapeInterval?: string;
}

/** Starts Prometheus scraping `targets`; stop it with `stop()`. */
export async function startPrometheus(
  options: StartPrometheusOptions,
): Promise<Prometheus> {
  requireExecutable(
    PROMETHEUS_BIN,
    'install it with `apt-get install -y prometheus` (or run scripts/ensure-system-deps.sh)',
  );
  const interval = options.scrapeInterval ?? '1s';
  const handle = new ServiceHandle('prometheus');
  try {
    const dir = handle.addDir(await makeTempDir('prometheus'));
    const configFile = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(
      configFile,
      [
        'global:',
        `  scrape_interval: ${interval}`,
        `  evaluation_interval: ${interval}`,
        'scrape_configs:',
        '  - job_name: test',
        '    static_configs:',
        `      - targets: ${JSON.stringify(options.targets)}`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = handle.spawn(
      'prometheus',
      PROMETHEUS_BIN,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { logFile: path.join(dir, 'prometheus.log') },
    );
    await waitFor(
      `Prometheus on ${url}`,
      async () => (await fetch(`${url}/-/ready`)).ok,
      { timeoutMs: 60_000, intervalMs: 100, abort: proc.deathError },
    );
    return {
      url,
      targetsUp: async () => {
        await waitFor(
          'every scrape target up',
          async () => {
            const body = (await (
              await fetch(`${url}/api/v1/targets?state=active`)
            ).json()) as {
              data: { activeTargets: Array<{ health: string }> };
            };
            const targets = body.data.activeTargets;
            return (
              targets.length === options.targets.length &&
              targets.every(t => t.health === 'up')
            );
          },
          { timeoutMs: 60_000, intervalMs: 200, abort: proc.deathError },
        );
      },
      stop: () => handle.stop(),
    };
  } catch (error) {
    await handle.stop();
    throw error;
  }
}

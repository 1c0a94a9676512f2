/*
 * Tag pagination against a real registry that paginates: CNCF distribution
 * v3 honours `n` and answers with `Link: <…?last=…&n=…>; rel="next"` (the
 * Debian package, 2.8, returns every tag in one page, so it cannot show
 * this). v3 is built once from the Go module proxy into the cache directory,
 * like the Kubernetes binaries; a warm run only finds it.
 */
import {
  ImagePolicyEvaluator,
  ImageScanner,
  RegistryClient,
} from '@gitops-workflow/plugin-gitops-node';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir, requireExecutable } from '../infra/process';
import { startProxy } from './proxy';

const DISTRIBUTION_VERSION = 'v3.0.0';

// A cold build takes minutes on a busy machine.
jest.setTimeout(20 * 60_000);

async function distributionV3(): Promise<string> {
  const binDir = path.join(
    cacheDir(),
    `distribution-${DISTRIBUTION_VERSION}`,
    'bin',
  );
  const bin = path.join(binDir, 'registry');
  if (fs.existsSync(bin)) return bin;
  const go = requireExecutable(
    process.env.GO ??
      (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go'),
    'Go >= 1.23 builds the paginating registry (distribution v3): install Go into /usr/local/go or set GO=/path/to/go',
  );
  await promisify(execFile)(
    go,
    [
      'install',
      '-trimpath',
      '-ldflags=-s -w',
      `github.com/distribution/distribution/v3/cmd/registry@${DISTRIBUTION_VERSION}`,
    ],
    {
      env: {
        ...process.env,
        GOBIN: binDir,
        GOFLAGS: '-mod=mod',
        CGO_ENABLED: '0',
        GOTOOLCHAIN: 'local',
      },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return bin;
}

describe('tag pagination (distribution v3)', () => {
  let registryModule: typeof import('../infra/registry');
  let registry: import('../infra/registry').Registry;
  const tags = Array.from(
    { length: 2_500 },
    (_, i) => `master-${(i * 2654435761) % 0xfffffff}-${999_998_500 + i}`,
  );

  beforeAll(async () => {
    // The infra helper reads GITOPS_REGISTRY when it is loaded.
    process.env.GITOPS_REGISTRY = await distributionV3();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    registryModule = require('../infra/registry');
    registry = await registryModule.startRegistry({ auth: 'htpasswd' });
    await registryModule.pushTags(registry, 'team/app', tags);
  });
  afterAll(() => registry?.stop());

  it('follows Link headers over three pages of 1,000 to all 2,500 tags', async () => {
    const proxy = await startProxy(registry);
    const host = proxy.host;
    try {
      const credentials = {
        username: registry.username,
        password: registry.password,
      };
      const client = new RegistryClient();
      const listed = await client.listTags(`${host}/team/app`, {
        credentials,
        insecure: true,
      });
      expect(listed).toHaveLength(2_500);
      expect(new Set(listed)).toEqual(new Set(tags));
      const pages = proxy.requests.filter(r => r.includes('/tags/list'));
      // The 401 that taught the client Basic auth, then three pages.
      expect(pages).toHaveLength(4);
      expect(pages.filter(r => r.includes('last='))).toHaveLength(2);

      const evaluator = new ImagePolicyEvaluator({
        scanner: new ImageScanner({ client }),
      });
      const result = await evaluator.evaluate('default:gitops', {
        image: `${host}/team/app`,
        credentials,
        insecure: true,
        spec: {
          filterTags: {
            pattern: '^master-[0-9]+-(?P<ts>[0-9]+)',
            extract: '$ts',
          },
          policy: { numerical: { order: 'asc' } },
        },
      });
      expect(result.error).toBeUndefined();
      expect(result.tag).toBe(tags[tags.length - 1]);
    } finally {
      await proxy.close();
    }
  });
});

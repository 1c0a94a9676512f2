/*
 * A real container image from Go source: `CGO_ENABLED=0 go build` of a main
 * package into a static binary, as the single file of a one-layer image whose
 * entrypoint runs it (what examples/demo-repo/Dockerfile does with a golang
 * stage and `FROM scratch`, without a container engine).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImageContent } from './oci';
import { makeTempDir, MissingToolError, removeDir } from './process';

const run = promisify(execFile);

/** The first Go >= 1.22 on PATH or in /usr/local/go (the build script looks the same way). */
function goBinary(): string {
  const candidates = [
    process.env.GO,
    ...(process.env.PATH ?? '')
      .split(path.delimiter)
      .map(d => path.join(d, 'go')),
    '/usr/local/go/bin/go',
  ].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new MissingToolError(
    'go not found: install Go into /usr/local/go (or set GO=/path/to/go) to build container images',
  );
}

export interface GoImageOptions {
  /** The program's path in the image (default `/server`). */
  binary?: string;
  /** Ports the image declares, e.g. `['8088/tcp']` (documentation, as EXPOSE). */
  exposedPorts?: string[];
}

/**
 * Builds the main package in `sourceDir` (a module: go.mod + sources, no
 * dependencies outside the standard library) into a runnable image.
 */
export async function buildGoImage(
  sourceDir: string,
  options: GoImageOptions = {},
): Promise<ImageContent> {
  const binary = options.binary ?? '/server';
  const out = await makeTempDir('go-build');
  try {
    const file = path.join(out, 'program');
    try {
      await run(
        goBinary(),
        ['build', '-trimpath', '-ldflags=-s -w', '-o', file, '.'],
        {
          cwd: sourceDir,
          env: {
            ...process.env,
            CGO_ENABLED: '0',
            GOOS: 'linux',
            GOARCH: 'amd64',
            // The program's go.mod names an older Go; build with this one, offline.
            GOTOOLCHAIN: 'local',
            GOFLAGS: '-mod=mod',
          },
        },
      );
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(
        `go build in ${sourceDir} failed: ${(
          err.stderr || err.message
        ).trim()}`,
      );
    }
    return {
      files: [
        {
          name: binary.replace(/^\//, ''),
          content: fs.readFileSync(file),
          mode: 0o755,
        },
      ],
      config: {
        Entrypoint: [binary],
        ...(options.exposedPorts
          ? {
              ExposedPorts: Object.fromEntries(
                options.exposedPorts.map(p => [p, {}]),
              ),
            }
          : {}),
      },
    };
  } finally {
    await removeDir(out);
  }
}

/** Writes `files` (path → content) to a temp dir and builds them, for programs a test spells out. */
export async function buildGoImageFromFiles(
  files: Record<string, string>,
  options: GoImageOptions = {},
): Promise<ImageContent> {
  const dir = await makeTempDir('go-src');
  try {
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
    }
    return await buildGoImage(dir, options);
  } finally {
    await removeDir(dir);
  }
}

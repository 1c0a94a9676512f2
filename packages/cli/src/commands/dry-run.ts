import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import {
  buildManifests,
  kustomizeComponents,
  parseApplicationsYaml,
  renderApplication,
  resolveInside,
  type KubeObject,
  type RenderedApplication,
} from '@gitops-workflow/plugin-gitops-node';

interface DryRunFlags {
  file: string;
  source: string[];
  kustomize?: string;
}

/** `--source gitops=./repo`: where a kustomize component's Git checkout is on this machine. */
function parseSources(values: string[]): Map<string, string> {
  const sources = new Map<string, string>();
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0)
      throw new Error(`--source expects COMPONENT=DIR, got "${value}"`);
    sources.set(value.slice(0, eq), value.slice(eq + 1));
  }
  return sources;
}

/** The rendered objects as multi-document YAML, each headed like `vela dry-run` does. */
export function formatRendered(rendered: RenderedApplication[]): string {
  const docs: string[] = [];
  for (const app of rendered) {
    for (const component of app.components) {
      for (const object of component.objects) {
        docs.push(
          `# Application(${app.application.metadata.name}) -- Component(${
            component.name
          })\n${stringify(object)}`,
        );
      }
    }
  }
  return docs.map(doc => `---\n${doc}`).join('');
}

export function registerDryRunCommand(program: Command): void {
  program
    .command('dry-run')
    .description(
      'Render an Application file into the Kubernetes objects it applies, offline',
    )
    .requiredOption(
      '-f, --file <file>',
      'the Application YAML file ("-" for stdin)',
    )
    .option(
      '--source <component=dir>',
      "a kustomize component's local checkout (its properties.path is read under it)",
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option(
      '--kustomize <path>',
      'the kustomize binary (default: GITOPS_KUSTOMIZE, then PATH)',
    )
    .action(async (flags: DryRunFlags) => {
      const text =
        flags.file === '-'
          ? await readStdin()
          : await fs.readFile(flags.file, 'utf8');
      const sources = parseSources(flags.source);
      const apps = parseApplicationsYaml(
        text,
        flags.file === '-' ? 'stdin' : flags.file,
      );
      const rendered: RenderedApplication[] = [];
      for (const app of apps) {
        const manifests = new Map<string, KubeObject[]>();
        for (const { component, props } of kustomizeComponents(
          app.spec.components,
        )) {
          const dir = sources.get(component.name);
          if (!dir) {
            throw new Error(
              `component "${component.name}" is of type kustomize: pass --source ${component.name}=DIR with a checkout of ${props.url}`,
            );
          }
          const built = await buildManifests(
            resolveInside(dir, props.path ?? '.'),
            { kustomizePath: flags.kustomize, root: dir },
          );
          manifests.set(component.name, built.objects);
        }
        rendered.push(await renderApplication(app, { sources: manifests }));
      }
      process.stdout.write(formatRendered(rendered));
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import type { KindRule, Project } from '@gitops-workflow/plugin-gitops-node';

function strings(config: Config, key: string, fallback: string[]): string[] {
  // getOptionalStringArray names the key when an entry is not a string.
  return config.getOptionalStringArray(key) ?? fallback;
}

function kinds(config: Config, key: string): KindRule[] {
  return (config.getOptionalConfigArray(key) ?? []).map(rule => ({
    group: rule.getOptionalString('group') ?? '',
    kind: rule.getString('kind'),
  }));
}

/**
 * `gitops.projects`: what the Applications of each project may do. Every
 * list defaults to the safe end (nothing beyond the project's own
 * destinations); a bad entry stops start-up with an error naming the key.
 */
export function readProjects(root: Config): Project[] {
  const names = new Set<string>();
  return (root.getOptionalConfigArray('gitops.projects') ?? []).map(
    (config, index) => {
      const at = `gitops.projects[${index}]`;
      const name = config.getString('name');
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name === 'default')
        throw new InputError(
          `${at}.name must be a DNS label other than "default" (the project of Applications in no project), got "${name}"`,
        );
      if (names.has(name))
        throw new InputError(`${at}.name "${name}" is used twice`);
      names.add(name);
      const applications = config.getOptionalConfig('applications');
      const namespaces = applications?.getOptionalStringArray('namespaces');
      const matchLabels = applications?.getOptional('matchLabels');
      if (
        matchLabels !== undefined &&
        (typeof matchLabels !== 'object' ||
          matchLabels === null ||
          Array.isArray(matchLabels) ||
          Object.values(matchLabels).some(v => typeof v !== 'string'))
      )
        throw new InputError(
          `${at}.applications.matchLabels must be a map of label names to strings`,
        );
      if (namespaces === undefined && matchLabels === undefined)
        throw new InputError(
          `${at}.applications must name namespaces or matchLabels: a project holding every Application would lift the default's limits for all`,
        );
      const destinations = (
        config.getOptionalConfigArray('destinations') ?? []
      ).map(d => ({
        cluster: d.getString('cluster'),
        namespace: d.getString('namespace'),
      }));
      const serviceAccountName = config.getOptionalString('serviceAccountName');
      const project: Project = {
        name,
        applications: {
          ...(namespaces ? { namespaces } : {}),
          ...(matchLabels
            ? { matchLabels: matchLabels as Record<string, string> }
            : {}),
        },
        sourceRepos: strings(config, 'sourceRepos', []),
        destinations,
        clusterScopedKinds: kinds(config, 'clusterScopedKinds'),
        deniedNamespacedKinds: kinds(config, 'deniedNamespacedKinds'),
        integrationCredentials:
          config.getOptionalBoolean('integrationCredentials') ?? false,
        notificationHosts: strings(config, 'notificationHosts', []),
        registryTokenHosts: strings(config, 'registryTokenHosts', []),
        remoteBases: config.getOptionalBoolean('remoteBases') ?? false,
        terraform: config.getOptionalBoolean('terraform') ?? false,
      };
      if (serviceAccountName) project.serviceAccountName = serviceAccountName;
      return project;
    },
  );
}

import { InputError } from '@backstage/errors';
import { parseAllDocuments } from 'yaml';
import { builtinDefinitions } from '../definitions/builtins';
import { childPath, Fields, invalid, isRecord } from '../model/fields';
import type { DefinitionRegistry } from '../definitions/registry';
import type {
  Application,
  ApplicationComponent,
  ApplicationPolicy,
  ApplicationTrait,
  ApplicationWorkflow,
  WorkflowStep,
} from '../model/types';


const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

import { APPLICATION_API_VERSION } from '../model/types';

export interface ApplicationParseOptions {
  definitions?: DefinitionRegistry;
  /** Namespace for an Application whose metadata has none (kubectl's `default`). */
  defaultNamespace?: string;
}

function name(
  fields: Fields,
  key: string,
  pattern: RegExp,
  max: number,
): string {
  const value = fields.string(key);
  if (value.length > max || !pattern.test(value)) {
    invalid(
      fields.pathOf(key),
      `"${value}" is not a valid name (lowercase letters, digits and "-", at most ${max} characters)`,
    );
  }
  return value;
}

function stringList(fields: Fields, key: string): string[] {
  return fields.optionalStringList(key) ?? [];
}

function parseTraits(
  component: Fields,
  definitions: DefinitionRegistry,
): ApplicationTrait[] {
  const seen = new Set<string>();
  return (component.optionalList('traits') ?? []).map((item, i) => {
    const trait = Fields.of(item, childPath(component.pathOf('traits'), i));
    trait.onlyKeys(['type', 'properties']);
    const type = trait.string('type');
    const definition = definitions.getTrait(type);
    if (!definition) {
      invalid(
        trait.pathOf('type'),
        `unknown trait "${type}" (known: ${definitions.listTraits().join(', ')})`,
      );
    }
    if (seen.has(type))
      invalid(trait.pathOf('type'), `trait "${type}" is attached twice`);
    seen.add(type);
    const properties = Fields.of(
      trait.value.properties,
      trait.pathOf('properties'),
    );
    definition.validate(properties);
    return { type, properties: properties.value };
  });
}

function parseComponents(
  spec: Fields,
  definitions: DefinitionRegistry,
): ApplicationComponent[] {
  const list = spec.optionalList('components');
  if (!list || list.length === 0)
    invalid(spec.pathOf('components'), 'must list at least one component');
  const components = list.map((item, i) => {
    const component = Fields.of(item, childPath(spec.pathOf('components'), i));
    component.onlyKeys([
      'name',
      'type',
      'properties',
      'traits',
      'dependsOn',
      'inputs',
      'outputs',
      'externalRevision',
    ]);
    const componentName = name(component, 'name', DNS_LABEL, 63);
    const type = component.string('type');
    const definition = definitions.getComponentType(type);
    if (!definition) {
      invalid(
        component.pathOf('type'),
        `unknown component type "${type}" (known: ${definitions
          .listComponentTypes()
          .join(', ')})`,
      );
    }
    const properties = Fields.of(
      component.value.properties,
      component.pathOf('properties'),
    );
    definition.validate(properties);
    return {
      name: componentName,
      type,
      properties: properties.value,
      traits: parseTraits(component, definitions),
      dependsOn: stringList(component, 'dependsOn'),
    };
  });
  const names = components.map(c => c.name);
  components.forEach((component, i) => {
    const path = childPath(spec.pathOf('components'), i);
    if (names.indexOf(component.name) !== i) {
      invalid(
        `${path}.name`,
        `another component is already named "${component.name}"`,
      );
    }
    component.dependsOn.forEach((dependency, j) => {
      if (dependency === component.name || !names.includes(dependency)) {
        invalid(
          `${path}.dependsOn[${j}]`,
          dependency === component.name
            ? 'a component cannot depend on itself'
            : `no component is named "${dependency}"`,
        );
      }
    });
  });
  return components;
}

function parsePolicies(spec: Fields): ApplicationPolicy[] {
  const seen = new Set<string>();
  return (spec.optionalList('policies') ?? []).map((item, i) => {
    const policy = Fields.of(item, childPath(spec.pathOf('policies'), i));
    policy.onlyKeys(['name', 'type', 'properties']);
    const policyName = name(policy, 'name', DNS_LABEL, 63);
    if (seen.has(policyName))
      invalid(
        policy.pathOf('name'),
        `another policy is already named "${policyName}"`,
      );
    seen.add(policyName);
    return {
      name: policyName,
      type: policy.string('type'),
      properties: Fields.of(
        policy.value.properties,
        policy.pathOf('properties'),
      ).value,
    };
  });
}

function parseSteps(
  parent: Fields,
  key: string,
  nested: boolean,
): WorkflowStep[] {
  const seen = new Set<string>();
  return (parent.optionalList(key) ?? []).map((item, i) => {
    const step = Fields.of(item, childPath(parent.pathOf(key), i));
    step.onlyKeys([
      'name',
      'type',
      'properties',
      'dependsOn',
      'if',
      'timeout',
      'subSteps',
      'inputs',
      'outputs',
      'meta',
    ]);
    const stepName = step.string('name');
    if (seen.has(stepName))
      invalid(
        step.pathOf('name'),
        `another step is already named "${stepName}"`,
      );
    seen.add(stepName);
    const parsed: WorkflowStep = {
      name: stepName,
      type: step.string('type'),
      properties: Fields.of(step.value.properties, step.pathOf('properties'))
        .value,
      dependsOn: stringList(step, 'dependsOn'),
    };
    const condition = step.optionalString('if');
    if (condition !== undefined) parsed.if = condition;
    const timeout = step.optionalString('timeout');
    if (timeout !== undefined) parsed.timeout = timeout;
    if (step.has('subSteps')) {
      if (nested)
        invalid(step.pathOf('subSteps'), 'sub-steps cannot have sub-steps');
      parsed.subSteps = parseSteps(step, 'subSteps', true);
    }
    return parsed;
  });
}

function parseWorkflow(spec: Fields): ApplicationWorkflow | undefined {
  const workflow = spec.optionalMap('workflow');
  if (!workflow) return undefined;
  workflow.onlyKeys(['steps', 'mode', 'ref']);
  const result: ApplicationWorkflow = {
    steps: parseSteps(workflow, 'steps', false),
  };
  const mode = workflow.optionalMap('mode');
  if (mode) {
    const modes = ['StepByStep', 'DAG'] as const;
    const read = (key: 'steps' | 'subSteps') => {
      const value = mode.optionalString(key);
      if (value !== undefined && !modes.includes(value as never)) {
        invalid(mode.pathOf(key), `must be StepByStep or DAG, got "${value}"`);
      }
      return value as (typeof modes)[number] | undefined;
    };
    result.mode = { steps: read('steps'), subSteps: read('subSteps') };
  }
  return result;
}

/**
 * Validates an Application (from YAML or from the API server) and returns it
 * in a normalised shape. Errors are InputErrors naming the field path.
 */
export function parseApplication(
  input: unknown,
  options: ApplicationParseOptions = {},
): Application {
  const definitions = options.definitions ?? builtinDefinitions();
  if (!isRecord(input))
    throw new InputError('An Application must be a YAML map');
  const root = Fields.of(input, 'Application');
  const apiVersion = root.optionalString('apiVersion');
  const kind = root.optionalString('kind');
  if (apiVersion !== APPLICATION_API_VERSION || kind !== 'Application') {
    throw new InputError(
      `expected apiVersion ${APPLICATION_API_VERSION} and kind Application, got ${
        apiVersion ?? '(none)'
      } ${kind ?? '(none)'}`,
    );
  }
  const metadata = Fields.of(root.value.metadata, 'metadata');
  const metaOut: Application['metadata'] = {
    name: name(metadata, 'name', DNS_SUBDOMAIN, 253),
    namespace: metadata.has('namespace')
      ? name(metadata, 'namespace', DNS_LABEL, 63)
      : options.defaultNamespace ?? 'default',
  };
  const labels = metadata.optionalStringMap('labels');
  if (labels) metaOut.labels = labels;
  const annotations = metadata.optionalStringMap('annotations');
  if (annotations) metaOut.annotations = annotations;
  for (const key of ['uid', 'resourceVersion', 'creationTimestamp'] as const) {
    const value = metadata.optionalString(key);
    if (value !== undefined) metaOut[key] = value;
  }
  const generation = metadata.optionalInt('generation');
  if (generation !== undefined) metaOut.generation = generation;

  const spec = Fields.of(root.value.spec, 'spec');
  const app: Application = {
    apiVersion: APPLICATION_API_VERSION,
    kind: 'Application',
    metadata: metaOut,
    spec: {
      components: parseComponents(spec, definitions),
      policies: parsePolicies(spec),
    },
  };
  const workflow = parseWorkflow(spec);
  if (workflow) app.spec.workflow = workflow;
  if (isRecord(root.value.status)) app.status = root.value.status;
  return app;
}

/**
 * Parses every Application in a (multi-document) YAML text. `source` names
 * the file in errors; documents of other kinds are rejected, not ignored.
 */
export function parseApplicationsYaml(
  text: string,
  source: string,
  options: ApplicationParseOptions = {},
): Application[] {
  const documents = parseAllDocuments(text);
  const apps: Application[] = [];
  documents.forEach((document, i) => {
    const where = `${source} (document ${i + 1})`;
    if (document.errors.length > 0) {
      throw new InputError(`${where}: ${document.errors[0].message}`);
    }
    const value = document.toJS();
    if (value === null || value === undefined) return;
    try {
      apps.push(parseApplication(value, options));
    } catch (error) {
      throw new InputError(`${where}: ${(error as Error).message}`);
    }
  });
  if (apps.length === 0)
    throw new InputError(`${source}: no Application in it`);
  return apps;
}

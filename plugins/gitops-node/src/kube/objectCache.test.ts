import { comparable } from '../apply/apply';
import { compactObject, keepsPayload, ObjectCache } from './objectCache';
import type { KubeObject } from './objects';

const deployment = (name: string, resourceVersion: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name,
    namespace: 'default',
    resourceVersion,
    managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }],
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': '{"big":"copy"}',
      team: 'web',
    },
  },
  spec: { replicas: 1 },
  status: { readyReplicas: 1 },
});

describe('compactObject', () => {
  it('keeps what status and health read, drops what only writers use', () => {
    const compact = compactObject(deployment('web', '1'));
    expect(compact.metadata.managedFields).toBeUndefined();
    expect(compact.metadata.annotations).toEqual({ team: 'web' });
    expect(compact.spec).toEqual({ replicas: 1 });
    expect(compact.status).toEqual({ readyReplicas: 1 });
  });

  it('keeps no Secret or ConfigMap payload in memory', () => {
    const secret = compactObject({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'default' },
      type: 'Opaque',
      data: { password: 'aHVudGVyMg==' },
    });
    expect(secret).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'default' },
      type: 'Opaque',
    });
    const configMap = compactObject({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'default' },
      data: { big: 'x'.repeat(1000) },
      binaryData: { blob: 'AAAA' },
    });
    expect(configMap.data).toBeUndefined();
    expect(configMap.binaryData).toBeUndefined();
  });
});

describe('a cached copy in an apply', () => {
  it('compares like the object the API server returns, so nothing is written again for it', () => {
    const whole = deployment('web', '7');
    expect(comparable(compactObject(whole))).toEqual(comparable(whole));
    const onlyLastApplied = deployment('web', '7');
    onlyLastApplied.metadata.annotations = {
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    };
    expect(comparable(compactObject(onlyLastApplied))).toEqual(
      comparable({
        ...onlyLastApplied,
        metadata: { name: 'web', namespace: 'default' },
      }),
    );
  });

  it('is not whole for Secrets and ConfigMaps, whose payload it leaves out', () => {
    expect(keepsPayload({ apiVersion: 'v1', kind: 'Secret' })).toBe(false);
    expect(keepsPayload({ apiVersion: 'v1', kind: 'ConfigMap' })).toBe(false);
    expect(keepsPayload({ apiVersion: 'apps/v1', kind: 'Deployment' })).toBe(
      true,
    );
    expect(keepsPayload({ apiVersion: 'example.com/v1', kind: 'Secret' })).toBe(
      true,
    );
  });
});

describe('ObjectCache', () => {
  it('turns watch events into changes, ignoring what it already holds', () => {
    const cache = new ObjectCache();
    expect(cache.apply('ADDED', deployment('web', '1'))?.type).toBe('ADDED');
    // The same version again (a replayed event) changes nothing.
    expect(cache.apply('MODIFIED', deployment('web', '1'))).toBeUndefined();
    const modified = cache.apply('MODIFIED', deployment('web', '2'));
    expect(modified?.type).toBe('MODIFIED');
    expect(modified?.previous?.metadata.resourceVersion).toBe('1');
    expect(cache.get('default', 'web')?.metadata.resourceVersion).toBe('2');
    expect(cache.apply('BOOKMARK', deployment('web', '3'))).toBeUndefined();
    expect(cache.apply('DELETED', deployment('web', '4'))?.type).toBe(
      'DELETED',
    );
    expect(cache.get('default', 'web')).toBeUndefined();
    expect(cache.apply('DELETED', deployment('web', '4'))).toBeUndefined();
  });

  it('tells what a re-list changed: new, changed and gone objects', () => {
    const cache = new ObjectCache();
    cache.replace([deployment('kept', '1'), deployment('changed', '1')]);
    cache.apply('ADDED', deployment('gone', '2'));
    const events = cache.replace([
      deployment('kept', '1'),
      deployment('changed', '3'),
      deployment('new', '3'),
    ]);
    expect(
      events.map(e => `${e.type} ${e.object.metadata.name}`).sort(),
    ).toEqual(['ADDED new', 'DELETED gone', 'MODIFIED changed']);
    expect(
      cache
        .list('default')
        .map(o => o.metadata.name)
        .sort(),
    ).toEqual(['changed', 'kept', 'new']);
    expect(cache.list('other')).toEqual([]);
  });

  it('lists the same frozen array until an object changes', () => {
    const cache = new ObjectCache();
    cache.replace([deployment('a', '1'), deployment('b', '1')]);
    const first = cache.list();
    expect(Object.isFrozen(first)).toBe(true);
    // Nothing changed: an event at the version held, a re-list of the same.
    cache.apply('MODIFIED', deployment('a', '1'));
    cache.replace([deployment('a', '1'), deployment('b', '1')]);
    expect(cache.list()).toBe(first);

    cache.apply('MODIFIED', deployment('a', '2'));
    const second = cache.list();
    expect(second).not.toBe(first);
    expect(second.map(o => o.metadata.resourceVersion).sort()).toEqual([
      '1',
      '2',
    ]);
    cache.apply('DELETED', deployment('b', '1'));
    expect(cache.list().map(o => o.metadata.name)).toEqual(['a']);
    expect(first.map(o => o.metadata.name).sort()).toEqual(['a', 'b']);
  });
});

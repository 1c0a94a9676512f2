import { Fields } from '../model/fields';
import { readTerraformProperties } from './properties';

const read = (properties: unknown) =>
  readTerraformProperties(
    Fields.of(properties, 'spec.components[0].properties'),
  );

describe('terraform component properties', () => {
  it('reads a full component with defaults filled in', () => {
    expect(
      read({
        source: { hcl: 'output "a" { value = 1 }' },
        variables: { size: 2 },
        env: [
          { name: 'PGHOST', value: 'db' },
          {
            name: 'PGPASSWORD',
            valueFrom: { secretKeyRef: { name: 'pg-admin', key: 'password' } },
          },
        ],
        writeConnectionSecretToRef: { name: 'shop-db' },
      }),
    ).toEqual({
      source: { hcl: 'output "a" { value = 1 }' },
      variables: { size: 2 },
      env: [
        { name: 'PGHOST', value: 'db' },
        {
          name: 'PGPASSWORD',
          secretKeyRef: { name: 'pg-admin', key: 'password' },
        },
      ],
      connectionSecret: 'shop-db',
      approve: 'auto',
      deletionPolicy: 'Delete',
      driftIntervalMs: 600_000,
    });
  });

  it('names the field of each mistake', () => {
    expect(() => read({})).toThrow(
      'spec.components[0].properties.source: is required',
    );
    expect(() =>
      read({ source: { git: { url: 'git@example.com:infra.git' } } }),
    ).toThrow(
      'spec.components[0].properties.source.git.url: must be an http(s) URL',
    );
    expect(() => read({ source: { hcl: '' }, approve: 'yes' })).toThrow(
      'spec.components[0].properties.approve: must be one of auto, manual, got "yes"',
    );
    expect(() =>
      read({ source: { hcl: '' }, deletionPolicy: 'Orphan' }),
    ).toThrow('deletionPolicy: must be one of Delete, Retain');
    expect(() => read({ source: { hcl: '' }, driftInterval: 'soon' })).toThrow(
      'spec.components[0].properties.driftInterval: "soon" is not a duration',
    );
    expect(() =>
      read({ source: { hcl: '' }, env: [{ name: 'A-B', value: 'x' }] }),
    ).toThrow(
      'spec.components[0].properties.env[0].name: "A-B" is not a variable name',
    );
    expect(() => read({ source: { hcl: '' }, env: [{ name: 'A' }] })).toThrow(
      'spec.components[0].properties.env[0]: set either value or valueFrom.secretKeyRef',
    );
    expect(() =>
      read({
        source: { hcl: '' },
        writeConnectionSecretToRef: { name: 'Not_A_Name' },
      }),
    ).toThrow('"Not_A_Name" is not a valid Secret name');
  });
});

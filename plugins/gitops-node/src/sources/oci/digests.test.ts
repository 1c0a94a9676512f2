import { digestAction, type ReflectedDigest } from './digests';

const IMAGE = 'registry.example.com/team/app';
const OLD = `sha256:${'a'.repeat(64)}`;

/** What was looked up for `tag` with the listing of t=100. */
const known = (tag: string, image = IMAGE): ReflectedDigest => ({
  image,
  tag,
  digest: OLD,
  scannedAt: 100,
});

describe('digestReflectionPolicy (Flux 2.6)', () => {
  it.each`
    policy            | tag        | scannedAt | known                      | action      | why
    ${'Never'}        | ${'1.0.0'} | ${100}    | ${undefined}               | ${'none'}   | ${'no digest is reflected'}
    ${'Never'}        | ${'1.0.0'} | ${200}    | ${known('1.0.0')}          | ${'none'}   | ${'nor one looked up before'}
    ${'IfNotPresent'} | ${'1.0.0'} | ${100}    | ${undefined}               | ${'lookUp'} | ${'the first time'}
    ${'IfNotPresent'} | ${'1.0.0'} | ${200}    | ${known('1.0.0')}          | ${'keep'}   | ${'the tag was re-pushed: kept while the tag stays the choice'}
    ${'IfNotPresent'} | ${'1.1.0'} | ${200}    | ${known('1.0.0')}          | ${'lookUp'} | ${'a new tag is chosen'}
    ${'IfNotPresent'} | ${'1.0.0'} | ${200}    | ${known('1.0.0', 'other')} | ${'lookUp'} | ${'the component now names another image'}
    ${'Always'}       | ${'1.0.0'} | ${100}    | ${undefined}               | ${'lookUp'} | ${'the first time'}
    ${'Always'}       | ${'1.0.0'} | ${200}    | ${known('1.0.0')}          | ${'lookUp'} | ${'a new listing: a moved tag gets its new digest'}
    ${'Always'}       | ${'1.0.0'} | ${100}    | ${known('1.0.0')}          | ${'keep'}   | ${'the same listing, shared within its interval'}
    ${'Always'}       | ${'1.1.0'} | ${100}    | ${known('1.0.0')}          | ${'lookUp'} | ${'a new tag is chosen'}
  `(
    '$policy, $tag at t=$scannedAt → $action ($why)',
    ({ policy, tag, scannedAt, known: before, action }) => {
      expect(
        digestAction(policy, { image: IMAGE, tag, scannedAt }, before),
      ).toBe(action);
    },
  );
});

/*
 * Tag policy selection over 10,000 tags, reported next to a plain
 * Array.prototype.sort of the same tags run in the same process: the ratio
 * is what to compare between machines and commits, never the bare time.
 *
 * Run: yarn workspace @gitops-workflow/bench bench:policy [--runs N]
 */
import {
  ImagePolicySpec,
  compileImagePolicy,
} from '@gitops-workflow/plugin-gitops-node';

const TAGS = 10_000;
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 31;

function seedTags(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const sha = ((i * 2654435761) % 0xfffffff).toString(16).padStart(7, '0');
    return `master-${sha}-${1_600_000_000 + ((i * 7919) % count)}`;
  });
}

function semverTags(count: number): string[] {
  // Distinct versions (so none collapse), some with a "v" or a prerelease.
  return Array.from({ length: count }, (_, i) => {
    const prefix = i % 7 === 0 ? 'v' : '';
    const pre = i % 11 === 0 ? '-rc.1' : '';
    return `${prefix}${i % 5}.${Math.floor(i / 5) % 100}.${i}${pre}`;
  });
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The seed's policy: master-<sha>-<timestamp>, newest timestamp. */
const seedSpec: ImagePolicySpec = {
  filterTags: { pattern: '^master-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts' },
  policy: { numerical: { order: 'asc' } },
};

const cases: Array<{
  name: string;
  tags: string[];
  spec: ImagePolicySpec;
  /** A poll where nothing changed: the policy saw this listing last time. */
  again?: boolean;
}> = [
  {
    name: 'seed: pattern + extract $ts, numerical asc',
    tags: seedTags(TAGS),
    spec: seedSpec,
  },
  {
    name: 'seed, the same listing polled again',
    tags: seedTags(TAGS),
    spec: seedSpec,
    again: true,
  },
  {
    name: 'pattern only, alphabetical asc',
    tags: seedTags(TAGS),
    spec: { filterTags: { pattern: '^master-' }, policy: { alphabetical: {} } },
  },
  {
    name: 'semver ">=1.0, <4 || ^4.x-0"',
    tags: semverTags(TAGS),
    spec: { policy: { semver: { range: '>=1.0, <4 || ^4.x-0' } } },
  },
  {
    name: 'hostile ^(a+)+$ with extract $1',
    tags: Array.from(
      { length: TAGS },
      (_, i) => `${'a'.repeat(20 + (i % 80))}!`,
    ).concat('aaaa'),
    spec: {
      filterTags: { pattern: '^(a+)+$', extract: '$1' },
      policy: { alphabetical: {} },
    },
  },
];

console.log(
  `policy select over ${TAGS.toLocaleString(
    'en',
  )} tags, median of ${runs} runs (node ${process.version})`,
);
console.log(['case', 'select ms', 'sort ms', 'ratio'].join('\t'));
for (const { name, tags, spec, again } of cases) {
  // Compiling once is how the evaluator uses a policy; it is included anyway,
  // except when the policy is polled again.
  const compiled = compileImagePolicy(spec);
  compiled.select(tags);
  const select = again
    ? () => compiled.select([...tags])
    : () => compileImagePolicy(spec).select(tags);
  const sort = () => [...tags].sort();
  for (let i = 0; i < 3; i++) {
    select();
    sort();
  }
  const selectTimes: number[] = [];
  const sortTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Interleaved so that machine noise hits both sides alike.
    selectTimes.push(time(select));
    sortTimes.push(time(sort));
  }
  const s = median(selectTimes);
  const b = median(sortTimes);
  console.log(
    [name, s.toFixed(2), b.toFixed(2), `${(s / b).toFixed(2)}x`].join('\t'),
  );
}

import {
  categoryOf,
  renderSummary,
  sampled,
  summariseProfile,
  WINDOW_CLOSES,
  WINDOW_OPENS,
  type CpuProfile,
} from '../bench/profile-summary';

const ROOT = '/repo';

const frame = (functionName: string, url = '', lineNumber = -1) => ({ functionName, url, lineNumber });

/**
 * A profile small enough to count by hand: a root with V8's pseudo-frames and a scenario whose
 * window markers surround calls into the library, prom-client and a built-in.
 */
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 5] },
    { id: 2, callFrame: frame('(program)') },
    { id: 3, callFrame: frame('(idle)') },
    { id: 4, callFrame: frame('(garbage collector)') },
    { id: 5, callFrame: frame('run', 'file:///repo/build/bench/profile.js', 10), children: [6, 7, 8, 10] },
    { id: 6, callFrame: frame(WINDOW_OPENS, 'file:///repo/build/bench/profile.js', 40), children: [9] },
    { id: 7, callFrame: frame('pulse', 'file:///repo/build/lib/core/manager.js', 106) },
    { id: 8, callFrame: frame('getMetricsAsString', 'file:///repo/node_modules/prom-client/lib/registry.js', 30), children: [11] },
    { id: 9, callFrame: frame('now') },
    { id: 10, callFrame: frame(WINDOW_CLOSES, 'file:///repo/build/bench/profile.js', 43) },
    { id: 11, callFrame: frame('now') },
  ],
  // Before the window: the opening marker and the built-in under it. After it: the closing
  // marker and one more pulse, which must not count.
  samples: [7, 6, 9, 7, 7, 8, 4, 7, 11, 3, 7, 10, 7, 2],
};

describe('summariseProfile', () => {
  it('counts only the samples between the markers, and takes the idle ones out of the shares', () => {
    const summary = summariseProfile(PROFILE, ROOT);
    expect(summary.windowed).toBe(true);
    expect(summary.samples).toBe(8); // indexes 3 to 10
    expect(summary.idle).toBe(1);
    expect(summary.shares.library).toBeCloseTo((100 * 4) / 7);
    expect(summary.shares['prom-client']).toBeCloseTo(100 / 7);
    expect(summary.shares.gc).toBeCloseTo(100 / 7);
    expect(summary.shares.node).toBeCloseTo(100 / 7);
    expect(summary.shares.idle).toBe(0);
    expect(summary.shares.program).toBe(0);
    expect(summary.shares.scenario).toBe(0);
  });

  it('orders functions by self samples, ties in the order they were first sampled, one row per function', () => {
    const { top } = summariseProfile(PROFILE, ROOT);
    expect(top.map((row) => [row.functionName, row.location, row.category, row.samples])).toEqual([
      ['pulse', 'build/lib/core/manager.js:107', 'library', 4],
      ['getMetricsAsString', 'node_modules/prom-client/lib/registry.js:31', 'prom-client', 1],
      ['(garbage collector)', '', 'gc', 1],
      ['now', '', 'node', 1],
    ]);
    expect(top[0]?.percent).toBeCloseTo((100 * 4) / 7);
  });

  it('keeps the first `limit` rows', () => {
    expect(summariseProfile(PROFILE, ROOT, 2).top.map((row) => row.functionName)).toEqual(['pulse', 'getMetricsAsString']);
  });

  it('counts every sample of a profile without markers', () => {
    const plain: CpuProfile = { nodes: PROFILE.nodes.slice(0, 5).map((node) => ({ ...node, children: [] })), samples: [2, 3, 4, 4, 5] };
    const summary = summariseProfile(plain, ROOT);
    expect(summary.windowed).toBe(false);
    expect(summary.samples).toBe(5);
    expect(summary.idle).toBe(1);
    expect(summary.top.map((row) => [row.functionName, row.samples])).toEqual([
      ['(garbage collector)', 2],
      ['(program)', 1],
      ['run', 1],
    ]);
    expect(summary.shares).toMatchObject({ gc: 50, program: 25, scenario: 25 });
  });

  it('refuses a sample naming a node the profile lacks', () => {
    expect(() => summariseProfile({ nodes: PROFILE.nodes, samples: [6, 99, 10] }, ROOT)).toThrow('Sample 1 names node 99');
  });
});

describe('categoryOf', () => {
  it.each([
    ['heartbeat', 'file:///repo/build/lib/http/stream.js', 'library'],
    ['heartbeat', 'file:///repo/lib/http/stream.ts', 'library'],
    ['formatLabels', 'file:///repo/node_modules/prom-client/lib/registry.js', 'prom-client'],
    ['handle', 'file:///repo/node_modules/express/lib/router/index.js', 'packages'],
    ['inWindow', 'file:///repo/build/bench/profile.js', 'scenario'],
    ['emit', 'node:events', 'node'],
    ['writev', '', 'node'],
    ['(garbage collector)', '', 'gc'],
    ['(program)', '', 'program'],
    ['(idle)', '', 'idle'],
    ['linked', 'file:///elsewhere/lib/x.js', 'packages'],
  ])('%s in %j is %s', (functionName, url, category) => {
    expect(categoryOf(functionName, url, ROOT)).toBe(category);
  });
});

describe('renderSummary', () => {
  it('writes a row per function and a row per category with samples', () => {
    const summary = summariseProfile(PROFILE, ROOT);
    const lines = renderSummary(summary).split('\n');
    expect(lines).toContain('| 57.1% | `pulse` | `build/lib/core/manager.js:107` | express-heartbeat (lib/) |');
    expect(lines).toContain('| 14.3% | `now` | (built-in) | Node internals and V8 built-ins |');
    expect(lines).toContain('| 57.1% | express-heartbeat (lib/) |');
    expect(lines.filter((line) => /^\| \d/.test(line))).toHaveLength(4 + 4);
    expect(sampled(summary)).toBe('8 samples, 1 idle (12.5%): the percentages are of the other 7');
    expect(sampled({ ...summary, idle: 0 })).toBe('8 samples, none idle');
  });
});

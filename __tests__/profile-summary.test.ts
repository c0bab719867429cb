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
 * window markers surround calls into the library, prom-client and a built-in, sampled every
 * millisecond exactly (so that its shares of time are its shares of samples).
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
  timeDeltas: Array.from({ length: 14 }, () => 1000),
};

/**
 * Sampled unevenly, as V8 does: the collector's one sample is followed by a long gap, so it
 * takes more time than the four samples of `pulse` (an idle sample last, for the median interval).
 */
const UNEVEN: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
    { id: 2, callFrame: frame('(garbage collector)') },
    { id: 3, callFrame: frame('pulse', 'file:///repo/build/lib/core/manager.js', 106) },
    { id: 4, callFrame: frame('(idle)') },
  ],
  samples: [3, 3, 3, 2, 3, 4],
  // µs before each sample; sample i stands for timeDeltas[i + 1].
  timeDeltas: [40, 100, 100, 100, 900, 100],
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

  it('orders functions by self time, ties in the order they were first sampled, one row per function', () => {
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

  it('weights each sample by the time to the next one, not by one sample each', () => {
    const summary = summariseProfile(UNEVEN, ROOT);
    expect(summary.samples).toBe(6);
    expect(summary.idle).toBe(1);
    // The last sample, idle, stands for the median interval, 100 µs.
    expect(summary.micros).toBe(1400);
    expect(summary.idleMicros).toBe(100);
    expect(summary.shares.gc).toBeCloseTo((100 * 900) / 1300);
    expect(summary.shares.library).toBeCloseTo((100 * 400) / 1300);
    // By samples, pulse (4) would come before the collector (1).
    expect(summary.top.map((row) => [row.functionName, row.samples, row.micros])).toEqual([
      ['(garbage collector)', 1, 900],
      ['pulse', 4, 400],
    ]);
    expect(summary.top[0]?.percent).toBeCloseTo((100 * 900) / 1300);
    expect(sampled(summary)).toBe('6 samples over 1 ms, 7.1% of it idle (1 sample): the percentages are of the other 1 ms, the busy time');
  });

  it('counts a negative time delta (V8 writes one now and then) as no time', () => {
    const summary = summariseProfile({ ...UNEVEN, timeDeltas: [40, 100, 100, 100, -1, 100] }, ROOT);
    expect(summary.top.map((row) => [row.functionName, row.micros])).toEqual([
      ['pulse', 400],
      ['(garbage collector)', 0],
    ]);
  });

  it('refuses a profile whose time deltas do not match its samples', () => {
    expect(() => summariseProfile({ ...UNEVEN, timeDeltas: [40] }, ROOT)).toThrow('6 samples but 1 time deltas');
  });

  it('counts every sample of a profile without markers', () => {
    const plain: CpuProfile = {
      nodes: PROFILE.nodes.slice(0, 5).map((node) => ({ ...node, children: [] })),
      samples: [2, 3, 4, 4, 5],
      timeDeltas: [250, 250, 250, 250, 250],
    };
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
    expect(() => summariseProfile({ nodes: PROFILE.nodes, samples: [6, 99, 10], timeDeltas: [1, 1, 1] }, ROOT)).toThrow(
      'Sample 1 names node 99',
    );
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
  it('writes a row per function and a row per category with busy time', () => {
    const summary = summariseProfile(PROFILE, ROOT);
    const lines = renderSummary(summary).split('\n');
    expect(lines).toContain('| 57.1% | `pulse` | `build/lib/core/manager.js:107` | express-heartbeat (lib/) |');
    expect(lines).toContain('| 14.3% | `now` | (built-in) | Node internals and V8 built-ins |');
    expect(lines).toContain('| 57.1% | express-heartbeat (lib/) |');
    expect(lines.filter((line) => /^\| \d/.test(line))).toHaveLength(4 + 4);
    expect(lines).toContain('| Share of busy time | Whose |');
    expect(sampled(summary)).toBe('8 samples over 8 ms, 12.5% of it idle (1 sample): the percentages are of the other 7 ms, the busy time');
    expect(sampled({ ...summary, idle: 0, idleMicros: 0 })).toBe('8 samples over 8 ms, none idle');
  });
});

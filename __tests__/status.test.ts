import fc from 'fast-check';
import {
  CRITICAL,
  CRITICAL_ERROR,
  DEGRADED,
  ERROR_REPORTED,
  HEALTHY,
  NO_ERROR,
  WARNING,
  missedBeats,
  nextMissDeadline,
  overallContribution,
  rankFromMisses,
  serviceRank,
} from '../lib/core/status';

const thresholds = { degradedAfter: 3, criticalAfter: 5 };

describe('missedBeats', () => {
  // interval 1000 ms, grace 100 ms: beat k is missed once more than k*1000 + 100 ms passed.
  it.each([
    [0, 0],
    [1000, 0],
    [1100, 0],
    [1101, 1],
    [2100, 1],
    [2101, 2],
    [5100, 4],
    [5101, 5],
    [3_600_000, 3599],
  ])('after %i ms -> %i missed', (elapsed, missed) => {
    expect(missedBeats(0, elapsed, 1000, 100)).toBe(missed);
  });

  it('agrees with nextMissDeadline at every boundary', () => {
    for (let missed = 0; missed < 10; missed++) {
      const deadline = nextMissDeadline(500, missed, 1000, 100);
      expect(missedBeats(500, deadline, 1000, 100)).toBe(missed);
      expect(missedBeats(500, deadline + 0.001, 1000, 100)).toBe(missed + 1);
    }
  });

  // The scheduler relies on this: the next deadline after an evaluation is never in the past.
  // Times are drawn at the deadlines themselves and one rounding step either side, where a
  // count by division lands a beat off in floating point.
  it('never leaves the next deadline before now, nor counts a beat whose deadline is not past', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e10, noNaN: true }),
        fc.double({ min: 1, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom(-1, 0, 1),
        (lastSignAt, intervalMs, graceMs, beat, step) => {
          const deadline = nextMissDeadline(lastSignAt, beat, intervalMs, graceMs);
          const now = deadline + step * Number.EPSILON * deadline;
          const missed = missedBeats(lastSignAt, now, intervalMs, graceMs);
          expect(nextMissDeadline(lastSignAt, missed, intervalMs, graceMs)).toBeGreaterThanOrEqual(now);
          if (missed > 0) expect(nextMissDeadline(lastSignAt, missed - 1, intervalMs, graceMs)).toBeLessThan(now);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('rank rules', () => {
  it('maps exactly 0..6 misses to the seed thresholds', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((missed) => rankFromMisses(missed, thresholds))).toEqual([
      HEALTHY,
      WARNING,
      WARNING,
      DEGRADED,
      DEGRADED,
      CRITICAL,
      CRITICAL,
    ]);
  });

  it('lets the worse of misses and errors win', () => {
    expect(serviceRank(0, ERROR_REPORTED, thresholds)).toBe(WARNING);
    expect(serviceRank(0, CRITICAL_ERROR, thresholds)).toBe(CRITICAL);
    expect(serviceRank(3, ERROR_REPORTED, thresholds)).toBe(DEGRADED);
    expect(serviceRank(1, NO_ERROR, thresholds)).toBe(WARNING);
  });

  it('caps a non-critical service at degraded in the overall status', () => {
    expect(overallContribution(CRITICAL, false)).toBe(DEGRADED);
    expect(overallContribution(CRITICAL, true)).toBe(CRITICAL);
    expect(overallContribution(WARNING, false)).toBe(WARNING);
  });
});

// The gap model on constructed sequences of pulse times: no clock, no timers, the times are
// the input. Each sequence is built so that the expected verdict follows from the deadline
// (interval + grace) and the sequence alone.
import { GapTrend, MIN_GAPS, type GapTrendView } from '../lib/core/trend';
import { learningTrend } from './helpers/drift';

const SECOND = 1000;

/** A model fed pulses at 0 and after each of `gapsMs`; returns it, the time of its last pulse, and each read after a pulse. */
function feed(gapsMs: readonly number[], intervalSeconds = 10, graceSeconds: number | null = null) {
  const model = new GapTrend(intervalSeconds, graceSeconds);
  let at = 0;
  model.record(at);
  const reads: GapTrendView[] = [];
  for (const gap of gapsMs) {
    at += gap;
    model.record(at);
    reads.push(model.read());
  }
  return { model, at, reads };
}

const repeat = (count: number, gapMs: number): number[] => Array.from({ length: count }, () => gapMs);
/** Gaps that start at `fromMs` and grow by `stepMs` each beat. */
const ramp = (count: number, fromMs: number, stepMs: number): number[] => Array.from({ length: count }, (_, k) => fromMs + k * stepMs);
/** A steady jitter with no trend: the same five gaps over and over. */
const jittered = (count: number): number[] => Array.from({ length: count }, (_, k) => [9000, 7500, 9800, 8200, 8800][k % 5] as number);

describe('GapTrend', () => {
  test('cold start: no figures and the learning reason until 10 gaps, then figures', () => {
    const model = new GapTrend(10, null);
    expect(model.read()).toEqual(learningTrend(0));
    // The first sign of life is no gap: there is nothing before it.
    model.record(0);
    expect(model.read().reason).toBe('learning: 0 of 10 gaps');
    // Gaps that would be alarming later say nothing while learning.
    for (let k = 1; k < MIN_GAPS; k++) model.record(k * 10_900);
    expect(model.read()).toMatchObject({ slope: null, at_risk: false, eta_seconds: null, reason: 'learning: 9 of 10 gaps' });
    model.record(MIN_GAPS * 10_900);
    expect(model.read()).toMatchObject({ mean_gap_seconds: 10.9, p95_gap_seconds: 10.9, slope: 0 });
  });

  test('a constant gap is steady: slope 0, no forecast, no risk', () => {
    const { reads } = feed(repeat(40, 10 * SECOND));
    expect(reads.at(-1)).toEqual({
      mean_gap_seconds: 10,
      p95_gap_seconds: 10,
      slope: 0,
      at_risk: false,
      eta_seconds: null,
      reason: 'steady',
    });
    expect(reads.some((read) => read.at_risk)).toBe(false);
  });

  test('jittered gaps with no trend never raise at_risk', () => {
    const { reads, model } = feed(jittered(200));
    expect(reads.some((read) => read.at_risk)).toBe(false);
    expect(model.read().mean_gap_seconds).toBeCloseTo(8.66, 1);
    expect(model.gapStdDevSeconds).toBeGreaterThan(0.3);
  });

  test('linear drift: at_risk well before the first miss, with an eta close to the true time of the miss', () => {
    // Interval 10 s, default grace 1 s: a beat is missed once a gap passes 11 s. Steady at 8 s,
    // then 0.2 s longer each beat: gaps 8.2 … 11.0 are on time, 11.2 is the first miss.
    const gaps = [...repeat(20, 8000), ...ramp(20, 8200, 200)];
    const { reads } = feed(gaps);
    const pulseTimes = gaps.map((_, k) => gaps.slice(0, k + 1).reduce((sum, gap) => sum + gap, 0));
    const lastOnTime = gaps.findIndex((gap) => gap > 11_000) - 1;
    const missAt = (pulseTimes[lastOnTime] as number) + 11_000;

    const first = reads.findIndex((read) => read.at_risk);
    expect(first).toBeGreaterThan(19);
    expect(first).toBeLessThan(lastOnTime);
    // At least 2 intervals of warning.
    expect(missAt - (pulseTimes[first] as number)).toBeGreaterThanOrEqual(20 * SECOND);
    for (let k = first; k <= lastOnTime; k++) {
      expect(reads[k]?.at_risk).toBe(true);
      // Once the window holds only the ramp, the forecast is the truth to the rounding.
      if (k >= 30) expect(reads[k]?.eta_seconds).toBeCloseTo((missAt - (pulseTimes[k] as number)) / SECOND, 1);
    }
    expect(reads[lastOnTime]?.slope).toBeCloseTo(0.2, 3);
    expect(reads[lastOnTime]?.reason).toMatch(/^gaps growing 200 ms per beat: a miss expected in about 11 s$/);
  });

  test('a steep drift is caught by the forecast, not by lateness', () => {
    // 0.5 s longer each beat from 5 s: gaps 10.5 and 11.0 are on time, 11.5 is the first miss.
    // At the 10 s gap the forecast miss is 10.5 + 11.0 + 11 = 32.5 s away, past the 3
    // intervals; at 10.5 s it is 22 s away, with one gap late: no streak, the forecast alone.
    const gaps = [...repeat(20, 5000), ...ramp(13, 5500, 500)];
    const { reads } = feed(gaps);
    const first = reads.findIndex((read) => read.at_risk);
    expect(gaps[first]).toBe(10_500);
    expect(reads[first - 1]?.eta_seconds).toBeCloseTo(32.5, 3);
    expect(reads[first]).toMatchObject({
      eta_seconds: 22,
      slope: 0.5,
      reason: 'gaps growing 500 ms per beat: a miss expected in about 22 s',
    });
  });

  test('one slow beat inside a drift does not move its forecast', () => {
    const drift = [...repeat(20, 8000), ...ramp(14, 8200, 200)];
    const withOutlier = [...drift];
    // Third of the ten gaps the forecast is fitted to: 0.8 s slower than the ramp.
    withOutlier[drift.length - 8] = (withOutlier[drift.length - 8] as number) + 800;
    const { mean_gap_seconds: _mean, p95_gap_seconds: _p95, ...forecast } = feed(drift).reads.at(-1) as GapTrendView;
    expect(forecast.at_risk).toBe(true);
    expect(feed(withOutlier).reads.at(-1)).toMatchObject(forecast);
  });

  test('eta counts down from the last pulse to the time read', () => {
    const { model, at } = feed([...repeat(20, 8000), ...ramp(20, 8200, 200)].slice(0, 36));
    const atPulse = model.read().eta_seconds as number;
    expect(atPulse).toBeGreaterThan(4);
    expect(model.read(at + 4 * SECOND).eta_seconds).toBeCloseTo(atPulse - 4, 3);
    expect(model.read(at + 1000 * SECOND).eta_seconds).toBe(0);
    // Reading later changes nothing else: at_risk comes from pulse times alone.
    expect(model.read(at + 1000 * SECOND).at_risk).toBe(model.read().at_risk);
  });

  test.each([
    ['a slow beat within the deadline', 10_900],
    ['a missed beat', 60_000],
    ['a double pulse', 0],
  ])('a single outlier (%s) does not raise at_risk', (_name, outlier) => {
    const gaps = [...jittered(30), outlier, ...jittered(30)];
    const { reads } = feed(gaps);
    expect(reads.some((read) => read.at_risk)).toBe(false);
    expect(reads.at(-1)?.reason).toBe('steady');
  });

  test('five late gaps in a row raise at_risk, four do not', () => {
    // Past the 10 s interval but within its 1 s grace: each on time, together a service living on its grace.
    const four = feed([...jittered(20), ...repeat(4, 10_600), ...jittered(1)]).reads;
    expect(four.some((read) => read.at_risk)).toBe(false);
    const five = feed([...jittered(20), ...repeat(5, 10_600)]).reads;
    expect(five.at(-1)).toMatchObject({ at_risk: true, reason: 'last 5 gaps each past the 10 s interval, into the grace' });
    expect(five.at(-2)?.at_risk).toBe(false);
  });

  test('recovery clears at_risk, and the reason with it', () => {
    const drift = [...repeat(20, 8000), ...ramp(14, 8200, 200)];
    const { reads } = feed([...drift, ...repeat(30, 8000)]);
    expect(reads[drift.length - 1]?.at_risk).toBe(true);
    const cleared = reads.findIndex((read, k) => k >= drift.length && !read.at_risk);
    // Within the fit window of 10 gaps back to normal.
    expect(cleared - drift.length).toBeLessThan(10);
    expect(reads.slice(cleared).every((read) => !read.at_risk)).toBe(true);
    expect(reads.at(-1)).toMatchObject({ at_risk: false, eta_seconds: null, reason: 'steady', slope: 0 });
  });

  test('the ring keeps exactly the last 20 gaps as it wraps', () => {
    // Interval 60 s: neither the 50 s nor the 10 s gaps are late.
    const twoOldLeft = feed([...repeat(25, 50_000), ...repeat(18, 10_000)], 60).reads.at(-1);
    expect(twoOldLeft?.p95_gap_seconds).toBe(50);
    const oneOldLeft = feed([...repeat(25, 50_000), ...repeat(19, 10_000)], 60).reads.at(-1);
    expect(oneOldLeft?.p95_gap_seconds).toBe(10);
    const wrappedTwice = feed([...repeat(25, 50_000), ...repeat(40, 10_000)], 60).reads.at(-1);
    expect(wrappedTwice).toMatchObject({ p95_gap_seconds: 10, slope: 0, at_risk: false });
  });

  test('the mean moves with α = 2 / 21 per gap', () => {
    const { model } = feed([...repeat(MIN_GAPS, 10_000), 31_000], 60);
    expect(model.read().mean_gap_seconds).toBeCloseTo(10 + (2 / 21) * 21, 3);
  });

  test('a time before the last, or within a hundredth of the interval of it, is the same beat', () => {
    const model = new GapTrend(10, null);
    model.record(100_000);
    // A clock stepped back, a repeat in the same millisecond, another 99 ms later: one beat.
    for (const at of [90_000, 100_000, 100_099]) model.record(at);
    expect(model.gapCount).toBe(0);
    for (let k = 1; k <= MIN_GAPS; k++) {
      model.record(100_000 + k * 10_000);
      model.record(100_000 + k * 10_000 + 50);
    }
    expect(model.gapCount).toBe(MIN_GAPS);
    expect(model.read()).toMatchObject({ mean_gap_seconds: 10, p95_gap_seconds: 10, slope: 0 });
  });

  test('one early beat at the end of a drift does not hide it', () => {
    // The drift of the wiring test with ±0.5 s of noise, then one gap of 4 s (above the
    // same-beat share). Without the low outlier raised, its nine pair slopes pull the
    // confidence bound below zero and the verdict reads "steady".
    const noise = [400, -300, 0, 500, -400, 200, -500, 300, 100, -200];
    const noisy = (gaps: number[]) => gaps.map((gap, k) => gap + (noise[k % noise.length] as number));
    const drifting = [...noisy(repeat(20, 20_000)), ...noisy(ramp(8, 21_500, 1500))];
    expect(feed(drifting, 30).model.read().at_risk).toBe(true);
    expect(feed([...drifting, 4000], 30).model.read()).toMatchObject({
      at_risk: true,
      reason: expect.stringMatching(/^gaps growing/) as string,
    });
  });

  test('without grace only the forecast warns, with the deadline at the interval', () => {
    const gaps = [...repeat(20, 5000), ...ramp(10, 5500, 500)];
    const { reads } = feed(gaps, 10, 0);
    const first = reads.findIndex((read) => read.at_risk);
    expect(first).toBeGreaterThan(19);
    expect(gaps[first]).toBeLessThanOrEqual(10_000);
  });

  test.each([0, -1, Number.NaN, Infinity])('rejects an interval of %p seconds', (interval) => {
    expect(() => new GapTrend(interval, null)).toThrow(/interval .* is not a positive number of seconds/);
  });

  test.each([-1, Number.NaN, Infinity])('rejects a grace of %p seconds', (grace) => {
    expect(() => new GapTrend(10, grace)).toThrow(/grace .* is not a non-negative number of seconds/);
  });
});

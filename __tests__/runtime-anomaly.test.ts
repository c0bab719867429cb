import { collectGarbage } from './helpers/gc';
import { RUNTIME_MIN_RUNS, RUNTIME_WINDOW, RuntimeAnomalyModel, type RuntimeAnomaly } from '../lib/core/runtime-anomaly';

const SECOND = 1000;

/** A model that has recorded these runs, given in seconds. */
function modelAfter(seconds: readonly number[]): RuntimeAnomalyModel {
  const model = new RuntimeAnomalyModel();
  for (const duration of seconds) model.record(duration * SECOND);
  return model;
}

/** What recording each of these runs (in seconds) said, in order. */
function verdicts(model: RuntimeAnomalyModel, seconds: readonly number[]): Array<RuntimeAnomaly | null> {
  return seconds.map((duration) => model.record(duration * SECOND));
}

const repeat = (seconds: number, times: number): number[] => Array.from({ length: times }, () => seconds);

/** Alternating 8 s and 12 s: mean 10 s, a measured sd (2.19 s over six runs) above both floors. */
const SWINGING = [8, 12, 8, 12, 8, 12];
const SWINGING_SD = Math.sqrt((6 * 2 * 2) / 5);

it('never flags steady runs, whether their spread or the floors set the threshold', () => {
  // A deterministic, evenly spread jitter: the fractional parts of multiples of the golden ratio.
  const jitter = (run: number): number => (run * 0.618_033_988_75) % 1;
  // Uniform in [30 s, 90 s]: sd 17 s, above the floors, so the 4σ rule itself is what holds.
  const wide = Array.from({ length: 1000 }, (_, run) => 30 + 60 * jitter(run));
  expect(verdicts(new RuntimeAnomalyModel(), wide).filter((verdict) => verdict !== null)).toEqual([]);
  // Within ±5% of 60 s: the measured sd is under the 10% floor, which sets the threshold.
  const tight = Array.from({ length: 1000 }, (_, run) => 57 + 6 * jitter(run));
  expect(verdicts(new RuntimeAnomalyModel(), tight).filter((verdict) => verdict !== null)).toEqual([]);
});

it('flags a run 3.1x longer than usual, with the figures it was judged by', () => {
  const model = modelAfter(SWINGING);
  expect(model.record(31 * SECOND)).toEqual({
    reason: 'ran 3.1x longer than usual (31s, usually 10s)',
    duration_seconds: 31,
    mean_seconds: 10,
    sd_seconds: expect.closeTo(SWINGING_SD, 9) as number,
    threshold_seconds: expect.closeTo(10 + 4 * SWINGING_SD, 9) as number,
    runs: 6,
  });
});

it('flags only beyond the mean plus 4 measured sd when that sd is above the floors', () => {
  const threshold = 10 + 4 * SWINGING_SD; // 18.76 s
  expect(modelAfter(SWINGING).read().threshold_seconds).toBeCloseTo(threshold, 9);
  expect(modelAfter(SWINGING).record((threshold - 0.01) * SECOND)).toBeNull();
  expect(modelAfter(SWINGING).record((threshold + 0.01) * SECOND)).not.toBeNull();
});

it('does not flag tiny-variance runs: ten runs of exactly 10.0 s, then one of 10.5 s', () => {
  const model = modelAfter(repeat(10, 10));
  expect(model.read()).toEqual({ count: 10, mean_seconds: 10, sd_seconds: 0, threshold_seconds: 14 });
  expect(model.record(10.5 * SECOND)).toBeNull();
});

it.each([
  // sd 0 in both: 10% of 100 s is 10 s, above the 1 s floor, so the bar is 1.4x the mean.
  { floor: '10% of the mean', usual: 100, threshold: 140 },
  // 10% of 2 s is 0.2 s, under the 1 s floor, so the bar is the mean plus 4 s.
  { floor: 'the absolute 1 s', usual: 2, threshold: 6 },
])('floors the sd at $floor: runs of $usual s flag past $threshold s, not before', ({ usual, threshold }) => {
  const history = repeat(usual, 8);
  expect(modelAfter(history).read().threshold_seconds).toBeCloseTo(threshold, 9);
  expect(modelAfter(history).record((threshold - 0.01) * SECOND)).toBeNull();
  expect(modelAfter(history).record((threshold + 0.01) * SECOND)?.threshold_seconds).toBeCloseTo(threshold, 9);
});

it(`flags nothing before ${String(RUNTIME_MIN_RUNS)} earlier runs, then judges against all of them`, () => {
  const model = new RuntimeAnomalyModel();
  // Each of the first five is judged against fewer than five: even a run 100x the others passes.
  expect(verdicts(model, [10, 10, 10, 10, 1000])).toEqual([null, null, null, null, null]);
  expect(model.read().threshold_seconds).not.toBeNull();
  const afterFive = modelAfter(repeat(10, RUNTIME_MIN_RUNS));
  expect(afterFive.record(1000 * SECOND)).toMatchObject({ runs: RUNTIME_MIN_RUNS });
  expect(modelAfter(repeat(10, RUNTIME_MIN_RUNS - 1)).read().threshold_seconds).toBeNull();
});

it('does not flag runs far shorter than usual: those are min_runtime’s to catch', () => {
  expect(verdicts(modelAfter(repeat(60, 20)), [0, 0.001, 1, 10])).toEqual([null, null, null, null]);
});

it('keeps a flagged run in its history, so that a new normal is learnt', () => {
  const model = modelAfter(repeat(10, 10));
  expect(model.record(30 * SECOND)?.reason).toBe('ran 3.0x longer than usual (30s, usually 10s)');
  // Had the 30 s run been left out, the bar would still be 14 s and this one flagged too.
  expect(model.read()).toMatchObject({ count: 11, mean_seconds: 130 / 11 });
  expect(model.record(30 * SECOND)).toBeNull();
  expect(verdicts(model, repeat(30, 5))).toEqual(repeat(30, 5).map(() => null));
  // After a full ring of steady runs one long run widens the sd less: the new length is flagged twice.
  const flagged = verdicts(modelAfter(repeat(10, RUNTIME_WINDOW)), repeat(30, 4)).map((verdict) => verdict !== null);
  expect(flagged).toEqual([true, true, false, false]);
});

it(`judges by the last ${String(RUNTIME_WINDOW)} runs only, as the ring comes round`, () => {
  // One 100 s run among the 20 still widens the sd enough that 30 s passes…
  expect(modelAfter([...repeat(100, 20), ...repeat(10, 19)]).record(30 * SECOND)).toBeNull();
  // …and once the twentieth 10 s run has overwritten it, 30 s stands out.
  expect(modelAfter([...repeat(100, 20), ...repeat(10, 20)]).record(30 * SECOND)).toMatchObject({
    reason: 'ran 3.0x longer than usual (30s, usually 10s)',
    runs: RUNTIME_WINDOW,
  });
  // Runs of 1, 2, … 25 s: the last 20 are 6 to 25 s, whose sample sd is √35.
  const model = modelAfter(Array.from({ length: 25 }, (_, run) => run + 1));
  expect(model.read()).toMatchObject({ count: RUNTIME_WINDOW, mean_seconds: 15.5 });
  expect(model.read().sd_seconds).toBeCloseTo(Math.sqrt(35), 9);
});

it('reads no figures before a run, and no sd before two', () => {
  expect(new RuntimeAnomalyModel().read()).toEqual({ count: 0, mean_seconds: null, sd_seconds: null, threshold_seconds: null });
  expect(modelAfter([12]).read()).toEqual({ count: 1, mean_seconds: 12, sd_seconds: null, threshold_seconds: null });
});

it('gives no ratio when the usual runs took no measurable time', () => {
  // Start and end in the same millisecond: the mean is 0, and only the 1 s floor sets the bar (4 s).
  expect(modelAfter(repeat(0, 5)).record(5 * SECOND)).toMatchObject({
    reason: 'ran 5s, usually no measurable time',
    threshold_seconds: 4,
  });
});

it.each([-1, Number.NaN, Infinity, -Infinity])('refuses a duration of %p, and keeps its history unspoilt', (duration) => {
  const model = modelAfter(repeat(10, 6));
  expect(() => model.record(duration)).toThrow(
    `RuntimeAnomalyModel.record(durationMs): durationMs is ${String(duration)}; expected a finite number of ms, 0 or more.`,
  );
  expect(model.read()).toEqual({ count: 6, mean_seconds: 10, sd_seconds: 0, threshold_seconds: 14 });
});

it('allocates nothing for a run of usual length', () => {
  const model = new RuntimeAnomalyModel();
  const usual = Float64Array.from({ length: 1024 }, (_, run) => 60 * SECOND + ((run * 618) % 1000));
  const recordRuns = (count: number): void => {
    for (let run = 0; run < count; run++) model.record(usual[run % usual.length] ?? 0);
  };
  // Heap growth over a loop too short to fill the young generation (a scavenge would hide
  // garbage): the least of five rounds, as compiling the loop can grow the heap in any one.
  // An object per run reads 50 bytes or more; the model reads under 1.
  const RUNS = 20_000;
  const bytesPerRun: number[] = [];
  for (let round = 0; round < 5; round++) {
    recordRuns(RUNS);
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    recordRuns(RUNS);
    bytesPerRun.push((process.memoryUsage().heapUsed - before) / RUNS);
  }
  expect(Math.min(...bytesPerRun)).toBeLessThan(4);
});

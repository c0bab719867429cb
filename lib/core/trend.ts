/**
 * The gap model: for one service, the gaps between its signs of life, and whether they are
 * drifting toward its deadline (a beat is missed once a gap exceeds interval + grace).
 *
 * **On each sign of life** (`record`, constant time, no allocation):
 * - an exponentially weighted mean and variance of the gaps, with α = 2 / (N + 1) ≈ 0.095 for
 *   N = 20: the weight whose centre of mass is that of a plain average over the last 20 gaps,
 *   so the mean answers to the same window as the ring below;
 * - the last N = 20 gaps in a ring (a `Float64Array`).
 * A sign of life within a hundredth of the interval of the last (`SAME_BEAT_SHARE`) is the
 * same beat: no gap. Nothing is learnt across a pause or a restart (`skipGap`).
 *
 * **On a read** (`read`; worked out once per sign of life and kept until the next, in scratch
 * arrays made once):
 * - `p95_gap_seconds`: the 95th percentile (nearest rank) of the 20 gaps in the ring.
 * - `slope`, seconds of gap per beat: Theil–Sen over the last 10 gaps (`FIT_WINDOW`), the
 *   median of the slopes between each of their 45 pairs. Up to 29% of them can be outliers
 *   without moving it, so one slow beat does not make a trend. Ten, not twenty: a service that
 *   begins to slow after a steady stretch is a bent line, and over 20 gaps the flat pairs
 *   outvote the rising ones until the bend is half the window old (measured on the bench's
 *   fleet: recall 62–75% over 20 gaps, 81% over 10, at the same false positives).
 * - low outliers raised: before the confidence bound below, a gap more than 6 robust sd under
 *   the line (`LOW_CLIP_SIGMAS`) is raised to that bound. One early beat at an end of the
 *   window would otherwise give nine steep pair slopes and hide a drift.
 * - the assured slope: the lower end of the slope's one-sided confidence interval (Sen 1968),
 *   the pairwise slope at rank (pairs − z·√(n(n − 1)(2n + 5)/18)) / 2, with z = 2.6
 *   (`SLOPE_CONFIDENCE_Z`, about 99.5%): the root is the spread of Kendall's S when the gaps
 *   have no trend, so on jittered but steady gaps this bound stays at or below zero. Only
 *   this slope is projected: the point slope of 20 jittered gaps is positive half the time.
 * - the forecast line: that slope through the median of gap − slope × beat, read at the newest
 *   beat, raised by the scatter above it (the 90th percentile of the residuals, `SCATTER_RANK`:
 *   a noisy service misses when its usual upward excursions cross the deadline, not its mean;
 *   one outlier in ten does not move it).
 * - `eta_seconds`: while the assured slope is positive, the line's gaps projected beat by beat;
 *   the forecast miss is the deadline after the last projected gap within it, that is the sum
 *   of those gaps plus interval + grace, counted from the last sign of life and, when `read` is
 *   given the time, down to it. Only up to 20 beats ahead (no further than the data reach);
 *   beyond that, or with no assured growth, `null`.
 * - `at_risk`, from pulse times alone (every read between two pulses answers the same):
 *   1. the forecast miss is within 3 intervals of the last sign of life (`HORIZON_INTERVALS`), or
 *   2. the last 5 gaps (`LATE_STREAK`) were each longer than the interval: the service lives on
 *      its grace. Five in a row, so that a single slow beat, or a burst of slow ones between
 *      fast ones, does not count. (Half the grace, tried first, let noisy services miss before
 *      five gaps in a row landed in so narrow a band: recall 78%.)
 *   Both are worked out afresh from the ring, so the flag clears as soon as neither holds.
 * - Cold start: fewer than 10 gaps (`MIN_GAPS`) give no figures, `at_risk` false and the reason
 *   `learning: 4 of 10 gaps`.
 *
 * The parameters were chosen on the synthetic fleet of `npm run bench -- predict`
 * (bench/predict.ts), against the targets: recall ≥ 80%, median lead ≥ 2 intervals,
 * ≤ 1 false positive per 1,000 service-hours. The fleet was fixed before the tuning.
 */

import { graceMs } from './config';

/** Gaps kept in the ring, and the window of the slope, the scatter and the 95th percentile. */
export const TREND_WINDOW = 20;
/** Gaps the slope and the forecast are fitted to: the newest of the ring. */
export const FIT_WINDOW = 10;
/** Gaps needed before any figure or forecast: fewer describe the start, not the service. */
export const MIN_GAPS = 10;
/** A forecast miss within this many intervals of the last sign of life sets `at_risk`. */
export const HORIZON_INTERVALS = 3;
/** Consecutive gaps longer than the interval that set `at_risk` without a forecast. */
export const LATE_STREAK = 5;
/**
 * A sign of life within this share of the interval of the last one is the same beat, not a gap.
 * A hundredth: the bench's bursty workers have gaps from 5% of the interval, and merging those
 * into the slow gap after them made false positives a hundred times more frequent (a tenth: 49
 * per 1,000 service-hours instead of 0.46).
 */
export const SAME_BEAT_SHARE = 0.01;
/**
 * A gap this many robust standard deviations below the fitted line is raised to that bound
 * before the slope's confidence bound is taken. Six, so that only gross outliers are: at 3 the
 * bench's bursty workers, whose short gaps are their rhythm, had 4× the false positives (1.85
 * per 1,000 service-hours), at 4 twice; at 6 the same as with no raising (0.46), recall unchanged.
 */
export const LOW_CLIP_SIGMAS = 6;
/** Weight of the newest gap in the moving mean and variance: 2 / (N + 1). */
export const EWMA_ALPHA = 2 / (TREND_WINDOW + 1);
/** How sure the forecast must be that the gaps grow: z of the one-sided confidence bound on the slope. */
export const SLOPE_CONFIDENCE_Z = 2.6;
/** The quantile of the residuals that stands for the scatter above the forecast line: one high gap in ten does not move it. */
const SCATTER_RANK = 0.9;

/** The `trend` of a service: what its gaps say about its next beats. Seconds throughout. */
export interface GapTrendView {
  /** Moving mean of the gaps between signs of life, or `null` while learning. */
  readonly mean_gap_seconds: number | null;
  /** 95th percentile (nearest rank) of the last 20 gaps, or `null` while learning. */
  readonly p95_gap_seconds: number | null;
  /** Seconds of gap gained per beat (Theil–Sen over the last 10 gaps), or `null` while learning. */
  readonly slope: number | null;
  /** Whether a missed beat is forecast within 3 intervals, or the last 5 gaps were each longer than the interval. */
  readonly at_risk: boolean;
  /** Forecast seconds until a gap exceeds interval + grace, from the time read; `null` when none is in sight. */
  readonly eta_seconds: number | null;
  /** The verdict in words, e.g. `gaps growing 2.1 s per beat: a miss expected in about 40 s`. */
  readonly reason: string;
}

/** The trend during the cold start, after `gaps` gaps: no figures, no forecast. */
export function learning(gaps: number): GapTrendView {
  return {
    mean_gap_seconds: null,
    p95_gap_seconds: null,
    slope: null,
    at_risk: false,
    eta_seconds: null,
    reason: `learning: ${String(gaps)} of ${String(MIN_GAPS)} gaps`,
  };
}

/** What a read derives from the ring, kept until the next sign of life changes it. */
interface Forecast {
  slope: number;
  /** Ms from the last sign of life to the forecast miss, or NaN for none in sight. */
  etaFromLast: number;
  lateStreak: boolean;
  p95: number;
}

/**
 * Scratch for the pairwise slopes, the residuals and the sorted gaps, shared by every model: a
 * read runs to its end without yielding, so no two use them at once, and a service pays only for
 * its own ring.
 */
const pairSlopes = new Float64Array((FIT_WINDOW * (FIT_WINDOW - 1)) / 2);
const scratch = new Float64Array(TREND_WINDOW);
/** The gaps the line is fitted to, low outliers raised (see `raiseLowOutliers`). */
const fit = new Float64Array(FIT_WINDOW);

/**
 * One service's gap model. Times are milliseconds on any one monotonic clock; the model keeps
 * no timers and reads no clock, so tests and benchmarks drive it with plain numbers.
 */
export class GapTrend {
  private readonly deadlineMs: number;
  private readonly intervalMs: number;
  /** The last N gaps in ms; `newest` is the index of the latest. */
  private readonly gaps = new Float64Array(TREND_WINDOW);
  private newest = -1;
  /** Gaps recorded since construction (the ring holds the last N of them). */
  private recorded = 0;
  private lastAt = Number.NaN;
  /** Set by `skipGap`: the next sign of life starts a gap instead of ending one. */
  private skipNext = false;
  private mean = 0;
  private variance = 0;
  private forecast: Forecast | null = null;

  /**
   * @param intervalSeconds - The service's interval: the gap it promises.
   * @param graceSeconds - Slack after each interval before a beat counts as missed (the config's
   *   `grace`; `null` for its default, 10% of the interval).
   */
  constructor(intervalSeconds: number, graceSeconds: number | null) {
    if (!Number.isFinite(intervalSeconds) || intervalSeconds <= 0) {
      throw new RangeError(`GapTrend: interval ${String(intervalSeconds)} is not a positive number of seconds.`);
    }
    if (graceSeconds !== null && (!Number.isFinite(graceSeconds) || graceSeconds < 0)) {
      throw new RangeError(
        `GapTrend: grace ${String(graceSeconds)} is not a non-negative number of seconds (or null for 10% of the interval).`,
      );
    }
    this.intervalMs = intervalSeconds * 1000;
    this.deadlineMs = this.intervalMs + graceMs(graceSeconds, intervalSeconds);
  }

  /** Gaps recorded so far (the model forecasts from `MIN_GAPS` on). */
  get gapCount(): number {
    return this.recorded;
  }

  /** The last sign of life (ms, the clock of `record`), or `null` before one. */
  get lastRecordedAt(): number | null {
    return Number.isNaN(this.lastAt) ? null : this.lastAt;
  }

  /** Standard deviation of the gaps in seconds (exponentially weighted, α = `EWMA_ALPHA`), or `null` while learning. */
  get gapStdDevSeconds(): number | null {
    return this.recorded < MIN_GAPS ? null : round(Math.sqrt(this.variance) / 1000, 3);
  }

  /**
   * Records a sign of life at `atMs`. Constant time, no allocation: the gap since the previous
   * one goes into the moving mean and variance and the ring. One within a hundredth of the
   * interval of the last (`SAME_BEAT_SHARE`) is the same beat and changes nothing: a pulse
   * repeated in one millisecond, a job's end and its pulse. Counted as gaps of about 0, they
   * would drag the mean down and break the streak of late gaps. A time before the last (a clock
   * that stepped back) is the same beat too.
   */
  record(atMs: number): void {
    const previous = this.lastAt;
    if (Number.isNaN(previous) || this.skipNext) {
      this.lastAt = atMs;
      this.skipNext = false;
      return;
    }
    const gap = atMs - previous;
    if (gap < SAME_BEAT_SHARE * this.intervalMs) return;
    this.lastAt = atMs;
    this.newest = (this.newest + 1) % TREND_WINDOW;
    this.gaps[this.newest] = gap;
    if (this.recorded === 0) {
      this.mean = gap;
    } else {
      // West's incremental update of an exponentially weighted mean and variance.
      const difference = gap - this.mean;
      const increment = EWMA_ALPHA * difference;
      this.mean += increment;
      this.variance = (1 - EWMA_ALPHA) * (this.variance + difference * increment);
    }
    this.recorded++;
    this.forecast = null;
  }

  /**
   * A sign of life at `atMs` after which the next one starts a gap instead of ending one,
   * keeping what was learnt: for a gap that would measure something else than the service's
   * rhythm, one across a pause or from before its heartbeat started. `eta_seconds` counts down
   * from `atMs`.
   */
  skipGap(atMs: number): void {
    this.lastAt = atMs;
    this.skipNext = true;
  }

  /** A sign of life at `atMs` that is not learnt (a pulse inside a pause): `eta_seconds` counts down from it. */
  restartAt(atMs: number): void {
    this.lastAt = atMs;
  }

  /**
   * The trend as of the last sign of life. `nowMs` (same clock as `record`) only counts down
   * `eta_seconds` from then to now; `at_risk` and the other figures depend on pulse times alone.
   */
  read(nowMs?: number): GapTrendView {
    if (this.recorded < MIN_GAPS) return learning(this.recorded);
    const forecast = (this.forecast ??= this.computeForecast());
    const sinceLast = nowMs === undefined ? 0 : Math.max(0, nowMs - this.lastAt);
    const eta = Number.isNaN(forecast.etaFromLast) ? null : Math.max(0, forecast.etaFromLast - sinceLast);
    const forecastRisk = this.forecastRisk(forecast);
    return {
      mean_gap_seconds: round(this.mean / 1000, 3),
      p95_gap_seconds: round(forecast.p95 / 1000, 3),
      slope: round(forecast.slope / 1000, 4),
      at_risk: forecastRisk || forecast.lateStreak,
      eta_seconds: eta === null ? null : round(eta / 1000, 3),
      reason: this.reason(forecast, eta, forecastRisk),
    };
  }

  /**
   * @internal `read().at_risk` without building the view (no allocation once the forecast of
   * the last gap is kept): for gauges read for every service at scrape time.
   */
  get atRisk(): boolean {
    if (this.recorded < MIN_GAPS) return false;
    const forecast = (this.forecast ??= this.computeForecast());
    return this.forecastRisk(forecast) || forecast.lateStreak;
  }

  /** @internal `read().mean_gap_seconds` without building the view: `null` while learning. */
  get meanGapSeconds(): number | null {
    return this.recorded < MIN_GAPS ? null : round(this.mean / 1000, 3);
  }

  /** @internal `read().p95_gap_seconds` without building the view: `null` while learning. */
  get p95GapSeconds(): number | null {
    return this.recorded < MIN_GAPS ? null : round((this.forecast ??= this.computeForecast()).p95 / 1000, 3);
  }

  /** Whether the forecast miss is within `HORIZON_INTERVALS` of the last sign of life. */
  private forecastRisk(forecast: Forecast): boolean {
    return !Number.isNaN(forecast.etaFromLast) && forecast.etaFromLast <= HORIZON_INTERVALS * this.intervalMs;
  }

  private reason(forecast: Forecast, eta: number | null, forecastRisk: boolean): string {
    const late = `last ${String(LATE_STREAK)} gaps each past the ${inWords(this.intervalMs / 1000)} interval, into the grace`;
    if (eta !== null) {
      const growth = `gaps growing ${inWords(forecast.slope / 1000)} per beat: a miss expected in about ${inWords(eta / 1000)}`;
      if (forecastRisk || !forecast.lateStreak) return growth;
    }
    return forecast.lateStreak ? late : 'steady';
  }

  /** Gap `i` of the last `n`, oldest first. */
  private gapAt(i: number, n: number): number {
    return this.gaps[(this.newest - n + 1 + i + TREND_WINDOW) % TREND_WINDOW] as number;
  }

  private computeForecast(): Forecast {
    const all = Math.min(this.recorded, TREND_WINDOW);
    const n = Math.min(all, FIT_WINDOW);
    for (let i = 0; i < n; i++) fit[i] = this.gapAt(i, n);
    const slope = theilSen(fit, n).slope;
    // An early beat is no sign of health to come, but one low gap at either end of the window
    // gives nine steep pair slopes, enough to pull the confidence bound below zero: low outliers
    // are raised to the bound before it is taken. High ones stay, they are what is forecast.
    raiseLowOutliers(fit, n, slope);
    const { assured } = theilSen(fit, n);

    // The forecast line has the assured slope: its level at the newest beat, and the scatter above it.
    const residuals = scratch;
    for (let i = 0; i < n; i++) residuals[i] = (fit[i] as number) - assured * i;
    const intercept = median(residuals, n);
    for (let i = 0; i < n; i++) residuals[i] = (fit[i] as number) - (intercept + assured * i);
    const scatter = Math.max(0, quantile(residuals, n, SCATTER_RANK));
    const level = intercept + assured * (n - 1);

    let lateStreak = all >= LATE_STREAK;
    for (let i = all - LATE_STREAK; lateStreak && i < all; i++) lateStreak = this.gapAt(i, all) > this.intervalMs;

    for (let i = 0; i < all; i++) scratch[i] = this.gapAt(i, all);
    const p95 = quantile(scratch, all, 0.95);
    return { slope, etaFromLast: this.etaFromLast(level + scatter, assured), lateStreak, p95 };
  }

  /**
   * Ms from the last sign of life until the projected gaps (`upper` now, growing by `slope`
   * per beat) first exceed the deadline: the projected gaps before it, then the deadline.
   * NaN when the slope is not positive or the miss is more than N beats away.
   */
  private etaFromLast(upper: number, slope: number): number {
    if (slope <= 0) return Number.NaN;
    if (upper > this.deadlineMs) return this.deadlineMs;
    // Beats ahead until the projected gap passes the deadline: the first k with upper + k·slope > deadline.
    const beats = Math.floor((this.deadlineMs - upper) / slope) + 1;
    if (beats > TREND_WINDOW) return Number.NaN;
    const onTime = beats - 1;
    return onTime * upper + (slope * onTime * (onTime + 1)) / 2 + this.deadlineMs;
  }
}

/**
 * Theil–Sen over the first `n` gaps of `gaps`, in ms of gap per beat: the median of the pairwise
 * slopes, and the lower end of its one-sided confidence interval (Sen 1968): the pairwise slope
 * at rank (pairs − z·√(n(n − 1)(2n + 5)/18)) / 2, where the root is the spread of Kendall's S
 * for gaps with no trend.
 */
function theilSen(gaps: Float64Array, n: number): { slope: number; assured: number } {
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    const gapI = gaps[i] as number;
    for (let j = i + 1; j < n; j++) pairSlopes[pairs++] = ((gaps[j] as number) - gapI) / (j - i);
  }
  const slope = median(pairSlopes, pairs);
  const spread = SLOPE_CONFIDENCE_Z * Math.sqrt((n * (n - 1) * (2 * n + 5)) / 18);
  const rank = Math.max(0, Math.round((pairs - spread) / 2) - 1);
  return { slope, assured: select(pairSlopes, pairs, rank) };
}

/**
 * Raises each of the first `n` gaps that lies more than `LOW_CLIP_SIGMAS` robust standard
 * deviations (1.4826 × the median absolute deviation) below the line of `slope` through their
 * median, to that bound. With no spread at all (steady gaps), the bound is the line itself.
 */
function raiseLowOutliers(gaps: Float64Array, n: number, slope: number): void {
  for (let i = 0; i < n; i++) scratch[i] = (gaps[i] as number) - slope * i;
  const center = median(scratch, n);
  for (let i = 0; i < n; i++) scratch[i] = Math.abs((gaps[i] as number) - slope * i - center);
  const floor = center - LOW_CLIP_SIGMAS * 1.4826 * median(scratch, n);
  for (let i = 0; i < n; i++) if ((gaps[i] as number) - slope * i < floor) gaps[i] = floor + slope * i;
}

/** Median of the first `n` values of `values` (reorders them). */
function median(values: Float64Array, n: number): number {
  const upper = select(values, n, n >> 1);
  if (n % 2) return upper;
  // The lower middle is the largest of the values the selection left below the upper one.
  let lower = -Infinity;
  for (let i = 0; i < n >> 1; i++) lower = Math.max(lower, values[i] as number);
  return (lower + upper) / 2;
}

/** Nearest-rank quantile `q` (0–1) of the first `n` values of `values` (reorders them). */
function quantile(values: Float64Array, n: number, q: number): number {
  return select(values, n, Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1)));
}

/**
 * The `k`-th smallest (0-based) of the first `n` values, by quickselect in place: afterwards
 * the values before index `k` are no larger and those after no smaller. Linear on average, no
 * allocation (a sort of the 190 pairwise slopes would be several times dearer).
 */
function select(values: Float64Array, n: number, k: number): number {
  let left = 0;
  let right = n - 1;
  while (left < right) {
    const pivot = values[(left + right) >> 1] as number;
    let i = left;
    let j = right;
    while (i <= j) {
      while ((values[i] as number) < pivot) i++;
      while ((values[j] as number) > pivot) j--;
      if (i <= j) {
        const swap = values[i] as number;
        values[i] = values[j] as number;
        values[j] = swap;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return values[k] as number;
}

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** Seconds as a reader says them: `40 s`, `2.1 s`, `350 ms`, `5 min`. */
function inWords(seconds: number): string {
  const magnitude = Math.abs(seconds);
  if (magnitude >= 120) return `${String(Math.round(seconds / 60))} min`;
  if (magnitude >= 10) return `${String(Math.round(seconds))} s`;
  if (magnitude >= 1) return `${String(round(seconds, 1))} s`;
  return `${String(Number((seconds * 1000).toPrecision(2)))} ms`;
}

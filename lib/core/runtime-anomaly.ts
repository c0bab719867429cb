// The runtime anomaly of issue 20: a job run far longer than that job's recent runs. The model
// and why its parameters are what they are: RuntimeAnomalyModel's doc comment.
import { formatSeconds } from '../util/format';

/** How many of a service's most recent finished runs the model keeps and judges by. */
export const RUNTIME_WINDOW = 20;

/** Earlier runs needed before a run can be flagged: the sd of fewer is mostly noise. */
export const RUNTIME_MIN_RUNS = 5;

/** How many standard deviations above the mean a run must take to be flagged. */
export const RUNTIME_SIGMAS = 4;

/** The least sd the threshold uses, as a share of the mean: a run is flagged only past 1.4× the mean. */
export const RUNTIME_MIN_SD_SHARE = 0.1;

/** The least sd the threshold uses, in ms: a run is flagged only past the mean plus 4 s, more than two requests' latency. */
export const RUNTIME_MIN_SD_MS = 1000;

/** A run flagged as taking far longer than usual: the service body's `run.runtime_anomaly` (else `null`). */
export interface RuntimeAnomaly {
  /** In words, e.g. `ran 3.1x longer than usual (31s, usually 10s)`: the ratio to the mean, one decimal. */
  readonly reason: string;
  /** Seconds this run took. */
  readonly duration_seconds: number;
  /** Mean seconds of the runs it was judged against. */
  readonly mean_seconds: number;
  /** Their sample standard deviation in seconds, as measured (before the floors). */
  readonly sd_seconds: number;
  /** Seconds past which a run is flagged: `mean + 4 × max(sd, 10% of mean, 1 s)`. */
  readonly threshold_seconds: number;
  /** How many earlier runs it was judged against: from 5 to 20. */
  readonly runs: number;
}

/** The model's current figures, for a service's `trend`. */
export interface RuntimeFigures {
  /** Finished runs in the history, at most {@link RUNTIME_WINDOW}. */
  readonly count: number;
  /** Their mean in seconds, or `null` before any run. */
  readonly mean_seconds: number | null;
  /** Their sample standard deviation in seconds, or `null` before two runs. */
  readonly sd_seconds: number | null;
  /** Seconds past which the next run would be flagged, or `null` before {@link RUNTIME_MIN_RUNS} runs (nothing is flagged yet). */
  readonly threshold_seconds: number | null;
}

/**
 * The runtime history of one service, and the rule that flags a run far longer than its recent
 * runs. Durations are ms, as the `RunTracker` of `runs.ts` measures them; the model reads no clock.
 *
 * The model, in full (issue 20, "Job runtimes"):
 *
 * - **History.** The durations of the service's last {@link RUNTIME_WINDOW} finished runs, in a
 *   fixed ring: memory never grows, and a job whose normal length changes is judged by its
 *   recent runs, not its first ones.
 * - **Figures.** Over the runs before this one (never including it, so a long run cannot hide
 *   by raising the bar it is judged against): the mean, and the sample standard deviation
 *   (divided by n − 1, which is larger than the population one for few runs, and so errs
 *   towards not flagging while the history is short).
 * - **Threshold.** `mean + 4 × max(sd, 10% of mean, 1 s)`. Four standard deviations: for
 *   normally spread runtimes judged against 20 runs, about one normal run in 2,000 still lands
 *   beyond it (measured on 2 million simulated runs: 1 in 2,100 at a spread of 20–50% of the
 *   mean, 1 in 26,000 at 10%, where the share floor takes over), and for a job that runs every
 *   five minutes that is a false alarm a week apart; fewer sigmas would cry wolf daily. The
 *   figure assumes a roughly symmetric spread: runtimes with a long right tail are flagged more
 *   often (log-normal with σ = 0.3: 1 run in 170). The two floors keep a job that always takes the
 *   same time from being flagged for a trifle: with ten runs of exactly 10 s, the measured sd is
 *   0 and any longer run would be "infinitely unusual". The 10% share means a run must take at
 *   least 1.4× the mean to be flagged; the 1 s floor means at least 4 s more than the mean,
 *   because a remote run's duration is measured between two HTTP requests from the job (start
 *   and end), and their latency and retries alone move it by a second or so.
 * - **Cold start.** Nothing is flagged before {@link RUNTIME_MIN_RUNS} earlier runs are known:
 *   the sd of fewer is mostly noise (its relative error is about 1/√(2(n − 1)), 35% at 5).
 *   Those runs are still kept, to judge later ones by.
 * - **Long runs only.** A run far shorter than usual is not flagged: the issue asks about runs
 *   that take too long, and a job that finishes too fast is what `min_runtime` is for, set by
 *   someone who knows how fast is too fast.
 * - **The anomaly is kept.** A flagged run enters the history like any other. A job whose
 *   normal has changed for good (its data grew threefold) is flagged on its first two runs at
 *   the new length (after 20 steady ones) and not after, instead of on every run for ever. The cost: for the next 20 runs the widened
 *   sd makes a second long run less likely to be flagged; a hard limit is `max_runtime`'s job.
 *
 * Each {@link RuntimeAnomalyModel.record} is O(N) over the ring (N = 20, two passes, which keep
 * the variance exact where running sums would drift) and allocates nothing but the
 * {@link RuntimeAnomaly} it returns when a run is flagged.
 *
 * ```ts
 * const model = new RuntimeAnomalyModel();
 * const anomaly = model.record(durationMs); // null for a run of usual length
 * ```
 */
export class RuntimeAnomalyModel {
  private readonly durations = new Float64Array(RUNTIME_WINDOW);
  /** Slot the next run is written to: once the ring is full, the oldest run's. */
  private nextSlot = 0;
  /** Slots holding runs; until the ring is full they are the first `filled`. */
  private filled = 0;
  // Written by measure(), so that it returns two figures without allocating a pair.
  private mean = 0;
  private sd = 0;

  /**
   * Records a finished run of `durationMs` and says whether it was anomalous: a
   * {@link RuntimeAnomaly} when it took longer than the threshold of the runs before it, else
   * `null` (a run of usual length, a short one, or one during the cold start).
   *
   * @throws RangeError when `durationMs` is negative or not finite: one such value would spoil the figures for the next 20 runs.
   */
  record(durationMs: number): RuntimeAnomaly | null {
    checkDuration('record', durationMs);
    const anomaly = this.filled >= RUNTIME_MIN_RUNS ? this.judged(durationMs) : null;
    this.durations[this.nextSlot] = durationMs;
    this.nextSlot = (this.nextSlot + 1) % RUNTIME_WINDOW;
    if (this.filled < RUNTIME_WINDOW) this.filled++;
    return anomaly;
  }

  /** The current figures over the kept runs: what the next run will be judged against. */
  read(): RuntimeFigures {
    if (this.filled === 0) return { count: 0, mean_seconds: null, sd_seconds: null, threshold_seconds: null };
    this.measure();
    return {
      count: this.filled,
      mean_seconds: this.mean / 1000,
      sd_seconds: this.filled < 2 ? null : this.sd / 1000,
      threshold_seconds: this.filled < RUNTIME_MIN_RUNS ? null : this.threshold() / 1000,
    };
  }

  /**
   * Judges a finished run of `durationMs` like {@link record}, without keeping it: for a run
   * that failed, whose length says nothing of how long the job usually takes.
   *
   * @throws RangeError when `durationMs` is negative or not finite.
   */
  judge(durationMs: number): RuntimeAnomaly | null {
    checkDuration('judge', durationMs);
    return this.filled >= RUNTIME_MIN_RUNS ? this.judged(durationMs) : null;
  }

  /** The run against the history (at least {@link RUNTIME_MIN_RUNS} runs), before it joins it. */
  private judged(durationMs: number): RuntimeAnomaly | null {
    this.measure();
    const threshold = this.threshold();
    if (durationMs <= threshold) return null;
    const took = formatSeconds(durationMs / 1000);
    const usually = formatSeconds(this.mean / 1000);
    return {
      // Runs that all took 0 ms (same-millisecond start and end) have no ratio to speak of.
      reason:
        this.mean > 0
          ? `ran ${(durationMs / this.mean).toFixed(1)}x longer than usual (${took}, usually ${usually})`
          : `ran ${took}, usually no measurable time`,
      duration_seconds: durationMs / 1000,
      mean_seconds: this.mean / 1000,
      sd_seconds: this.sd / 1000,
      threshold_seconds: threshold / 1000,
      runs: this.filled,
    };
  }

  /** Mean plus {@link RUNTIME_SIGMAS} floored standard deviations, in ms, from the last {@link measure}. */
  private threshold(): number {
    return this.mean + RUNTIME_SIGMAS * Math.max(this.sd, RUNTIME_MIN_SD_SHARE * this.mean, RUNTIME_MIN_SD_MS);
  }

  /** Sets {@link mean} and the sample {@link sd} of the kept runs (at least one), in two passes. */
  private measure(): void {
    // Until the ring is full the runs are its first `filled` slots; after that, all of them.
    let sum = 0;
    for (let slot = 0; slot < this.filled; slot++) sum += this.durations[slot] as number;
    const mean = sum / this.filled;
    let squares = 0;
    for (let slot = 0; slot < this.filled; slot++) {
      const deviation = (this.durations[slot] as number) - mean;
      squares += deviation * deviation;
    }
    this.mean = mean;
    this.sd = this.filled < 2 ? 0 : Math.sqrt(squares / (this.filled - 1));
  }
}

function checkDuration(method: string, durationMs: number): void {
  if (!Number.isFinite(durationMs) || durationMs < 0) {
    throw new RangeError(
      `RuntimeAnomalyModel.${method}(durationMs): durationMs is ${String(durationMs)}; expected a finite number of ms, 0 or more.`,
    );
  }
}

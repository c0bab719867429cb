import type { Heartbeat, JobRun } from '../lib';

/** What kind of loop a simulated worker runs. */
export interface WorkerOptions {
  /**
   * Seconds each round takes as a job run (`begin()` … `success()`), as the seed's `router_tasks`
   * does; without it a round is instant and ends in a plain pulse, as the seed's other workers do.
   */
  readonly runSeconds?: number;
}

/** How much longer each round of a slowing worker takes than the one before: a share of its interval. */
const SLOWDOWN_STEP_SHARE = 0.05;
/** A slowing worker's rounds stop growing at this many intervals: it misses beats, but still shows signs of life. */
const SLOWDOWN_CAP_INTERVALS = 2;

/**
 * A simulated background worker in the seed's pattern: do a little work, then pulse; report
 * a failure with error(). The demo controls can stall it (it keeps looping but stops
 * pulsing, like a worker stuck on a lock; a job worker's run stays open instead, so its
 * `max_runtime` shows), slow it down (each round a little longer than the last, like a worker
 * whose queue grows: the gaps drift toward the deadline, and its `trend` turns `at_risk`
 * before the first missed beat) and make it report a failure or a crash.
 */
export class SimulatedWorker {
  private stalled = false;
  /** Ms each round takes beyond the usual third of an interval: grows while slowing. */
  private lagMs = 0;
  private slowing = false;
  private timer: NodeJS.Timeout | undefined;
  private processed = 0;
  /** The run a stalled job worker is stuck in: ended when the worker resumes. */
  private stuckRun: JobRun | undefined;

  constructor(
    readonly heartbeat: Heartbeat,
    private readonly options: WorkerOptions = {},
  ) {}

  start(): void {
    this.heartbeat.start();
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.heartbeat.stop();
  }

  /** Stops the worker's progress: no more pulses, and a job worker's next run never ends. */
  stall(): void {
    this.stalled = true;
  }

  /** Makes each round take longer than the one before, until `resume()`. */
  slowDown(): void {
    this.slowing = true;
  }

  /** Unsticks the worker: the run it was stuck in ends now (a long one), or a pulse says it is back. Back to its usual pace. */
  resume(): void {
    this.stalled = false;
    const wasSlow = this.slowing;
    this.slowing = false;
    this.lagMs = 0;
    const stuck = this.stuckRun;
    this.stuckRun = undefined;
    if (stuck) stuck.success();
    else this.heartbeat.pulse();
    // A slow round already waiting would keep the old pace for one more, long enough to miss:
    // a plain worker starts its next round at the usual pace now (a job's run ends on its own).
    if (wasSlow && this.options.runSeconds === undefined && this.timer) {
      clearTimeout(this.timer);
      this.schedule();
    }
  }

  private schedule(): void {
    const intervalMs = this.heartbeat.interval * 1000;
    // Three rounds per interval: a healthy worker pulses well inside its deadline.
    const usualMs = intervalMs / 3;
    if (this.slowing) this.lagMs = Math.min(this.lagMs + SLOWDOWN_STEP_SHARE * intervalMs, SLOWDOWN_CAP_INTERVALS * intervalMs - usualMs);
    this.timer = setTimeout(() => {
      this.round();
    }, usualMs + this.lagMs);
  }

  private round(): void {
    const { runSeconds } = this.options;
    if (runSeconds === undefined) {
      if (!this.stalled) {
        this.processed += simulatedWork();
        this.heartbeat.pulse();
      }
      this.schedule();
      return;
    }
    // A stuck job starts no new run: the open one is what the status should show.
    if (this.stuckRun) {
      this.schedule();
      return;
    }
    const run = this.heartbeat.begin();
    this.timer = setTimeout(() => {
      this.finish(run);
    }, runSeconds * 1000);
  }

  private finish(run: JobRun): void {
    if (this.stalled) {
      this.stuckRun = run;
    } else {
      try {
        this.processed += simulatedWork();
        run.success();
      } catch (error) {
        run.fail(error);
      }
    }
    this.schedule();
  }
}

/** A few microseconds of real work, standing in for processing a queue. */
function simulatedWork(): number {
  let checksum = 0;
  for (let i = 0; i < 1000; i++) checksum = (checksum * 31 + i) | 0;
  return checksum === 42 ? 0 : 1;
}

import { formatSeconds } from '../util/format';
import { RuntimeAnomalyModel, type RuntimeAnomaly } from './runtime-anomaly';
import { CRITICAL, HEALTHY, WARNING, type StatusRank } from './status';

/** Most runs one service keeps open at once: each remote `rid` is one, and a job that never ends must not grow memory. */
export const MAX_OPEN_RUNS = 100;

/** How in-process run ids begin: no remote `rid` can (they are printable ASCII). */
export const IN_PROCESS = '\u0000';

/** The key of the run a start without a `rid` opens: each such start replaces the last, as Healthchecks.io pairs them. */
const UNNAMED = '';

/** How a run ended. */
export interface RunOutcome {
  /** Whether it succeeded: a success is a pulse, a failure an error. */
  readonly ok: boolean;
  /** The process's exit code, when one was given (`/exit/{code}`); a success without one counts as `0`. */
  readonly exitCode: number | null;
}

/** What the end of a run recorded, for the caller to act on. */
export interface RunEnd {
  /** Milliseconds from its start, or null when no start was open for it (a restart lost it, or none was sent). */
  readonly durationMs: number | null;
}

/**
 * The runs of one job: the open ones (by run id), the last one's duration and exit code, and
 * the two runtime rules. A run open past `max_runtime` is warning, past twice that critical;
 * a successful run shorter than `min_runtime` leaves the service warning until a run of normal
 * length. Times are monotonic ms.
 */
export class RunTracker {
  /** Open runs by id, oldest start first (a Map keeps insertion order, and starts only grow). */
  private readonly open = new Map<string, number>();
  /** Runs dropped because {@link MAX_OPEN_RUNS} were open: each a start whose end will not be paired. */
  droppedRuns = 0;
  lastDurationMs: number | null = null;
  lastExitCode: number | null = null;
  /** Set by a run shorter than `min_runtime`: the warning's reason, until a run of normal length. */
  tooFast: string | null = null;
  /** The last finished run's verdict: how far past its recent runs it took, or null for a usual one. */
  lastAnomaly: RuntimeAnomaly | null = null;
  /** The durations of the last runs, judging each new one; made at the first run that ends. */
  private runtimes: RuntimeAnomalyModel | null = null;

  constructor(
    /** `max_runtime` in ms, or null for none. */
    readonly maxRuntimeMs: number | null,
    /** `min_runtime` in ms, or null for none. */
    readonly minRuntimeMs: number | null,
  ) {}

  /** Opens a run at `now` under `rid` (null: the unnamed run, replacing an open one). */
  begin(rid: string | null, now: number): void {
    const key = rid ?? UNNAMED;
    this.open.delete(key);
    if (this.open.size >= MAX_OPEN_RUNS) {
      const oldest = this.open.keys().next().value as string;
      this.open.delete(oldest);
      this.droppedRuns++;
    }
    this.open.set(key, now);
  }

  /**
   * Ends the run `rid` at `now`: without a rid, the unnamed run, or else the oldest open one.
   * An end with no open run to pair it with changes nothing but the exit code, if one is given.
   */
  end(rid: string | null, now: number, outcome: RunOutcome): RunEnd {
    const key = rid ?? (this.open.has(UNNAMED) ? UNNAMED : (this.open.keys().next().value ?? UNNAMED));
    const startedAt = this.open.get(key);
    if (startedAt === undefined) {
      // No start to pair it with (none was sent, or a restart lost it): the last run's figures stand, but for an exit code given.
      // The exit code describes a run whose start was not seen: its duration is unknown.
      if (outcome.exitCode !== null) {
        this.lastExitCode = outcome.exitCode;
        this.lastDurationMs = null;
        this.lastAnomaly = null;
      }
      return { durationMs: null };
    }
    this.open.delete(key);
    this.dropAbandoned(startedAt, now);
    const durationMs = Math.max(0, now - startedAt);
    this.lastDurationMs = durationMs;
    this.lastExitCode = outcome.exitCode ?? (outcome.ok ? 0 : null);
    // Failed runs are judged (a run that hung until it was killed is the longest of all) but not
    // learnt: a streak of crashes at start-up must not make the next normal run look long.
    const runtimes = (this.runtimes ??= new RuntimeAnomalyModel());
    this.lastAnomaly = outcome.ok ? runtimes.record(durationMs) : runtimes.judge(durationMs);
    if (outcome.ok && this.minRuntimeMs !== null) {
      this.tooFast =
        durationMs < this.minRuntimeMs
          ? `finished too fast (${formatSeconds(durationMs / 1000)} < ${formatSeconds(this.minRuntimeMs / 1000)})`
          : null;
    }
    return { durationMs };
  }

  /**
   * Drops the open runs that began before the one just ended and are past twice max_runtime:
   * a job killed mid-run never ends its run, and a later run that ended shows the job works.
   * Without that, one lost end would keep the service critical for good.
   */
  private dropAbandoned(before: number, now: number): void {
    if (this.maxRuntimeMs === null) return;
    for (const [key, startedAt] of this.open) {
      if (startedAt >= before) break; // oldest first: the rest began later
      if (now - startedAt > 2 * this.maxRuntimeMs) {
        this.open.delete(key);
        this.droppedRuns++;
      }
    }
  }

  /**
   * The open runs signalled from outside (remote `rid`s and the unnamed run), by key, started at
   * wall ms: what a restart of this process must not lose, as the jobs run on elsewhere. In-process
   * runs (keys from a NUL) end with the process. Null when there are none.
   */
  savedOpen(wallOffset: number): Record<string, number> | null {
    let saved: Record<string, number> | null = null;
    for (const [key, startedAt] of this.open) {
      if (key.startsWith(IN_PROCESS)) continue;
      saved ??= {};
      saved[key] = Math.round(startedAt + wallOffset);
    }
    return saved;
  }

  /** Opens again the runs {@link savedOpen} kept, read with care (a store's notes are never trusted). */
  restoreOpen(saved: unknown, wallOffset: number): void {
    if (typeof saved !== 'object' || saved === null) return;
    const entries = Object.entries(saved as Record<string, unknown>)
      .filter(
        (entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1]) && !entry[0].startsWith(IN_PROCESS),
      )
      .sort((a, b) => a[1] - b[1])
      .slice(-MAX_OPEN_RUNS);
    for (const [key, startedAt] of entries) this.open.set(key, startedAt - wallOffset);
  }

  /** Whether any run is open. */
  get running(): boolean {
    return this.open.size > 0;
  }

  /** Start of the oldest open run, or null: the one `max_runtime` watches. */
  get oldestStart(): number | null {
    for (const startedAt of this.open.values()) return startedAt;
    return null;
  }

  /** Whether misses wait while a run is open: with a `max_runtime`, that is the run's deadline instead of the interval. */
  get holdsMisses(): boolean {
    return this.maxRuntimeMs !== null && this.open.size > 0;
  }

  /** The status the runs give at `now`. */
  rankAt(now: number): StatusRank {
    const overrun = this.overrunAt(now);
    if (overrun === 2) return CRITICAL;
    if (overrun === 1 || this.tooFast !== null) return WARNING;
    return HEALTHY;
  }

  /** Why the runs give a status at `now`, in words, or null when they give none. */
  reasonAt(now: number): string | null {
    const overrun = this.overrunAt(now);
    const max = this.maxRuntimeMs ?? 0;
    if (overrun === 2) return `run exceeded twice max_runtime (${formatSeconds((2 * max) / 1000)})`;
    if (overrun === 1) return `run exceeded max_runtime (${formatSeconds(max / 1000)})`;
    return this.tooFast;
  }

  /** When the runs' status can next change by itself: the oldest run reaching max_runtime, then twice it. */
  nextChangeAt(now: number): number {
    const start = this.oldestStart;
    if (start === null || this.maxRuntimeMs === null) return Infinity;
    if (now <= start + this.maxRuntimeMs) return start + this.maxRuntimeMs;
    if (now <= start + 2 * this.maxRuntimeMs) return start + 2 * this.maxRuntimeMs;
    return Infinity;
  }

  /** 0 within max_runtime, 1 past it, 2 past twice it (strictly, as missed beats are). */
  private overrunAt(now: number): 0 | 1 | 2 {
    const start = this.oldestStart;
    if (start === null || this.maxRuntimeMs === null) return 0;
    if (now > start + 2 * this.maxRuntimeMs) return 2;
    if (now > start + this.maxRuntimeMs) return 1;
    return 0;
  }
}

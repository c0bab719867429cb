import { isoAt } from '../util/clock';
import { formatUptime } from '../util/format';
import { TransitionLog } from './history';
import { UptimeTracker } from './uptime';
import type { LaneMember, SignLane } from './lanes';
import type { DailyRollups } from './rollups';
import type { RunTracker } from './runs';
import type { RuntimeAnomaly } from './runtime-anomaly';
import { GapTrend, learning, type GapTrendView } from './trend';
import type { Scheduled } from './scheduler';
import type { ScheduledBeats } from './schedule';
import {
  HEALTHY,
  NO_ERROR,
  missedBeats,
  nextMissDeadline,
  rankFromError,
  rankFromMisses,
  statusWord,
  type ErrorLevel,
  type MissThresholds,
  type ServiceStatus,
  type StatusRank,
} from './status';

/** One service in `GET /api/health/status`: the seed's four keys, then extras. */
export interface ServiceStatusEntry {
  /** The worse of the status from missed beats and the status from errors reported since the last pulse. */
  status: ServiceStatus;
  /** ISO 8601 UTC time of the last sign of life (a pulse, or the start), or `null` before any. */
  last_heartbeat: string | null;
  /** Seconds between expected pulses. */
  interval: number;
  /** Missed beats plus errors reported since the last pulse. */
  consecutive_failures: number;
  /** Whether this service going critical makes the whole system critical. */
  critical: boolean;
  /** Whether a running heartbeat holds this service (false for a configured one not started yet, or stopped). */
  active: boolean;
}

/** The latest error a service reported, as its `last_error` shows it. */
export interface LastError {
  /** The error's message, cut to {@link MAX_ERROR_LENGTH} characters and an ellipsis. */
  message: string;
  /** ISO 8601 UTC. */
  time: string;
  /** Whether it was reported with `{ critical: true }`. */
  critical: boolean;
}

/** The body of `GET /api/health/service/{name}`: the seed's keys, then extras. */
export interface ServiceHealth {
  /** The service's tag. */
  service: string;
  /** The worse of the status from missed beats and the status from errors reported since the last pulse. */
  status: ServiceStatus;
  /** ISO 8601 UTC time of the last sign of life (a pulse, or the start), or `null` before any. */
  last_heartbeat: string | null;
  /** Time since the service started, e.g. `"2d 14h 23m"`; `"0s"` if it never started. */
  uptime: string;
  /** ISO 8601 UTC time of the start, or `null` if it never started. */
  started_at: string | null;
  /** Pulses received, as counted by `heartbeat_pulses_total`. */
  total_pulses: number;
  /** Errors reported, as counted by `heartbeat_errors_total`. */
  error_count: number;
  /** Seconds between expected pulses. */
  interval: number;
  /** Missed beats plus errors reported since the last pulse. */
  consecutive_failures: number;
  /** Whether this service going critical makes the whole system critical. */
  critical: boolean;
  /** Whether a running heartbeat holds this service (false for a configured one not started yet, or stopped). */
  active: boolean;
  /** The latest reported error, or `null` if none was reported or `cleanupOldData()` dropped it. */
  last_error: LastError | null;
  /** The custom metrics given with the latest pulses, e.g. `{ queue_depth: 12 }`. */
  metrics: Record<string, number>;
  /** The job's runs: open or not, the last one's duration and exit code. */
  run: ServiceRun;
  /** Why and until when the service is paused (by `pause()` or a maintenance window), or `null`: a paused service is not expected to pulse, sends no alerts and is left out of `overall_status` and uptime. */
  paused: ServicePause | null;
  /** The dependency (from `depends_on`) that is degraded or critical now, so this service's alerts are held, or `null`. */
  suppressed_by: string | null;
  /** The status page's section for this service (the config's `group`), or `null` for none. */
  group: string | null;
  /** What the gaps between its pulses say about its next beats: an early signal beside `status`, never a change of it. */
  trend: GapTrendView;
}

/** A job's runs, as `run` in the service body. */
export interface ServiceRun {
  /** `running` while a run is open (begun, not yet ended), else `idle`. */
  state: 'running' | 'idle';
  /** ISO 8601 UTC start of the oldest open run, or `null` when none is open. */
  started_at: string | null;
  /** Seconds the last finished run took, or `null` before one (or when its start was not seen). */
  last_duration_seconds: number | null;
  /** The last run's exit code: `0` for a success, the code given to `/exit/{code}`, `null` for a failure without one or before any run. */
  last_exit_code: number | null;
  /** The last run, when it took far longer than the service's recent runs (mean + 4σ of the last 20, with floors); `null` otherwise. */
  runtime_anomaly: RuntimeAnomaly | null;
}

/** Why and until when a service is paused, as `paused` in the service body. */
export interface ServicePause {
  /** Given to `pause()`, or `maintenance` inside a maintenance window. */
  reason: string;
  /** ISO 8601 UTC time the pause ends by itself, or `null` until `resume()`. */
  until: string | null;
  /** ISO 8601 UTC time the pause began. */
  since: string;
}

/** What owns a record: a heartbeat handle, as far as the engine needs to know it. */
export interface ServiceOwner {
  readonly tag: string;
  /** Whether it gave up its service (stopped, or never bound): another may take the tag. */
  readonly isReleased: boolean;
  stop(): void;
}

/** The `trend` of a cron-scheduled service: its gaps follow the schedule, which the model does not know. */
const CRON_TREND: GapTrendView = Object.freeze({
  mean_gap_seconds: null,
  p95_gap_seconds: null,
  slope: null,
  at_risk: false,
  eta_seconds: null,
  reason: 'not forecast: a cron schedule has no steady gap to learn',
});

/** The `trend` before a second pulse: the model is made at the first. */
const NO_GAPS_YET: GapTrendView = Object.freeze(learning(0));

/** Longest a scheduled service waits unlooked-at: its deadlines are wall times, which a clock correction moves. */
export const SCHEDULE_RECHECK_MS = 10 * 60_000;

/** Most custom metric names per service: each is a Prometheus series. */
export const MAX_CUSTOM_METRICS = 20;
/** A custom metric name: it becomes the `metric` label of `heartbeat_service_metric`. */
export const METRIC_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;

/**
 * The state of one monitored service. Only timestamps and counters are stored; the status is
 * derived from them on every read, so reads are always current without a timer.
 */
export class ServiceRecord implements Scheduled, LaneMember<ServiceRecord> {
  /** Its own place in the scheduler's heap, used while it is unhealthy or in an amnesty. */
  deadline = 0;
  heapIndex = -1;
  /** While healthy, it waits in the lane of its interval and grace instead (see `SignLane`). */
  lane: SignLane<ServiceRecord> | null = null;
  lanePrevious: ServiceRecord | null = null;
  laneNext: ServiceRecord | null = null;

  intervalMs: number;
  graceMs: number;
  critical: boolean;
  /** Whether a running heartbeat currently owns this record. */
  active = false;
  /** Monotonic time of the start, or NaN before one. */
  startedAt = Number.NaN;
  /** Monotonic time of the last sign of life: a pulse, the start, or the manager's creation for a configured service. */
  lastSignAt: number;
  /** Whether a pulse or a start has happened (`last_heartbeat` is null until then). */
  signed = false;
  totalPulses = 0;
  errorCount = 0;
  errorLevel: ErrorLevel = NO_ERROR;
  errorsSinceSign = 0;
  lastErrorMessage: string | null = null;
  lastErrorAt = 0;
  lastErrorCritical = false;
  /** The status last reported through events and the log. */
  reportedRank: StatusRank = HEALTHY;
  reportedMissed = 0;
  /**
   * After a stall of the monitor itself (a blocked event loop), misses are counted only up to
   * `frozenAt`, the moment the stall began, until `amnestyUntil` (one interval after it ended):
   * time to pulse before the misses that fell inside the stall count.
   */
  frozenAt = -Infinity;
  amnestyUntil = -Infinity;
  readonly history: TransitionLog;
  readonly uptime: UptimeTracker;
  /** Custom metrics by name, created at the first pulse that carries one. */
  customMetrics: Map<string, number> | null = null;
  /** Whether the one warning about ignored custom metrics was logged. */
  customMetricsWarned = false;
  /** The handle that owns this record now, or last did. */
  handle: ServiceOwner | undefined;
  /** Created by a remote call: after a restart the manager creates it again, as nobody else will. */
  remote = false;
  /** Per-UTC-day totals for the long-term history; the manager creates them with the record. */
  rollups: DailyRollups | null = null;
  /** Pulses already added to the rollups (and saved): the next flush adds the ones since. */
  rolledPulses = 0;
  /** Changed since the last save by anything but a pulse (a start, an error, a restore); pulses are found by `rolledPulses`. */
  unsaved = true;
  /** Missed beats from which it is degraded and critical: the config's, or its own `critical_after`. */
  thresholds: MissThresholds;
  /** A cron `schedule`: it is expected at each occurrence instead of every interval. */
  scheduled: ScheduledBeats | null = null;
  /** Its job runs, created at the first `begin()` or from `max_runtime`/`min_runtime` in the config. */
  runs: RunTracker | null = null;
  /** Services whose outage holds this one's alerts (`depends_on`). */
  dependsOn: readonly string[] = [];
  /** The status page's section (the config's `group`), or `null`. */
  group: string | null = null;
  /** The gaps between its pulses (see `GapTrend`): made at the first pulse, so a service that never pulses pays nothing. */
  gaps: GapTrend | null = null;
  /** Misses count from here while it is later than the last sign of life: the end of a pause, known or (Infinity) not. */
  expectFrom = -Infinity;
  /** A pause by `pause()`: until (monotonic ms, Infinity for none) and why. */
  manualPause: { readonly reason: string; readonly until: number } | null = null;
  /** End of the maintenance window it is in (monotonic ms), or -Infinity outside one. */
  maintenanceUntil = -Infinity;
  /** Start of the pause it is in or just left (monotonic ms), until the pause's end has been taken in; null otherwise. */
  pausedSince: number | null = null;
  /** Why it is paused now (or was, until the end is taken in): what the `pause` event at the end says. */
  pauseReason = '';

  constructor(
    readonly tag: string,
    /** Listed in the config's `services`: expected to run whether or not its heartbeat started. */
    readonly configured: boolean,
    settings: { intervalMs: number; graceMs: number; critical: boolean },
    createdAt: number,
    historySize: number,
    thresholds: MissThresholds,
  ) {
    this.thresholds = thresholds;
    this.intervalMs = settings.intervalMs;
    this.graceMs = settings.graceMs;
    this.critical = settings.critical;
    this.lastSignAt = createdAt;
    this.history = new TransitionLog(historySize);
    this.uptime = new UptimeTracker(createdAt);
  }

  /**
   * Records a status change from `from` to `to` at `at` (monotonic ms, `wallOffset` turning it
   * to wall ms) in the history, the uptime and the rollups. The one place that does: the
   * watcher announcing a change and the manager replaying a saved one must agree.
   */
  recordTransition(at: number, wallOffset: number, from: ServiceStatus, to: ServiceStatus, reason: string): void {
    this.history.push({ at, from, to, reason });
    // Paused time counts neither as up nor as down: the pause's end sets the uptime straight.
    if (this.pausedSince !== null) {
      this.rollups?.addTransition(at + wallOffset);
      return;
    }
    if (to === 'degraded' || to === 'critical') {
      this.uptime.markDown(at);
    } else {
      const downSince = this.uptime.markUp(at);
      if (downSince !== null) this.rollups?.addDowntime(downSince + wallOffset, at + wallOffset);
    }
    this.rollups?.addTransition(at + wallOffset);
  }

  /**
   * Keeps the numeric values of `values`, up to {@link MAX_CUSTOM_METRICS} names. Returns the
   * names it ignored (not a number, a bad name, or past the cap), for the caller to warn about.
   */
  recordMetrics(values: Readonly<Record<string, unknown>>): string[] {
    const ignored: string[] = [];
    const metrics = (this.customMetrics ??= new Map());
    for (const name of Object.keys(values)) {
      const value = values[name];
      const fits = metrics.has(name) || metrics.size < MAX_CUSTOM_METRICS;
      if (typeof value === 'number' && Number.isFinite(value) && METRIC_NAME.test(name) && fits) metrics.set(name, value);
      else ignored.push(name);
    }
    return ignored;
  }

  /**
   * A pulse at `at` (monotonic ms): the gap since the one before goes into the gap model. On the
   * pulse path: constant time, and no allocation after the first pulse.
   */
  learnGap(at: number): void {
    const gaps = this.gaps;
    // Nothing is learnt while paused (a paused service owes no rhythm), nor across the pause's end (see Pauses.ended).
    if (gaps !== null) {
      if (this.pausedSince === null) gaps.record(at);
      else gaps.restartAt(at);
    } else if (this.scheduled === null) (this.gaps = new GapTrend(this.intervalMs / 1000, this.graceMs / 1000)).record(at);
  }

  /**
   * @internal Its gap model while it forecasts: `null` for a cron schedule (whose `trend` is
   * never forecast) and before the first pulse. What `trendAt` reads, for gauges read at scrape
   * time without building the view (`atRisk`, `meanGapSeconds`, `p95GapSeconds`).
   */
  get forecasting(): GapTrend | null {
    return this.scheduled === null ? this.gaps : null;
  }

  /** Its `trend` at `now`: from pulse times alone, but for `eta_seconds`, which counts down to `now`. */
  trendAt(now: number): GapTrendView {
    if (this.scheduled !== null) return CRON_TREND;
    return this.gaps === null ? NO_GAPS_YET : this.gaps.read(now);
  }

  /** Watched and shown: configured services always, others while their heartbeat runs. */
  get listed(): boolean {
    return this.active || this.configured;
  }

  /**
   * When an amnesty that begins at `now` ends: one interval and its grace, or for a schedule the
   * deadline of its next occurrence (a daily job must not wait a day to count a miss again).
   */
  amnestyEndAfter(now: number): number {
    return this.scheduled !== null ? this.scheduled.deadlineAfter(now, this.graceMs) : now + this.intervalMs + this.graceMs;
  }

  /** Whether misses are counted only up to `frozenAt` at `now`: an amnesty runs and no sign came since the stall. */
  frozen(now: number): boolean {
    return now < this.amnestyUntil && this.lastSignAt < this.frozenAt;
  }

  /** Whether it is paused at `now`, by `pause()` or a maintenance window. */
  pausedAt(now: number): boolean {
    return (this.manualPause !== null && now < this.manualPause.until) || now < this.maintenanceUntil;
  }

  /** When the pause it is in ends by itself (monotonic ms): Infinity until `resume()`. */
  get pauseEnd(): number {
    return Math.max(this.manualPause?.until ?? -Infinity, this.maintenanceUntil);
  }

  /** Misses count from the later of the last sign of life and the end of a pause. */
  private get missBase(): number {
    return this.expectFrom > this.lastSignAt ? this.expectFrom : this.lastSignAt;
  }

  missedAt(now: number): number {
    // A run open under a max_runtime is watched by that deadline instead of the interval.
    if (this.runs?.holdsMisses === true) return 0;
    const at = this.frozen(now) ? this.frozenAt : now;
    if (this.scheduled !== null) return this.scheduled.missedAt(this.missBase, at, this.graceMs);
    return missedBeats(this.missBase, at, this.intervalMs, this.graceMs);
  }

  /** The status at `now` given its misses then: the worst of misses, reported errors and its runs. */
  rankAt(now: number, missed: number): StatusRank {
    const byMisses = rankFromMisses(missed, this.thresholds);
    const byError = rankFromError(this.errorLevel);
    // Read for every service on every status read: comparisons, not Math.max over three.
    const rank = byMisses > byError ? byMisses : byError;
    if (this.runs === null) return rank;
    const byRun = this.runs.rankAt(now);
    return byRun > rank ? byRun : rank;
  }

  /**
   * Whether it can wait in the lane of its interval and grace: a plain heartbeat, healthy by
   * misses at `now`. Schedules, pauses, open runs and frozen counts have deadlines of their own.
   */
  laneable(now: number): boolean {
    return (
      this.scheduled === null &&
      (this.runs === null || (!this.runs.running && this.runs.tooFast === null)) &&
      this.expectFrom <= this.lastSignAt &&
      !this.pausedAt(now) &&
      !this.frozen(now) &&
      this.missedAt(now) === 0
    );
  }

  /** When the status can next change by itself: the next miss, a run's deadline, a pause's or an amnesty's end; Infinity if nothing can. */
  nextChangeAt(now: number): number {
    let next = Infinity;
    if (this.frozen(now)) next = this.amnestyUntil;
    else if (this.runs?.holdsMisses !== true) {
      const missed = this.missedAt(now);
      if (missed < this.thresholds.criticalAfter) {
        next =
          this.scheduled !== null
            ? // Looked at again every SCHEDULE_RECHECK_MS at least: a wall clock set forward brings its deadline nearer.
              Math.min(this.scheduled.nextDeadline(this.graceMs), now + SCHEDULE_RECHECK_MS)
            : nextMissDeadline(this.missBase, missed, this.intervalMs, this.graceMs);
      }
    }
    if (this.runs !== null) next = Math.min(next, this.runs.nextChangeAt(now));
    if (this.pausedAt(now)) next = Math.min(next, this.pauseEnd);
    return next;
  }

  /** The last sign of life as ISO text, formatted again only when it changed: most reads see none. */
  private signIso = '';
  private signIsoMs = Number.NaN;

  private lastHeartbeatIso(offset: number): string {
    const ms = Math.round(offset + this.lastSignAt);
    if (ms !== this.signIsoMs) {
      this.signIsoMs = ms;
      this.signIso = new Date(ms).toISOString();
    }
    return this.signIso;
  }

  /** The entry the manager's reused status view holds for this record, rewritten in place on each view. */
  viewEntry: ServiceStatusEntry | null = null;

  /** Rewrites `entry`, made by {@link statusEntry}, in place: the same fields, in the same order. */
  writeStatusEntry(entry: ServiceStatusEntry, offset: number, missed: number, rank: StatusRank): void {
    entry.status = statusWord(rank);
    entry.last_heartbeat = this.signed ? this.lastHeartbeatIso(offset) : null;
    entry.interval = this.intervalMs / 1000;
    entry.consecutive_failures = missed + this.errorsSinceSign;
    entry.critical = this.critical;
    entry.active = this.active;
  }

  /** `offset` is a wall offset (see `StableWallOffset`) read once for the whole view. */
  statusEntry(offset: number, missed: number, rank: StatusRank): ServiceStatusEntry {
    return {
      status: statusWord(rank),
      last_heartbeat: this.signed ? this.lastHeartbeatIso(offset) : null,
      interval: this.intervalMs / 1000,
      consecutive_failures: missed + this.errorsSinceSign,
      critical: this.critical,
      active: this.active,
    };
  }

  /** `offset` is a wall offset (see `StableWallOffset`) read once for the view; `suppressedBy` is the monitor's to find. */
  health(offset: number, now: number, suppressedBy: string | null): ServiceHealth {
    const missed = this.missedAt(now);
    const entry = this.statusEntry(offset, missed, this.rankAt(now, missed));
    return {
      service: this.tag,
      status: entry.status,
      last_heartbeat: entry.last_heartbeat,
      uptime: formatUptime(Number.isNaN(this.startedAt) ? 0 : now - this.startedAt),
      started_at: Number.isNaN(this.startedAt) ? null : isoAt(offset, this.startedAt),
      total_pulses: this.totalPulses,
      error_count: this.errorCount,
      interval: entry.interval,
      consecutive_failures: entry.consecutive_failures,
      critical: this.critical,
      active: this.active,
      last_error:
        this.lastErrorMessage === null
          ? null
          : {
              message: this.lastErrorMessage,
              time: isoAt(offset, this.lastErrorAt),
              critical: this.lastErrorCritical,
            },
      metrics: this.customMetrics ? Object.fromEntries(this.customMetrics) : {},
      run: this.runView(offset),
      paused: this.pauseView(offset, now),
      suppressed_by: suppressedBy,
      group: this.group,
      trend: this.trendAt(now),
    };
  }

  /** @internal Its runs as the service body's `run` shows them; `offset` is a wall offset (see `StableWallOffset`). */
  runView(offset: number): ServiceRun {
    const runs = this.runs;
    const started = runs?.oldestStart ?? null;
    return {
      state: runs?.running === true ? 'running' : 'idle',
      started_at: started === null ? null : isoAt(offset, started),
      last_duration_seconds: runs?.lastDurationMs == null ? null : runs.lastDurationMs / 1000,
      last_exit_code: runs?.lastExitCode ?? null,
      runtime_anomaly: runs?.lastAnomaly ?? null,
    };
  }

  private pauseView(offset: number, now: number): ServicePause | null {
    if (!this.pausedAt(now)) return null;
    const end = this.pauseEnd;
    return {
      reason: this.manualPause !== null && now < this.manualPause.until ? this.manualPause.reason : 'maintenance',
      until: end === Infinity ? null : isoAt(offset, end),
      since: isoAt(offset, this.pausedSince ?? now),
    };
  }
}

import type { Logger } from 'pino';
import { isoTimeOf, wallOffset, type Clock } from '../util/clock';
import type { HealthLog, TransitionCause } from './health-log';
import { SignLane } from './lanes';
import { MAX_HISTORY_REASON } from './limits';
import { DeadlineScheduler, type Scheduled } from './scheduler';
import type { ServiceRecord } from './service-record';
import { HEALTHY, rankFromError, rankFromMisses, statusWord, type ServiceStatus } from './status';
import { storedText } from '../util/stored-text';

/** A status change of one service, as given to `status` listeners. */
export interface StatusChange {
  /** The service's tag. */
  service: string;
  /** The status last reported before this change. */
  from: ServiceStatus;
  /** The status now. */
  to: ServiceStatus;
  /** ISO 8601 UTC. */
  time: string;
  /** Why, in words: `missed 3 heartbeats`, `error: disk full`, `pulse received`. */
  reason: string;
  /** What caused it: missed beats, a reported error, a job run's runtime (`max_runtime`, `min_runtime`), or a sign of life (or a pause). */
  cause: 'missed' | 'error' | 'runtime' | 'recovered';
  /** Beats missed at the moment of the change (`0` after a pulse or a start). */
  missed: number;
  /** Whether the service is paused (by `pause()` or a maintenance window): nothing is alerted for it. */
  paused: boolean;
  /** The dependency (from `depends_on`) that is degraded or critical at the change, so its alert is held; `null` if none. */
  suppressed_by: string | null;
}

/** A `status` listener: called once per status change. A throw is logged, never rethrown. */
export type StatusListener = (change: StatusChange) => void;

/**
 * The monitor's own health, for the live endpoint.
 *
 * @inline
 */
export interface MonitorHealth {
  /** How late the monitor's timer fired last time, in seconds: the event loop's recent lag. */
  event_loop_lag_seconds: number;
  /** Stalls noticed since start: firings later than the stall threshold. */
  stalls: number;
  /** The latest stall, or `null` if none was noticed. */
  last_stall: {
    /** ISO 8601 UTC time the late timer fired, at the end of the stall. */
    time: string;
    /** How late the timer fired, in seconds. */
    seconds: number;
  } | null;
}

export { MAX_HISTORY_REASON } from './limits';

/** A status change found, as it is saved and then announced. */
export interface FoundChange {
  readonly record: ServiceRecord;
  readonly from: ServiceStatus;
  readonly to: ServiceStatus;
  /** Monotonic ms. */
  readonly at: number;
  /** As the history keeps it: cut to {@link MAX_HISTORY_REASON} characters. */
  readonly reason: string;
  /** As listeners get it. */
  readonly fullReason: string;
  readonly cause: TransitionCause;
  readonly missed: number;
}

/** What the watcher asks of the monitor beyond the records themselves. */
export interface WatcherHooks {
  /** The dependency that holds `record`'s alerts at `at`, or null. */
  suppressedBy(record: ServiceRecord, at: number): string | null;
  /** `record`'s pause has run out by `now`: take its end in before it is rated. */
  pauseEnded(record: ServiceRecord, now: number): void;
}

/** Work other than watching that runs on the monitor's one timer (the store's flush). */
export interface TimedTask extends Scheduled {
  run(now: number): void;
}

/** Timer lateness from which the monitor treats itself as stalled: far beyond timer jitter. */
export const STALL_THRESHOLD_MS = 250;

/**
 * Shortest wait between two sweeps of one lane. A lane's head is due one grace period after it
 * should have pulsed, so sweeps come once per grace; with little or no grace they would come
 * every millisecond. A fifth of the 50 ms detection budget bounds that at 100 wakes a second.
 */
export const LANE_MIN_GAP_MS = 10;

/**
 * Finds transitions: one shared, unref'd timer over a deadline heap wakes each service at its
 * next possible change, compares the derived status with the last reported one, and reports a
 * change once, to the history, the health log and the `status` listeners. Healthy services
 * wait in lanes (see `SignLane`), so those pulsing on time cost the heap nothing. It also
 * notices its own lateness, a blocked event loop, and gives services an interval of amnesty
 * after it.
 */
export class TransitionWatcher {
  private readonly scheduler: DeadlineScheduler<ServiceRecord | SignLane<ServiceRecord> | TimedTask>;
  private readonly lanes = new Map<string, SignLane<ServiceRecord>>();
  private readonly listeners = new Set<StatusListener>();
  /** Changes caused inside a listener, waiting for the one being delivered to reach every listener. */
  private readonly undelivered: StatusChange[] = [];
  private delivering = false;
  private closed = false;
  /** Inside a firing of the timer: the changes it finds wait in `found` until it settles. */
  private firing = false;
  private readonly found: FoundChange[] = [];
  private lagMs = 0;
  private stalls = 0;
  private lastStall: { at: number; ms: number } | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly hooks: WatcherHooks,
    private readonly log: HealthLog,
    /** Every service that may be waiting for a beat, for the amnesty after a stall. */
    private readonly records: () => Iterable<ServiceRecord>,
    /** Saves changes before they are announced (the manager's store), all at once; returns once they are durable or failed. */
    private readonly saveTransitions: (changes: readonly FoundChange[]) => void,
  ) {
    this.scheduler = new DeadlineScheduler<ServiceRecord | SignLane<ServiceRecord> | TimedTask>(
      clock,
      (due, now) => {
        if (due instanceof SignLane) this.sweep(due, now);
        else if ('run' in due) {
          this.safely(() => {
            due.run(now);
          }, 'A heartbeat timed task failed');
        } else this.evaluate(due, now);
      },
      (lateMs, dueAt, now) => {
        this.firing = true;
        this.onTimerFired(lateMs, dueAt, now);
      },
      () => {
        this.firing = false;
        this.announceFound();
      },
    );
  }

  private get logger(): Logger {
    return this.log.logger;
  }

  addListener(listener: StatusListener): void {
    this.listeners.add(listener);
  }

  removeListener(listener: StatusListener): void {
    this.listeners.delete(listener);
  }

  /**
   * Waits for `record`'s next possible change: in its lane while no beat is missed, otherwise
   * in the heap, until it is critical by misses and only a pulse can change it.
   */
  watch(record: ServiceRecord, now = this.clock.now()): void {
    if (record.laneable(now)) {
      // A recovery queued by a pulse (perhaps from a listener of the change being reported) still has to be announced.
      if (!this.queuedSoon(record)) this.scheduler.remove(record);
      if (record.lane === null) this.join(record);
      return;
    }
    this.leave(record);
    // Infinity: only a pulse (or a call) can change it now, as for a service critical by misses.
    const next = record.nextChangeAt(now);
    if (next < Infinity) this.scheduler.schedule(record, next);
    else if (!this.queuedSoon(record)) this.scheduler.remove(record);
  }

  /** `record` signed just now (a pulse or a start): keeps its lane in order, or puts it back in one. */
  signed(record: ServiceRecord): void {
    if (record.lane !== null) record.lane.touch(record);
    else if (record.listed && record.laneable(this.clock.now())) this.join(record);
    // A schedule, a pause or a run has a deadline of its own, which the sign may have moved.
    else if (record.listed) this.soon(record);
  }

  /** `record` signed before now (a signal another replica took in): its lane's order is by sign time, so it is put back in its place. */
  signedEarlier(record: ServiceRecord): void {
    this.leave(record);
    this.signed(record);
  }

  /** Evaluates `record` on the next timer turn, off the caller's path (a pulse's recovery). */
  soon(record: ServiceRecord): void {
    // Pulses keep coming until the recovery is reported: queue the record once, not per pulse.
    if (this.queuedSoon(record)) return;
    this.scheduler.schedule(record, this.clock.now());
  }

  /** Whether `record` is queued by `soon()`: for no later than its last sign of life. */
  private queuedSoon(record: ServiceRecord): boolean {
    return record.heapIndex !== -1 && record.deadline <= record.lastSignAt;
  }

  /** Runs `task` at `at` (monotonic ms) on the monitor's one timer, or at once if it is queued for later. */
  runAt(task: TimedTask, at: number): void {
    this.scheduler.schedule(task, at);
  }

  /** Takes `task` off the timer. */
  cancel(task: TimedTask): void {
    this.scheduler.remove(task);
  }

  unwatch(record: ServiceRecord): void {
    this.scheduler.remove(record);
    this.leave(record);
  }

  /** Stops the timer and forgets the listeners. Nothing is evaluated afterwards. */
  close(): void {
    this.closed = true;
    this.scheduler.close();
    this.lanes.clear();
    this.listeners.clear();
    this.undelivered.length = 0;
  }

  /** The monitor's own health: how late its timer last fired, and the stalls it noticed. */
  health(): MonitorHealth {
    return {
      event_loop_lag_seconds: this.lagMs / 1000,
      stalls: this.stalls,
      last_stall: this.lastStall ? { time: isoTimeOf(this.clock, this.lastStall.at), seconds: this.lastStall.ms / 1000 } : null,
    };
  }

  /**
   * Compares the derived status with the last reported one, reports a change once, and
   * queues the record for its next possible miss. Never throws: it runs on the timer.
   */
  evaluate(record: ServiceRecord, now: number, hint?: TransitionCause): void {
    if (this.closed) return;
    if (record.pausedSince !== null && !record.pausedAt(now)) this.hooks.pauseEnded(record, now);
    const missed = record.missedAt(now);
    const byMisses = rankFromMisses(missed, record.thresholds);
    const byError = rankFromError(record.errorLevel);
    const byRun = record.runs === null ? HEALTHY : record.runs.rankAt(now);
    const rank = Math.max(byMisses, byError, byRun) as typeof byMisses;
    const previous = record.reportedRank;
    const previousMissed = record.reportedMissed;
    record.reportedRank = rank;
    record.reportedMissed = missed;

    if (rank !== previous) {
      const cause: TransitionCause =
        rank === HEALTHY
          ? hint?.kind === 'recovered'
            ? hint
            : { kind: 'recovered', via: 'pulse' }
          : byRun > byError && byRun > byMisses
            ? { kind: 'runtime', message: record.runs?.reasonAt(now) ?? 'run' }
            : byError >= byMisses && hint?.kind === 'error'
              ? hint
              : byError > byMisses && record.lastErrorMessage !== null
                ? { kind: 'error', message: record.lastErrorMessage, critical: record.lastErrorCritical }
                : { kind: 'missed', missed };
      this.announce(record, statusWord(previous), statusWord(rank), cause, missed, now);
    } else if (missed > previousMissed && missed <= record.thresholds.degradedAfter && rank !== HEALTHY) {
      this.safely(() => {
        this.log.missed(record.tag, statusWord(rank), statusWord(previous), missed);
      });
    }
    if (record.active || record.configured) this.watch(record, now);
  }

  /** Runs `work`, turning a throw into a log line: a broken listener or log stream must not stop monitoring. */
  safely(work: () => void, what = 'The heartbeat health log failed'): void {
    try {
      work();
    } catch (error) {
      try {
        this.logger.error({ err: error }, what);
      } catch {
        // The logger itself is what failed; there is nowhere left to report it.
      }
    }
  }

  /**
   * The timer fired `lateMs` late: the event loop was blocked (GC, a sync call, a paused VM),
   * so in-process services could not pulse either. Give every service that was waiting one
   * interval from now before the misses inside the stall count; a service that really died
   * still goes critical when that runs out.
   */
  private onTimerFired(lateMs: number, dueAt: number, now: number): void {
    this.lagMs = Math.max(0, lateMs);
    if (lateMs < STALL_THRESHOLD_MS || this.closed) return;
    this.stalls++;
    this.lastStall = { at: now, ms: lateMs };
    this.safely(() => {
      this.logger.warn(
        { lag_seconds: lateMs / 1000 },
        `Heartbeat monitor was stalled for ${(lateMs / 1000).toFixed(1)} s (event loop blocked): misses during the stall are not counted until each service has had one interval to pulse`,
      );
    });
    // Nothing is re-queued: each service is evaluated when it was going to be anyway, and then
    // counts its misses only up to the stall (see ServiceRecord.frozen) and waits for the
    // amnesty's end. One due in this very firing is still evaluated in it, so beats it missed
    // before the stall are announced now, as the status already shows them.
    for (const record of this.records()) {
      if (!record.listed || record.lastSignAt >= dueAt) continue;
      // Still in the amnesty of an earlier stall when this one began (its end is often the
      // very deadline the timer was late for): it has not had an interval of running time
      // since that stall, so its count stays frozen where that stall began.
      const forgiven = record.lastSignAt < record.frozenAt && dueAt <= record.amnestyUntil;
      if (!forgiven) record.frozenAt = dueAt;
      record.amnestyUntil = record.amnestyEndAfter(now);
    }
  }

  /** Puts `record` in the lane of its interval and grace, and wakes the lane if it was empty or `record` leads it now. */
  private join(record: ServiceRecord): void {
    const key = SignLane.keyOf(record);
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = new SignLane<ServiceRecord>(key);
      this.lanes.set(key, lane);
    }
    if (!lane.insert(record)) return;
    const deadline = lane.headDeadline();
    if (lane.heapIndex === -1 || deadline < lane.deadline) this.scheduler.schedule(lane, deadline);
  }

  private leave(record: ServiceRecord): void {
    const lane = record.lane;
    if (lane === null) return;
    lane.remove(record);
    if (lane.head === null) this.dropLane(lane);
  }

  private dropLane(lane: SignLane<ServiceRecord>): void {
    this.scheduler.remove(lane);
    // A listener may have emptied this lane mid-sweep and another may have taken its key since.
    if (this.lanes.get(lane.key) === lane) this.lanes.delete(lane.key);
  }

  /**
   * Hands each service at the head of `lane` whose first beat is overdue to `evaluate`, which
   * moves it to the heap, then waits for the new head, at most once per {@link LANE_MIN_GAP_MS}.
   */
  private sweep(lane: SignLane<ServiceRecord>, now: number): void {
    if (this.closed) return;
    let head = lane.head;
    // Strictly past, as the scheduler's deadlines are: at the deadline itself no beat is missed yet.
    while (head !== null && lane.headDeadline() < now) {
      // Unlinked first, so the loop moves on whatever the evaluation does with it.
      lane.remove(head);
      this.evaluate(head, now);
      head = lane.head;
    }
    if (head === null) this.dropLane(lane);
    else this.scheduler.schedule(lane, Math.max(lane.headDeadline(), now + LANE_MIN_GAP_MS));
  }

  /**
   * Reports a change: saved, recorded in the history, logged and given to the listeners. One
   * found by the timer waits for the rest of its firing, so that a storm (every remote service
   * missing at once after a network blip) is saved with one sync, not one per service.
   */
  private announce(
    record: ServiceRecord,
    from: ServiceStatus,
    to: ServiceStatus,
    cause: TransitionCause,
    missed: number,
    now: number,
  ): void {
    const reason = describeCause(cause);
    // The full message stays in last_error; a thousand history entries keep a short copy of their own.
    this.found.push({ record, from, to, at: now, reason: storedText(reason, MAX_HISTORY_REASON), fullReason: reason, cause, missed });
    if (!this.firing) this.announceFound();
  }

  private announceFound(): void {
    if (this.found.length === 0 || this.closed) return;
    const changes = this.found.splice(0);
    // Write-ahead: saved before the history, the log or any listener has them.
    this.saveTransitions(changes);
    const offset = wallOffset(this.clock);
    for (const change of changes) change.record.recordTransition(change.at, offset, change.from, change.to, change.reason);
    for (const { record, from, to, at, fullReason, cause, missed } of changes) {
      this.safely(() => {
        this.log.transition(record.tag, from, to, cause, missed);
      });
      if (this.listeners.size > 0) {
        // Read once every change of the batch is in: a dependency that went down in the same firing holds its dependents.
        this.deliver({
          service: record.tag,
          from,
          to,
          time: isoTimeOf(this.clock, at),
          reason: fullReason,
          cause: cause.kind,
          missed,
          paused: record.pausedAt(at),
          suppressed_by: this.hooks.suppressedBy(record, at),
        });
      }
    }
  }

  /**
   * Gives `change` to every listener, in the order changes happened: a change a listener
   * causes (restarting a service on `critical`, say) waits until every listener has had the
   * one being delivered, so none of them sees the newer state first.
   */
  private deliver(change: StatusChange): void {
    if (this.delivering) {
      this.undelivered.push(change);
      return;
    }
    this.delivering = true;
    try {
      for (let next: StatusChange | undefined = change; next !== undefined; next = this.undelivered.shift()) {
        for (const listener of this.listeners) {
          const delivered = next;
          this.safely(() => {
            listener(delivered);
          }, 'A heartbeat status listener threw');
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}

function describeCause(cause: TransitionCause): string {
  switch (cause.kind) {
    case 'recovered':
      return cause.via === 'start' ? 'started' : cause.via === 'pause' ? `paused: ${cause.reason}` : 'pulse received';
    case 'runtime':
      return cause.message;
    case 'error':
      return `${cause.critical ? 'critical error' : 'error'}: ${cause.message}`;
    case 'missed':
      return `missed ${cause.missed} heartbeat${cause.missed === 1 ? '' : 's'}`;
  }
}

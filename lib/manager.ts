import type { Logger } from 'pino';
import { isoTimeOf, systemClock, type Clock } from './clock';
import { graceMs, resolveConfig, type HeartbeatConfig, type ResolvedHeartbeatConfig } from './config';
import { checkOptions, runCheck, type Check, type CheckOptions, type Probe } from './checks';
import { HealthLog, type TransitionCause } from './health-log';
import { historyOf, type ServiceHistory } from './history';
import { Heartbeat, type HeartbeatOptions } from './heartbeat';
import { DeadlineScheduler } from './scheduler';
import { MAX_CUSTOM_METRICS, ServiceRecord, type ServiceHealth, type ServiceStatusEntry } from './service-record';
import {
  CRITICAL_ERROR,
  HEALTHY,
  ERROR_REPORTED,
  NO_ERROR,
  STATUS_WORDS,
  overallContribution,
  rankFromError,
  rankFromMisses,
  serviceRank,
  statusWord,
  type MissThresholds,
  type OverallStatus,
  type ServiceStatus,
  type StatusRank,
} from './status';
import { OptionReader } from './validate';

/** What `new HeartbeatManager()` takes. Every key is optional. */
export interface HeartbeatManagerOptions {
  /** The seed's `HEARTBEAT_CONFIG`. Defaults to `{}`: every key at its default. */
  readonly config?: HeartbeatConfig;
  /** A pino logger for the health log; a child of it is used. Defaults to a pino logger named `heartbeat`. */
  readonly logger?: Logger;
  /** Where time is read. Defaults to {@link systemClock}: `performance.now()` and `Date.now()`. */
  readonly clock?: Clock;
}

/** The body of `GET /api/health/status`, in the seed's shape. */
export interface HealthStatus {
  /** Every service shown, by tag: configured ones always, others while their heartbeat runs. */
  services: Record<string, ServiceStatusEntry>;
  /** The worst service status, where a service with `critical: false` counts at most as `degraded`; `offline` when disabled. */
  overall_status: OverallStatus;
}

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
  /** What caused it: missed beats, a reported error, or a sign of life. */
  cause: 'missed' | 'error' | 'recovered';
  /** Beats missed at the moment of the change (`0` after a pulse or a start). */
  missed: number;
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

/** Longest reason kept in a service's history, in characters. */
export const MAX_HISTORY_REASON = 200;

/** Timer lateness from which the monitor treats itself as stalled: far beyond timer jitter. */
export const STALL_THRESHOLD_MS = 250;

/** Longest error message kept, in characters: messages are stored, logged and served, so they are bounded. */
export const MAX_ERROR_LENGTH = 1024;

const MANAGER_KEYS = ['config', 'logger', 'clock'] as const;

/**
 * Watches every heartbeat registered with it. Status is derived from stored timestamps on
 * each read; one shared, unref'd timer finds transitions and reports them to the health log
 * and to `status` listeners.
 */
export class HeartbeatManager {
  /** The effective config: the given one checked, with every default filled in. */
  readonly config: ResolvedHeartbeatConfig;
  /** Where this manager and its heartbeats read time. */
  readonly clock: Clock;
  /** The health log's pino logger. */
  readonly logger: Logger;
  private readonly log: HealthLog;
  private readonly thresholds: MissThresholds;
  private readonly records = new Map<string, ServiceRecord>();
  private readonly scheduler: DeadlineScheduler<ServiceRecord>;
  private readonly listeners = new Set<StatusListener>();
  private readonly closeListeners = new Set<() => void>();
  private closed = false;
  private lagMs = 0;
  private stalls = 0;
  private lastStall: { at: number; ms: number } | null = null;

  constructor(options: HeartbeatManagerOptions = {}) {
    const read = new OptionReader('Invalid HeartbeatManager options');
    const given = read.object('', options, MANAGER_KEYS);
    this.config = resolveConfig(given.config);
    this.clock = given.clock === undefined ? systemClock : checkClock(read, given.clock);
    if (given.logger !== undefined && typeof (given.logger as Logger).child !== 'function') {
      read.fail('logger', given.logger, 'a pino logger (an object with child())');
    }
    this.log = new HealthLog(given.logger as Logger | undefined, this.config.log_level, this.config.timeout_multiplier);
    this.logger = this.log.logger;
    this.thresholds = { degradedAfter: this.config.timeout_multiplier, criticalAfter: this.config.critical_after };
    this.scheduler = new DeadlineScheduler(
      this.clock,
      (record, now) => {
        this.evaluate(record, now);
      },
      (lateMs, dueAt, now) => {
        this.onTimerFired(lateMs, dueAt, now);
      },
    );

    if (!this.config.enabled) return;
    const createdAt = this.clock.now();
    for (const [tag, service] of Object.entries(this.config.services)) {
      const record = new ServiceRecord(
        tag,
        true,
        settingsOf(service.interval, service.grace, service.critical),
        createdAt,
        this.config.history_size,
      );
      this.records.set(tag, record);
      this.watch(record);
    }
  }

  /** Creates a heartbeat registered with this manager. Same as `new Heartbeat({ ...options, manager })`. */
  heartbeat(options: Omit<HeartbeatOptions, 'manager'>): Heartbeat {
    return new Heartbeat({ ...options, manager: this });
  }

  /**
   * Watches a dependency (a database, a cache, an HTTP API): runs `probe` every interval as
   * the heartbeat `tag`. Success pulses; a throw or rejection reports its message; a run past
   * `timeout` reports `timed out after N ms` and aborts the signal given to the probe. Runs
   * never overlap. Stopped by `check.stop()` or `close()`.
   *
   * ```ts
   * manager.check('postgres', (signal) => pool.query('SELECT 1'), { interval: 10, timeout: 2000 });
   * ```
   */
  check(tag: string, probe: Probe, options: CheckOptions = {}): Check {
    if (typeof probe !== 'function')
      throw new TypeError(
        `check(${JSON.stringify(tag)}, probe): probe is ${typeof probe}; expected a function that resolves when the dependency is healthy.`,
      );
    const settings = checkOptions(options, this.config.default_interval);
    // The probe may take up to its timeout to answer: that much lateness is not a miss.
    const heartbeat = this.heartbeat({ tag, interval: settings.interval, critical: settings.critical, grace: settings.timeout / 1000 });
    const running = runCheck(heartbeat, probe, settings, () => this.clock.now());
    const stop = (): void => {
      running.stop();
      this.off('close', stop);
    };
    this.on('close', stop);
    return { heartbeat, stop };
  }

  /** The running or stopped heartbeat for `tag`, if one was created. */
  get(tag: string): Heartbeat | undefined {
    return this.records.get(tag)?.handle;
  }

  /** The tags of every service watched now. */
  tags(): string[] {
    const tags: string[] = [];
    for (const record of this.records.values()) if (record.listed) tags.push(record.tag);
    return tags;
  }

  /** Exactly the body of `GET /api/health/status`. */
  status(): HealthStatus {
    const services = Object.create(null) as Record<string, ServiceStatusEntry>;
    if (!this.config.enabled) return { services, overall_status: 'offline' };
    const now = this.clock.now();
    let overall: number = HEALTHY;
    for (const record of this.records.values()) {
      if (!record.listed) continue;
      const missed = record.missedAt(now);
      const rank = serviceRank(missed, record.errorLevel, this.thresholds);
      services[record.tag] = record.statusEntry(this.clock, missed, rank);
      overall = Math.max(overall, overallContribution(rank, record.critical));
    }
    return { services, overall_status: STATUS_WORDS[overall] as OverallStatus };
  }

  /** The overall status alone, without building the body. */
  overallStatus(): OverallStatus {
    if (!this.config.enabled) return 'offline';
    const now = this.clock.now();
    let overall: number = HEALTHY;
    for (const record of this.records.values()) {
      if (!record.listed) continue;
      const rank = serviceRank(record.missedAt(now), record.errorLevel, this.thresholds);
      overall = Math.max(overall, overallContribution(rank, record.critical));
    }
    return STATUS_WORDS[overall] as OverallStatus;
  }

  /** Exactly the body of `GET /api/health/service/{tag}`, or `undefined` for an unknown tag. */
  service(tag: string): ServiceHealth | undefined {
    const record = this.records.get(tag);
    if (!record?.listed) return undefined;
    return record.health(this.clock, this.clock.now(), this.thresholds);
  }

  /**
   * `status`: called for every status change. `close`: called once when the manager closes.
   * A listener that throws is logged, never rethrown.
   */
  on(event: 'status', listener: StatusListener): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'status' | 'close', listener: StatusListener | (() => void)): this {
    this.listenersFor(event).add(listener);
    return this;
  }

  /** Removes a listener added with `on`. Removing one that was never added does nothing. */
  off(event: 'status', listener: StatusListener): this;
  off(event: 'close', listener: () => void): this;
  off(event: 'status' | 'close', listener: StatusListener | (() => void)): this {
    this.listenersFor(event).delete(listener);
    return this;
  }

  private listenersFor(event: string): Set<StatusListener> {
    if (event === 'status') return this.listeners;
    if (event === 'close') return this.closeListeners;
    throw new TypeError(`HeartbeatManager emits "status" and "close" events, not ${JSON.stringify(event)}.`);
  }

  /** A service's uptime ratios and status changes, or `undefined` for an unknown tag. */
  history(tag: string): ServiceHistory | undefined {
    const record = this.records.get(tag);
    if (!record?.listed) return undefined;
    return historyOf(record, this.clock, this.clock.now());
  }

  /** The history of every service, for export. */
  exportHistory(): ServiceHistory[] {
    const now = this.clock.now();
    const all: ServiceHistory[] = [];
    for (const record of this.listedRecords()) all.push(historyOf(record, this.clock, now));
    return all;
  }

  /** Drops history and error details older than `days` from every service. Returns how many entries went. */
  cleanupOldData(days: number): number {
    checkDays(days);
    let dropped = 0;
    for (const record of this.records.values()) dropped += this.cleanupRecord(record, days);
    return dropped;
  }

  /** Stops every heartbeat and the timer, and forgets the listeners. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.close();
    for (const record of this.records.values()) record.handle?.stop();
    this.listeners.clear();
    for (const listener of this.closeListeners) this.safely(listener, 'A heartbeat close listener threw');
    this.closeListeners.clear();
  }

  /** Whether `close()` was called: a closed manager creates no more heartbeats. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal The records shown in the status, for exporters that read state directly. */
  *listedRecords(): IterableIterator<ServiceRecord> {
    if (!this.config.enabled) return;
    for (const record of this.records.values()) if (record.listed) yield record;
  }

  /** @internal The status rank of a record at `now`. */
  rankOf(record: ServiceRecord, now: number): StatusRank {
    return serviceRank(record.missedAt(now), record.errorLevel, this.thresholds);
  }

  /** @internal Binds a new heartbeat handle to its record, creating the record if needed. */
  attach(handle: Heartbeat, settings: { interval: number; grace: number | null; critical: boolean }): ServiceRecord | undefined {
    if (this.closed) throw new Error(`Cannot create heartbeat "${handle.tag}": its HeartbeatManager is closed. Create a new manager.`);
    if (!this.config.enabled) return undefined;
    const tag = handle.tag;
    const existing = this.records.get(tag);
    if (existing) {
      if (existing.handle && !existing.handle.isReleased) {
        throw new Error(
          `A heartbeat for "${tag}" is already running. Stop it first, or reuse it with manager.get(${JSON.stringify(tag)}).`,
        );
      }
      existing.handle = handle;
      if (!existing.configured) Object.assign(existing, settingsOf(settings.interval, settings.grace, settings.critical));
      return existing;
    }
    const configured = this.config.services[tag];
    const effective = configured ?? settings;
    const record = new ServiceRecord(
      tag,
      false,
      settingsOf(effective.interval, effective.grace ?? this.config.grace, effective.critical),
      this.clock.now(),
      this.config.history_size,
    );
    record.handle = handle;
    this.records.set(tag, record);
    return record;
  }

  /** @internal A heartbeat started: its start is a sign of life. */
  started(record: ServiceRecord): void {
    const now = this.clock.now();
    record.active = true;
    record.startedAt = now;
    record.lastSignAt = now;
    record.signed = true;
    record.errorLevel = NO_ERROR;
    record.errorsSinceSign = 0;
    this.evaluate(record, now, { kind: 'recovered', via: 'start' });
  }

  /** @internal A heartbeat stopped. A configured service stays watched: it is expected to run. */
  stopped(record: ServiceRecord): void {
    record.active = false;
    if (record.configured && !this.closed) return;
    this.scheduler.remove(record);
    if (!this.closed) this.records.delete(record.tag);
  }

  /** @internal An error was reported; it is logged and announced at once. */
  reportError(record: ServiceRecord, message: string, critical: boolean): void {
    const now = this.clock.now();
    record.errorCount++;
    record.errorsSinceSign++;
    if (critical) record.errorLevel = CRITICAL_ERROR;
    else if (record.errorLevel === NO_ERROR) record.errorLevel = ERROR_REPORTED;
    record.lastErrorMessage = message.length > MAX_ERROR_LENGTH ? `${message.slice(0, MAX_ERROR_LENGTH)}…` : message;
    record.lastErrorAt = now;
    record.lastErrorCritical = critical;
    this.evaluate(record, now, { kind: 'error', message: record.lastErrorMessage, critical });
  }

  /** @internal Custom metrics came with a pulse. */
  recordMetrics(record: ServiceRecord, values: unknown): void {
    const ignored =
      typeof values === 'object' && values !== null && !Array.isArray(values)
        ? record.recordMetrics(values as Record<string, unknown>)
        : ['(not an object)'];
    if (ignored.length === 0 || record.customMetricsWarned) return;
    record.customMetricsWarned = true;
    this.safely(() => {
      this.logger.warn(
        { service: record.tag, ignored: ignored.slice(0, 5) },
        `Service ${record.tag} sent custom metrics that were ignored: values must be finite numbers, names like queue_depth, at most ${MAX_CUSTOM_METRICS} per service (warned once)`,
      );
    });
  }

  /** @internal A pulse arrived for a service last reported unhealthy: report the recovery soon, off the hot path. */
  wake(record: ServiceRecord): void {
    this.scheduler.schedule(record, this.clock.now());
  }

  /** @internal */
  cleanupRecord(record: ServiceRecord, days: number): number {
    checkDays(days);
    const cutoff = this.clock.now() - days * 86_400_000;
    let dropped = record.history.dropBefore(cutoff);
    record.uptime.dropBefore(cutoff);
    if (record.lastErrorMessage !== null && record.lastErrorAt < cutoff) {
      record.lastErrorMessage = null;
      dropped++;
    }
    return dropped;
  }

  private watch(record: ServiceRecord, now = this.clock.now()): void {
    if (record.reportedMissed < this.thresholds.criticalAfter || now < record.amnestyUntil) {
      this.scheduler.schedule(record, record.nextChangeAt(now));
    } else {
      this.scheduler.remove(record);
    }
  }

  /**
   * The scheduler's timer fired `lateMs` late: the event loop was blocked (GC, a sync call, a
   * paused VM), so in-process services could not pulse either. Give every service that was
   * waiting one interval from now before the misses inside the stall count; a service that
   * really died still goes critical when that runs out.
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
    for (const record of this.records.values()) {
      if (!record.listed || record.lastSignAt >= dueAt) continue;
      record.frozenAt = dueAt;
      record.amnestyUntil = now + record.intervalMs + record.graceMs;
      this.scheduler.schedule(record, record.amnestyUntil);
    }
  }

  /** The monitor's own health: how late its timer last fired, and the stalls it noticed. */
  monitorHealth(): MonitorHealth {
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
  private evaluate(record: ServiceRecord, now: number, hint?: TransitionCause): void {
    if (this.closed) return;
    const missed = record.missedAt(now);
    const byMisses = rankFromMisses(missed, this.thresholds);
    const byError = rankFromError(record.errorLevel);
    const rank = byMisses > byError ? byMisses : byError;
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
          : byError >= byMisses && hint?.kind === 'error'
            ? hint
            : byError > byMisses && record.lastErrorMessage !== null
              ? { kind: 'error', message: record.lastErrorMessage, critical: record.lastErrorCritical }
              : { kind: 'missed', missed };
      this.announce(record, statusWord(previous), statusWord(rank), cause, missed, now);
    } else if (missed > previousMissed && missed <= this.thresholds.degradedAfter && rank !== HEALTHY) {
      this.safely(() => {
        this.log.missed(record.tag, statusWord(rank), statusWord(previous), missed);
      });
    }
    if (record.active || record.configured) this.watch(record, now);
  }

  private announce(
    record: ServiceRecord,
    from: ServiceStatus,
    to: ServiceStatus,
    cause: TransitionCause,
    missed: number,
    now: number,
  ): void {
    const reason = describeCause(cause);
    // The full message stays in last_error; a thousand history entries keep a short form.
    record.history.push({
      at: now,
      from,
      to,
      reason: reason.length > MAX_HISTORY_REASON ? `${reason.slice(0, MAX_HISTORY_REASON)}…` : reason,
    });
    if (to === 'degraded' || to === 'critical') record.uptime.markDown(now);
    else record.uptime.markUp(now);
    this.safely(() => {
      this.log.transition(record.tag, from, to, cause, missed);
    });
    if (this.listeners.size === 0) return;
    const change: StatusChange = { service: record.tag, from, to, time: isoTimeOf(this.clock, now), reason, cause: cause.kind, missed };
    for (const listener of this.listeners) {
      this.safely(() => {
        listener(change);
      }, 'A heartbeat status listener threw');
    }
  }

  /** Runs `work`, turning a throw into a log line: a broken listener or log stream must not stop monitoring. */
  private safely(work: () => void, what = 'The heartbeat health log failed'): void {
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
}

function settingsOf(interval: number, grace: number | null, critical: boolean) {
  return { intervalMs: interval * 1000, graceMs: graceMs(grace, interval), critical };
}

function describeCause(cause: TransitionCause): string {
  switch (cause.kind) {
    case 'recovered':
      return cause.via === 'start' ? 'started' : 'pulse received';
    case 'error':
      return `${cause.critical ? 'critical error' : 'error'}: ${cause.message}`;
    case 'missed':
      return `missed ${cause.missed} heartbeat${cause.missed === 1 ? '' : 's'}`;
  }
}

function checkDays(days: number): void {
  if (typeof days !== 'number' || !Number.isFinite(days) || days < 0) {
    throw new RangeError(`cleanupOldData(days): days is ${String(days)}; expected a finite number of at least 0, e.g. 7.`);
  }
}

function checkClock(read: OptionReader, clock: unknown): Clock {
  const candidate = clock as Partial<Clock> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.now !== 'function' ||
    typeof candidate.wallNow !== 'function'
  ) {
    read.fail('clock', clock, 'an object with now() and wallNow() methods');
  }
  return candidate as Clock;
}

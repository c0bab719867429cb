import type { Logger } from 'pino';
import { StableWallOffset, systemClock, wallOffset, type Clock } from '../util/clock';
import { DailyRollups } from './rollups';
import { StateKeeper, pruneRecord, type KeeperHost, type RestoreSummary } from './state-keeper';
import { keepsNothing, type HeartbeatStore, type StoreHealth } from './store';
import { sharedClock, type ReplicaLink } from './replicas';
import { graceMs, resolveConfig, type HeartbeatConfig, type ResolvedHeartbeatConfig } from './config';
import { HealthLog } from './health-log';
import { historyOf, type ServiceHistory } from './history';
import { MAX_ERROR_LENGTH } from './limits';
import { ServiceBinding, type RunEnding, type ServicePort } from './binding';
import {
  MAX_CUSTOM_METRICS,
  ServiceRecord,
  type ServiceHealth,
  type ServiceOwner,
  type ServicePause,
  type ServiceStatusEntry,
} from './service-record';
import { MAX_PAUSE_REASON, Pauses, type PauseListener, type PauseOptions } from './pauses';
import { IN_PROCESS, RunTracker } from './runs';
import { CronSchedule, MAX_COUNTED_OCCURRENCES, ScheduledBeats } from './schedule';
import { storedText } from '../util/stored-text';
import {
  CRITICAL_ERROR,
  DEGRADED,
  HEALTHY,
  ERROR_REPORTED,
  NO_ERROR,
  STATUS_WORDS,
  overallContribution,
  type MissThresholds,
  type OverallStatus,
  type StatusRank,
} from './status';
import { OptionReader } from '../util/validate';
import { TransitionWatcher, type MonitorHealth, type StatusListener } from './watcher';
import { TrendWatch, type TrendListener } from './trend-watch';

export type { MonitorHealth, StatusChange, StatusListener } from './watcher';
export type { PauseChange, PauseListener, PauseOptions } from './pauses';
export type { TrendChange, TrendListener } from './trend-watch';

/** What `new HeartbeatManager()` takes. Every key is optional. */
export interface HeartbeatManagerOptions {
  /** The seed's `HEARTBEAT_CONFIG`. Defaults to `{}`: every key at its default. */
  readonly config?: HeartbeatConfig;
  /** A pino logger for the health log; a child of it is used. Defaults to a pino logger named `heartbeat`. */
  readonly logger?: Logger;
  /** Where time is read. Defaults to {@link systemClock}: `performance.now()` and `Date.now()`. */
  readonly clock?: Clock;
  /**
   * Where state is kept across restarts: `fileStore({ dir })`, or any {@link HeartbeatStore}.
   * Defaults to none: everything lives in memory and nothing is written (as `memoryStore()`).
   */
  readonly store?: HeartbeatStore;
}

/** The body of `GET /api/health/status`, in the seed's shape. */
export interface HealthStatus {
  /** Every service shown, by tag: configured ones always, others while their heartbeat runs. */
  services: Record<string, ServiceStatusEntry>;
  /** The worst service status, where a service with `critical: false` counts at most as `degraded`; `offline` when disabled. */
  overall_status: OverallStatus;
}

export { MAX_ERROR_LENGTH } from './limits';

const MANAGER_KEYS = ['config', 'logger', 'clock', 'store'] as const;
/** The space of the store that keeps the open runs signalled from outside, by tag. */
const RUN_NOTES = 'runs';

/**
 * The engine behind `HeartbeatManager`: it keeps every service's record, derives each status
 * from stored timestamps on every read, and runs one shared, unref'd timer that finds the
 * transitions and reports them to the health log and to `status` listeners. Handles of type
 * `H` drive their services only through the {@link ServicePort} that `attach()` gives them.
 */
export class Monitor<H extends ServiceOwner> {
  /** The effective config: the given one checked, with every default filled in. */
  readonly config: ResolvedHeartbeatConfig;
  /** Where this manager and its heartbeats read time. */
  readonly clock: Clock;
  /** The health log's pino logger. */
  readonly logger: Logger;
  /**
   * @internal What the replicas of this app share through the store (`redisStore()`), or null:
   * the HTTP layer shares remote calls through it, the alerts their one sender.
   */
  readonly replicas: ReplicaLink | null;
  private readonly thresholds: MissThresholds;
  private readonly records = new Map<string, ServiceRecord>();
  private readonly watcher: TransitionWatcher;
  private readonly closeListeners = new Set<() => void>();
  private readonly pauseListeners = new Set<PauseListener>();
  private readonly pauses: Pauses;
  private readonly trendWatch: TrendWatch;
  private readonly wallOffset: Pick<StableWallOffset, 'read'>;
  private readonly keeper: StateKeeper;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Bumped whenever a service joins or leaves the status, so the reused view rebuilds its keys. */
  private listedVersion = 0;
  private reusedView: HealthStatus | null = null;
  private reusedViewVersion = -1;

  constructor(options: HeartbeatManagerOptions = {}) {
    const read = new OptionReader('Invalid HeartbeatManager options');
    const given = read.object('', options, MANAGER_KEYS);
    this.config = resolveConfig(given.config);
    const store = given.store === undefined ? null : checkStore(read, given.store);
    this.replicas = this.config.enabled ? (store?.replicas ?? null) : null;
    const clock = given.clock === undefined ? systemClock : checkClock(read, given.clock);
    // Replicas keep every wall time of a shared service on Redis's clock, so their skew moves no deadline.
    this.clock = this.replicas ? sharedClock(clock, this.replicas) : clock;
    if (given.logger !== undefined && typeof (given.logger as Logger).child !== 'function') {
      read.fail('logger', given.logger, 'a pino logger (an object with child())');
    }
    const log = new HealthLog(given.logger as Logger | undefined, this.config.log_level, this.config.timeout_multiplier);
    this.logger = log.logger;
    this.thresholds = { degradedAfter: this.config.timeout_multiplier, criticalAfter: this.config.critical_after };
    this.wallOffset = { read: () => wallOffset(this.clock) }; // one stable offset per clock: see wallOffset()
    this.watcher = new TransitionWatcher(
      this.clock,
      {
        suppressedBy: (record, at) => this.suppressedBy(record, at),
        pauseEnded: (record, now) => {
          this.pauses.ended(record, now);
        },
      },
      log,
      () => this.records.values(),
      (changes) => {
        this.keeper.transitions(changes);
      },
    );
    this.keeper = new StateKeeper(this.keeperHost(), this.config.enabled && store && !keepsNothing(store) ? store : null);
    this.pauses = new Pauses(
      {
        clock: this.clock,
        wallOffset: () => this.wallOffset.read(),
        records: () => this.records.values(),
        evaluate: (record, now, hint) => {
          this.watcher.evaluate(record, now, hint);
        },
        notesOf: (space) => this.keeper.notesOf(space),
        note: (space, key, value) => {
          this.keeper.note(space, key, value);
        },
        runAt: (task, at) => {
          this.watcher.runAt(task, at);
        },
        cancel: (task) => {
          this.watcher.cancel(task);
        },
        emit: (change) => {
          for (const listener of this.pauseListeners)
            this.watcher.safely(() => {
              listener(change);
            }, 'A heartbeat pause listener threw');
        },
      },
      this.config.maintenance,
      this.config.retention_days * 86_400_000,
    );

    this.trendWatch = new TrendWatch({
      now: () => this.clock.now(),
      wallOffset: () => this.wallOffset.read(),
      records: () => this.records.values(),
      runAt: (task, at) => {
        this.watcher.runAt(task, at);
      },
      cancel: (task) => {
        this.watcher.cancel(task);
      },
      safely: (work, what) => {
        this.watcher.safely(work, what);
      },
    });

    if (this.config.enabled) {
      const createdAt = this.clock.now();
      for (const [tag, service] of Object.entries(this.config.services)) {
        this.records.set(tag, this.newRecord(tag, true, settingsOf(service.interval, service.grace, service.critical), createdAt));
      }
    }
    // Restored before anything is watched: a restored service is watched from its saved state.
    this.keeper.open();
    if (this.config.enabled) {
      this.restoreRuns();
      this.pauses.open();
    }
    for (const record of this.records.values()) if (record.configured) this.watcher.watch(record);
    this.keeper.wake();
  }

  /** How the store's writes are going: `memory` without a store. `GET /live` shows it. */
  storeHealth(): StoreHealth {
    return this.keeper.health();
  }

  /** @internal What the start restored from the store, or null without one. */
  get restored(): RestoreSummary | null {
    return this.keeper.restored;
  }

  /** @internal The notes kept in the store under `space` (e.g. the alert incidents), by key. */
  notesOf(space: string): ReadonlyMap<string, unknown> {
    return this.keeper.notesOf(space);
  }

  /** @internal Keeps `value` (JSON; null removes it) under `space` and `key`, saved before this returns. */
  note(space: string, key: string, value: unknown): void {
    this.keeper.note(space, key, value);
  }

  /** @internal The service `tag` was created by a remote call: after a restart it is created again. */
  markRemote(tag: string): void {
    const record = this.records.get(tag);
    if (record && !record.remote) {
      record.remote = true;
      // Saved now, not at the next flush: the caller was told it is registered, and only this process can re-create it.
      this.keeper.saveNow(record);
    }
  }

  /** @internal Whether `tag` is shared by the replicas: a remote service, with a shared store. */
  isShared(tag: string): boolean {
    return this.replicas !== null && this.records.get(tag)?.remote === true;
  }

  /** @internal The tags of saved services that remote calls created, which nothing runs yet: for the manager to resume. */
  protected remoteToResume(): string[] {
    const tags: string[] = [];
    for (const record of this.records.values()) if (record.remote && !record.listed && record.handle === undefined) tags.push(record.tag);
    return tags;
  }

  private newRecord(
    tag: string,
    configured: boolean,
    settings: { intervalMs: number; graceMs: number; critical: boolean },
    createdAt: number,
  ): ServiceRecord {
    const service = Object.hasOwn(this.config.services, tag) ? this.config.services[tag] : undefined;
    const criticalAfter = service?.critical_after ?? this.config.critical_after;
    // A service's own critical_after below timeout_multiplier goes critical without passing degraded.
    const thresholds: MissThresholds =
      criticalAfter === this.thresholds.criticalAfter
        ? this.thresholds
        : { degradedAfter: Math.min(this.thresholds.degradedAfter, criticalAfter), criticalAfter };
    const record = new ServiceRecord(tag, configured, settings, createdAt, this.config.history_size, thresholds);
    record.rollups = new DailyRollups(this.config.retention_days, this.clock.wallNow(), this.clock);
    if (service) {
      record.remote = service.remote;
      if (service.schedule !== null) {
        record.scheduled = new ScheduledBeats(
          new CronSchedule(service.schedule, service.timezone),
          () => this.wallOffset.read(),
          Math.max(MAX_COUNTED_OCCURRENCES, criticalAfter),
        );
      }
      if (service.max_runtime !== null || service.min_runtime !== null) {
        record.runs = new RunTracker(
          service.max_runtime === null ? null : service.max_runtime * 1000,
          service.min_runtime === null ? null : service.min_runtime * 1000,
        );
      }
      record.dependsOn = service.depends_on;
      record.group = service.group;
    }
    return record;
  }

  private keeperHost(): KeeperHost {
    const listed = (): boolean => {
      for (const record of this.records.values()) if (record.listed) return true;
      return false;
    };
    return {
      config: this.config,
      clock: this.clock,
      logger: this.logger,
      allRecords: () => this.records.values(),
      recordOf: (tag) => this.records.get(tag),
      adopt: (tag, settings) => {
        const record = this.newRecord(tag, false, settings, this.clock.now());
        this.records.set(tag, record);
        return record;
      },
      drop: (record) => {
        if (record.listed) return;
        this.watcher.unwatch(record);
        this.records.delete(record.tag);
        this.pauses.forget(record.tag);
      },
      runAt: (task, at) => {
        this.watcher.runAt(task, at);
      },
      cancel: (task) => {
        this.watcher.cancel(task);
      },
      get watching() {
        return listed();
      },
      wallOffset: () => this.wallOffset.read(),
    };
  }

  /** The running or stopped heartbeat for `tag`, if one was created. */
  get(tag: string): H | undefined {
    return this.records.get(tag)?.handle as H | undefined;
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
    const offset = this.wallOffset.read();
    const overall_status = this.rateServices(this.clock.now(), (record, missed, rank) => {
      services[record.tag] = record.statusEntry(offset, missed, rank);
    });
    return { services, overall_status };
  }

  /**
   * @internal The body of `GET /api/health/status` as one object the manager keeps and
   * rewrites in place on every call: valid until the next call, so serialise it at once.
   * At 10,000 services, inserting 10,000 keys into a fresh dictionary costs about as much as
   * serialising it; rewriting the fields of kept entries costs a tenth of that.
   */
  statusView(): HealthStatus {
    if (!this.config.enabled) return this.status();
    let view = this.reusedView;
    if (view === null || this.reusedViewVersion !== this.listedVersion) {
      // The set of services changed: new keys, in the same order as status().
      const services = Object.create(null) as Record<string, ServiceStatusEntry>;
      for (const record of this.records.values()) {
        if (record.listed) services[record.tag] = record.viewEntry ??= record.statusEntry(0, 0, HEALTHY);
      }
      view = this.reusedView = { services, overall_status: 'healthy' };
      this.reusedViewVersion = this.listedVersion;
    }
    const offset = this.wallOffset.read();
    view.overall_status = this.rateServices(this.clock.now(), (record, missed, rank) => {
      record.writeStatusEntry(record.viewEntry as ServiceStatusEntry, offset, missed, rank);
    });
    return view;
  }

  /** The overall status alone, without building the body. */
  overallStatus(): OverallStatus {
    if (!this.config.enabled) return 'offline';
    return this.rateServices(this.clock.now());
  }

  /** Rates every listed service at `now`, handing each one's misses and rank to `visit`; returns the overall status. */
  private rateServices(now: number, visit?: (record: ServiceRecord, missed: number, rank: StatusRank) => void): OverallStatus {
    let overall: number = HEALTHY;
    for (const record of this.records.values()) {
      if (!record.listed) continue;
      const missed = record.missedAt(now);
      const rank = record.rankAt(now, missed);
      visit?.(record, missed, rank);
      // A paused service is shown as it is, but says nothing of the system's health.
      if (!record.pausedAt(now)) overall = Math.max(overall, overallContribution(rank, record.critical));
    }
    return STATUS_WORDS[overall] as OverallStatus;
  }

  /** Exactly the body of `GET /api/health/service/{tag}`, or `undefined` for an unknown tag. */
  service(tag: string): ServiceHealth | undefined {
    const record = this.records.get(tag);
    if (!record?.listed) return undefined;
    const now = this.clock.now();
    return record.health(this.wallOffset.read(), now, this.suppressedBy(record, now));
  }

  /**
   * Pauses the service `tag`: it is not expected to pulse until `until` or `resume(tag)`, sends
   * no alerts, and is left out of `overall_status` and of its uptime. Its status and history go
   * on (a reported error still shows). When the pause ends it gets a fresh interval and grace
   * from that moment. Kept in the store across restarts. Pausing a paused service replaces its
   * reason and `until`. Returns the pause as the service body shows it; `null` while heartbeats
   * are disabled. Throws for an unknown tag or an `until` that is not in the future.
   */
  pause(tag: string, options: PauseOptions = {}): ServicePause | null {
    const read = new OptionReader(`pause(${JSON.stringify(tag)})`);
    const given = read.object('options', options, ['until', 'reason']);
    const reason = given.reason === undefined ? 'paused' : readReason(read, given.reason);
    const untilWall = given.until === undefined ? null : readUntil(read, given.until, this.clock.wallNow());
    if (!this.config.enabled) return null;
    const record = this.listedRecord(tag, 'pause');
    const until = untilWall === null ? Infinity : untilWall - this.wallOffset.read();
    this.pauses.pause(record, until, reason);
    return record.health(this.wallOffset.read(), this.clock.now(), null).paused;
  }

  /**
   * Ends a pause by `pause()` now: the service gets a fresh interval and grace from this moment.
   * Returns whether it was paused; a maintenance window it is in goes on. Throws for an unknown tag.
   */
  resume(tag: string): boolean {
    if (!this.config.enabled) return false;
    return this.pauses.resume(this.listedRecord(tag, 'resume'));
  }

  /** @internal Whether the service `tag` is paused now (by `pause()` or a maintenance window). */
  isPaused(tag: string): boolean {
    return this.records.get(tag)?.pausedAt(this.clock.now()) === true;
  }

  private listedRecord(tag: string, call: string): ServiceRecord {
    const record = this.records.get(tag);
    if (!record?.listed) throw new Error(`${call}(${JSON.stringify(tag)}): no service named ${JSON.stringify(tag)} is monitored.`);
    return record;
  }

  /**
   * The dependency (from `depends_on`, followed through their own) that is degraded or critical
   * at `at`, which holds `record`'s alerts; null if none is.
   */
  private suppressedBy(record: ServiceRecord, at: number): string | null {
    for (const tag of record.dependsOn) {
      const dependency = this.records.get(tag);
      if (!dependency?.listed) continue;
      // A paused dependency holds no one itself (its own alerts are off, so its dependents' must
      // not be), but what it depends on still may.
      if (!dependency.pausedAt(at) && dependency.rankAt(at, dependency.missedAt(at)) >= DEGRADED) return tag;
      // The config refuses cycles, so this ends.
      const deeper = this.suppressedBy(dependency, at);
      if (deeper !== null) return deeper;
    }
    return null;
  }

  /**
   * `status`: called for every status change. `pause`: when a pause begins or ends. `trend`: when
   * a service's `trend.at_risk` turns true or false, within a second of the pulse that turned it
   * (read off the pulse path; the `trend` of `service()` is current at once). `close`: called
   * once when the manager closes. A listener that throws is logged, never rethrown.
   */
  on(event: 'status', listener: StatusListener): this;
  on(event: 'pause', listener: PauseListener): this;
  on(event: 'trend', listener: TrendListener): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'status' | 'pause' | 'trend' | 'close', listener: StatusListener | PauseListener | TrendListener | (() => void)): this {
    const checked = checkEvent(event);
    if (checked === 'status') this.watcher.addListener(listener as StatusListener);
    else if (checked === 'pause') this.pauseListeners.add(listener as PauseListener);
    else if (checked === 'trend') {
      // Disabled, nothing is watched: no timer for nothing.
      if (this.config.enabled) this.trendWatch.add(listener as TrendListener);
    } else this.closeListeners.add(listener as () => void);
    return this;
  }

  /** Removes a listener added with `on`. Removing one that was never added does nothing. */
  off(event: 'status', listener: StatusListener): this;
  off(event: 'pause', listener: PauseListener): this;
  off(event: 'trend', listener: TrendListener): this;
  off(event: 'close', listener: () => void): this;
  off(event: 'status' | 'pause' | 'trend' | 'close', listener: StatusListener | PauseListener | TrendListener | (() => void)): this {
    const checked = checkEvent(event);
    if (checked === 'status') this.watcher.removeListener(listener as StatusListener);
    else if (checked === 'pause') this.pauseListeners.delete(listener as PauseListener);
    else if (checked === 'trend') this.trendWatch.remove(listener as TrendListener);
    else this.closeListeners.delete(listener as () => void);
    return this;
  }

  /**
   * A service's uptime ratios, status changes and offline gaps, or `undefined` for an unknown
   * tag. With `days`, also its daily totals for the last `days` UTC days (at most
   * `retention_days`); with `limit`, only its last `limit` status changes.
   */
  history(tag: string, options: { days?: number; limit?: number } = {}): ServiceHistory | undefined {
    const days = options.days === undefined ? undefined : checkCount('days', options.days, this.config.retention_days, 'retention_days');
    const limit = options.limit === undefined ? undefined : checkCount('limit', options.limit, Number.MAX_SAFE_INTEGER, 'any');
    const record = this.records.get(tag);
    if (!record?.listed) return undefined;
    if (days !== undefined) this.keeper.rollPending(record);
    return historyOf(record, this.clock, this.clock.now(), days, limit);
  }

  /** The history of every service, for export. */
  exportHistory(): ServiceHistory[] {
    const now = this.clock.now();
    const all: ServiceHistory[] = [];
    for (const record of this.listedRecords()) all.push(historyOf(record, this.clock, now));
    return all;
  }

  /** Drops history, daily totals and error details older than `days` from every service, in the store too. Returns how many entries went. */
  cleanupOldData(days: number): number {
    checkDays(days);
    const cutoff = this.clock.now() - days * 86_400_000;
    let dropped = 0;
    for (const record of this.records.values()) dropped += pruneRecord(record, cutoff, cutoff + wallOffset(this.clock));
    this.keeper.pruned(cutoff, null);
    return dropped;
  }

  /** The monitor's own health: how late its timer last fired, and the stalls it noticed. */
  monitorHealth(): MonitorHealth {
    return this.watcher.health();
  }

  /**
   * Stops every heartbeat and the timer, forgets the listeners, and saves the final state to the
   * store before it returns. The promise settles once the store has let go of its files: at
   * once without a store, and with `fileStore()` once a compaction in flight is done. Await it
   * before opening the same directory again in this process. It never rejects; a failure is
   * logged. Safe to call twice: the second call returns the first one's promise.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.trendWatch.close();
    this.watcher.close();
    for (const record of this.records.values()) record.handle?.stop();
    const failed = (error: unknown): void => {
      this.watcher.safely(() => {
        this.logger.error({ err: error }, 'The heartbeat store failed to close');
      });
    };
    try {
      this.closing = this.keeper.close().catch(failed);
    } catch (error) {
      failed(error); // a store that throws at once: the heartbeats are stopped all the same
      this.closing = Promise.resolve();
    }
    for (const listener of this.closeListeners) this.watcher.safely(listener, 'A heartbeat close listener threw');
    this.closeListeners.clear();
    this.pauseListeners.clear();
    return this.closing;
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

  /** @internal Brings every service's daily totals up to its latest pulse, before they are read (the export). */
  rollPending(): void {
    for (const record of this.listedRecords()) this.keeper.rollPending(record);
  }

  /** @internal The status rank of a record at `now`. */
  rankOf(record: ServiceRecord, now: number): StatusRank {
    return record.rankAt(now, record.missedAt(now));
  }

  /**
   * @internal Binds a new heartbeat handle to its record, creating the record if needed, and
   * gives it the port it drives the service through; `undefined` while heartbeats are disabled.
   */
  attach(handle: H, settings: { interval: number; grace: number | null; critical: boolean }): ServicePort | undefined {
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
      if (!existing.configured)
        Object.assign(existing, settingsOf(settings.interval, settings.grace ?? this.config.grace, settings.critical));
      existing.unsaved = true;
      return new ServiceBinding(existing, this, this.clock);
    }
    const configured = this.config.services[tag];
    const effective = configured ?? settings;
    const record = this.newRecord(
      tag,
      false,
      settingsOf(effective.interval, effective.grace ?? this.config.grace, effective.critical),
      this.clock.now(),
    );
    record.handle = handle;
    this.records.set(tag, record);
    return new ServiceBinding(record, this, this.clock);
  }

  /** @internal A heartbeat started: its start is a sign of life, now or at `at` (monotonic ms) when another replica's signal started it. */
  started(record: ServiceRecord, at?: number): void {
    const now = this.clock.now();
    record.active = true;
    this.listedVersion++;
    record.startedAt = at ?? now;
    record.lastSignAt = at ?? now;
    // The time it was stopped or down is no gap between pulses: the next one starts the count.
    record.gaps?.skipGap(at ?? now);
    record.signed = true;
    record.errorLevel = NO_ERROR;
    record.errorsSinceSign = 0;
    record.unsaved = true;
    this.pauses.joined(record);
    if (at === undefined) this.watcher.signed(record);
    else this.watcher.signedEarlier(record);
    this.watcher.evaluate(record, now, { kind: 'recovered', via: 'start' });
    this.keeper.wake();
  }

  /** @internal A job run began: a sign of life (not a pulse), watched by its `max_runtime` if it has one. */
  runBegan(record: ServiceRecord, rid: string | null, at?: number): void {
    const now = this.clock.now();
    record.runs ??= new RunTracker(null, null);
    record.runs.begin(rid, at ?? now);
    this.saveRuns(record, rid);
    // Another replica's start, replayed late, is a sign of life where it happened, never a newer one.
    if (at === undefined) record.lastSignAt = now;
    else if (at > record.lastSignAt) {
      record.lastSignAt = at;
      this.watcher.signedEarlier(record);
    }
    record.signed = true;
    record.unsaved = true;
    this.watcher.evaluate(record, now, { kind: 'recovered', via: 'pulse' });
  }

  /** @internal A job run ended: its duration and exit code are kept; the caller then pulses or reports the failure. */
  runEnded(record: ServiceRecord, rid: string | null, ending: RunEnding, at?: number): void {
    // A plain pulse or error on a service that never ran a job: no run figures, no job series.
    if (record.runs === null && ending.exitCode === null) return;
    const now = at ?? this.clock.now();
    record.runs ??= new RunTracker(null, null);
    // Saved only when a run closed: a remote pulse with no run open writes nothing.
    if (record.runs.end(rid, now, ending).durationMs === null) return;
    this.saveRuns(record, rid);
    // The end of a run is word from the job, failed or not: misses count from here, not from its
    // start. One with no run open is a plain pulse or error report, as /error is. Another
    // replica's end, replayed late, never moves the last sign of life back; the pulse or error
    // that follows puts the service in its place.
    record.lastSignAt = at === undefined ? now : Math.max(record.lastSignAt, at);
    record.signed = true;
  }

  /** Saves the open runs signalled from outside, when `rid` is one of theirs: they go on while this process restarts. */
  private saveRuns(record: ServiceRecord, rid: string | null): void {
    if (rid !== null && rid.startsWith(IN_PROCESS)) return;
    const saved = record.runs?.savedOpen(this.wallOffset.read()) ?? null;
    if (saved !== null || this.keeper.notesOf(RUN_NOTES).has(record.tag)) this.keeper.note(RUN_NOTES, record.tag, saved);
  }

  /** Opens again the runs the store kept, for the services there are; the others' are dropped. */
  private restoreRuns(): void {
    const offset = this.wallOffset.read();
    for (const [tag, saved] of this.keeper.notesOf(RUN_NOTES)) {
      const record = this.records.get(tag);
      if (!record) {
        this.keeper.note(RUN_NOTES, tag, null);
        continue;
      }
      record.runs ??= new RunTracker(null, null);
      record.runs.restoreOpen(saved, offset);
    }
  }

  /**
   * @internal A saved service that a remote call created is taken up again after a restart:
   * watched from its saved last heartbeat, not restarted (nothing here runs it).
   */
  resumed(record: ServiceRecord): void {
    record.active = true;
    this.listedVersion++;
    this.pauses.joined(record);
    this.watcher.watch(record);
    this.keeper.wake();
  }

  /** @internal A heartbeat stopped. A configured service stays watched: it is expected to run. */
  stopped(record: ServiceRecord): void {
    record.active = false;
    this.listedVersion++;
    if (record.configured && !this.closed) return;
    this.watcher.unwatch(record);
    if (this.closed) return;
    this.records.delete(record.tag);
    this.keeper.forget(record);
    // A service that left takes its pause and its runs with it: a new one under the tag starts afresh.
    this.pauses.forget(record.tag);
    if (this.keeper.notesOf(RUN_NOTES).has(record.tag)) this.keeper.note(RUN_NOTES, record.tag, null);
    this.keeper.sleep();
  }

  /** @internal An error was reported; it is logged and announced at once. */
  reportError(record: ServiceRecord, message: string, critical: boolean, at?: number): void {
    const now = this.clock.now();
    record.errorCount++;
    record.errorsSinceSign++;
    if (critical) record.errorLevel = CRITICAL_ERROR;
    else if (record.errorLevel === NO_ERROR) record.errorLevel = ERROR_REPORTED;
    record.lastErrorMessage = storedText(message, MAX_ERROR_LENGTH);
    record.lastErrorAt = at ?? now;
    record.lastErrorCritical = critical;
    this.keeper.errorReported(record);
    this.watcher.evaluate(record, now, { kind: 'error', message: record.lastErrorMessage, critical });
  }

  /**
   * @internal A pulse another replica took in at `at` (monotonic ms, not after now). One older
   * than this service's last sign of life (a run's end at the same instant is not newer), or
   * than an error reported since, happened before what is known: it is counted, and changes
   * nothing else.
   */
  pulsedAt(record: ServiceRecord, at: number): void {
    record.totalPulses++;
    if (at < record.lastSignAt || (record.errorLevel !== NO_ERROR && at < record.lastErrorAt)) return;
    record.lastSignAt = at;
    record.learnGap(at);
    record.signed = true;
    record.errorLevel = NO_ERROR;
    record.errorsSinceSign = 0;
    this.watcher.signedEarlier(record);
    if (record.reportedRank !== HEALTHY) this.watcher.soon(record);
  }

  /**
   * @internal An error another replica took in at `at` (monotonic ms, not after now). One from
   * before the last sign of life was cleared by it already: it is counted, and changes nothing else.
   */
  erredAt(record: ServiceRecord, at: number, message: string, critical: boolean): void {
    if (at >= record.lastSignAt) {
      this.reportError(record, message, critical, at);
      return;
    }
    record.errorCount++;
    this.keeper.errorReported(record);
  }

  /** @internal Custom metrics came with a pulse. */
  recordMetrics(record: ServiceRecord, values: unknown): void {
    const ignored =
      typeof values === 'object' && values !== null && !Array.isArray(values)
        ? record.recordMetrics(values as Record<string, unknown>)
        : ['(not an object)'];
    if (ignored.length === 0 || record.customMetricsWarned) return;
    record.customMetricsWarned = true;
    this.watcher.safely(() => {
      this.logger.warn(
        { service: record.tag, ignored: ignored.slice(0, 5) },
        `Service ${record.tag} sent custom metrics that were ignored: values must be finite numbers, names like queue_depth, at most ${MAX_CUSTOM_METRICS} per service (warned once)`,
      );
    });
  }

  /**
   * @internal A pulse arrived for a service outside its lane or last reported unhealthy: put it
   * back in its lane, and report the recovery soon, off the hot path.
   */
  wake(record: ServiceRecord): void {
    this.watcher.signed(record);
    if (record.reportedRank !== HEALTHY) this.watcher.soon(record);
  }

  /** @internal Drops one service's history, daily totals and error details older than `days`, in the store too. */
  cleanupRecord(record: ServiceRecord, days: number): number {
    checkDays(days);
    const cutoff = this.clock.now() - days * 86_400_000;
    const dropped = pruneRecord(record, cutoff, cutoff + wallOffset(this.clock));
    this.keeper.pruned(cutoff, record.tag);
    return dropped;
  }
}

function settingsOf(interval: number, grace: number | null, critical: boolean) {
  return { intervalMs: interval * 1000, graceMs: graceMs(grace, interval), critical };
}

function checkEvent(event: unknown): 'status' | 'pause' | 'trend' | 'close' {
  if (event === 'status' || event === 'pause' || event === 'trend' || event === 'close') return event;
  throw new TypeError(`HeartbeatManager emits "status", "pause", "trend" and "close" events, not ${JSON.stringify(event)}.`);
}

function readReason(read: OptionReader, value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > MAX_PAUSE_REASON) {
    read.fail('reason', value, `a non-empty string of at most ${MAX_PAUSE_REASON} characters, e.g. "database migration"`);
  }
  return value;
}

/** Reads `until` as wall ms: a Date, an ISO 8601 string with a zone, or epoch ms, after `wallNow`. */
function readUntil(read: OptionReader, value: unknown, wallNow: number): number {
  const at =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'number'
        ? value
        : typeof value === 'string' && /(Z|[+-]\d{2}:\d{2})$/.test(value)
          ? Date.parse(value)
          : Number.NaN;
  if (!Number.isFinite(at))
    read.fail('until', value, 'a Date, an ISO 8601 time with a zone (e.g. "2026-12-01T14:00:00Z") or epoch milliseconds');
  if (at <= wallNow) read.fail('until', value, `a time in the future (now is ${new Date(wallNow).toISOString()})`);
  return at;
}

function checkCount(name: 'days' | 'limit', value: unknown, maximum: number, bound: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > maximum) {
    const range = bound === 'any' ? 'a whole number of at least 1, e.g. 10' : `a whole number from 1 to ${bound} (${maximum}), e.g. 30`;
    throw new RangeError(`history(tag, { ${name} }): ${name} is ${String(value)}; expected ${range}.`);
  }
  return value;
}

function checkDays(days: number): void {
  if (typeof days !== 'number' || !Number.isFinite(days) || days < 0) {
    throw new RangeError(`cleanupOldData(days): days is ${String(days)}; expected a finite number of at least 0, e.g. 7.`);
  }
}

function checkStore(read: OptionReader, store: unknown): HeartbeatStore {
  const candidate = store as Partial<HeartbeatStore> | null;
  const methods = ['load', 'append', 'health', 'close'] as const;
  if (typeof candidate !== 'object' || candidate === null || methods.some((name) => typeof candidate[name] !== 'function')) {
    read.fail('store', store, 'a store such as fileStore({ dir }) or memoryStore(): an object with load, append, health and close methods');
  }
  return candidate as HeartbeatStore;
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

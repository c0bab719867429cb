import type { Logger } from 'pino';
import type { Clock } from '../util/clock';
import type { ResolvedHeartbeatConfig } from './config';
import { applyCounters, captureCounters, captureService, readServiceState, restoreService } from './persisted-state';
import {
  SNAPSHOT_VERSION,
  entryTime,
  readEntry,
  readSnapshotBody,
  type CountersEntry,
  type PulsesEntry,
  type SavedEntry,
  type SnapshotBody,
} from './saved-entries';
import type { ServiceRecord } from './service-record';
import { NewerStateError } from './state-check';
import { NO_ERROR, STATUS_WORDS, type StatusRank } from './status';
import type { HeartbeatStore, SavedState, StoreHealth } from './store';
import { DAY } from './uptime';
import type { FoundChange, TimedTask } from './watcher';

/** What the keeper needs of the monitor: its records, and a way to make one for a saved service. */
export interface KeeperHost {
  readonly config: ResolvedHeartbeatConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Every record, shown or not. */
  allRecords(): Iterable<ServiceRecord>;
  recordOf(tag: string): ServiceRecord | undefined;
  /** A record for a saved service that nothing runs yet: not shown until a heartbeat takes it. */
  adopt(tag: string, settings: { intervalMs: number; graceMs: number; critical: boolean }): ServiceRecord;
  /** Drops a record that is not shown (a saved service past the bounds, or one a saved entry removed). */
  drop(record: ServiceRecord): void;
  /** Runs `task` at `at` on the monitor's one timer. */
  runAt(task: TimedTask, at: number): void;
  cancel(task: TimedTask): void;
  /** Whether any service is shown: the flush runs only while one is. */
  readonly watching: boolean;
  /** Wall ms minus monotonic ms, as every view of the manager converts times: one stable offset. */
  wallOffset(): number;
}

/** How often pulses are rolled into the daily totals without a store. */
export const MEMORY_ROLL_MS = 60_000;

/** How long nothing may be saved before a running monitor says so: bounds the offline time found at a restart. */
export const ALIVE_MARK_MS = 10_000;

/** A shared snapshot younger than this at a start was saved by a replica still running: nothing was offline. */
export const REPLICAS_WATCHING_MS = 3 * ALIVE_MARK_MS;

/** What a restart found, for the log and the tests. */
export interface RestoreSummary {
  readonly services: number;
  readonly entries: number;
  /** Saved values that could not be read and were skipped. */
  readonly skipped: number;
  /** Wall ms of the latest save, or null if nothing was saved. */
  readonly savedAt: number | null;
  /** Milliseconds the monitor was offline, from the latest save to this start. */
  readonly offlineMs: number;
}

const MEMORY: StoreHealth = Object.freeze({ state: 'memory', lastError: null, errors: 0, lastWriteAt: null });

/**
 * Keeps the manager's state in its store: loads and replays it at the start, appends each
 * status change before it is announced (write-ahead), the changed counters every
 * `flush_interval`, and the whole state at `close()`. Without a store it still rolls the
 * pulses into the daily totals. Never on the pulse path: pulses are found by comparing
 * counters when the flush timer fires.
 */
export class StateKeeper {
  private readonly notes = new Map<string, Map<string, unknown>>();
  /** The flush, on the monitor's timer: queued while any service is shown. */
  private readonly flushTask: TimedTask = {
    deadline: 0,
    heapIndex: -1,
    run: () => {
      this.flush();
      this.wake();
    },
  };
  private lastAppendAt = 0;
  private closed = false;
  /** What the start found; null without a store. */
  restored: RestoreSummary | null = null;
  /** Notes waiting for this turn's batch (see {@link note}). */
  private readonly pendingNotes: SavedEntry[] = [];
  /** Why nothing is saved: the store holds state a newer version wrote, which saving would overwrite. */
  private refused: string | null = null;

  constructor(
    private readonly host: KeeperHost,
    private readonly store: HeartbeatStore | null,
  ) {}

  /** Loads and restores what the store kept. Throws what the store's `load()` throws. */
  open(): void {
    if (!this.store) return;
    const saved = this.store.load({ logger: this.host.logger, clock: this.host.clock });
    this.restored = this.restore(saved);
  }

  /** Queues the next flush, if none is queued and a service is shown; called as services start. */
  wake(): void {
    if (this.closed || this.flushTask.heapIndex !== -1 || !this.host.watching) return;
    this.host.runAt(this.flushTask, this.host.clock.now() + this.flushEveryMs());
  }

  /**
   * Without a store, the flush only rolls pulses into the daily totals: once a minute is enough
   * (a pulse near midnight may count for the next day), and a timer every second for nothing
   * would cost an idle process its sleep.
   */
  private flushEveryMs(): number {
    const ms = this.host.config.flush_interval * 1000;
    return this.store ? ms : Math.max(ms, MEMORY_ROLL_MS);
  }

  /** No service is shown any more: saves what changed, and leaves the timer alone until one is. */
  sleep(): void {
    if (this.flushTask.heapIndex === -1 || this.host.watching) return;
    this.host.cancel(this.flushTask);
    this.flush();
  }

  health(): StoreHealth {
    if (!this.store) return MEMORY;
    const health = this.store.health();
    return this.refused === null ? health : { ...health, state: 'degraded', lastError: this.refused };
  }

  /** Whether entries go to the store: there is one, it is open, and it holds nothing this version must not overwrite. */
  private get saving(): boolean {
    return this.store !== null && !this.closed && this.refused === null;
  }

  /** The kind of store (`memory` without one). */
  get kind(): string {
    return this.store?.kind ?? 'memory';
  }

  /** Saves status changes, each with its service's counters, in one append, before they are announced. */
  transitions(changes: readonly FoundChange[]): void {
    if (!this.saving) return;
    const offset = this.host.wallOffset();
    const entries: SavedEntry[] = [];
    for (const { record, at, from, to, reason } of changes) {
      entries.push(this.countersEntry(record, offset), ['t', record.tag, Math.round(at + offset), from, to, reason]);
    }
    this.append(entries);
  }

  /** Saves `record`'s counters at once, for a change that must not wait for the flush (a remote registration). */
  saveNow(record: ServiceRecord): void {
    if (this.saving) this.append([this.countersEntry(record, this.host.wallOffset())]);
    else record.unsaved = true;
  }

  /** An error was reported: counted in today's totals, saved at the next flush. */
  errorReported(record: ServiceRecord): void {
    record.rollups?.addErrors(this.host.clock.wallNow(), 1);
    record.unsaved = true;
  }

  /** A service left for good: its saved state goes. */
  forget(record: ServiceRecord): void {
    if (this.saving) this.append([['x', record.tag, this.host.clock.wallNow()]]);
  }

  /** `cleanupOldData()` ran with this cutoff (monotonic ms), for one service or all (null): the saved state drops the same. */
  pruned(cutoff: number, tag: string | null): void {
    if (!this.saving) return;
    this.append([['p', Math.round(cutoff + this.host.wallOffset()), this.host.clock.wallNow(), tag]]);
  }

  /** The notes kept in `space` (e.g. the alert incidents), by key. */
  notesOf(space: string): ReadonlyMap<string, unknown> {
    return this.notes.get(space) ?? new Map();
  }

  /**
   * Keeps `value` under `space` and `key` (removes it for null). Saved in one batch with the
   * other notes of this turn of the event loop, in a microtask: before any I/O the caller starts
   * (an alert's request) can reach the wire, and with one sync for a whole outage's notes.
   */
  note(space: string, key: string, value: unknown): void {
    this.keepNote(space, key, value);
    if (!this.saving) return;
    this.pendingNotes.push(['n', space, key, value, this.host.clock.wallNow()]);
    if (this.pendingNotes.length === 1) {
      queueMicrotask(() => {
        this.saveNotes();
      });
    }
  }

  private saveNotes(): void {
    if (this.pendingNotes.length === 0 || !this.saving) return;
    this.append(this.pendingNotes.splice(0));
  }

  /** Rolls pulses into the daily totals, and saves the counters of every service that changed. */
  flush(): void {
    if (this.closed) return;
    const offset = this.host.wallOffset();
    const entries: SavedEntry[] = [];
    for (const record of this.host.allRecords()) {
      if (!record.unsaved && record.rolledPulses === record.totalPulses) continue;
      if (!this.saving) this.roll(record, offset);
      else if (record.unsaved) entries.push(this.countersEntry(record, offset));
      else entries.push(this.pulsesEntry(record, offset));
    }
    if (!this.saving) return;
    const now = this.host.clock.wallNow();
    if (entries.length === 0 && now - this.lastAppendAt >= ALIVE_MARK_MS) entries.push(['a', now]);
    if (entries.length > 0) this.append(entries);
  }

  /**
   * The whole state, as a store keeps it instead of the entries before it. A store shared by
   * replicas gets the shared (remote) services only, with the notes kept under their tags (runs,
   * pauses): the in-process ones are each replica's own, and the alert incidents of shared
   * services are shared by the alerting replica itself.
   */
  snapshot(): SnapshotBody {
    const offset = this.host.wallOffset();
    const sharedOnly = this.store?.replicas !== undefined;
    const services = [];
    for (const record of this.host.allRecords()) {
      if (sharedOnly && !record.remote) continue;
      // The snapshot may never land (a crash, a full disk): what it rolls is still saved by the next flush.
      this.rollPending(record, offset);
      services.push(captureService(record, offset, { remote: record.remote, ...(record.rollups ? { rollups: record.rollups } : {}) }));
    }
    const notes: Record<string, Record<string, unknown>> = {};
    for (const [space, kept] of this.notes) {
      notes[space] = sharedOnly
        ? Object.fromEntries([...kept].filter(([key]) => this.host.recordOf(key)?.remote === true))
        : Object.fromEntries(kept);
    }
    return { v: SNAPSHOT_VERSION, saved_at: this.host.clock.wallNow(), services, notes };
  }

  /** Saves the final state and releases the store; stops the timer. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.host.cancel(this.flushTask);
    if (!this.store) {
      this.closed = true;
      return Promise.resolve();
    }
    this.saveNotes();
    // With state a newer version wrote, the store is released without a word saved.
    const snapshot = this.refused === null ? this.snapshot() : undefined;
    this.closed = true;
    return this.store.close(snapshot);
  }

  private append(entries: readonly SavedEntry[]): void {
    this.lastAppendAt = this.host.clock.wallNow();
    try {
      (this.store as HeartbeatStore).append(entries, () => this.snapshot());
    } catch (error) {
      // The contract says a store reports failures through health(), never by throwing; one
      // that throws anyway must not stop the change from being recorded and announced.
      this.host.logger.error(
        { err: error, store: this.kind },
        `The ${this.kind} store threw from append(); what it was given is kept in memory only`,
      );
    }
  }

  /** Adds the pulses since the last roll to today's totals. */
  /**
   * Adds the pulses not yet rolled into `record`'s daily totals, for a read of them (or a
   * snapshot, which may never land): the counters stay unsaved, for the next flush to save.
   */
  rollPending(record: ServiceRecord, offset = this.host.wallOffset()): void {
    if (record.totalPulses === record.rolledPulses) return;
    const unsaved = record.unsaved;
    this.roll(record, offset);
    record.unsaved = unsaved || this.store !== null;
  }

  private roll(record: ServiceRecord, offset: number): void {
    if (record.totalPulses > record.rolledPulses) {
      record.rollups?.addPulses(Math.round(record.lastSignAt + offset), record.totalPulses - record.rolledPulses);
    }
    record.rolledPulses = record.totalPulses;
    record.unsaved = false;
  }

  /** Only what pulses change, for a service whose other counters were saved since. */
  private pulsesEntry(record: ServiceRecord, offset: number): PulsesEntry {
    this.roll(record, offset);
    const now = this.host.clock.wallNow();
    const today = record.rollups?.dayOf(now) ?? null;
    return ['u', now, record.tag, record.totalPulses, Math.round(record.lastSignAt + offset), today === null ? null : [...today]];
  }

  private countersEntry(record: ServiceRecord, offset: number): CountersEntry {
    this.roll(record, offset);
    const now = this.host.clock.wallNow();
    const today = record.rollups?.dayOf(now) ?? null;
    return [
      'c',
      now,
      captureCounters(record, offset, record.remote),
      record.rollups?.watchedSince ?? now,
      today === null ? null : [...today],
    ];
  }

  /**
   * Puts back what was saved: the snapshot's services, then every entry after it, in order;
   * then leaves the time the monitor was offline out of every service's uptime, and gives each
   * one an interval and its grace from now before misses count (it may have pulsed into a
   * refused connection). A value that cannot be read is logged and skipped, never fatal.
   */
  private restore(saved: SavedState): RestoreSummary {
    const clock = this.host.clock;
    const offset = this.host.wallOffset();
    const now = clock.now();
    const monotonic = (wall: number): number => Math.min(wall - offset, now);
    let savedAt: number | null = null;
    let skipped = 0;
    const skip = (what: string, error: unknown): void => {
      skipped++;
      if (error instanceof NewerStateError) {
        if (this.refused !== null) return;
        this.refused = `${error.message} Nothing is saved meanwhile, so that it is not overwritten`;
        this.host.logger.error({ store: this.kind }, `${this.refused}: monitoring runs in memory`);
        return;
      }
      if (skipped <= 5)
        this.host.logger.warn({ err: (error as Error).message }, `Skipped ${what} that could not be read: ${(error as Error).message}`);
    };

    if (saved.snapshot !== null && saved.snapshot !== undefined) {
      try {
        const body = readSnapshotBody(saved.snapshot);
        savedAt = body.savedAt;
        for (const [space, kept] of body.notes) this.notes.set(space, kept);
        body.services.forEach((value, index) => {
          try {
            const state = readServiceState(value);
            const record = this.recordFor(state.tag, state.settings);
            if (record.history.size > 0 || record.totalPulses > 0) return; // a tag twice: the first wins
            restoreService(record, state, clock, record.rollups ?? undefined);
            record.remote = state.remote;
            record.rolledPulses = record.totalPulses;
          } catch (error) {
            skip(`saved service ${index}`, error);
          }
        });
      } catch (error) {
        skip('the saved snapshot', error);
      }
    }

    for (const value of saved.entries) {
      let entry: SavedEntry;
      try {
        entry = readEntry(value);
      } catch (error) {
        skip('a saved entry', error);
        continue;
      }
      savedAt = Math.max(savedAt ?? 0, entryTime(entry));
      this.replay(entry, offset, monotonic);
    }

    const wallNow = clock.wallNow();
    // Replicas save the shared snapshot every few seconds while one of them runs: one that young
    // says the others went on watching while this process was away, so nothing was offline.
    const othersWatching = savedAt !== null && this.store?.replicas !== undefined && wallNow - savedAt <= REPLICAS_WATCHING_MS;
    const offlineMs = savedAt === null || othersWatching ? 0 : Math.max(0, wallNow - savedAt);
    this.dropStale(wallNow);
    // Saved before it is applied, as a transition is: a snapshot taken at this append must not hold it already.
    if (savedAt !== null && offlineMs > 0 && this.saving) this.append([['o', savedAt, wallNow]]);
    let services = 0;
    for (const record of this.host.allRecords()) {
      services++;
      record.unsaved = false;
      if (savedAt === null) continue;
      if (!othersWatching) this.leaveOut(record, savedAt, wallNow, offset);
      // Misses count as they stood at the crash until an interval and its grace from now.
      // Just past the save's millisecond: a pulse in that very millisecond (its time rounded to it) came before it.
      record.frozenAt = monotonic(savedAt) + 1;
      record.amnestyUntil = record.amnestyEndAfter(now);
      record.reportedMissed = record.missedAt(now);
    }
    const summary = { services, entries: saved.entries.length, skipped, savedAt, offlineMs };
    if (savedAt !== null) {
      this.host.logger.info(
        { store: this.kind, services, skipped, offline_seconds: Math.round(offlineMs / 1000) },
        `Restored ${services} service${services === 1 ? '' : 's'} from the ${this.kind} store; the monitor was offline for ${Math.round(offlineMs / 1000)} s`,
      );
    }
    return summary;
  }

  private replay(entry: SavedEntry, offset: number, monotonic: (wall: number) => number): void {
    switch (entry[0]) {
      case 'c': {
        const [, , counters, watchedSince, today] = entry;
        const record = this.recordFor(counters.tag, counters.settings);
        applyCounters(record, counters, monotonic);
        // Never pulsed: misses count from when watching began, as they did before the restart.
        if (!record.signed) record.lastSignAt = monotonic(watchedSince);
        record.remote = counters.remote;
        record.rolledPulses = record.totalPulses;
        record.uptime.watchedSince(monotonic(watchedSince));
        if (record.rollups) record.rollups.watchedSince = watchedSince;
        if (today) record.rollups?.putDay(today);
        return;
      }
      case 'u': {
        const [, , tag, totalPulses, lastHeartbeat, today] = entry;
        const record = this.host.recordOf(tag);
        if (!record) return; // its counters always come first; without them the service was forgotten
        record.totalPulses = record.rolledPulses = totalPulses;
        record.signed = true;
        record.lastSignAt = monotonic(lastHeartbeat);
        // A pulse clears the errors reported before it.
        record.errorLevel = NO_ERROR;
        record.errorsSinceSign = 0;
        if (today) record.rollups?.putDay(today);
        return;
      }
      case 't': {
        const [, tag, at, from, to, reason] = entry;
        const record = this.host.recordOf(tag);
        if (!record) return; // its counters always come first; without them the service was forgotten
        record.recordTransition(monotonic(at), offset, from, to, reason);
        record.reportedRank = STATUS_WORDS.indexOf(to) as StatusRank;
        return;
      }
      case 'x': {
        const record = this.host.recordOf(entry[1]);
        if (record && !record.configured) this.host.drop(record);
        return;
      }
      case 'n': {
        this.keepNote(entry[1], entry[2], entry[3]);
        return;
      }
      case 'p': {
        const [, cutoff, , tag] = entry;
        const one = tag === null ? undefined : this.host.recordOf(tag);
        for (const record of tag === null ? this.host.allRecords() : one ? [one] : []) pruneRecord(record, monotonic(cutoff), cutoff);
        return;
      }
      case 'o':
        for (const record of this.host.allRecords()) this.leaveOut(record, entry[1], entry[2], offset);
        return;
      case 'a':
        return;
    }
  }

  private keepNote(space: string, key: string, value: unknown): void {
    const kept = this.notes.get(space);
    if (value === null) kept?.delete(key);
    else if (kept) kept.set(key, value);
    else this.notes.set(space, new Map([[key, value]]));
  }

  /** Leaves [start, end) (wall ms), a time the monitor was offline, out of `record`'s uptime and rollups. */
  private leaveOut(record: ServiceRecord, start: number, end: number, offset: number): void {
    const now = this.host.clock.now();
    record.uptime.excludeSpan(Math.min(start - offset, now), Math.min(end - offset, now));
    record.rollups?.addOffline(start, end);
  }

  /** The record of a saved service: the configured one, or a new one not shown until a heartbeat takes it. */
  private recordFor(tag: string, settings: { interval_ms: number; grace_ms: number; critical: boolean }): ServiceRecord {
    return (
      this.host.recordOf(tag) ??
      this.host.adopt(tag, { intervalMs: settings.interval_ms, graceMs: settings.grace_ms, critical: settings.critical })
    );
  }

  /**
   * Bounds what a restart brings back: a saved service that was not seen for `retention_days`
   * goes, and of those remote calls registered, at most `max_services` (the newest kept), as
   * while running. The rest is bounded by what ran: a service that stops is forgotten.
   */
  private dropStale(wallNow: number): void {
    const offset = this.host.wallOffset();
    const cutoff = wallNow - this.host.config.retention_days * DAY;
    const remote: ServiceRecord[] = [];
    for (const record of this.host.allRecords()) {
      if (record.configured) continue;
      if (record.lastSignAt + offset < cutoff) this.dropSaved(record);
      else if (record.remote) remote.push(record);
    }
    const limit = this.host.config.max_services;
    if (remote.length <= limit) return;
    remote.sort((a, b) => b.lastSignAt - a.lastSignAt);
    for (const record of remote.slice(limit)) this.dropSaved(record);
  }

  /** Drops a restored service for good: saved as removed, so a crash before the next snapshot does not bring it back. */
  private dropSaved(record: ServiceRecord): void {
    this.host.drop(record);
    if (this.saving) this.append([['x', record.tag, this.host.clock.wallNow()]]);
  }
}

/** Drops `record`'s history, downtime, daily totals and error details from before `cutoff` (monotonic ms; `wallCutoff` the same in wall ms). Returns how many history entries and error details went. */
export function pruneRecord(record: ServiceRecord, cutoff: number, wallCutoff: number): number {
  let dropped = record.history.dropBefore(cutoff);
  record.uptime.dropBefore(cutoff);
  record.rollups?.dropBefore(wallCutoff);
  if (record.lastErrorMessage !== null && record.lastErrorAt < cutoff) {
    record.lastErrorMessage = null;
    dropped++;
  }
  return dropped;
}

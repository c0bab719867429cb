import { isoAt, type Clock } from '../util/clock';
import type { TransitionCause } from './health-log';
import { MaintenanceCalendar, covers, type OpenWindow, type ResolvedMaintenanceWindow } from './maintenance';
import { SCHEDULE_RECHECK_MS, type ServiceRecord } from './service-record';
import { DEGRADED } from './status';
import type { TimedTask } from './watcher';

/** A service paused or resumed, as given to `pause` listeners. */
export interface PauseChange {
  /** The service's tag. */
  service: string;
  /** `true` when the pause began, `false` when it ended (by `resume()`, its `until`, or the end of a maintenance window). */
  paused: boolean;
  /** Why it was paused: the reason given to `pause()`, or `maintenance`. */
  reason: string;
  /** ISO 8601 UTC time the pause ends by itself, or `null` (until `resume()`, or when it ended). */
  until: string | null;
  /** ISO 8601 UTC time of the change. */
  time: string;
}

/** A `pause` listener: called when a service's pause begins and when it ends. A throw is logged, never rethrown. */
export type PauseListener = (change: PauseChange) => void;

/** What `manager.pause()` takes. */
export interface PauseOptions {
  /** When the pause ends by itself: a `Date`, an ISO 8601 string or epoch milliseconds, in the future. Defaults to none: until `resume()`. */
  readonly until?: Date | string | number;
  /** Why, shown in the service body, on the page and in the log. Defaults to `paused`. */
  readonly reason?: string;
}

/** The reason a maintenance window gives. */
export const MAINTENANCE = 'maintenance';
/** Longest pause reason kept: it is shown in JSON and on the page. */
export const MAX_PAUSE_REASON = 200;
/** The space of the manager's store that keeps pauses by `pause()`, by tag, across restarts. */
const PAUSE_NOTES = 'pause';
/**
 * The space that keeps when each service's last pause ended (wall ms), until a restart finds a
 * sign of life since: a restart just after a pause must still give the fresh interval.
 */
const PAUSE_END_NOTES = 'pause-end';

/** What the pauses ask of the monitor. */
export interface PauseHost {
  readonly clock: Clock;
  wallOffset(): number;
  /** Every record the monitor holds. */
  records(): Iterable<ServiceRecord>;
  /** Rates `record` at `now` and announces a change, as a timer firing would. */
  evaluate(record: ServiceRecord, now: number, hint?: TransitionCause): void;
  notesOf(space: string): ReadonlyMap<string, unknown>;
  note(space: string, key: string, value: unknown): void;
  runAt(task: TimedTask, at: number): void;
  cancel(task: TimedTask): void;
  emit(change: PauseChange): void;
}

/**
 * Pauses: by `pause()` (kept in the store across restarts) and by the config's maintenance
 * windows. A paused service is not expected to pulse: its misses are not counted, so it
 * alerts on nothing, and the pause's time is left out of its uptime. When the pause ends it
 * gets a fresh interval and grace from that moment, so its end raises no false alarm.
 */
export class Pauses implements TimedTask {
  deadline = 0;
  heapIndex = -1;
  private readonly calendar: MaintenanceCalendar;

  constructor(
    private readonly host: PauseHost,
    windows: readonly ResolvedMaintenanceWindow[],
    /** How long a saved pause without an end waits for its service to come back: `retention_days`. */
    private readonly keepMs: number,
  ) {
    this.calendar = new MaintenanceCalendar(windows);
  }

  /** Pauses `record` until `until` (monotonic ms; Infinity until `resume()`). */
  pause(record: ServiceRecord, until: number, reason: string): void {
    const now = this.host.clock.now();
    const offset = this.host.wallOffset();
    record.manualPause = { reason, until };
    record.pauseReason = reason;
    this.begin(record, now);
    this.host.note(PAUSE_NOTES, record.tag, {
      reason,
      until: until === Infinity ? null : until + offset,
      since: (record.pausedSince ?? now) + offset,
    });
    this.announce(record, true, now);
    this.host.evaluate(record, now, { kind: 'recovered', via: 'pause', reason });
  }

  /** Ends `record`'s pause by `pause()`; returns whether there was one. A maintenance window it is in goes on. */
  resume(record: ServiceRecord): boolean {
    const now = this.host.clock.now();
    if (record.manualPause === null || now >= record.manualPause.until) return false;
    record.manualPause = null;
    this.host.note(PAUSE_NOTES, record.tag, null);
    // From now, or from the end of the window it is still in.
    const inWindow = record.pausedAt(now);
    record.expectFrom = inWindow ? record.pauseEnd : now;
    if (inWindow) record.pauseReason = MAINTENANCE;
    this.host.evaluate(record, now);
    return true;
  }

  /** Forgets the saved pause of `tag`, a service that left: a new one under the tag starts unpaused. */
  forget(tag: string): void {
    if (this.host.notesOf(PAUSE_NOTES).has(tag)) this.host.note(PAUSE_NOTES, tag, null);
    if (this.host.notesOf(PAUSE_END_NOTES).has(tag)) this.host.note(PAUSE_END_NOTES, tag, null);
  }

  /** Takes up the pauses the store kept for records that exist now, and the maintenance windows open now. */
  open(): void {
    const now = this.host.clock.now();
    const offset = this.host.wallOffset();
    const byTag = new Map<string, ServiceRecord>();
    for (const record of this.host.records()) byTag.set(record.tag, record);
    for (const [tag, value] of this.host.notesOf(PAUSE_NOTES)) {
      const saved = this.current(value, now, offset);
      if (saved === null) {
        this.host.note(PAUSE_NOTES, tag, null);
        continue;
      }
      // One not found yet is kept for its service's return: an in-process heartbeat its app starts later.
      const record = byTag.get(tag);
      if (record) takeUp(record, saved, now, offset);
    }
    for (const [tag, value] of this.host.notesOf(PAUSE_END_NOTES)) {
      const record = byTag.get(tag);
      const endedAt = typeof value === 'number' && Number.isFinite(value) ? value - offset : -Infinity;
      // Pulsed since (the fresh interval is behind it), or kept too long for a service that never came back.
      if (endedAt < now - this.keepMs || (record && record.lastSignAt >= endedAt)) this.host.note(PAUSE_END_NOTES, tag, null);
      else if (record) record.expectFrom = Math.max(record.expectFrom, endedAt);
    }
    if (!this.calendar.isEmpty) this.run(now);
  }

  /** A saved pause still to take up at `now`, or null if it is over, unreadable, or waited too long for its service. */
  private current(value: unknown, now: number, offset: number): SavedPause | null {
    const saved = savedPause(value);
    if (saved === null) return null;
    if (saved.until !== null ? saved.until - offset <= now : saved.since - offset < now - this.keepMs) return null;
    return saved;
  }

  /** A record joined the status (started, or resumed after a restart): it enters a maintenance window open now. */
  joined(record: ServiceRecord): void {
    const now = this.host.clock.now();
    const offset = this.host.wallOffset();
    if (record.manualPause === null) {
      const saved = this.current(this.host.notesOf(PAUSE_NOTES).get(record.tag), now, offset);
      if (saved !== null) takeUp(record, saved, now, offset);
    }
    const ended = this.host.notesOf(PAUSE_END_NOTES).get(record.tag);
    if (typeof ended === 'number' && ended - offset > record.lastSignAt) record.expectFrom = Math.max(record.expectFrom, ended - offset);
    if (this.calendar.isEmpty) return;
    const span = windowSpan(this.calendar.openAt(now + offset), record.tag);
    if (span !== null) this.enterMaintenance(record, now, span.start - offset, span.end - offset);
  }

  /** Runs at each opening and closing of a maintenance window, on the monitor's one timer. */
  run(now: number): void {
    const offset = this.host.wallOffset();
    const wall = now + offset;
    const open = this.calendar.openAt(wall);
    for (const record of this.host.records()) {
      if (!record.listed) continue;
      const span = windowSpan(open, record.tag);
      const end = span === null ? now : span.end - offset;
      // Closings need no work here: each record is woken at its own window's end (see nextChangeAt).
      if (span !== null && end > record.maintenanceUntil) this.enterMaintenance(record, now, span.start - offset, end);
      else if (record.maintenanceUntil > end) {
        // Read again on a wall clock set forward since: its window ends sooner, or is over.
        record.maintenanceUntil = end;
        record.expectFrom = record.pauseEnd;
        this.host.evaluate(record, now);
      }
    }
    // Looked at again every SCHEDULE_RECHECK_MS at least: the boundaries are wall times, which a clock correction moves.
    const next = this.calendar.nextBoundary(wall);
    if (next < Infinity) this.host.runAt(this, Math.min(next - offset, now + SCHEDULE_RECHECK_MS));
    else this.host.cancel(this);
  }

  /**
   * `record`'s pause ran out by `now` (its `until`, its window's end, or `resume()`): leaves the
   * paused time out of its uptime, and says so. Called by the watcher before it rates the record.
   */
  ended(record: ServiceRecord, now: number): void {
    const since = record.pausedSince;
    if (since === null) return;
    // expectFrom holds the moment the pause ended (set when that moment became known).
    const endedAt = Math.min(now, Math.max(since, record.expectFrom));
    record.pausedSince = null;
    // The gap from the last pulse (inside the pause or before it) to the next spans the pause: not the service's rhythm.
    record.gaps?.skipGap(endedAt);
    // The daily rollups as the ratios: an outage open when the pause began counts up to its start,
    // and the paused time is not watched time.
    const offset = this.host.wallOffset();
    const downSince = record.uptime.openOutageSince;
    if (downSince !== null && downSince < since) record.rollups?.addDowntime(downSince + offset, since + offset);
    record.rollups?.addOffline(since + offset, endedAt + offset);
    record.uptime.excludePause(since, endedAt);
    // Down or up from here as it stands now: the pause hid whatever happened inside it.
    if (record.reportedRank >= DEGRADED) record.uptime.markDown(endedAt);
    else record.uptime.markUp(endedAt);
    const reason = record.pauseReason;
    if (record.manualPause !== null && now >= record.manualPause.until) {
      record.manualPause = null;
      this.host.note(PAUSE_NOTES, record.tag, null);
    }
    if (now >= record.maintenanceUntil) record.maintenanceUntil = -Infinity;
    this.host.note(PAUSE_END_NOTES, record.tag, Math.round(endedAt + offset));
    this.host.emit({ service: record.tag, paused: false, reason, until: null, time: isoAt(offset, endedAt) });
  }

  /** Pauses `record` for the window open from `start` to `until` (monotonic ms): from its start, the timer being a little late. */
  private enterMaintenance(record: ServiceRecord, now: number, start: number, until: number): void {
    const wasPaused = record.pausedAt(now);
    record.maintenanceUntil = until;
    this.begin(record, Math.min(now, Math.max(start, record.uptime.watchingSince)));
    if (!wasPaused) {
      record.pauseReason = MAINTENANCE;
      this.announce(record, true, record.pausedSince ?? now);
      this.host.evaluate(record, now, { kind: 'recovered', via: 'pause', reason: MAINTENANCE });
    }
  }

  /** Marks the start of a pause (if it is not in one) and moves the misses' base to its end. */
  private begin(record: ServiceRecord, now: number): void {
    if (record.pausedSince === null) {
      record.pausedSince = now;
      record.uptime.pauseBegan(now);
    }
    record.expectFrom = record.pauseEnd;
    record.unsaved = true;
  }

  private announce(record: ServiceRecord, paused: boolean, now: number): void {
    const offset = this.host.wallOffset();
    const end = record.pauseEnd;
    const manual = record.manualPause !== null && now < record.manualPause.until;
    this.host.emit({
      service: record.tag,
      paused,
      reason: manual ? (record.manualPause as { reason: string }).reason : MAINTENANCE,
      until: end === Infinity ? null : isoAt(offset, end),
      time: isoAt(offset, now),
    });
  }
}

/** The earliest start and latest end among the open windows that cover `tag`, in wall ms, or null if none does. */
function windowSpan(open: readonly OpenWindow[], tag: string): { start: number; end: number } | null {
  let span: { start: number; end: number } | null = null;
  for (const window of open) {
    if (!covers(window, tag)) continue;
    span =
      span === null
        ? { start: window.start, end: window.end }
        : { start: Math.min(span.start, window.start), end: Math.max(span.end, window.end) };
  }
  return span;
}

/** A pause as the store keeps it, in wall ms. */
interface SavedPause {
  readonly reason: string;
  readonly until: number | null;
  readonly since: number;
}

/** Pauses `record` as `saved` says, without a word: it is the same pause going on. */
function takeUp(record: ServiceRecord, saved: SavedPause, now: number, offset: number): void {
  record.manualPause = { reason: saved.reason, until: saved.until === null ? Infinity : saved.until - offset };
  record.pauseReason = saved.reason;
  record.pausedSince = Math.min(now, saved.since - offset);
  record.uptime.pauseBegan(record.pausedSince);
  record.expectFrom = record.pauseEnd;
}

/** A pause as the store kept it, or null if it is not one (a store's notes are read, never trusted). */
function savedPause(value: unknown): SavedPause | null {
  if (typeof value !== 'object' || value === null) return null;
  const { reason, until, since } = value as Record<string, unknown>;
  if (typeof reason !== 'string' || typeof since !== 'number' || !Number.isFinite(since)) return null;
  if (until !== null && (typeof until !== 'number' || !Number.isFinite(until))) return null;
  return { reason: reason.slice(0, MAX_PAUSE_REASON), until, since };
}

import { isoTimeOf, type Clock } from '../util/clock';
import type { ServiceStatus } from './status';
import type { DailyRollup, DailyRollups } from './rollups';
import { UPTIME_WINDOWS, type UptimeTracker, type UptimeWindow } from './uptime';

/** One recorded status change of a service. */
export interface TransitionRecord {
  /** Monotonic milliseconds, on the manager's clock. */
  readonly at: number;
  readonly from: ServiceStatus;
  readonly to: ServiceStatus;
  readonly reason: string;
}

/**
 * The last `capacity` transitions of one service, oldest first. A ring buffer that grows to
 * its capacity as entries come, so a quiet service costs nothing and a busy one stays bounded.
 */
export class TransitionLog {
  private readonly entries: (TransitionRecord | undefined)[] = [];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.count;
  }

  push(entry: TransitionRecord): void {
    if (this.capacity === 0) return;
    if (this.count < this.capacity) {
      const index = (this.start + this.count) % this.capacity;
      if (index === this.entries.length) this.entries.push(entry);
      else this.entries[index] = entry;
      this.count++;
    } else {
      this.entries[this.start] = entry;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Oldest first; only the newest `limit` of them when given. */
  toArray(limit = this.count): TransitionRecord[] {
    const out: TransitionRecord[] = [];
    for (let i = Math.max(0, this.count - limit); i < this.count; i++)
      out.push(this.entries[(this.start + i) % this.capacity] as TransitionRecord);
    return out;
  }

  /** Drops every entry recorded before `cutoff` (monotonic ms). Returns how many went. */
  dropBefore(cutoff: number): number {
    let dropped = 0;
    while (this.count > 0 && (this.entries[this.start] as TransitionRecord).at < cutoff) {
      this.entries[this.start] = undefined;
      this.start = (this.start + 1) % this.capacity;
      this.count--;
      dropped++;
    }
    return dropped;
  }
}

/**
 * One service's recorded past: the body of `GET /api/health/service/{name}/history`.
 *
 * @inlineType UptimeWindow
 */
export interface ServiceHistory {
  /** The service's tag. */
  service: string;
  /** Share of time up (healthy or warning) over the window, or over the service's life if shorter. */
  uptime: Record<UptimeWindow, number>;
  /** Status changes, oldest first, at most `history_size`. */
  transitions: Array<{
    /** ISO 8601 UTC time of the change. */
    time: string;
    /** The status before the change. */
    from: ServiceStatus;
    /** The status after it. */
    to: ServiceStatus;
    /** Why, in words, e.g. `missed 3 heartbeats` or `error: disk full`; cut to 200 characters and an ellipsis. */
    reason: string;
  }>;
  /**
   * Spans of the last 7 days when the monitor itself was offline (stopped or crashed, until its
   * restart) or the service was paused, oldest first: they count neither as up nor as down. At
   * most 32 of each.
   */
  gaps: Array<{
    /** ISO 8601 UTC: the last state saved before the monitor went offline, or the start of the pause. */
    start: string;
    /** ISO 8601 UTC: the restart, or the end of the pause. */
    end: string;
    /** `monitor offline`, or `paused` for a pause (by `pause()` or a maintenance window) since this process started. */
    reason: 'monitor offline' | 'paused';
  }>;
  /** Per UTC day, oldest first, when asked for with `?days=N`: the long-term history, kept for `retention_days`. */
  daily?: DailyRollup[];
}

/** What a service's recorded past is read from: its tag, its transitions, its downtime and its daily totals. */
export interface RecordedPast {
  readonly tag: string;
  readonly history: TransitionLog;
  readonly uptime: UptimeTracker;
  readonly rollups: DailyRollups | null;
  /** Start of the pause it is in (monotonic ms), or null. */
  readonly pausedSince: number | null;
}

/** Uptime ratios of a record over the exported windows. */
export function uptimeRatios(record: Pick<RecordedPast, 'uptime'>, now: number): Record<UptimeWindow, number> {
  return { '24h': record.uptime.ratio(now, UPTIME_WINDOWS['24h']), '7d': record.uptime.ratio(now, UPTIME_WINDOWS['7d']) };
}

/** One recorded change as the history and the export show it. */
export function transitionOf(clock: Clock, entry: TransitionRecord): ServiceHistory['transitions'][number] {
  return { time: isoTimeOf(clock, entry.at), from: entry.from, to: entry.to, reason: entry.reason };
}

/** `days`: how many UTC days of daily rollups to add, up to today; none when undefined. `limit`: the newest status changes to give; all when undefined. */
export function historyOf(record: RecordedPast, clock: Clock, now: number, days?: number, limit?: number): ServiceHistory {
  const uptime = record.uptime.state();
  const history: ServiceHistory = {
    service: record.tag,
    uptime: uptimeRatios(record, now),
    transitions: record.history.toArray(limit).map((entry) => transitionOf(clock, entry)),
    gaps: [
      ...uptime.excluded.map(([start, end]) => ({ start, end, reason: 'monitor offline' as const })),
      ...record.uptime.pausedSpans().map(([start, end]) => ({ start, end, reason: 'paused' as const })),
    ]
      .sort((a, b) => a.start - b.start)
      .map(({ start, end, reason }) => ({ start: isoTimeOf(clock, start), end: isoTimeOf(clock, end), reason })),
  };
  if (days === undefined || !record.rollups) return history;
  const offset = clock.wallNow() - now;
  // While paused, an outage open since before the pause is counted in full at the pause's end.
  const downSince = uptime.downSince === null || record.pausedSince !== null ? null : uptime.downSince + offset;
  return { ...history, daily: record.rollups.days(days, now + offset, downSince) };
}

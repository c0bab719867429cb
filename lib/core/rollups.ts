import type { Clock } from '../util/clock';
import { DAY } from './uptime';

/** One UTC day of a service's past, as `/service/{name}/history?days=N` will serve it. */
export interface DailyRollup {
  /** The UTC day, `YYYY-MM-DD`. */
  date: string;
  /** Share of the watched part of the day spent up, from 0 to 1; time the monitor was offline is left out. */
  uptime: number;
  /** Seconds spent degraded or critical. */
  downtime_seconds: number;
  /** Status changes. */
  transitions: number;
  /** Pulses received. */
  pulses: number;
  /** Errors reported. */
  errors: number;
}

/** One day's totals as stored and captured: [UTC day number (wall ms / 86,400,000), downtime ms, offline ms, transitions, pulses, errors]. */
export type DayTotals = [day: number, downtimeMs: number, offlineMs: number, transitions: number, pulses: number, errors: number];

/** A {@link DailyRollups}' state in wall ms, to be carried across a restart. */
export interface RollupsState {
  /** Wall time when watching began: a day's ratio covers at most the time since. */
  readonly since: number;
  /** Days holding anything, oldest first. */
  readonly days: ReadonlyArray<Readonly<DayTotals>>;
}

/**
 * Per-UTC-day totals of one service for `retentionDays` days: the long-term history the
 * 7-day minute buckets cannot give. Times are wall ms, since days are calendar days; the
 * engine converts its monotonic times once per call. A day is stored only once something
 * happens in it (a quiet day reads as fully up), and days older than the retention before
 * today by `clock` are dropped as new ones come: at most `retentionDays` entries of six numbers
 * (and the day after today, which a time zone's midnight may already have reached). Times more
 * than a day past the clock's now are ignored: one such time must not push every real day out.
 */
export class DailyRollups {
  /**
   * The days holding anything, oldest first; null until the first. An array, not a Map: at
   * most `retentionDays` of them, nearly always found at its end, and 10,000 services each
   * holding an empty Map would cost a fifth of the heap a service takes.
   */
  private totals: DayTotals[] | null = null;

  constructor(
    readonly retentionDays: number,
    /** Wall time when watching began. */
    private since: number,
    /** Whose wall time decides which days are past the retention and which are yet to come. */
    private readonly clock: Pick<Clock, 'wallNow'>,
  ) {
    if (!Number.isSafeInteger(retentionDays) || retentionDays < 1) {
      throw new RangeError(`DailyRollups: retentionDays is ${String(retentionDays)}; expected a whole number of at least 1, e.g. 90`);
    }
  }

  /** Days stored now. */
  get size(): number {
    return this.totals?.length ?? 0;
  }

  /** Adds [start, end) of downtime, split across the UTC days it spans. */
  addDowntime(start: number, end: number): void {
    this.addSpan(start, end, 1);
  }

  /** Adds [start, end) of time the monitor itself was offline, left out of the days' ratios. */
  addOffline(start: number, end: number): void {
    this.addSpan(start, end, 2);
  }

  addTransition(at: number): void {
    const totals = this.dayAt(at);
    if (totals) totals[3]++;
  }

  addPulses(at: number, count: number): void {
    const totals = this.dayAt(at);
    if (totals) totals[4] += count;
  }

  addErrors(at: number, count: number): void {
    const totals = this.dayAt(at);
    if (totals) totals[5] += count;
  }

  /**
   * The last `count` UTC days up to the one holding `now`, oldest first, from the day watching
   * began and within the retention. `downSince` is the start of an outage still open (wall ms),
   * counted up to `now` as the stored downtime is.
   */
  days(count: number, now: number, downSince: number | null = null): DailyRollup[] {
    const today = Math.floor(now / DAY);
    const first = Math.max(today - Math.min(count, this.retentionDays) + 1, Math.floor(this.since / DAY));
    const out: DailyRollup[] = [];
    for (let day = first; day <= today; day++) {
      const totals = this.find(day);
      const dayStart = day * DAY;
      const dayEnd = dayStart + DAY;
      let downMs = totals?.[1] ?? 0;
      if (downSince !== null) downMs += Math.max(0, Math.min(dayEnd, now) - Math.max(dayStart, downSince));
      const watchedMs = Math.min(dayEnd, now) - Math.max(dayStart, this.since) - (totals?.[2] ?? 0);
      out.push({
        date: new Date(dayStart).toISOString().slice(0, 10),
        uptime: watchedMs <= 0 ? 1 : Math.min(1, Math.max(0, 1 - downMs / watchedMs)),
        downtime_seconds: Math.round(downMs / 1000),
        transitions: totals?.[3] ?? 0,
        pulses: totals?.[4] ?? 0,
        errors: totals?.[5] ?? 0,
      });
    }
    return out;
  }

  /** Everything needed to rebuild these rollups, in wall ms. */
  state(): RollupsState {
    return { since: this.since, days: (this.totals ?? []).map((totals) => [...totals] as DayTotals) };
  }

  /** Replaces these rollups' days with those of `state` (see {@link state}); days past the retention are dropped. */
  load(state: RollupsState): void {
    this.since = state.since;
    this.totals = null;
    for (const totals of state.days) {
      const stored = this.day(totals[0]);
      if (!stored) continue;
      for (let i = 1; i < 6; i++) (stored[i] as number) += totals[i] as number;
    }
  }

  /** Replaces one day's totals with `totals`, as saved: absolute, so putting the same day twice changes nothing. */
  putDay(totals: Readonly<DayTotals>): void {
    const stored = this.day(totals[0]);
    if (!stored) return;
    for (let i = 1; i < 6; i++) (stored[i] as number) = totals[i] as number;
  }

  /** The totals of the day holding `at` (wall ms) as they stand, or null if it holds nothing yet. */
  dayOf(at: number): Readonly<DayTotals> | null {
    return this.find(Math.floor(at / DAY)) ?? null;
  }

  /** Wall time when watching began. */
  get watchedSince(): number {
    return this.since;
  }

  /** Sets when watching began, for a service saved before these rollups were created (a restart). */
  set watchedSince(since: number) {
    this.since = since;
  }

  /** Drops the days before the one holding `cutoff`, for `cleanupOldData()`. */
  dropBefore(cutoff: number): void {
    const firstKept = Math.floor(cutoff / DAY);
    this.dropDaysBefore(firstKept);
  }

  private addSpan(start: number, end: number, field: 1 | 2): void {
    if (!(end > start) || !Number.isFinite(start) || !Number.isFinite(end)) return;
    const today = this.today();
    // A span longer than the retention touches only the days that can still be kept.
    const lastDay = Math.min(Math.ceil(end / DAY) - 1, today + 1);
    const firstDay = Math.max(Math.floor(start / DAY), today - this.retentionDays + 1);
    for (let day = firstDay; day <= lastDay; day++) {
      const totals = this.day(day);
      // Overlapping spans (an outage and the offline time cut out of it, say) must not make a day longer than a day.
      if (totals) totals[field] = Math.min(DAY, totals[field] + Math.min(end, (day + 1) * DAY) - Math.max(start, day * DAY));
    }
  }

  private dayAt(at: number): DayTotals | undefined {
    return this.day(Math.floor(at / DAY));
  }

  /** The totals of `day`, created if need be, or undefined for a day past the retention or more than a day ahead. */
  private day(day: number): DayTotals | undefined {
    const today = this.today();
    const firstKept = today - this.retentionDays + 1;
    if (!Number.isFinite(day) || day < firstKept || day > today + 1) return undefined;
    const stored = this.find(day);
    if (stored) return stored;
    const totals: DayTotals = [day, 0, 0, 0, 0, 0];
    const days = (this.totals ??= []);
    // Days come in order but for a span that reaches back: insert in place, from the end.
    let index = days.length;
    while (index > 0 && (days[index - 1] as DayTotals)[0] > day) index--;
    days.splice(index, 0, totals);
    this.dropDaysBefore(firstKept);
    return totals;
  }

  /** The stored totals of `day`, looked for from the newest, where nearly every lookup ends. */
  private find(day: number): DayTotals | undefined {
    const days = this.totals;
    if (days === null) return undefined;
    for (let index = days.length - 1; index >= 0; index--) {
      const totals = days[index] as DayTotals;
      if (totals[0] === day) return totals;
      if (totals[0] < day) return undefined;
    }
    return undefined;
  }

  private dropDaysBefore(firstKept: number): void {
    const days = this.totals;
    if (days === null) return;
    let gone = 0;
    while (gone < days.length && (days[gone] as DayTotals)[0] < firstKept) gone++;
    if (gone > 0) days.splice(0, gone);
  }

  private today(): number {
    return Math.floor(this.clock.wallNow() / DAY);
  }
}

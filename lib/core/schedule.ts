import { Cron } from 'croner';
import type { OptionReader } from '../util/validate';

/**
 * Most missed occurrences counted after a job's last sign of life, unless its `critical_after`
 * is higher: past it the count stays, as the status has long been critical. Each is one cron
 * lookup (tens of microseconds), and a job dead for days is counted at its first read: a
 * minutely one would otherwise cost seconds there.
 */
export const MAX_COUNTED_OCCURRENCES = 100;

/**
 * A cron schedule, parsed by croner: five fields, or six with seconds first. Without a time
 * zone it runs on the server's local time, as cron does. Croner follows Vixie cron around
 * daylight saving time: a fixed time skipped by the spring-forward change (02:30 on that day)
 * falls on the first valid time after the gap, and a time that occurs twice counts once.
 */
export class CronSchedule {
  private readonly cron: Cron;

  constructor(
    /** The expression as configured, e.g. `0 3 * * *`. */
    readonly expression: string,
    /** An IANA time zone such as `Europe/Berlin`, or null for the server's local time. */
    readonly timezone: string | null,
  ) {
    this.cron = new Cron(expression, { paused: true, mode: '5-or-6-parts', ...(timezone === null ? {} : { timezone }) });
  }

  /** The first occurrence strictly after `wallMs`, in wall ms, or null if there is none. */
  nextAfter(wallMs: number): number | null {
    const next = this.cron.nextRun(new Date(wallMs));
    return next === null ? null : next.getTime();
  }
}

/**
 * Reads a service's `schedule` and `timezone`: refused here, at config time, when croner cannot
 * parse the expression, the time zone is not an IANA name, or the schedule never fires.
 */
export function readSchedule(
  read: OptionReader,
  key: string,
  expression: unknown,
  timezone: unknown,
  expressionKey: 'schedule' | 'cron' = 'schedule',
): CronSchedule {
  const field = `${key}.${expressionKey}`;
  if (typeof expression !== 'string' || expression.trim().length === 0) {
    read.fail(field, expression, 'a cron expression of five fields (or six, seconds first), e.g. "0 3 * * *"');
  }
  let zone: string | null = null;
  if (timezone !== undefined) {
    if (typeof timezone !== 'string' || !isTimeZone(timezone)) {
      read.fail(`${key}.timezone`, timezone, 'an IANA time zone name, e.g. "Europe/Berlin" or "UTC"');
    }
    zone = timezone;
  }
  let schedule: CronSchedule;
  try {
    schedule = new CronSchedule(expression, zone);
  } catch (error) {
    read.fail(field, expression, `a valid cron expression (${(error as Error).message}), e.g. "0 3 * * *"`);
  }
  if (schedule.nextAfter(Date.now()) === null) {
    read.fail(field, expression, 'a schedule that fires again (this one has no future occurrence), e.g. "0 3 * * *"');
  }
  return schedule;
}

/** Whether `name` is a time zone this runtime knows: Intl refuses any other. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * Seconds between the schedule's next two occurrences after `wallMs`: what a scheduled
 * service shows as its `interval`, and what its default grace (10%) and amnesty are taken from.
 */
export function typicalGapSeconds(schedule: CronSchedule, wallMs: number): number {
  const first = schedule.nextAfter(wallMs);
  const second = first === null ? null : schedule.nextAfter(first);
  if (first === null || second === null) return 86_400;
  return Math.max(0.001, (second - first) / 1000);
}

/**
 * Counts the occurrences a scheduled service missed: those strictly after its last sign of
 * life whose grace has run out. The sign is placed on the wall clock once, when it is first
 * counted from, and each occurrence is found once and kept in wall time: a read costs nothing
 * new until another occurrence passes, and a later correction of the wall clock moves the
 * deadlines still ahead without moving the sign back across an occurrence it already met.
 * Times are monotonic ms; `wallOffset` turns them into the wall time the schedule is written in.
 */
export class ScheduledBeats {
  private base = Number.NaN;
  /** `base` on the wall clock, as it read when counting from it began. */
  private baseWall = Number.NaN;
  private missed = 0;
  /** The occurrence after the `missed` ones already counted, in wall ms (Infinity when there is none). */
  private nextWall = Number.NaN;
  private countedTo = -Infinity;

  constructor(
    readonly schedule: CronSchedule,
    /** The wall offset (see `StableWallOffset`) to read occurrences with. */
    private readonly wallOffset: () => number,
    /** Most missed occurrences counted: past it the count stays (see {@link MAX_COUNTED_OCCURRENCES}). */
    private readonly cap: number = MAX_COUNTED_OCCURRENCES,
  ) {}

  /** Occurrences after `base` whose deadline (occurrence + grace) `now` is strictly past. */
  missedAt(base: number, now: number, graceMs: number): number {
    const offset = this.wallOffset();
    if (base !== this.base) {
      this.base = base;
      this.baseWall = base === Infinity ? Infinity : base + offset;
      this.restart();
    } else if (now < this.countedTo) {
      this.restart(); // asked about an earlier moment (a frozen count): count again from the sign
    }
    this.countedTo = now;
    while (this.nextWall - offset + graceMs < now && this.missed < this.cap) {
      this.missed++;
      this.nextWall = this.after(this.nextWall);
    }
    return this.missed;
  }

  /** The deadline of the next occurrence not yet missed, as of the last `missedAt`: when the count can grow again. */
  nextDeadline(graceMs: number): number {
    return this.missed >= this.cap ? Infinity : this.nextWall - this.wallOffset() + graceMs;
  }

  /** The deadline of the first occurrence after `now` (monotonic ms): one occurrence to show it is alive, after a stall or a restart. */
  deadlineAfter(now: number, graceMs: number): number {
    const offset = this.wallOffset();
    return this.after(now + offset) - offset + graceMs;
  }

  private restart(): void {
    this.missed = 0;
    this.countedTo = -Infinity;
    this.nextWall = this.after(this.baseWall);
  }

  private after(wallMs: number): number {
    if (wallMs === Infinity) return Infinity;
    return this.schedule.nextAfter(wallMs) ?? Infinity;
  }
}

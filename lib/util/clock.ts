import { performance } from 'node:perf_hooks';

/**
 * Where the monitor reads time. Misses are decided on `now()`, a monotonic clock, so a
 * wall-clock jump (NTP, DST, a user changing the time) changes no status; `wallNow()` is
 * used only for the timestamps people read. Tests inject their own.
 */
export interface Clock {
  /** Monotonic milliseconds from an arbitrary origin. Never goes backwards. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch, for display only. */
  wallNow(): number;
}

/** The real clock, every manager's default: `performance.now()` for `now()`, `Date.now()` for `wallNow()`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
};

/**
 * The wall time at which a monotonic instant happened, as seen from the wall clock now.
 * Stored timestamps stay monotonic; converting on read keeps `pulse()` to one clock call.
 */
export function wallTimeOf(clock: Clock, monotonicAt: number): number {
  return clock.wallNow() - (clock.now() - monotonicAt);
}

export function isoTimeOf(clock: Clock, monotonicAt: number): string {
  return new Date(Math.round(wallTimeOf(clock, monotonicAt))).toISOString();
}

/** Wall time minus monotonic time, now: read once to convert many timestamps in one view. */
export function wallOffset(clock: Clock): number {
  return clock.wallNow() - clock.now();
}

/**
 * A {@link wallOffset} that stays put unless the wall clock really moved. A fresh reading
 * wobbles by up to a millisecond (whole-ms wall time against fractional monotonic time), which
 * would format every timestamp anew on every read; a jump of more than 2 ms is taken at once.
 */
export class StableWallOffset {
  private offset: number;

  constructor(private readonly clock: Clock) {
    this.offset = wallOffset(clock);
  }

  read(): number {
    const fresh = wallOffset(this.clock);
    if (Math.abs(fresh - this.offset) > 2) this.offset = fresh;
    return this.offset;
  }
}

/** The ISO 8601 UTC time of a monotonic instant, given a {@link wallOffset} read for this view. */
export function isoAt(offset: number, monotonicAt: number): string {
  return new Date(Math.round(offset + monotonicAt)).toISOString();
}

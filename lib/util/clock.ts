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
  return wallOffset(clock) + monotonicAt;
}

export function isoTimeOf(clock: Clock, monotonicAt: number): string {
  return new Date(Math.round(wallTimeOf(clock, monotonicAt))).toISOString();
}

/**
 * Wall time minus monotonic time, as a {@link StableWallOffset} of `clock` reads it: read once
 * to convert many timestamps in one view. Every conversion of one clock goes through the same
 * one, so a time saved as wall ms and read back (a restart's restore) comes out to the
 * millisecond, and two reads of one timestamp never differ.
 */
export function wallOffset(clock: Clock): number {
  let stable = stableOffsets.get(clock);
  if (!stable) stableOffsets.set(clock, (stable = new StableWallOffset(clock)));
  return stable.read();
}

const stableOffsets = new WeakMap<Clock, StableWallOffset>();

/**
 * A wall offset that stays put unless the wall clock really moved. A fresh reading wobbles by
 * up to a millisecond (whole-ms wall time against fractional monotonic time), which would
 * format every timestamp anew on every read; a jump of more than 2 ms is taken at once.
 */
export class StableWallOffset {
  private offset: number;

  constructor(private readonly clock: Clock) {
    this.offset = clock.wallNow() - clock.now();
  }

  read(): number {
    const fresh = this.clock.wallNow() - this.clock.now();
    if (Math.abs(fresh - this.offset) > 2) this.offset = fresh;
    return this.offset;
  }
}

/** The ISO 8601 UTC time of a monotonic instant, given a {@link wallOffset} read for this view. */
export function isoAt(offset: number, monotonicAt: number): string {
  return new Date(Math.round(offset + monotonicAt)).toISOString();
}

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
 * format every timestamp anew on every read. A reading is taken between two monotonic reads,
 * and not used if the process was preempted in between (they are more than 1 ms apart); a move
 * of more than 2 ms (NTP stepping the clock, a suspended VM) is taken once a second reading
 * agrees with it, so one reading gone wrong never shifts every time shown and saved.
 */
export class StableWallOffset {
  private offset: number;
  /** A reading more than 2 ms from `offset`, waiting for a second one to agree. */
  private moved: number | undefined;

  constructor(private readonly clock: Clock) {
    this.offset = this.measure() ?? clock.wallNow() - clock.now();
  }

  read(): number {
    const fresh = this.measure();
    if (fresh === undefined || Math.abs(fresh - this.offset) <= 2) {
      if (fresh !== undefined) this.moved = undefined;
      return this.offset;
    }
    if (this.moved !== undefined && Math.abs(fresh - this.moved) <= 2) {
      this.offset = fresh;
      this.moved = undefined;
    } else {
      this.moved = fresh;
    }
    return this.offset;
  }

  /** Wall minus monotonic time, or undefined if every try was preempted between its reads. */
  private measure(): number | undefined {
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = this.clock.now();
      const wall = this.clock.wallNow();
      const after = this.clock.now();
      if (after - before <= 1) return wall - after;
    }
    return undefined;
  }
}

/** The ISO 8601 UTC time of a monotonic instant, given a {@link wallOffset} read for this view. */
export function isoAt(offset: number, monotonicAt: number): string {
  return new Date(Math.round(offset + monotonicAt)).toISOString();
}

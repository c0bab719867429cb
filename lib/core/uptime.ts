// Units of time in ms, for the core's modules that bucket time: here, rollups and persisted state.
const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** How far back downtime is kept: 7 days of per-minute buckets. */
export const UPTIME_MINUTES = 7 * 24 * 60;

/** The windows exported and served, as Uptime Kuma shows them. */
export const UPTIME_WINDOWS = { '24h': 24 * HOUR, '7d': 7 * 24 * HOUR } as const;
/** The name of an uptime window: `24h` or `7d`. */
export type UptimeWindow = keyof typeof UPTIME_WINDOWS;

/**
 * Seconds of downtime per time slot in a ring of `size` slots of `width` ms. A slot is
 * cleared when the ring comes round to it again, so old data never leaks into new sums.
 */
class BucketRing {
  private readonly slots: Uint8Array | Uint16Array;
  /** Index (time / width) of the newest slot written; later ones count as empty. */
  private newest = -Infinity;

  constructor(
    private readonly size: number,
    private readonly width: number,
  ) {
    this.slots = width / SECOND <= 255 ? new Uint8Array(size) : new Uint16Array(size);
  }

  /** Adds the part of [start, end) that falls in each slot. */
  add(start: number, end: number): void {
    const last = Math.floor(end / this.width);
    this.advanceTo(last);
    for (let index = Math.max(Math.floor(start / this.width), last - this.size + 1); index <= last; index++) {
      const overlap = Math.min(end, (index + 1) * this.width) - Math.max(start, index * this.width);
      if (overlap <= 0) continue;
      this.addSeconds(index, Math.round(overlap / SECOND));
    }
  }

  /** Adds `seconds` to slot `index` as they were stored, for a restore; a slot the ring has passed is ignored. */
  addSeconds(index: number, seconds: number): void {
    this.advanceTo(index);
    if (index <= this.newest - this.size) return;
    const cap = this.width / SECOND;
    this.slots[this.slot(index)] = Math.min(cap, (this.slots[this.slot(index)] as number) + seconds);
  }

  /** Index of the oldest slot still held, or -Infinity before the first write. */
  get oldest(): number {
    return this.newest - this.size + 1;
  }

  /** The slots from `from` to `to` (inclusive, within the ring) holding any seconds, oldest first, as [index, seconds]. */
  nonEmpty(from = -Infinity, to = Infinity): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const last = Math.min(to, this.newest);
    for (let index = Math.max(from, this.oldest); index <= last; index++) {
      const seconds = this.slots[this.slot(index)] as number;
      if (seconds > 0) out.push([index, seconds]);
    }
    return out;
  }

  /** Seconds stored in slots `from` to `to`, inclusive. */
  sum(from: number, to: number): number {
    let total = 0;
    const first = Math.max(from, this.newest - this.size + 1);
    const last = Math.min(to, this.newest);
    for (let index = first; index <= last; index++) total += this.slots[this.slot(index)] as number;
    return total;
  }

  /** Empties every slot before index `before`. */
  clearBefore(before: number): void {
    const first = Math.max(this.newest - this.size + 1, before - this.size);
    for (let index = first; index < Math.min(before, this.newest + 1); index++) this.slots[this.slot(index)] = 0;
  }

  /** Makes `last` the newest slot, emptying the ones the ring comes round to on the way. */
  private advanceTo(last: number): void {
    if (last <= this.newest) return;
    for (let index = Math.max(this.newest + 1, last - this.size + 1); index <= last; index++) this.slots[this.slot(index)] = 0;
    this.newest = last;
  }

  private slot(index: number): number {
    return ((index % this.size) + this.size) % this.size;
  }
}

/**
 * Most spans of monitor-offline time one tracker keeps. Each restart of the monitor adds one,
 * so this is dozens of deploys a week; past it, the two spans with the shortest stretch of
 * watched time between them are merged, which leaves only that shortest stretch out of the
 * ratios. So a tracker holds at most 2 × 32 numbers (512 bytes) of spans, allocated at the first.
 */
export const MAX_EXCLUDED_SPANS = 32;

/** An {@link UptimeTracker}'s state in its own monotonic ms, to be carried across a restart. */
export interface UptimeState {
  /** When watching began: ratios cover at most the time since. */
  readonly since: number;
  /** Start of the outage still open, or null while up. */
  readonly downSince: number | null;
  /** Minute buckets holding downtime, oldest first, as [minute index (time / 60,000), seconds]. */
  readonly minutes: ReadonlyArray<readonly [number, number]>;
  /** Spans the monitor itself was offline, oldest first, as [start, end). */
  readonly excluded: ReadonlyArray<readonly [number, number]>;
}

/**
 * Per-minute downtime of one service over the last 7 days, for uptime ratios.
 *
 * "Down" is degraded or critical: the seed calls warning "delayed but functional". Only
 * downtime is stored, and the buckets (10 KB of minutes, plus hourly totals so a 7-day sum
 * reads about 300 slots instead of 10,080) are allocated at the first outage: a service that
 * never fails costs nothing here. Times are monotonic ms; ratios have minute resolution.
 *
 * Time the monitor itself was offline (between a crash and the restart) is known to nobody:
 * {@link excludeSpan} leaves it out of both the downtime and the time watched. It is kept as
 * exact spans, not buckets: every service gets the same span at each restart, and 10 KB of
 * buckets per service for that would cost 100 MB at 10,000 services.
 */
export class UptimeTracker {
  private minutes: BucketRing | null = null;
  private hours: BucketRing | null = null;
  private downSince: number | null = null;
  /** Offline spans as [start0, end0, start1, end1, …], sorted and disjoint; at most {@link MAX_EXCLUDED_SPANS}. */
  private excluded: number[] | null = null;
  /** Spans the service was paused, in the same form and with the same cap; they may overlap offline ones. */
  private paused: number[] | null = null;
  /** Start of the pause still running, left out of the ratios up to now; null outside one. */
  private pausedSince: number | null = null;

  constructor(private since: number) {}

  /** When watching began (monotonic ms): ratios cover at most the time since. */
  get watchingSince(): number {
    return this.since;
  }

  get isDown(): boolean {
    return this.downSince !== null;
  }

  markDown(at: number): void {
    if (this.downSince === null) this.downSince = at;
  }

  /** Ends the open outage at `at`; returns when it began (for the daily rollups), or null if none was open. */
  markUp(at: number): number | null {
    const since = this.downSince;
    if (since === null) return null;
    this.addDowntime(since, at);
    this.downSince = null;
    return since;
  }

  /** When watching began, for a service saved before its tracker was: ratios cover at most the time since. */
  watchedSince(since: number): void {
    this.since = since;
  }

  /**
   * Leaves [start, end), a time the monitor was offline, out of the ratios. An outage open at
   * `start` stops counting there and counts again from `end`: whether the service was up in
   * between is unknown. Spans must be in the past and not overlap downtime already recorded.
   */
  excludeSpan(start: number, end: number): void {
    if (!(end > start)) return;
    this.cutOutage(start, end);
    this.excluded = addSpan(this.excluded ?? [], start, end);
    this.dropSpansBefore(end - UPTIME_WINDOWS['7d']);
  }

  /**
   * Leaves [start, end), a time the service was paused, out of the ratios, as an offline span
   * is: a paused service is not expected to beat, so it is neither up nor down then.
   */
  excludePause(start: number, end: number): void {
    this.pausedSince = null;
    if (!(end > start)) return;
    this.cutOutage(start, end);
    this.paused = addSpan(this.paused ?? [], start, end);
    this.dropSpansBefore(end - UPTIME_WINDOWS['7d']);
  }

  /** A pause began at `at`: until it ends ({@link excludePause}), the time since is left out of the ratios. */
  pauseBegan(at: number): void {
    this.pausedSince = at;
  }

  /** Start of the outage still open (monotonic ms), or null while up. */
  get openOutageSince(): number | null {
    return this.downSince;
  }

  /** The paused spans of the last 7 days, oldest first, as [start, end). */
  pausedSpans(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const spans = this.paused ?? [];
    for (let i = 0; i < spans.length; i += 2) out.push([spans[i] as number, spans[i + 1] as number]);
    return out;
  }

  /** An outage open at `start` stops counting there and counts again from `end`. */
  private cutOutage(start: number, end: number): void {
    if (this.downSince !== null && this.downSince < end) {
      if (this.downSince < start) this.addDowntime(this.downSince, start);
      this.downSince = end;
    }
  }

  /** Share of the window (or of the service's life, if shorter) spent up, from 0 to 1, offline spans left out. */
  ratio(now: number, windowMs: number): number {
    const from = Math.max(now - windowMs, this.since);
    const span = now - from - this.excludedWithin(from, now);
    if (span <= 0) return 1;
    let down = this.storedDowntime(from, now);
    if (this.downSince !== null) {
      const openFrom = Math.max(this.downSince, from);
      down += now - openFrom - this.excludedWithin(openFrom, now);
    }
    return Math.min(1, Math.max(0, 1 - down / span));
  }

  /** Forgets downtime recorded before `cutoff`. */
  dropBefore(cutoff: number): void {
    this.minutes?.clearBefore(Math.floor(cutoff / MINUTE));
    this.hours?.clearBefore(Math.floor(cutoff / MINUTE / 60));
    this.dropSpansBefore(cutoff);
  }

  /** Everything needed to rebuild this tracker, in its own monotonic ms. */
  state(): UptimeState {
    const excluded: Array<[number, number]> = [];
    const spans = this.excluded ?? [];
    for (let i = 0; i < spans.length; i += 2) excluded.push([spans[i] as number, spans[i + 1] as number]);
    return { since: this.since, downSince: this.downSince, minutes: this.downtimeMinutes(), excluded };
  }

  /** Replaces this tracker's state with `state`, in this tracker's monotonic ms (see {@link state}). */
  load(state: UptimeState): void {
    this.since = state.since;
    this.downSince = null;
    this.minutes = null;
    this.hours = null;
    this.excluded = null;
    for (const [minute, seconds] of state.minutes) {
      this.minutes ??= new BucketRing(UPTIME_MINUTES, MINUTE);
      this.hours ??= new BucketRing(UPTIME_MINUTES / 60, HOUR);
      this.minutes.addSeconds(minute, seconds);
      this.hours.addSeconds(Math.floor(minute / 60), seconds);
    }
    for (const [start, end] of state.excluded) this.excludeSpan(start, end);
    // Set after the spans, which would otherwise cut the open outage they already account for.
    this.downSince = state.downSince;
  }

  /**
   * The minutes holding downtime, oldest first. Only hours whose total holds any are read: a
   * capture of 10,000 services costs their downtime, not 10,080 slots each. (An hour's total is
   * never below one of its minutes: both round the same overlap, the hour's being the larger.)
   */
  private downtimeMinutes(): Array<[number, number]> {
    if (!this.minutes || !this.hours) return [];
    // The minute ring reaches up to 59 minutes further back than the hourly one: those are read one by one.
    const out = this.minutes.nonEmpty(-Infinity, this.hours.oldest * 60 - 1);
    for (const [hour] of this.hours.nonEmpty()) out.push(...this.minutes.nonEmpty(hour * 60, hour * 60 + 59));
    return out;
  }

  private addDowntime(start: number, end: number): void {
    this.minutes ??= new BucketRing(UPTIME_MINUTES, MINUTE);
    this.hours ??= new BucketRing(UPTIME_MINUTES / 60, HOUR);
    this.minutes.add(start, end);
    this.hours.add(start, end);
  }

  /** Milliseconds of [from, to) inside offline or paused spans, counted once where they overlap. */
  private excludedWithin(from: number, to: number): number {
    if (this.excluded === null && this.paused === null && this.pausedSince === null) return 0;
    const clipped: number[] = [];
    if (this.pausedSince !== null && to > Math.max(from, this.pausedSince)) clipped.push(Math.max(from, this.pausedSince), to);
    for (const spans of [this.excluded ?? [], this.paused ?? []]) {
      for (let i = 0; i < spans.length; i += 2) {
        const start = Math.max(from, spans[i] as number);
        const end = Math.min(to, spans[i + 1] as number);
        if (end > start) clipped.push(start, end);
      }
    }
    sortAndMergeSpans(clipped);
    let total = 0;
    for (let i = 0; i < clipped.length; i += 2) total += (clipped[i + 1] as number) - (clipped[i] as number);
    return total;
  }

  private dropSpansBefore(cutoff: number): void {
    for (const spans of [this.excluded, this.paused]) {
      if (spans === null) continue;
      let gone = 0;
      while (gone < spans.length && (spans[gone + 1] as number) <= cutoff) gone += 2;
      spans.splice(0, gone);
    }
  }

  /** Stored downtime in ms from the minute holding `from` to the one holding `to`. */
  private storedDowntime(from: number, to: number): number {
    if (!this.minutes || !this.hours) return 0;
    const firstMinute = Math.floor(from / MINUTE);
    const lastMinute = Math.floor(to / MINUTE);
    // Whole hours inside the window come from the hourly totals, the ragged ends from minutes.
    const firstFullHour = Math.ceil(firstMinute / 60);
    const lastFullHour = Math.floor((lastMinute + 1) / 60) - 1;
    if (lastFullHour < firstFullHour) return this.minutes.sum(firstMinute, lastMinute) * SECOND;
    const seconds =
      this.minutes.sum(firstMinute, firstFullHour * 60 - 1) +
      this.hours.sum(firstFullHour, lastFullHour) +
      this.minutes.sum((lastFullHour + 1) * 60, lastMinute);
    return seconds * SECOND;
  }
}

/** Adds [start, end) to flat sorted `spans`, merging, and keeps at most {@link MAX_EXCLUDED_SPANS}. */
function addSpan(spans: number[], start: number, end: number): number[] {
  spans.push(start, end);
  sortAndMergeSpans(spans);
  while (spans.length > 2 * MAX_EXCLUDED_SPANS) mergeClosestSpans(spans);
  return spans;
}

/** Sorts flat [start, end, …] spans by start and merges those that overlap or touch. */
function sortAndMergeSpans(spans: number[]): void {
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < spans.length; i += 2) pairs.push([spans[i] as number, spans[i + 1] as number]);
  pairs.sort((a, b) => a[0] - b[0]);
  spans.length = 0;
  for (const [start, end] of pairs) {
    const lastEnd = spans[spans.length - 1];
    if (lastEnd !== undefined && start <= lastEnd) spans[spans.length - 1] = Math.max(lastEnd, end);
    else spans.push(start, end);
  }
}

/** Joins the two neighbouring spans with the shortest watched stretch between them. */
function mergeClosestSpans(spans: number[]): void {
  let best = 2;
  for (let i = 4; i < spans.length; i += 2) {
    if ((spans[i] as number) - (spans[i - 1] as number) < (spans[best] as number) - (spans[best - 1] as number)) best = i;
  }
  spans.splice(best - 1, 2);
}

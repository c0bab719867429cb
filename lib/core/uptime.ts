const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

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
    if (last > this.newest) {
      for (let index = Math.max(this.newest + 1, last - this.size + 1); index <= last; index++) this.slots[this.slot(index)] = 0;
      this.newest = last;
    }
    for (let index = Math.max(Math.floor(start / this.width), last - this.size + 1); index <= last; index++) {
      const overlap = Math.min(end, (index + 1) * this.width) - Math.max(start, index * this.width);
      if (overlap <= 0) continue;
      const cap = this.width / SECOND;
      this.slots[this.slot(index)] = Math.min(cap, (this.slots[this.slot(index)] as number) + Math.round(overlap / SECOND));
    }
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

  private slot(index: number): number {
    return ((index % this.size) + this.size) % this.size;
  }
}

/**
 * Per-minute downtime of one service over the last 7 days, for uptime ratios.
 *
 * "Down" is degraded or critical: the seed calls warning "delayed but functional". Only
 * downtime is stored, and the buckets (10 KB of minutes, plus hourly totals so a 7-day sum
 * reads about 300 slots instead of 10,080) are allocated at the first outage: a service that
 * never fails costs nothing here. Times are monotonic ms; ratios have minute resolution.
 */
export class UptimeTracker {
  private minutes: BucketRing | null = null;
  private hours: BucketRing | null = null;
  private downSince: number | null = null;

  constructor(private readonly since: number) {}

  get isDown(): boolean {
    return this.downSince !== null;
  }

  markDown(at: number): void {
    if (this.downSince === null) this.downSince = at;
  }

  markUp(at: number): void {
    if (this.downSince === null) return;
    this.minutes ??= new BucketRing(UPTIME_MINUTES, MINUTE);
    this.hours ??= new BucketRing(UPTIME_MINUTES / 60, HOUR);
    this.minutes.add(this.downSince, at);
    this.hours.add(this.downSince, at);
    this.downSince = null;
  }

  /** Share of the window (or of the service's life, if shorter) spent up, from 0 to 1. */
  ratio(now: number, windowMs: number): number {
    const from = Math.max(now - windowMs, this.since);
    const span = now - from;
    if (span <= 0) return 1;
    let down = this.storedDowntime(from, now);
    if (this.downSince !== null) down += now - Math.max(this.downSince, from);
    return Math.min(1, Math.max(0, 1 - down / span));
  }

  /** Forgets downtime recorded before `cutoff`. */
  dropBefore(cutoff: number): void {
    this.minutes?.clearBefore(Math.floor(cutoff / MINUTE));
    this.hours?.clearBefore(Math.floor(cutoff / MINUTE / 60));
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

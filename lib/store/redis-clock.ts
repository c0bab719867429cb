// The shared clock: Redis's TIME, carried forward on this process's monotonic clock, so every
// replica reads the same wall time and a step of its own wall clock (NTP, a user) moves nothing.
import { performance } from 'node:perf_hooks';

/** What `TIME` answers: seconds and microseconds. */
export type RedisTime = readonly [seconds: string, microseconds: string];

/** Round trips longer than this say too little about when TIME was read, so such a reading is not used. */
export const SLOW_READING_MS = 50;
/** How often TIME is read again, as the two clocks drift apart. */
export const SKEW_EVERY_MS = 30_000;

/** The local clocks a SkewClock reads, injected by tests. */
export interface LocalClocks {
  /** Monotonic ms (`performance.now()`): what a reading is carried forward on. */
  monotonic(): number;
  /** Wall ms (`Date.now()`): what the skew is measured from when it is read. */
  wall(): number;
}

const SYSTEM_CLOCKS: LocalClocks = { monotonic: () => performance.now(), wall: () => Date.now() };

/**
 * Redis TIME minus the local wall clock, as of now. A reading pins Redis's time to the middle
 * of its round trip on the monotonic clock (t0 = now, TIME, t1 = now: it errs by at most half
 * the round trip); from then on Redis's time is that reading plus the monotonic time since, so
 * a local wall-clock step between readings changes the skew, not the shared time. A slow
 * reading is dropped and the last good one kept (carried forward, it stays right but for drift).
 */
export class SkewClock {
  /** Redis's time minus monotonic time at the last good reading; null before one. */
  private base: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly readTime: () => Promise<RedisTime>,
    private readonly clocks: LocalClocks = SYSTEM_CLOCKS,
  ) {}

  /** Milliseconds to add to the local wall clock to read Redis's, in whole ms. 0 until a reading succeeds. */
  skewMs(): number {
    return this.base === null ? 0 : Math.round(this.base + this.clocks.monotonic() - this.clocks.wall());
  }

  /**
   * Takes one reading; resolves whether it was used. Never rejects: a failed read keeps the
   * old value. The first reading is used even when slow (there is nothing better yet).
   */
  async measure(): Promise<boolean> {
    const t0 = this.clocks.monotonic();
    let time: RedisTime;
    try {
      time = await this.readTime();
    } catch {
      return false;
    }
    const t1 = this.clocks.monotonic();
    const redisMs = Number(time[0]) * 1000 + Number(time[1]) / 1000;
    if (!Number.isFinite(redisMs)) return false;
    if (t1 - t0 > SLOW_READING_MS && this.base !== null) return false;
    this.base = redisMs - (t0 + t1) / 2;
    return true;
  }

  /** Measures now, a few times if the round trips are slow, then every {@link SKEW_EVERY_MS}. */
  async start(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = this.clocks.monotonic();
      await this.measure();
      if (this.clocks.monotonic() - before <= SLOW_READING_MS) break;
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.measure().then(() => {
        this.schedule();
      });
    }, SKEW_EVERY_MS);
    this.timer.unref();
  }
}

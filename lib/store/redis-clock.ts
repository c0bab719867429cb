// The shared clock: Redis's TIME, read as an offset from this machine's wall clock, so every
// replica converts its own wall time to the same one.

/** What `TIME` answers: seconds and microseconds. */
export type RedisTime = readonly [seconds: string, microseconds: string];

/** Round trips longer than this say too little about when TIME was read, so such a reading is not used. */
export const SLOW_READING_MS = 50;
/** How often the offset is measured again, as clocks drift. */
export const SKEW_EVERY_MS = 30_000;

/**
 * Redis TIME minus the local wall clock. A reading is taken as the middle of its round trip:
 * t0 = now(), TIME, t1 = now(), skew = redis − (t0 + t1) / 2 (rounded to whole ms), so it
 * errs by at most half the round trip; a slow one is dropped and the last good value kept.
 */
export class SkewClock {
  private skew = 0;
  private measured = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly readTime: () => Promise<RedisTime>,
    /** The local wall clock, injected by tests. */
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds to add to the local wall clock to read Redis's. 0 until a reading succeeds. */
  skewMs(): number {
    return this.skew;
  }

  /**
   * Takes one reading; resolves whether it was used. Never rejects: a failed read keeps the
   * old value. The first reading is used even when slow (there is nothing better yet).
   */
  async measure(): Promise<boolean> {
    const t0 = this.now();
    let time: RedisTime;
    try {
      time = await this.readTime();
    } catch {
      return false;
    }
    const t1 = this.now();
    const redisMs = Number(time[0]) * 1000 + Number(time[1]) / 1000;
    if (!Number.isFinite(redisMs)) return false;
    if (t1 - t0 > SLOW_READING_MS && this.measured) return false;
    // Whole milliseconds: the engine saves wall times as whole numbers, and a reading is only
    // good to half a round trip anyway.
    this.skew = Math.round(redisMs - (t0 + t1) / 2);
    this.measured = true;
    return true;
  }

  /** Measures now, a few times if the round trips are slow, then every {@link SKEW_EVERY_MS}. */
  async start(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = this.now();
      await this.measure();
      if (this.now() - before <= SLOW_READING_MS) break;
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

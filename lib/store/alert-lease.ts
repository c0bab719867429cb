import { performance } from 'node:perf_hooks';
import type { RedisConnection } from './redis-connection';
import { errorMessage, type RedisHealth } from './redis-health';

/**
 * Renews the lease if it is ours, and takes it back if it is gone with no other holder (Redis
 * restarted empty, say): a leader that kept renewing keeps leading. Marks the era (below).
 * 'taken' if held, 'held' if another holds it.
 */
const RENEW = `local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[2], '1')
  return 'taken'
end
return 'held'`;

/**
 * Takes the lease if nobody holds it (or this replica still does: its own renewal came too late
 * to count, a stalled event loop, and it stopped leading meanwhile), unless the era mark is gone and the caller is to wait
 * ('wiped'): Redis lost its keys, and the leader it lost may be alive and about to take its
 * lease back. Otherwise 'taken', or 'held' by another.
 */
const ACQUIRE = `local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'taken'
end
if holder then
  return 'held'
end
if redis.call('EXISTS', KEYS[2]) == 0 and ARGV[3] == 'wait' then
  return 'wiped'
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], '1')
return 'taken'`;

/** Deletes the lease only if it is ours: a lease that lapsed and was taken belongs to its new holder. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export interface AlertLeaseOptions {
  readonly client: RedisConnection;
  /** `<prefix>:lease`. */
  readonly key: string;
  /** `<prefix>:era`: set, with no expiry, by whoever holds the lease; gone only if Redis lost its keys. */
  readonly eraKey: string;
  readonly replicaId: string;
  readonly leaseMs: number;
  readonly health: RedisHealth;
  /** Where a listener's failure is reported. */
  readonly warn: (message: string) => void;
  /** Monotonic ms; tests inject their own. */
  readonly now?: () => number;
}

/**
 * The alert lease: the one replica holding `<prefix>:lease` alerts for the shared services.
 * Every leaseMs/3 the holder renews it and the others try to take it (SET NX PX), so a dead
 * holder's lease passes on within about leaseMs + leaseMs/3.
 *
 * A holder that cannot confirm a renewal stops leading leaseMs after it *sent* the last one
 * that went through: Redis let the lease lapse no sooner than that, so two replicas never
 * both believe they lead (clock rates aside).
 *
 * A Redis that restarts empty loses the lease while its holder still leads. So a replica that
 * has seen the era mark and finds it gone waits leaseMs before it takes a free lease: long
 * enough for a live leader to take its lease back (or, cut off, to step down). A replica that
 * never saw the mark (the first to start) takes it at once.
 */
export class AlertLease {
  private isLeading = false;
  private readonly listeners: ((leading: boolean) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  /** This replica has seen the era mark: a missing one means Redis lost its keys. */
  private sawEra = false;
  /** When this replica found the era mark gone, while it waits to take the lease. */
  private wipedSince: number | null = null;
  private readonly now: () => number;
  /** Monotonic ms at which the lease held lapses in Redis at the earliest: leaseMs after the renewal that confirmed it was sent. */
  private validUntil = 0;

  constructor(private readonly options: AlertLeaseOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Whether this replica holds the lease now. The expiry timer may fire late (a stalled event
   * loop runs other timers first, a miss's alert among them), so the lease's end is checked on
   * every read too: past it, this replica stops leading there and then, and says so.
   */
  get leading(): boolean {
    if (this.isLeading && this.now() >= this.validUntil) this.setLeading(false);
    return this.isLeading;
  }

  onChange(listener: (leading: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Tries for the lease at once; resolves when that first try settled. Then goes on every leaseMs/3. */
  async start(): Promise<void> {
    await this.tick();
  }

  /** One renewal or attempt, unless one is still waiting for Redis. */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    const { client, key, eraKey, replicaId, leaseMs, health } = this.options;
    const sentAt = this.now();
    const patient = this.sawEra && (this.wipedSince === null || sentAt - this.wipedSince < leaseMs);
    try {
      const keys = [key, eraKey];
      const answer = this.isLeading
        ? await client.eval(RENEW, { keys, arguments: [replicaId, String(leaseMs)] })
        : await client.eval(ACQUIRE, { keys, arguments: [replicaId, String(leaseMs), patient ? 'wait' : 'go'] });
      health.wrote();
      if (answer === 'wiped') {
        this.wipedSince ??= sentAt;
      } else {
        this.sawEra = true;
        this.wipedSince = null;
        if (answer === 'taken') this.confirmed(sentAt);
        else this.setLeading(false);
      }
    } catch (error) {
      health.failed(error, true);
    } finally {
      this.ticking = false;
      this.schedule();
    }
  }

  /** Stops renewing and, if this replica holds the lease, gives it up for the next one to take at once. Never rejects. */
  async release(): Promise<void> {
    this.stop();
    if (!this.isLeading) return;
    this.isLeading = false;
    const { client, key, replicaId } = this.options;
    if (!client.isReady) return;
    try {
      await client.eval(RELEASE, { keys: [key], arguments: [replicaId] });
    } catch {
      // It lapses by itself within leaseMs.
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.expiry);
    this.timer = undefined;
    this.expiry = undefined;
  }

  private confirmed(sentAt: number): void {
    clearTimeout(this.expiry);
    this.validUntil = sentAt + this.options.leaseMs;
    // Armed from the send, not the reply: Redis started the lease's time no sooner.
    this.expiry = setTimeout(
      () => {
        this.setLeading(false);
      },
      Math.max(0, sentAt + this.options.leaseMs - this.now()),
    );
    this.expiry.unref();
    this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    if (!leading) {
      clearTimeout(this.expiry);
      this.expiry = undefined;
    }
    if (leading === this.isLeading || this.stopped) return;
    this.isLeading = leading;
    for (const listener of this.listeners) {
      try {
        listener(leading);
      } catch (error) {
        // Not Redis's failure: it must not count as one, nor stop the others hearing of it.
        this.options.warn(`A listener of the alert lease failed: ${errorMessage(error)}`);
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.max(1, Math.floor(this.options.leaseMs / 3)));
    this.timer.unref();
  }
}

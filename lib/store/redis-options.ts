import { OptionReader } from '../util/validate';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { redactUrl } from './redis-url';

/** What `redisStore()` takes. */
export interface RedisStoreOptions {
  /**
   * Where Redis is: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS
   * (passed to the client as it is). A secret: only its redacted form is ever shown.
   */
  readonly url: string;
  /** The start of every key this store uses (`<prefix>:signals`, `<prefix>:lease`, …): one per app. Defaults to `heartbeat`. */
  readonly prefix?: string;
  /**
   * Milliseconds the alert lease lasts unless renewed (it is renewed every third of that):
   * how long a dead leader's alerts wait for another replica. At least 1000. Defaults to 5000.
   */
  readonly leaseMs?: number;
  /** Signals kept while Redis is away, the oldest dropped (and counted) beyond that. Defaults to 10000. */
  readonly bufferSize?: number;
  /** About how many signals the shared stream keeps (`XADD MAXLEN ~`): what a joining replica can still replay. Defaults to 100000. */
  readonly streamLength?: number;
  /** Milliseconds `redisStore()` waits for Redis at the start before it rejects. Defaults to 5000. */
  readonly connectTimeoutMs?: number;
  /** Milliseconds between the leader's saves of the shared snapshot that a joining replica starts from. Defaults to 5000. */
  readonly snapshotEveryMs?: number;
}

/** The options, checked and with their defaults. */
export interface RedisStoreConfig {
  readonly url: string;
  /** The URL as messages show it. */
  readonly redactedUrl: string;
  readonly prefix: string;
  readonly leaseMs: number;
  readonly bufferSize: number;
  readonly streamLength: number;
  readonly connectTimeoutMs: number;
  readonly snapshotEveryMs: number;
}

const KEYS = ['url', 'prefix', 'leaseMs', 'bufferSize', 'streamLength', 'connectTimeoutMs', 'snapshotEveryMs'];
const PREFIX = /^[A-Za-z0-9_.:{}-]{1,100}$/;

/** Checks `options` once, throwing a ConfigError that names the key, the value (a URL redacted) and the fix. */
export function readRedisStoreOptions(options: RedisStoreOptions): RedisStoreConfig {
  const read = new OptionReader('Invalid redisStore options');
  const given = read.object('', options, KEYS);
  const givenUrl = given.url;
  if (typeof givenUrl !== 'string' || !/^rediss?:\/\/[^/]/.test(givenUrl) || !parses(givenUrl)) {
    read.fail(
      'url',
      typeof givenUrl === 'string' ? redactUrl(givenUrl) : givenUrl,
      'a Redis URL such as "redis://127.0.0.1:6379" or "rediss://host:6380/0"',
    );
  }
  const url = givenUrl as string;
  const prefix = given.prefix ?? 'heartbeat';
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    read.fail('prefix', prefix, 'from 1 to 100 letters, digits or any of _ . : { } -, e.g. "heartbeat"');
  }
  const leaseMs = given.leaseMs === undefined ? 5000 : read.integer('leaseMs', given.leaseMs, 1000, 'of milliseconds, e.g. 5000');
  if (leaseMs > MAX_TIMER_DELAY_MS) read.fail('leaseMs', leaseMs, `at most ${MAX_TIMER_DELAY_MS} ms, e.g. 5000`);
  const bufferSize = given.bufferSize === undefined ? 10_000 : read.integer('bufferSize', given.bufferSize, 1, 'of signals, e.g. 10000');
  const streamLength =
    given.streamLength === undefined ? 100_000 : read.integer('streamLength', given.streamLength, 1, 'of signals, e.g. 100000');
  const connectTimeoutMs =
    given.connectTimeoutMs === undefined ? 5000 : read.durationMs('connectTimeoutMs', given.connectTimeoutMs, 1, 'e.g. 5000');
  const snapshotEveryMs =
    given.snapshotEveryMs === undefined ? 5000 : read.durationMs('snapshotEveryMs', given.snapshotEveryMs, 1, 'e.g. 5000');
  return {
    url,
    redactedUrl: redactUrl(url),
    prefix: prefix as string,
    leaseMs,
    bufferSize,
    streamLength,
    connectTimeoutMs,
    snapshotEveryMs,
  };
}

function parses(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

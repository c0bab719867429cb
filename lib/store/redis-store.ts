import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ReplicaLink } from '../core/replicas';
import type { HeartbeatStore, SavedState, StoreContext, StoreHealth } from '../core/store';
import type { Clock } from '../util/clock';
import { AlertLease } from './alert-lease';
import { SkewClock } from './redis-clock';
import { closeConnection, connectWithin, createConnection, type RedisConnection } from './redis-connection';
import { errorMessage, RedisHealth } from './redis-health';
import { RedisLink } from './redis-link';
import { readRedisStoreOptions, type RedisStoreConfig, type RedisStoreOptions } from './redis-options';
import { scrubSecrets } from './redis-url';
import { SharedNotes } from './shared-notes';
import { SignalPublisher } from './signal-publisher';
import { SignalReader } from './signal-reader';
import { isStreamId, laterId } from './stream-id';
import { parseSnapshot, type SavedSnapshot } from './shared-snapshot';

export type { RedisStoreOptions } from './redis-options';

/** A store shared by the replicas of one app, as `redisStore()` resolves to it. */
export interface RedisStore extends HeartbeatStore {
  readonly kind: 'redis';
  readonly replicas: ReplicaLink;
  /** Signals this replica could not share because Redis stayed away longer than its buffer lasted. */
  readonly droppedSignals: number;
}

/** How long close() waits for Redis before it drops the connections. */
const CLOSE_GRACE_MS = 1000;
/** Warnings from before the manager's logger was given, kept for it. */
const EARLY_WARNINGS = 20;

/**
 * A store for several replicas of one app, in Redis (see docs/replicas.md): the remote
 * services' signals go through a shared stream that every replica replays, their wall times
 * follow Redis's clock, one replica at a time (the holder of the alert lease) alerts for them
 * and saves their snapshot, and the alert incidents are shared notes. In-process heartbeats
 * stay with their process and are not saved.
 *
 * It connects before it resolves, and rejects if Redis cannot be reached within
 * `connectTimeoutMs`. Later outages are survived: monitoring goes on from memory, signals
 * wait (bounded) and `health()` says `degraded` until the client has reconnected.
 *
 * ```ts
 * const manager = new HeartbeatManager({ store: await redisStore({ url: 'redis://127.0.0.1:6379' }) });
 * ```
 */
export async function redisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const config = readRedisStoreOptions(options);
  const store = new RedisReplicaStore(config);
  await store.open();
  return store;
}

class RedisReplicaStore implements RedisStore {
  readonly kind = 'redis';
  readonly replicas: RedisLink;
  private readonly replicaId = randomUUID();
  private readonly health_: RedisHealth;
  private readonly client: RedisConnection;
  /** The blocking XREAD holds a connection of its own. */
  private readonly readerClient: RedisConnection;
  private readonly clock: SkewClock;
  private readonly publisher: SignalPublisher;
  private readonly reader: SignalReader;
  private readonly lease: AlertLease;
  private readonly notes: SharedNotes;
  private saved: SavedSnapshot | null = null;
  private logger: Logger | undefined;
  private readonly earlyWarnings: string[] = [];
  private managerClock: Clock | undefined;
  private loaded = false;
  private closed = false;
  /** What health() said as close() began: after it, the connections are gone on purpose. */
  private finalHealth: StoreHealth | undefined;
  private lastSnapshotAt = -Infinity;
  private savingSnapshot = false;
  /** The latest connection error while opening, for the message if it fails. */
  private openError: unknown;
  /** Both connections were made: from now on, the client reconnects by itself. */
  private opened = false;
  /** The command connection was lost and is not back yet: reported once each way. */
  private away = false;

  constructor(private readonly config: RedisStoreConfig) {
    const { prefix } = config;
    const reconnects = (): boolean => this.opened;
    this.client = createConnection(config.url, config.connectTimeoutMs, reconnects, (error) => {
      this.connectionError(error, true);
    });
    this.readerClient = this.client.duplicate();
    this.readerClient.on('error', (error: unknown) => {
      this.connectionError(error, false);
    });
    this.health_ = new RedisHealth(config.url, () => this.client.isReady);
    const warn = (message: string): void => {
      this.warn(message);
    };
    this.clock = new SkewClock(async () => {
      const [seconds = '', microseconds = ''] = await this.client.time();
      return [seconds, microseconds];
    });
    const signals = `${prefix}:signals`;
    const { replicaId, health_: health } = this;
    this.publisher = new SignalPublisher({
      client: this.client,
      key: signals,
      replicaId,
      streamLength: config.streamLength,
      bufferSize: config.bufferSize,
      health,
      warn,
    });
    this.reader = new SignalReader({ client: this.readerClient, key: signals, replicaId, capacity: config.bufferSize, health, warn });
    this.lease = new AlertLease({
      client: this.client,
      key: `${prefix}:lease`,
      eraKey: `${prefix}:era`,
      replicaId,
      leaseMs: config.leaseMs,
      health,
      warn,
    });
    this.notes = new SharedNotes({ client: this.client, prefix, health, warn });
    this.replicas = new RedisLink({
      replicaId,
      clock: this.clock,
      publisher: this.publisher,
      reader: this.reader,
      lease: this.lease,
      notes: this.notes,
    });
    this.client.on('ready', () => {
      this.connectionBack();
    });
  }

  get droppedSignals(): number {
    return this.publisher.droppedSignals;
  }

  /** Connects both connections, measures the clock, reads the shared snapshot, starts reading and tries for the lease. */
  async open(): Promise<void> {
    const { connectTimeoutMs, url, prefix } = this.config;
    const deadline = performance.now() + connectTimeoutMs;
    const remember = (error: unknown): void => {
      this.openError = error;
    };
    const connected = await Promise.all([
      connectWithin(this.client, deadline, remember),
      connectWithin(this.readerClient, deadline, remember),
    ]);
    // Connected, and neither dropped since: until `opened`, a dropped connection stays down.
    if (!connected.every(Boolean) || !this.client.isReady || !this.readerClient.isReady) {
      this.client.destroy();
      this.readerClient.destroy();
      const reason = scrubSecrets(describeCause(this.openError), url);
      throw new Error(
        `Could not reach Redis within ${connectTimeoutMs} ms (${reason}): start it, or check the url given to redisStore() (not shown: it may hold a password)`,
      );
    }
    this.opened = true;
    try {
      await this.clock.start();
      this.saved = parseSnapshot(await this.client.get(`${prefix}:snapshot`), (message) => {
        this.warn(message);
      });
    } catch (error) {
      await this.close(undefined);
      // The cause is left out: the client's error may quote the url.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(`Could not read the shared state from Redis: ${this.health_.describe(error)}`);
    }
    const from = this.saved?.stream_id ?? '0-0';
    if (await this.streamTrimmedPast(from)) {
      this.warn(
        `The signal stream no longer holds every call since ${this.saved ? 'the shared snapshot' : 'it began'}: this replica may miss some (raise streamLength, or save the snapshot more often with snapshotEveryMs)`,
      );
    }
    this.reader.start(from, this.saved?.own ?? null);
    await this.lease.start();
  }

  /**
   * Whether Redis may have trimmed (MAXLEN) entries after `from` from the stream: it added
   * more than it holds, and its oldest entry comes after `from` while `from` itself is gone
   * (the snapshot's entry still there means everything after it is too). Unknown (no stream
   * yet, an error) reads as no.
   */
  private async streamTrimmedPast(from: string): Promise<boolean> {
    const key = `${this.config.prefix}:signals`;
    try {
      const info = fieldsOf(await this.client.sendCommand(['XINFO', 'STREAM', key]));
      const first = info['recorded-first-entry-id'];
      if (Number(info['entries-added']) <= Number(info.length) || !isStreamId(first) || !laterId(first, from)) return false;
      return from === '0-0' || ((await this.client.xRange(key, from, from)) ?? []).length === 0;
    } catch {
      return false;
    }
  }

  load(context: StoreContext): SavedState {
    if (this.loaded || this.closed) {
      throw new Error('This redisStore() is already used by a HeartbeatManager: give each manager its own store.');
    }
    this.loaded = true;
    this.logger = context.logger;
    this.managerClock = context.clock;
    this.health_.wallNow = () => context.clock.wallNow();
    for (const message of this.earlyWarnings.splice(0)) this.warn(message);
    return { snapshot: this.saved?.body ?? null, entries: [] };
  }

  /** Each replica derives its own entries from the shared signals: only the leader's periodic snapshot is written. */
  append(_entries: readonly unknown[], snapshot: () => unknown): boolean {
    if (this.closed || !this.lease.leading || this.savingSnapshot) return true;
    const now = this.managerClock ? this.managerClock.now() : performance.now();
    if (now - this.lastSnapshotAt < this.config.snapshotEveryMs) return true;
    this.lastSnapshotAt = now;
    void this.saveSnapshot(snapshot(), this.snapshotPosition());
    return true;
  }

  health(): StoreHealth {
    return { ...(this.finalHealth ?? this.health_.health()), droppedSignals: this.publisher.droppedSignals };
  }

  async close(snapshot: unknown): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.finalHealth = this.health_.health();
    // Where the body stands, read before anything else can run: the reader goes on meanwhile.
    const position = this.snapshotPosition();
    if (snapshot !== undefined && this.lease.leading && this.client.isReady) await this.saveSnapshot(snapshot, position);
    await this.lease.release();
    this.clock.stop();
    this.publisher.close();
    this.notes.close();
    this.reader.stop();
    // A blocked XREAD would hold a graceful close for up to a second: that connection only reads.
    this.readerClient.destroy();
    await closeConnection(this.client, CLOSE_GRACE_MS);
  }

  /**
   * Where a snapshot taken now stands: every other replica's signal up to the stream entry the
   * reader has applied, and every one of this replica's own that it published (it applies
   * them before it publishes them), wherever the stream has them, or will.
   */
  private snapshotPosition(): Pick<SavedSnapshot, 'stream_id' | 'own'> {
    return { stream_id: this.reader.appliedThrough, own: { replica: this.replicaId, seq: this.publisher.publishedSeq } };
  }

  private async saveSnapshot(body: unknown, position: Pick<SavedSnapshot, 'stream_id' | 'own'>): Promise<void> {
    if (!this.client.isReady) return;
    const saved: SavedSnapshot = { ...position, saved_at: this.health_.wallNow(), body };
    this.savingSnapshot = true;
    try {
      await this.client.set(`${this.config.prefix}:snapshot`, JSON.stringify(saved));
      this.health_.wrote();
    } catch (error) {
      this.health_.failed(error, true);
    } finally {
      this.savingSnapshot = false;
    }
  }

  private connectionError(error: unknown, commands: boolean): void {
    this.openError = error;
    this.health_.failed(error, false);
    if (!commands || this.away || this.closed || !this.loaded) return;
    this.away = true;
    this.warn(
      `${this.health_.describe(error)}; monitoring goes on from memory, and up to ${this.config.bufferSize} signals wait for it to come back`,
    );
  }

  private connectionBack(): void {
    this.publisher.connected();
    void this.notes.flush();
    if (!this.away) return;
    this.away = false;
    this.logger?.info({ store: 'redis' }, 'Redis is back: waiting signals and notes are being written');
  }

  private warn(message: string): void {
    if (this.logger) this.logger.warn({ store: 'redis' }, message);
    else if (this.earlyWarnings.length < EARLY_WARNINGS) this.earlyWarnings.push(message);
  }
}

/** A short reason for a connection failure: the system error's code (ECONNREFUSED) or the message. */
function describeCause(error: unknown): string {
  if (error === undefined) return 'no answer';
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code !== '' ? code : errorMessage(error);
}

/** The fields of an XINFO reply, which this client hands back as an object (anything else: none). */
function fieldsOf(reply: unknown): Record<string, unknown> {
  return typeof reply === 'object' && reply !== null && !Array.isArray(reply) ? (reply as Record<string, unknown>) : {};
}

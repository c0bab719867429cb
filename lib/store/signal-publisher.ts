import type { SharedSignal } from '../core/replicas';
import { BoundedQueue } from './bounded-queue';
import type { RedisConnection } from './redis-connection';
import type { RedisHealth } from './redis-health';

/** The wait before a batch that failed while connected (Redis refused it) is tried again. */
const RETRY_AFTER_MS = 250;

export interface SignalPublisherOptions {
  readonly client: RedisConnection;
  /** The stream: `<prefix>:signals`. */
  readonly key: string;
  readonly replicaId: string;
  /** About how many entries the stream keeps. */
  readonly streamLength: number;
  /** Signals kept while Redis is away. */
  readonly bufferSize: number;
  readonly health: RedisHealth;
  /** Where a dropped signal is reported (once per outage). */
  readonly warn: (message: string) => void;
}

/** One of this replica's signals on its way: its text, and its number among them. */
interface Outgoing {
  readonly text: string;
  readonly seq: number;
}

/**
 * Adds this replica's signals to the shared stream, in the order they were published, each
 * numbered (`q`: 1, 2, … per replica start), so that a snapshot can say which of them it
 * holds already. While
 * Redis is away they wait in a bounded buffer (the oldest dropped and counted), and go out
 * in order once the connection is back, with their original `at`.
 *
 * Signals go out in batches, one at a time: everything published while a batch is on the
 * wire goes in the next. A batch is pipelined on one connection, so Redis adds it in order;
 * and as no batch starts before the one before it settled, a failed one can be put back in
 * front of the buffer without overtaking anything sent after it.
 */
export class SignalPublisher {
  private readonly buffer: BoundedQueue<Outgoing>;
  private sending = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private dropped = 0;
  private warnedThisOutage = false;
  private seq = 0;

  constructor(private readonly options: SignalPublisherOptions) {
    this.buffer = new BoundedQueue(options.bufferSize);
  }

  /** Signals dropped because the buffer was full while Redis was away, since the store opened. */
  get droppedSignals(): number {
    return this.dropped;
  }

  /** The number of the latest signal published: every one up to it is in this replica's state, whether or not the stream has it yet. */
  get publishedSeq(): number {
    return this.seq;
  }

  publish(signal: SharedSignal): void {
    if (this.closed) return;
    this.keep(this.buffer.push({ text: JSON.stringify(signal), seq: ++this.seq }));
    this.pump();
  }

  /** The connection is back: what waited goes out, and a later outage is reported again. */
  connected(): void {
    this.warnedThisOutage = false;
    this.pump();
  }

  /** Stops sending; what is still buffered is lost with the process. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private keep(droppedNow: number): void {
    if (droppedNow === 0) return;
    this.dropped += droppedNow;
    if (!this.warnedThisOutage) {
      this.warnedThisOutage = true;
      this.options.warn(
        `Redis is away and ${this.options.bufferSize} signals wait for it: the oldest are dropped (the store counts them); the other replicas will not see those`,
      );
    }
  }

  private pump(): void {
    const { client } = this.options;
    if (this.sending || this.closed || this.retryTimer || !client.isReady || this.buffer.length === 0) return;
    const batch = this.buffer.takeAll();
    this.sending = true;
    void Promise.allSettled(batch.map((text) => this.add(text))).then((results) => {
      this.settled(batch, results);
    });
  }

  private add({ text, seq }: Outgoing): Promise<string> {
    const { client, key, replicaId, streamLength } = this.options;
    return client.xAdd(
      key,
      '*',
      { o: replicaId, q: String(seq), s: text },
      { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: streamLength } },
    );
  }

  private settled(batch: readonly Outgoing[], results: readonly PromiseSettledResult<string>[]): void {
    this.sending = false;
    const failed: Outgoing[] = [];
    results.forEach((result, index) => {
      if (result.status === 'rejected') {
        failed.push(batch[index] as Outgoing);
        this.options.health.failed(result.reason, true);
      }
    });
    if (failed.length < batch.length) this.options.health.wrote();
    if (failed.length > 0 && !this.closed) {
      this.keep(this.buffer.pushFront(failed));
      // Disconnected: the 'ready' event calls connected(). Still connected: Redis refused
      // them, so wait a little rather than ask again at once.
      if (this.options.client.isReady) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, RETRY_AFTER_MS);
        this.retryTimer.unref();
      }
      return;
    }
    this.pump();
  }
}

import { SIGNAL_KINDS, type SharedSignal } from '../core/replicas';
import { BoundedQueue } from './bounded-queue';
import type { RedisConnection } from './redis-connection';
import { errorMessage, type RedisHealth } from './redis-health';
import { isStreamId } from './stream-id';

/** How long one XREAD waits for new entries: also the longest a stop waits for a read to end. */
const BLOCK_MS = 1000;
/** Entries per read. */
const COUNT = 500;
/** The wait before reading again after a failed read. */
const RETRY_AFTER_MS = 250;
/** Bad entries logged one by one; past that, only counted. */
const LOGGED_BAD_ENTRIES = 10;

export interface SignalReaderOptions {
  /** A connection of its own: a blocked XREAD holds it. */
  readonly client: RedisConnection;
  /** The stream: `<prefix>:signals`. */
  readonly key: string;
  readonly replicaId: string;
  /** Signals kept until a listener is set; reading pauses when it is full. */
  readonly capacity: number;
  readonly health: RedisHealth;
  readonly warn: (message: string) => void;
}

/** Which of its own signals the replica that saved a snapshot had applied when it took it. */
export interface SnapshotHolds {
  readonly replica: string;
  readonly seq: number;
}

interface StreamEntry {
  readonly id: string;
  readonly message: Readonly<Record<string, string>>;
}

/**
 * Reads the other replicas' signals from the shared stream, in order, and hands them to the
 * listener. This replica's own entries are skipped (it applied them when it published them);
 * entries that are not signals are skipped, counted and logged. Before a listener is set,
 * signals wait (bounded: reading pauses when the queue is full, so none is lost).
 */
export class SignalReader {
  private listener: ((signal: SharedSignal) => void) | undefined;
  private readonly waiting: BoundedQueue<{ readonly id: string; readonly signal: SharedSignal }>;
  /** The id of the last entry read. */
  private position: string;
  /** The id through which every signal read has reached the listener: what the state holds. */
  private applied: string;
  private stopped = false;
  private wake: (() => void) | undefined;
  private badEntries = 0;
  private held: SnapshotHolds | null = null;

  constructor(private readonly options: SignalReaderOptions) {
    this.waiting = new BoundedQueue(options.capacity);
    this.position = '0-0';
    this.applied = '0-0';
  }

  /** The stream id through which this replica's state holds every signal: where a snapshot taken now starts. */
  get appliedThrough(): string {
    return this.applied;
  }

  /**
   * Reads on from the entry after `after`: the shared snapshot's id, or `0-0` for the whole
   * stream. `held`: the replica that saved the snapshot and the number of its latest signal the
   * snapshot holds; its entries up to that number are skipped, wherever the stream has them.
   */
  start(after: string, held: SnapshotHolds | null = null): void {
    this.position = after;
    this.applied = after;
    this.held = held;
    void this.loop();
  }

  setListener(listener: (signal: SharedSignal) => void): void {
    this.listener = listener;
    for (let next = this.waiting.shift(); next; next = this.waiting.shift()) this.deliver(next.signal);
    this.applied = this.position;
    this.resume();
  }

  /** Ends the loop; the caller closes the connection, which ends a blocked read. */
  stop(): void {
    this.stopped = true;
    this.resume();
  }

  /** Read through a call: stop() may run while a read is awaited. */
  private running(): boolean {
    return !this.stopped;
  }

  private resume(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private pause(ms: number | null): Promise<void> {
    return new Promise((resolve) => {
      const timer =
        ms === null
          ? undefined
          : setTimeout(() => {
              this.resume();
            }, ms);
      timer?.unref();
      this.wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    const { client, key } = this.options;
    while (this.running()) {
      if (!this.listener && this.waiting.length >= this.options.capacity) {
        await this.pause(null);
        continue;
      }
      let reply: unknown;
      try {
        reply = await client.xRead({ key, id: this.position }, { BLOCK: BLOCK_MS, COUNT });
      } catch (error) {
        if (!this.running()) return;
        // While disconnected the client's own error events already count the outage.
        if (client.isReady) this.options.health.failed(error, false);
        await this.pause(RETRY_AFTER_MS);
        continue;
      }
      if (!this.running()) return;
      for (const entry of entriesOf(reply)) this.take(entry.id, entry.message);
    }
  }

  private take(id: string, fields: Readonly<Record<string, string>>): void {
    this.position = id;
    if (fields.o !== this.options.replicaId && !this.inSnapshot(fields)) {
      const signal = parseSignal(fields.s);
      if (!signal) {
        this.badEntries++;
        if (this.badEntries <= LOGGED_BAD_ENTRIES) {
          this.options.warn(`Entry ${id} of ${this.options.key} is not a signal: skipped (${this.badEntries} so far)`);
        }
      } else if (this.listener) {
        this.deliver(signal);
      } else {
        this.waiting.push({ id, signal });
        return;
      }
    }
    if (this.waiting.length === 0) this.applied = id;
  }

  /** Whether the entry is one of the snapshot saver's own signals that the snapshot holds already. */
  private inSnapshot(fields: Readonly<Record<string, string>>): boolean {
    const held = this.held;
    return held !== null && fields.o === held.replica && Number(fields.q) <= held.seq;
  }

  private deliver(signal: SharedSignal): void {
    try {
      (this.listener as (signal: SharedSignal) => void)(signal);
    } catch (error) {
      this.options.warn(
        `A shared ${signal.kind} signal for ${JSON.stringify(signal.service)} could not be applied: ${errorMessage(error)}`,
      );
    }
  }
}

/**
 * The entries of an XREAD reply (`[{ name, messages: [{ id, message }] }]`, or null when the
 * wait ended with none), checked: a reply of another shape yields nothing rather than throw
 * in the loop.
 */
function entriesOf(reply: unknown): StreamEntry[] {
  const entries: StreamEntry[] = [];
  if (!Array.isArray(reply)) return entries;
  for (const stream of reply as unknown[]) {
    const messages = typeof stream === 'object' && stream !== null ? (stream as { messages?: unknown }).messages : undefined;
    if (!Array.isArray(messages)) continue;
    for (const entry of messages as unknown[]) {
      const { id, message } = (entry ?? {}) as { id?: unknown; message?: unknown };
      if (isStreamId(id) && typeof message === 'object' && message !== null) {
        entries.push({ id, message: message as Readonly<Record<string, string>> });
      }
    }
  }
  return entries;
}

const KINDS: readonly string[] = SIGNAL_KINDS;

/** The signal `text` holds, checked as far as the stream's reader must (its kind, service and time), or null. */
export function parseSignal(text: string | undefined): SharedSignal | null {
  if (text === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { kind, service, at } = value as Record<string, unknown>;
  if (typeof kind !== 'string' || !KINDS.includes(kind)) return null;
  if (typeof service !== 'string' || typeof at !== 'number' || !Number.isFinite(at)) return null;
  return value as SharedSignal;
}

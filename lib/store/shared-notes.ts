import type { RedisConnection } from './redis-connection';
import type { RedisHealth } from './redis-health';

/** Notes kept while Redis is away, the latest per key; past this many keys a new one waits no more (and is logged). */
export const MAX_WAITING_NOTES = 10_000;

export interface SharedNotesOptions {
  readonly client: RedisConnection;
  /** Notes of a space live in the hash `<prefix>:notes:<space>`. */
  readonly prefix: string;
  readonly health: RedisHealth;
  readonly warn: (message: string) => void;
}

/**
 * Shared notes, one Redis hash per space (`HSET <prefix>:notes:<space> <key> <JSON>`, HDEL for
 * null). A note saved while Redis is away, or whose write failed, waits as the latest value of
 * its key and is written once the connection is back; writes of one key are never reordered.
 */
export class SharedNotes {
  /** `space\nkey` → the latest value not yet written (null: delete). */
  private readonly waiting = new Map<string, { space: string; key: string; value: string | null }>();
  private flushing = false;
  private warnedFull = false;
  private closed = false;

  constructor(private readonly options: SharedNotesOptions) {}

  save(space: string, key: string, value: unknown): void {
    if (this.closed) return;
    const id = `${space}\n${key}`;
    if (!this.waiting.has(id) && this.waiting.size >= MAX_WAITING_NOTES) {
      if (!this.warnedFull) this.options.warn(`${MAX_WAITING_NOTES} shared notes wait for Redis: later ones are not saved`);
      this.warnedFull = true;
      return;
    }
    this.waiting.delete(id); // re-added last: the latest write goes last
    this.waiting.set(id, { space, key, value: value === null || value === undefined ? null : JSON.stringify(value) });
    void this.flush();
  }

  /**
   * The notes of `space`. Rejects while Redis is away: an empty answer would read as "nothing
   * open", and a new alerting replica would alert every open incident again.
   */
  async read(space: string): Promise<ReadonlyMap<string, unknown>> {
    const notes = new Map<string, unknown>();
    const { client, health } = this.options;
    if (!client.isReady) throw new Error('Redis is not connected: the shared notes cannot be read');
    let hash: Record<string, string>;
    try {
      hash = await client.hGetAll(this.hashKey(space));
    } catch (error) {
      health.failed(error, false);
      // The cause is left out: the client's error may quote the url.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(`The shared notes could not be read: ${(error as Error).name}`);
    }
    for (const [key, text] of Object.entries(hash)) {
      try {
        notes.set(key, JSON.parse(text) as unknown);
      } catch {
        this.options.warn(`Shared note ${JSON.stringify(key)} of ${JSON.stringify(space)} is not JSON: skipped`);
      }
    }
    // A note this replica saved but could not write yet is newer than what Redis holds.
    for (const note of this.waiting.values()) {
      if (note.space !== space) continue;
      if (note.value === null) notes.delete(note.key);
      else notes.set(note.key, JSON.parse(note.value) as unknown);
    }
    return notes;
  }

  /** Writes what waits, one note at a time in order; a failure leaves it (and the rest) for the next connection. */
  async flush(): Promise<void> {
    const { client, health } = this.options;
    if (this.flushing || this.closed) return;
    this.flushing = true;
    try {
      while (this.isOpen() && client.isReady) {
        const next = this.waiting.entries().next();
        if (next.done) break;
        const [id, note] = next.value;
        try {
          if (note.value === null) await client.hDel(this.hashKey(note.space), note.key);
          else await client.hSet(this.hashKey(note.space), note.key, note.value);
        } catch (error) {
          health.failed(error, true);
          break;
        }
        health.wrote();
        // Only if no newer value came while this one was on its way.
        if (this.waiting.get(id) === note) this.waiting.delete(id);
      }
    } finally {
      this.flushing = false;
    }
    // Room again: a later overflow is said again.
    if (this.waiting.size < MAX_WAITING_NOTES) this.warnedFull = false;
  }

  close(): void {
    this.closed = true;
  }

  /** Read through a call: close() may run while a write is awaited. */
  private isOpen(): boolean {
    return !this.closed;
  }

  private hashKey(space: string): string {
    return `${this.options.prefix}:notes:${space}`;
  }
}

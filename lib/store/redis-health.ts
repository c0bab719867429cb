import type { StoreHealth } from '../core/store';
import { scrubSecrets } from './redis-url';

/**
 * How the store's Redis commands are going, for `GET /live` and the store-error metric:
 * every failed command and connection error is counted, and its message kept with every part
 * of the URL scrubbed. The state is `ok` only while the connection is up and the latest write
 * went through.
 */
export class RedisHealth {
  private errors = 0;
  private lastError: string | null = null;
  private lastWriteAt: number | null = null;
  private lastWriteFailed = false;

  constructor(
    private readonly url: string,
    /** Whether the command connection is up now. */
    private readonly connected: () => boolean,
    /** Wall ms, for `lastWriteAt`: the manager's clock once the store is loaded. */
    public wallNow: () => number = Date.now,
  ) {}

  /** A connection error or a failed command (a read counts too: it shows Redis is away). */
  failed(error: unknown, write: boolean): void {
    this.errors++;
    this.lastError = this.describe(error);
    if (write) this.lastWriteFailed = true;
  }

  wrote(): void {
    this.lastWriteAt = this.wallNow();
    this.lastWriteFailed = false;
  }

  /** The message of `error`, with no part of the URL in it. */
  describe(error: unknown): string {
    return `Redis: ${scrubSecrets(errorMessage(error), this.url)}`;
  }

  health(): StoreHealth {
    const up = this.connected();
    if (up && !this.lastWriteFailed) return { state: 'ok', lastError: null, errors: this.errors, lastWriteAt: this.lastWriteAt };
    const lastError = this.lastError ?? 'Redis is not connected';
    return { state: 'degraded', lastError, errors: this.errors, lastWriteAt: this.lastWriteAt };
  }
}

/**
 * The message of a thrown value. Read by shape, not `instanceof Error`: errors of Node's own
 * modules come from another realm under some runners (jest's vm contexts among them).
 */
export function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { message, name } = error as { message?: unknown; name?: unknown };
    if (typeof message === 'string' && message !== '') return message;
    if (typeof name === 'string' && name !== '') return name;
  }
  return typeof error === 'string' ? error : 'an unknown error';
}

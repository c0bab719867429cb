import type { Clock } from '../util/clock';
import { codeOf, messageOf } from './fs-errors';
import type { StoreLog } from './guarded-log';

/** How the state directory's writes are going, for `/live` and the metrics. */
export interface StoreStatus {
  /** `degraded` while the last write of some file failed; state is then kept in memory only. */
  readonly state: 'ok' | 'degraded';
  /** The latest failure's message while degraded (paths, never contents); null when ok. */
  readonly lastError: string | null;
  /** Failed writes since the directory was opened, each one counted. */
  readonly errors: number;
  /** Wall-clock milliseconds of the last successful write, or null before the first. */
  readonly lastWriteAt: number | null;
}

/**
 * Tracks write failures per file, so one file that keeps failing keeps the store degraded
 * while others succeed, and a disk that stays full logs once per error code, not once per write.
 */
export class WriteHealth {
  private readonly failing = new Map<string, string>();
  private readonly loggedCodes = new Set<string>();
  private errors = 0;
  private lastWriteAt: number | null = null;

  constructor(
    private readonly dir: string,
    private readonly logger: StoreLog,
    private readonly clock: Clock,
  ) {}

  /** A write of `file` (a path, or `lock`) succeeded. */
  succeeded(file: string): void {
    this.lastWriteAt = this.clock.wallNow();
    this.recovered(file);
  }

  /** `file` no longer fails, by a change that saved no state (the lock taken, a file set aside). */
  recovered(file: string): void {
    if (!this.failing.delete(file) || this.failing.size > 0) return;
    this.logger.info({ dir: this.dir, errors: this.errors }, `state directory ${this.dir} is writable again; state is saved as before`);
    this.loggedCodes.clear();
  }

  /** A write of `file` failed with `error`; `doing` says what it was, for the log. */
  failed(file: string, error: unknown, doing: string): void {
    const message = messageOf(error);
    const code = codeOf(error) ?? 'UNKNOWN';
    this.errors++;
    this.failing.delete(file); // re-inserted last: the map's order is the order of the latest failures
    this.failing.set(file, message);
    if (this.loggedCodes.has(code)) return;
    this.loggedCodes.add(code);
    this.logger.error(
      { dir: this.dir, code, err: message },
      `state directory ${this.dir}: ${doing} failed (${message}); monitoring goes on in memory, and each later write tries again`,
    );
  }

  status(): StoreStatus {
    return {
      state: this.failing.size > 0 ? 'degraded' : 'ok',
      lastError: [...this.failing.values()].at(-1) ?? null,
      errors: this.errors,
      lastWriteAt: this.lastWriteAt,
    };
  }
}

import type { RunEnding } from './binding';

/** What `run.fail()` takes besides the error. */
export interface RunFailOptions {
  /** The failure is critical until the next success, not warning. Defaults to `false`. */
  readonly critical?: boolean;
}

/**
 * One run of a job, from `heartbeat.begin()` to its end. The first of `success()`, `fail()`
 * and `exit()` ends it; later calls do nothing, so a `finally` that ends it again is harmless.
 *
 * ```ts
 * const run = heartbeat.begin();
 * try { await indexFiles(); run.success(); } catch (error) { run.fail(error); }
 * ```
 */
export class JobRun {
  private ended = false;

  /** @internal */
  constructor(
    /** Ends the run in the engine; undefined for a heartbeat that watches nothing (stopped, or heartbeats disabled). */
    private readonly end: ((ending: RunEnding) => void) | undefined,
    private readonly describe: (error: unknown) => string,
  ) {}

  /** Whether the run has ended. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** The run succeeded: a pulse, with the run's duration recorded (and checked against `min_runtime`). */
  success(): void {
    this.finish({ ok: true, exitCode: null });
  }

  /** The run failed: an error (warning until the next success, or critical with `{ critical: true }`). */
  fail(error: unknown, options: RunFailOptions = {}): void {
    this.finish({ ok: false, exitCode: null, message: this.describe(error), critical: options.critical === true });
  }

  /** The run's process exited with `code`: `0` is a success, anything else a failure. */
  exit(code: number): void {
    if (!Number.isInteger(code) || code < 0 || code > 255) {
      throw new RangeError(`run.exit(code): code is ${String(code)}; expected a process exit code, a whole number from 0 to 255.`);
    }
    this.finish({ ok: code === 0, exitCode: code });
  }

  private finish(ending: RunEnding): void {
    if (this.ended) return;
    this.ended = true;
    this.end?.(ending);
  }
}

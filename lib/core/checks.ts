import { readInterval } from './config';
import { setLongTimeout, type LongTimeout } from '../util/timers';
import { OptionReader } from '../util/validate';

/** A probe of a dependency: resolve when it is healthy, throw or reject when it is not. */
export type Probe = (signal: AbortSignal) => unknown;

/** What `manager.check()` takes besides the tag and the probe. Every key is optional. */
export interface CheckOptions {
  /** Seconds between runs. Defaults to the config's `default_interval`. */
  readonly interval?: number;
  /** Milliseconds a run may take before it counts as failed; at most the interval. Defaults to 5000, or the interval if shorter. */
  readonly timeout?: number;
  /** Whether this dependency going critical makes the whole system critical. Defaults to `true`. */
  readonly critical?: boolean;
}

/** What a check drives: the heartbeat its probe's outcomes go to. */
export interface CheckTarget {
  start(): unknown;
  stop(): void;
  pulse(): void;
  error(message: string): void;
}

const CHECK_KEYS = ['interval', 'timeout', 'critical'] as const;

/** Reads a check's options against the manager's default interval. */
export function checkOptions(options: unknown, defaultInterval: number): { interval: number; timeout: number; critical: boolean } {
  const read = new OptionReader('Invalid check options');
  const given = read.object('', options ?? {}, CHECK_KEYS);
  const interval = given.interval === undefined ? defaultInterval : readInterval(read, 'interval', given.interval);
  const timeout =
    given.timeout === undefined
      ? Math.min(5000, interval * 1000)
      : read.positiveNumber('timeout', given.timeout, 'of milliseconds, e.g. 5000');
  if (timeout > interval * 1000) read.fail('timeout', timeout, `at most the interval (${interval * 1000} ms), so runs cannot overlap`);
  const critical = given.critical === undefined ? true : read.boolean('critical', given.critical);
  return { interval, timeout, critical };
}

/**
 * Runs `probe` every interval and turns its outcome into the heartbeat's: success pulses,
 * a throw or a rejection reports the error, and a run past the timeout reports
 * `timed out after N ms` and has its signal aborted. Runs start on a fixed rate and never
 * overlap: a run still going when the next is due makes that one wait for it. The timers are
 * unref'd and chained, so an interval or a timeout past 24.8 days (a monthly job) is waited
 * out; a probe that throws synchronously or returns anything is handled the same way.
 */
export function runCheck(
  heartbeat: CheckTarget,
  probe: Probe,
  settings: { interval: number; timeout: number },
  now: () => number,
): { stop(): void } {
  let timer: LongTimeout | undefined;
  /** The run in flight: its timeout, and the controller whose signal the probe holds. */
  let deadline: LongTimeout | undefined;
  let controller: AbortController | undefined;
  let stopped = false;
  let running = false;
  let nextRunAt = now();

  const schedule = (): void => {
    if (stopped) return;
    nextRunAt += settings.interval * 1000;
    // Chained, not one setTimeout: an interval past 24.8 days would overflow and run at once.
    timer = setLongTimeout(run, nextRunAt - now());
  };

  const run = (): void => {
    timer = undefined;
    if (stopped || running) return;
    running = true;
    const runController = (controller = new AbortController());
    let settled = false;
    const runDeadline = (deadline = setLongTimeout(() => {
      if (settled) return;
      settled = true;
      runController.abort(new Error(`timed out after ${settings.timeout} ms`));
      heartbeat.error(`timed out after ${settings.timeout} ms`);
    }, settings.timeout));
    const finish = (error: unknown, failed: boolean): void => {
      running = false;
      runDeadline.clear();
      if (!settled && !stopped) {
        settled = true;
        if (failed) heartbeat.error(error instanceof Error ? error.message : String(error));
        else heartbeat.pulse();
      }
      // A run that overran its slot lets the next one start at once, then the rate resumes.
      if (!stopped && !timer) {
        if (nextRunAt + settings.interval * 1000 < now()) nextRunAt = now() - settings.interval * 1000;
        schedule();
      }
    };
    let outcome: Promise<unknown>;
    try {
      outcome = Promise.resolve(probe(runController.signal));
    } catch (error) {
      outcome = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    outcome.then(
      () => {
        finish(undefined, false);
      },
      (error: unknown) => {
        finish(error, true);
      },
    );
  };

  heartbeat.start();
  run();
  return {
    stop: () => {
      stopped = true;
      timer?.clear();
      // A run in flight is abandoned: its timeout goes, and its probe is told through its signal.
      deadline?.clear();
      controller?.abort(new Error('the check was stopped'));
      heartbeat.stop();
    },
  };
}

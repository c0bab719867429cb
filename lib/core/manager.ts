// The core's public face: the heartbeat handle a service pulses, the manager that watches the
// handles, and the default manager used when none is given. They live in one module because
// each needs the other (a manager creates heartbeats; a heartbeat without a manager takes the
// default one); the engine behind them is the Monitor in monitor.ts.
import type { ServicePort } from './binding';
import { checkOptions, runCheck, type CheckOptions, type Probe } from './checks';
import { checkTag, readConfigFile, readInterval, type ResolvedHeartbeatConfig } from './config';
import { JobRun } from './job-run';
import { IN_PROCESS } from './runs';
import { Monitor, type HeartbeatManagerOptions } from './monitor';
import { OptionReader } from '../util/validate';

export {
  MAX_ERROR_LENGTH,
  type HealthStatus,
  type HeartbeatManagerOptions,
  type MonitorHealth,
  type PauseChange,
  type PauseListener,
  type PauseOptions,
  type StatusChange,
  type StatusListener,
  type TrendChange,
  type TrendListener,
} from './monitor';

/** What `new Heartbeat()` takes. Only `tag` is required. */
export interface HeartbeatOptions {
  /** The service's name, e.g. `save_worker`: the key in the status JSON and the `service` metric label. */
  readonly tag: string;
  /** Seconds between pulses. Defaults to the config's `default_interval`. A service listed in the config takes its interval from there. */
  readonly interval?: number;
  /** Whether this service going critical makes the whole system critical. Defaults to `true`. */
  readonly critical?: boolean;
  /** Seconds of slack after each interval before a beat counts as missed. Defaults to the config's `grace`, or 10% of the interval. */
  readonly grace?: number;
  /** The manager to register with. Defaults to the module's default manager (see `getDefaultManager()`). */
  readonly manager?: HeartbeatManager;
}

/** What `heartbeat.error()` takes besides the message. */
export interface ErrorOptions {
  /** A system exception: the service is critical until its next pulse. Defaults to `false` (warning). */
  readonly critical?: boolean;
}

const HEARTBEAT_KEYS = ['tag', 'interval', 'critical', 'grace', 'manager'] as const;
/** In-process runs get ids of their own, which no remote `rid` can be (they start with a NUL). */
let nextRunId = 1;
const CREATED = 0;
const RUNNING = 1;
const STOPPED = 2;

/**
 * A named heartbeat that a service pulses at its interval to prove it is alive.
 *
 * ```ts
 * const heartbeat = new Heartbeat({ tag: 'save_worker', interval: 30 });
 * heartbeat.start();
 * // in the worker loop:
 * try { processQueue(); heartbeat.pulse(); } catch (e) { heartbeat.error(String(e)); }
 * ```
 */
export class Heartbeat {
  /** The service's name: its key in the status JSON and its `service` metric label. */
  readonly tag: string;
  /** The manager this heartbeat is registered with, which decides its status. */
  readonly manager: HeartbeatManager;
  private readonly port: ServicePort | undefined;
  private state: typeof CREATED | typeof RUNNING | typeof STOPPED = CREATED;

  constructor(options: HeartbeatOptions) {
    const read = new OptionReader('Invalid Heartbeat options');
    const given = read.object('', options, HEARTBEAT_KEYS);
    this.tag = checkTag(read, 'tag', given.tag);
    this.manager = (given.manager as HeartbeatManager | undefined) ?? getDefaultManager();
    if (typeof this.manager.attach !== 'function') read.fail('manager', given.manager, 'a HeartbeatManager');
    const config = this.manager.config;
    const interval = given.interval === undefined ? config.default_interval : readInterval(read, 'interval', given.interval);
    const grace = given.grace === undefined ? null : read.nonNegativeNumber('grace', given.grace, 'of seconds, e.g. 3');
    const critical = given.critical === undefined ? true : read.boolean('critical', given.critical);
    this.port = this.manager.attach(this, { interval, grace, critical });
    // With heartbeats disabled there is nothing to watch: every method is a no-op.
    if (!this.port) this.state = STOPPED;
  }

  /** Seconds between expected pulses (the config's value for a configured service). */
  get interval(): number {
    return this.port ? this.port.intervalMs / 1000 : this.manager.config.default_interval;
  }

  /** Whether this service going critical makes the whole system critical (the config's value for a configured service). */
  get critical(): boolean {
    return this.port ? this.port.critical : true;
  }

  /** Whether the heartbeat is started and not stopped. */
  get isActive(): boolean {
    return this.state === RUNNING;
  }

  /** Whether this heartbeat gave up its service (stopped, or never bound while heartbeats are disabled): a new one may take its tag. */
  get isReleased(): boolean {
    return this.state === STOPPED;
  }

  /** Starts watching: the start counts as a sign of life. Calling it again does nothing. */
  start(): this {
    if (this.state !== CREATED || !this.port) return this;
    this.state = RUNNING;
    this.port.start();
    return this;
  }

  /**
   * @internal Takes up this heartbeat's saved service after a restart without restarting it:
   * watched from its saved last heartbeat, as a service that runs elsewhere (remote) needs.
   */
  resume(): this {
    if (this.state !== CREATED || !this.port) return this;
    this.state = RUNNING;
    this.port.resume();
    return this;
  }

  /**
   * Stops the heartbeat. An ad-hoc service leaves the status; one listed in the config stays
   * and goes red, since it is expected to run. Pulses after this are ignored. Safe to call twice.
   */
  stop(): void {
    if (this.state !== RUNNING) {
      this.state = STOPPED;
      return;
    }
    this.state = STOPPED;
    (this.port as ServicePort).stop();
  }

  /**
   * Signals healthy operation. The hot path: constant time, no allocation, no I/O, no timer
   * work. The first pulse starts a heartbeat that was not started, and one after a miss or an
   * error also queues the recovery for the monitor's next timer turn.
   *
   * `values` records custom metrics, e.g. `pulse({ queue_depth: 12 })`: finite numbers only,
   * at most 20 names per service; anything else is ignored with a one-time warning.
   */
  pulse(values?: Readonly<Record<string, number>>): void {
    if (this.state !== RUNNING) {
      if (this.state === STOPPED) return;
      this.start();
    }
    const port = this.port as ServicePort;
    port.pulse();
    if (values !== undefined) port.metrics(values);
  }

  /**
   * Reports an error: warning until the next pulse, or critical with `{ critical: true }`
   * (the seed's system exception). Logged and announced at once.
   */
  error(message: string, options: ErrorOptions = {}): void {
    if (this.state === STOPPED || !this.port) return;
    if (this.state === CREATED) this.start();
    this.port.error(messageText(message), options.critical === true);
  }

  /**
   * @internal A pulse another replica took in at wall time `at` (shared-clock ms): counted where
   * it happened, so a late one (replayed after Redis was away) revives nothing.
   */
  pulseAt(at: number, values?: Readonly<Record<string, number>>): void {
    if (this.state === STOPPED || !this.port) return;
    const port = this.port;
    if (this.state === CREATED) {
      // Started where the pulse happened: one replayed late must not make a new service look fresh.
      this.state = RUNNING;
      port.start(at);
    }
    port.pulseAt(at);
    if (values !== undefined) port.metrics(values);
  }

  /**
   * @internal A remote pulse another replica took in at wall time `at`: with `rid`, or while a
   * run is open, it ends that run as {@link signalRun} does; otherwise it is a pulse counted
   * where it happened ({@link pulseAt}).
   */
  replayPulse(at: number, rid: string | null, values?: Readonly<Record<string, number>>): void {
    if (rid === null && this.port?.running !== true) this.pulseAt(at, values);
    else this.signalRun(rid, { ok: true, exitCode: null }, values, at);
  }

  /** @internal An error another replica took in at wall time `at` (shared-clock ms). */
  errorAt(at: number, message: string, critical: boolean): void {
    if (this.state === STOPPED || !this.port) return;
    if (this.state === CREATED) this.start();
    this.port.errorAt(at, messageText(message), critical);
  }

  /**
   * Marks a job run in progress and returns it: end it with `run.success()` (a pulse, with the
   * run's duration), `run.fail(error)` or `run.exit(code)`. The start is a sign of life, though
   * not a pulse. With a `max_runtime` in the config, a run still open past it makes the service
   * warning, and past twice it critical; misses are not counted while it runs. Runs may overlap.
   */
  begin(): JobRun {
    // Unique in the process, so that two handles of one service (one stopped, one new) never pair each other's runs.
    const rid = `${IN_PROCESS}${nextRunId++}`;
    if (this.state === STOPPED || !this.port) return new JobRun(undefined, messageText);
    if (this.state === CREATED) this.start();
    const port = this.port;
    port.begin(rid);
    // An end after stop() is ignored, as a pulse is: the service may have a new handle by then.
    return new JobRun((ending) => {
      if (this.state === RUNNING) port.end(rid, ending);
    }, messageText);
  }

  /**
   * Runs `work` as a job run: `begin()`, then `success()` when it resolves or `fail(error)` when
   * it throws or rejects, and the error is thrown on. Resolves to what `work` returns.
   *
   * ```ts
   * await heartbeat.run(() => indexFiles());
   * ```
   */
  async run<T>(work: () => T | Promise<T>): Promise<T> {
    if (typeof work !== 'function') {
      throw new TypeError(`heartbeat.run(work): work is ${typeof work}; expected a function, e.g. () => indexFiles().`);
    }
    const run = this.begin();
    try {
      const result = await work();
      run.success();
      return result;
    } catch (error) {
      run.fail(error);
      throw error;
    }
  }

  /**
   * @internal A remote job signal: a start (`/start`) or an end (`/pulse`, `/fail`, `/exit/{code}`)
   * under `rid`, or the unnamed run when `rid` is null. An end without an open run is a plain
   * pulse or error. `at` (wall ms on the shared clock): when another replica took it in.
   */
  signalRun(
    rid: string | null,
    ending: Parameters<ServicePort['end']>[1] | null,
    values?: Readonly<Record<string, number>>,
    at?: number,
  ): void {
    if (this.state === STOPPED || !this.port) return;
    if (this.state === CREATED) {
      this.state = RUNNING;
      this.port.start(at);
    }
    if (ending === null) this.port.begin(rid, at);
    else this.port.end(rid, ending, at);
    // Custom metrics ride on the end's pulse, as on pulse(values): recorded, not counted again.
    if (values !== undefined) this.port.metrics(values);
  }

  /** Drops this service's history and error details older than `days`. Returns how many entries went. */
  cleanupOldData(days: number): number {
    return this.port ? this.port.cleanup(days) : 0;
  }
}

/** JavaScript callers pass whatever they caught: an Error, a string, or anything else. */
function messageText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.message;
  try {
    // Stringifying undefined, a function or a symbol gives undefined, though typed as a string.
    return JSON.stringify(value) || typeof value;
  } catch {
    return typeof value; // a BigInt or a circular object
  }
}

/** A running dependency check, as `manager.check()` returns it. */
export interface Check {
  /** The heartbeat the probe's outcomes go to, under the check's tag. */
  readonly heartbeat: Heartbeat;
  /** Stops running the probe and stops its heartbeat. */
  stop(): void;
}

/**
 * Watches every heartbeat registered with it. Status is derived from stored timestamps on
 * each read; one shared, unref'd timer finds transitions and reports them to the health log
 * and to `status` listeners.
 */
export class HeartbeatManager extends Monitor<Heartbeat> {
  constructor(options: HeartbeatManagerOptions = {}) {
    super(options);
    // Services that remote calls created run elsewhere: after a restart they are watched again at once.
    for (const tag of this.remoteToResume()) new Heartbeat({ tag, critical: false, manager: this }).resume();
  }

  /** Creates a heartbeat registered with this manager. Same as `new Heartbeat({ ...options, manager })`. */
  heartbeat(options: Omit<HeartbeatOptions, 'manager'>): Heartbeat {
    return new Heartbeat({ ...options, manager: this });
  }

  /**
   * Watches a dependency (a database, a cache, an HTTP API): runs `probe` every interval as
   * the heartbeat `tag`. Success pulses; a throw or rejection reports its message; a run past
   * `timeout` reports `timed out after N ms` and aborts the signal given to the probe. Runs
   * never overlap. Stopped by `check.stop()` or `close()`.
   *
   * ```ts
   * manager.check('postgres', (signal) => pool.query('SELECT 1'), { interval: 10, timeout: 2000 });
   * ```
   */
  check(tag: string, probe: Probe, options: CheckOptions = {}): Check {
    if (typeof probe !== 'function')
      throw new TypeError(
        `check(${JSON.stringify(tag)}, probe): probe is ${typeof probe}; expected a function that resolves when the dependency is healthy.`,
      );
    const settings = checkOptions(options, this.config.default_interval);
    // The probe may take up to its timeout to answer: that much lateness is not a miss.
    const heartbeat = this.heartbeat({ tag, interval: settings.interval, critical: settings.critical, grace: settings.timeout / 1000 });
    const running = runCheck(heartbeat, probe, settings, () => this.clock.now());
    const stop = (): void => {
      running.stop();
      this.off('close', stop);
    };
    this.on('close', stop);
    return { heartbeat, stop };
  }
}

/** The environment variable naming a JSON config file for the default manager. */
export const CONFIG_ENV = 'HEARTBEAT_CONFIG';

let defaultManager: HeartbeatManager | undefined;

/**
 * The manager that heartbeats and routers use when none is given, like prom-client's default
 * `register`. Created on first use (never at import), from the JSON file named by the
 * `HEARTBEAT_CONFIG` environment variable when it is set. Closing it makes the next call
 * create a fresh one.
 */
export function getDefaultManager(): HeartbeatManager {
  if (!defaultManager || defaultManager.isClosed) {
    const path = process.env[CONFIG_ENV];
    const config = path ? readConfigFile(path, CONFIG_ENV) : undefined;
    defaultManager = new HeartbeatManager(config ? { config } : {});
  }
  return defaultManager;
}

/** The default manager's effective config, shaped as in the seed: `getConfig().heartbeat.enabled`. */
export function getConfig(): {
  /** The default manager's `config`. */
  heartbeat: ResolvedHeartbeatConfig;
} {
  return { heartbeat: getDefaultManager().config };
}

import type { Clock } from '../util/clock';
import { checkTag, readInterval } from './config';
import { getDefaultManager } from './default-manager';
import type { HeartbeatManager } from './manager';
import type { ServiceRecord } from './service-record';
import { HEALTHY } from './status';
import { OptionReader } from '../util/validate';

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
  private readonly record: ServiceRecord | undefined;
  private readonly clock: Clock;
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
    this.clock = this.manager.clock;
    this.record = this.manager.attach(this, { interval, grace, critical });
    // With heartbeats disabled there is nothing to watch: every method is a no-op.
    if (!this.record) this.state = STOPPED;
  }

  /** Seconds between expected pulses (the config's value for a configured service). */
  get interval(): number {
    return this.record ? this.record.intervalMs / 1000 : this.manager.config.default_interval;
  }

  /** Whether this service going critical makes the whole system critical (the config's value for a configured service). */
  get critical(): boolean {
    return this.record ? this.record.critical : true;
  }

  /** Whether the heartbeat is started and not stopped. */
  get isActive(): boolean {
    return this.state === RUNNING;
  }

  /** @internal Whether this handle gave up its service (stopped, or never bound): another may take the tag. */
  get isReleased(): boolean {
    return this.state === STOPPED;
  }

  /** Starts watching: the start counts as a sign of life. Calling it again does nothing. */
  start(): this {
    if (this.state !== CREATED || !this.record) return this;
    this.state = RUNNING;
    this.manager.started(this.record);
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
    this.manager.stopped(this.record as ServiceRecord);
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
    const record = this.record as ServiceRecord;
    record.lastSignAt = this.clock.now();
    record.totalPulses++;
    record.errorLevel = 0;
    record.errorsSinceSign = 0;
    // Healthy and waiting in its lane: moving to the lane's tail is all the watching a pulse needs.
    const lane = record.lane;
    if (lane !== null && record.reportedRank === HEALTHY) lane.touch(record);
    else this.manager.wake(record);
    if (values !== undefined) this.manager.recordMetrics(record, values);
  }

  /**
   * Reports an error: warning until the next pulse, or critical with `{ critical: true }`
   * (the seed's system exception). Logged and announced at once.
   */
  error(message: string, options: ErrorOptions = {}): void {
    if (this.state === STOPPED || !this.record) return;
    if (this.state === CREATED) this.start();
    const critical = options.critical === true;
    this.manager.reportError(this.record, messageText(message), critical);
  }

  /** Drops this service's history and error details older than `days`. Returns how many entries went. */
  cleanupOldData(days: number): number {
    return this.record ? this.manager.cleanupRecord(this.record, days) : 0;
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

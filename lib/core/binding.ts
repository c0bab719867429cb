import { wallOffset, type Clock } from '../util/clock';
import type { RunOutcome } from './runs';
import type { ServiceRecord } from './service-record';
import { HEALTHY, NO_ERROR } from './status';

/**
 * How a heartbeat handle drives its service in the engine: the one interface between them.
 * The handle keeps its own lifecycle (created, running, stopped) and validation; the engine
 * keeps the record and everything derived from it.
 */
export interface ServicePort {
  /** Milliseconds between expected pulses: the config's value for a configured service. */
  readonly intervalMs: number;
  /** Whether this service going critical makes the whole system critical. */
  readonly critical: boolean;
  /** The start is a sign of life; `at` (wall ms on the shared clock) when another replica's signal started it. */
  start(at?: number): void;
  /** Takes up a saved service after a restart, watched from its saved last heartbeat: not a sign of life. */
  resume(): void;
  /** An ad-hoc service leaves the status; a configured one stays and goes red. */
  stop(): void;
  /** A sign of life. The hot path: constant time, no allocation beyond the clock read, no I/O. */
  pulse(): void;
  /** An error, warning until the next pulse or critical; logged and announced at once. */
  error(message: string, critical: boolean): void;
  /** A pulse another replica took in at wall time `at` (the shared clock's ms): counted where it happened. */
  pulseAt(at: number): void;
  /** An error another replica took in at wall time `at`. */
  errorAt(at: number, message: string, critical: boolean): void;
  /** Whether a job run is open: a remote pulse then ends it rather than counting on its own. */
  readonly running: boolean;
  /** Custom metrics that came with a pulse. */
  metrics(values: unknown): void;
  /** Drops history and error details older than `days`; returns how many entries went. */
  cleanup(days: number): number;
  /** A job run began under `rid` (null: the unnamed run, which a new one replaces), now or at wall time `at` (another replica's). A sign of life, not a pulse. */
  begin(rid: string | null, at?: number): void;
  /** The run `rid` (null: the unnamed or oldest open one) ended, now or at wall time `at`: a success is a pulse, a failure an error. */
  end(rid: string | null, ending: RunEnding, at?: number): void;
}

/** How a job run ended, as the binding takes it. */
export interface RunEnding extends RunOutcome {
  /** With a failure: the error's message. */
  readonly message?: string;
  /** With a failure: whether it is critical (as `error({ critical })`). */
  readonly critical?: boolean;
}

/** What a binding asks of the monitor that watches its record: everything beyond the record's own fields. */
export interface BindingHost {
  started(record: ServiceRecord, at?: number): void;
  resumed(record: ServiceRecord): void;
  stopped(record: ServiceRecord): void;
  /** A pulse arrived for a record outside its lane or last reported unhealthy. */
  wake(record: ServiceRecord): void;
  reportError(record: ServiceRecord, message: string, critical: boolean): void;
  pulsedAt(record: ServiceRecord, at: number): void;
  erredAt(record: ServiceRecord, at: number, message: string, critical: boolean): void;
  recordMetrics(record: ServiceRecord, values: unknown): void;
  cleanupRecord(record: ServiceRecord, days: number): number;
  runBegan(record: ServiceRecord, rid: string | null, at?: number): void;
  runEnded(record: ServiceRecord, rid: string | null, ending: RunEnding, at?: number): void;
}

/** The port of one handle: the record it drives, and the monitor that watches it. */
export class ServiceBinding implements ServicePort {
  constructor(
    private readonly record: ServiceRecord,
    private readonly host: BindingHost,
    private readonly clock: Clock,
  ) {}

  get intervalMs(): number {
    return this.record.intervalMs;
  }

  get critical(): boolean {
    return this.record.critical;
  }

  get running(): boolean {
    return this.record.runs?.running === true;
  }

  start(at?: number): void {
    this.host.started(this.record, at === undefined ? undefined : this.instantOf(at));
  }

  resume(): void {
    this.host.resumed(this.record);
  }

  stop(): void {
    this.host.stopped(this.record);
  }

  pulse(): void {
    const record = this.record;
    const now = this.clock.now();
    record.lastSignAt = now;
    record.learnGap(now);
    record.totalPulses++;
    record.errorLevel = NO_ERROR;
    record.errorsSinceSign = 0;
    // Healthy and waiting in its lane: moving to the lane's tail is all the watching a pulse needs.
    const lane = record.lane;
    if (lane !== null && record.reportedRank === HEALTHY) lane.touch(record);
    else this.host.wake(record);
  }

  error(message: string, critical: boolean): void {
    this.host.reportError(this.record, message, critical);
  }

  pulseAt(at: number): void {
    this.host.pulsedAt(this.record, this.instantOf(at));
  }

  errorAt(at: number, message: string, critical: boolean): void {
    this.host.erredAt(this.record, this.instantOf(at), message, critical);
  }

  /** The monotonic instant of wall time `at`, never after now (the clocks' readings may disagree by a hair). */
  private instantOf(at: number): number {
    return Math.min(at - wallOffset(this.clock), this.clock.now());
  }

  metrics(values: unknown): void {
    this.host.recordMetrics(this.record, values);
  }

  cleanup(days: number): number {
    return this.host.cleanupRecord(this.record, days);
  }

  begin(rid: string | null, at?: number): void {
    this.host.runBegan(this.record, rid, at === undefined ? undefined : this.instantOf(at));
  }

  end(rid: string | null, ending: RunEnding, at?: number): void {
    const instant = at === undefined ? undefined : this.instantOf(at);
    this.host.runEnded(this.record, rid, ending, instant);
    const message = ending.message ?? (ending.exitCode === null ? 'run failed' : `exited with code ${ending.exitCode}`);
    if (instant === undefined) {
      if (ending.ok) this.pulse();
      else this.host.reportError(this.record, message, ending.critical === true);
    } else if (ending.ok) {
      this.host.pulsedAt(this.record, instant);
    } else {
      this.host.erredAt(this.record, instant, message, ending.critical === true);
    }
  }
}

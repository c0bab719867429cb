// What a store shared by several replicas of one app (redisStore) gives the engine, on top of
// the plain store contract: the remote signals every replica received, one clock, and one
// alerting replica at a time. The engine and the HTTP layer use it; a store implements it.
import type { Clock } from '../util/clock';

/** How a job run ended, as a shared signal carries it. */
export interface SharedRunEnding {
  /** Whether it succeeded: a success is a pulse, a failure an error. */
  readonly ok: boolean;
  /** The exit code given (`/exit/{code}`), or `null`. */
  readonly exitCode: number | null;
  /** With a failure: the error's message. */
  readonly message?: string;
  /** With a failure: whether it is critical. */
  readonly critical?: boolean;
}

/** What every shared signal has. */
interface SignalBase {
  /** The service it is about: the `{name}` of the remote call. */
  readonly service: string;
  /** When the replica took the call in: wall ms on the shared clock. */
  readonly at: number;
}

/** `POST …/pulse`: a pulse, which ends the run `rid` (or the open one) if any. */
export interface SharedPulse extends SignalBase {
  /** What it is: `pulse`. */
  readonly kind: 'pulse';
  /** The run it ends, or `null` for the unnamed or oldest open one. */
  readonly rid: string | null;
  /** The custom metrics that came with it. */
  readonly metrics?: Readonly<Record<string, number>>;
}

/** `POST …/error`: an error report. */
export interface SharedError extends SignalBase {
  /** What it is: `error`. */
  readonly kind: 'error';
  /** The error's message. */
  readonly message: string;
  /** Whether it is critical (a system exception). */
  readonly critical: boolean;
}

/** `POST …/start`: a job run began. */
export interface SharedStart extends SignalBase {
  /** What it is: `start`. */
  readonly kind: 'start';
  /** The run's id, or `null` for the unnamed run. */
  readonly rid: string | null;
}

/** `POST …/fail` or `…/exit/{code}`: a job run ended. */
export interface SharedEnd extends SignalBase {
  /** What it is: `end`. */
  readonly kind: 'end';
  /** The run that ended, or `null` for the unnamed or oldest open one. */
  readonly rid: string | null;
  /** How it ended. */
  readonly ending: SharedRunEnding;
}

/** `POST …/pause`: a pause began. */
export interface SharedPause extends SignalBase {
  /** What it is: `pause`. */
  readonly kind: 'pause';
  /** When it ends by itself (wall ms), or `null`: until resumed. */
  readonly until: number | null;
  /** Why, or `null` for the default reason. */
  readonly reason: string | null;
}

/** `POST …/resume`, or `DELETE …/service/{name}` (`remove`). */
export interface SharedNamed extends SignalBase {
  /** `resume` ends a pause; `remove` deletes an auto-registered service. */
  readonly kind: 'resume' | 'remove';
}

/**
 * A remote call one replica took in (a pulse, an error, a run's start or end, a pause, a
 * resume, a removal), as the others replay it. `at` is when it arrived, on the shared clock
 * (wall ms, see {@link ReplicaLink.skewMs}), so that a signal replayed late (after Redis was
 * away) counts where it happened, not when it was read.
 */
export type SharedSignal = SharedPulse | SharedError | SharedStart | SharedEnd | SharedPause | SharedNamed;

/** The kinds of {@link SharedSignal}. */
export const SIGNAL_KINDS = ['pulse', 'error', 'start', 'end', 'pause', 'resume', 'remove'] as const;

/**
 * The replicas' common ground, as a shared store provides it. Every method but `readNotes()` is
 * safe to call while the store is unreachable: `publish()` buffers (bounded), notes wait for
 * the next write.
 */
export interface ReplicaLink {
  /** This process's id among the replicas: unique per start, never reused. */
  readonly replicaId: string;
  /**
   * Milliseconds to add to this machine's wall clock to read the shared clock (Redis `TIME`),
   * as last measured: the engine keeps every wall time of a shared service on that clock, so
   * replicas' clock skew cannot move a deadline.
   */
  skewMs(): number;
  /** Shares a signal this replica took in and applied; kept in order, buffered while the store is away. */
  publish(signal: SharedSignal): void;
  /**
   * The one listener for the signals other replicas took in, in the order they were shared.
   * Signals that arrive before a listener is set wait for it (bounded).
   */
  onSignal(listener: (signal: SharedSignal) => void): void;
  /** Whether this replica alerts for the shared services now: it holds the alert lease. */
  readonly leading: boolean;
  /** Called with `true` when this replica takes the lease, `false` when it loses it. */
  onLeadChange(listener: (leading: boolean) => void): void;
  /** Keeps a shared note (e.g. an open alert incident); null removes it. The latest value per key wins. */
  saveNote(space: string, key: string, value: unknown): void;
  /**
   * The shared notes of `space`, as saved. Rejects when they cannot be read (the store is
   * away): the caller tries again, as "no notes" would read as "nothing open".
   */
  readNotes(space: string): Promise<ReadonlyMap<string, unknown>>;
}

/**
 * `clock` with its wall time moved onto the replicas' shared clock: monotonic time stays this
 * process's own (misses are measured on it), and every wall time shown or saved is Redis's.
 */
export function sharedClock(clock: Clock, link: Pick<ReplicaLink, 'skewMs'>): Clock {
  return {
    now: () => clock.now(),
    // Whole milliseconds, as every saved wall time is: a fractional skew would make them unreadable.
    wallNow: () => clock.wallNow() + Math.round(link.skewMs()),
  };
}

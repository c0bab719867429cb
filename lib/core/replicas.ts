// What a store shared by several replicas of one app (redisStore) gives the engine, on top of
// the plain store contract: the remote signals every replica received, one clock, and one
// alerting replica at a time. The engine and the HTTP layer use it; a store implements it.
import type { Clock } from '../util/clock';

/** How a job run ended, as a shared signal carries it. */
export interface SharedRunEnding {
  readonly ok: boolean;
  readonly exitCode: number | null;
  /** With a failure: the error's message. */
  readonly message?: string;
  /** With a failure: whether it is critical. */
  readonly critical?: boolean;
}

/**
 * A remote call one replica took in (a pulse, an error, a run's start or end, a pause, a
 * resume, a removal), as the others replay it. `at` is when it arrived, on the shared clock
 * (wall ms, see {@link ReplicaLink.skewMs}), so that a signal replayed late (after Redis was
 * away) counts where it happened, not when it was read.
 */
export type SharedSignal =
  | {
      readonly kind: 'pulse';
      readonly service: string;
      readonly at: number;
      readonly rid: string | null;
      readonly metrics?: Readonly<Record<string, number>>;
    }
  | { readonly kind: 'error'; readonly service: string; readonly at: number; readonly message: string; readonly critical: boolean }
  | { readonly kind: 'start'; readonly service: string; readonly at: number; readonly rid: string | null }
  | { readonly kind: 'end'; readonly service: string; readonly at: number; readonly rid: string | null; readonly ending: SharedRunEnding }
  | { readonly kind: 'pause'; readonly service: string; readonly at: number; readonly until: number | null; readonly reason: string | null }
  | { readonly kind: 'resume'; readonly service: string; readonly at: number }
  | { readonly kind: 'remove'; readonly service: string; readonly at: number };

/** The kinds of {@link SharedSignal}. */
export const SIGNAL_KINDS = ['pulse', 'error', 'start', 'end', 'pause', 'resume', 'remove'] as const;

/**
 * The replicas' common ground, as a shared store provides it. Every method is safe to call
 * while the store is unreachable: `publish()` buffers (bounded), notes wait for the next write.
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
  /** The shared notes of `space`, as saved; empty while the store is away. */
  readNotes(space: string): Promise<ReadonlyMap<string, unknown>>;
}

/**
 * `clock` with its wall time moved onto the replicas' shared clock: monotonic time stays this
 * process's own (misses are measured on it), and every wall time shown or saved is Redis's.
 */
export function sharedClock(clock: Clock, link: Pick<ReplicaLink, 'skewMs'>): Clock {
  return {
    now: () => clock.now(),
    wallNow: () => clock.wallNow() + link.skewMs(),
  };
}

// The contract between the engine and a store: what `new HeartbeatManager({ store })` takes.
// The engine decides what is saved and reads it back; a store only keeps it, in order.
import type { Logger } from 'pino';
import type { Clock } from '../util/clock';
import type { ReplicaLink } from './replicas';

/** How a store's writes are going: `GET /live` shows it, and the metrics count its errors. */
export interface StoreHealth {
  /** `memory`: nothing is saved. `ok`: writes are saved. `degraded`: a write failed; monitoring goes on in memory and each later write tries again. */
  readonly state: 'memory' | 'ok' | 'degraded';
  /** The latest failure while degraded (a path and a reason, never contents); `null` otherwise. */
  readonly lastError: string | null;
  /** Failed writes since the store opened. */
  readonly errors: number;
  /** Wall-clock milliseconds of the last successful write, or `null` before the first. */
  readonly lastWriteAt: number | null;
  /**
   * For a store replicas share: the remote calls it dropped, unshared, since it opened, when
   * more waited for it than its buffer holds while it was away. Absent for other stores.
   */
  readonly droppedSignals?: number;
}

/**
 * What a store kept, as its `load()` returns it: the latest snapshot and every entry appended
 * after it, in order. Both are JSON the manager wrote, and it checks them again as it reads:
 * a store may hand back whatever its medium gave it.
 */
export interface SavedState {
  /** The latest snapshot given to the store, or `null` if none was saved. */
  readonly snapshot: unknown;
  /** The entries appended since that snapshot was taken, oldest first. */
  readonly entries: readonly unknown[];
}

/** What a store is given when its manager opens it. */
export interface StoreContext {
  /** The manager's logger, for what the store sets aside or fails to write. */
  readonly logger: Logger;
  /** The manager's clock: wall time for the store's own timestamps. */
  readonly clock: Clock;
}

/**
 * Where a `HeartbeatManager` keeps what must survive a restart (see docs/persistence.md).
 * The manager calls it from one thread, in this order: `load()` once, when it is created;
 * `append()` for every batch of changes (synchronously, before anyone hears of them); and
 * `close()` once. A store serves one manager; `memoryStore()` and `fileStore()` implement it.
 *
 * A store treats what it is given as opaque JSON: it never interprets entries or snapshots.
 */
export interface HeartbeatStore {
  /** A short name for `GET /live` and the logs, e.g. `file`. */
  readonly kind: string;
  /**
   * Opens the store and returns what it holds. Throws if the store cannot be used at all, e.g.
   * another process holds it; a store that can be read but not written opens `degraded`.
   */
  load(context: StoreContext): SavedState;
  /**
   * Saves `entries` (JSON values) after those saved before, durably before returning: the
   * manager announces a status change only after this. Returns whether they were saved; a
   * failure is reported by {@link health}, never thrown. `snapshot()` returns the manager's
   * whole state as it stands before `entries` (their status changes are applied only once this
   * returns), for a store that compacts: it saves that snapshot, then `entries` after it, and
   * `load()` returns the snapshot and only what was appended after it. Never the other way
   * round: a snapshot taken after `entries`, replacing them, would lose their status changes.
   */
  append(entries: readonly unknown[], snapshot: () => unknown): boolean;
  /** How writes are going. */
  health(): StoreHealth;
  /**
   * Saves `snapshot`, the manager's final state, and releases the store. The snapshot is saved
   * before this returns; the promise settles once everything is released. `snapshot` is
   * undefined when nothing may be saved: `load()` returned state a newer version wrote.
   */
  close(snapshot: unknown): Promise<void>;
  /**
   * For a store that several replicas of one app share (`redisStore()`): what they share. With
   * it, the remote services' signals, wall times and alerts are the replicas' together, and the
   * snapshot given to `append()` and `close()` holds the shared (remote) services only; the
   * in-process ones belong to each process and are not saved.
   */
  readonly replicas?: ReplicaLink;
}

const memoryStores = new WeakSet<HeartbeatStore>();

/**
 * A store that keeps nothing: everything lives in the manager's memory and is gone at exit.
 * The same as giving no store; `GET /live` shows it as `memory`.
 */
export function memoryStore(): HeartbeatStore {
  const health: StoreHealth = Object.freeze({ state: 'memory', lastError: null, errors: 0, lastWriteAt: null });
  const store: HeartbeatStore = Object.freeze({
    kind: 'memory',
    load: (): SavedState => ({ snapshot: null, entries: [] }),
    append: (): boolean => true,
    health: (): StoreHealth => health,
    close: (): Promise<void> => Promise.resolve(),
  });
  memoryStores.add(store);
  return store;
}

/** Whether `store` keeps nothing, so the manager need not prepare anything for it. */
export function keepsNothing(store: HeartbeatStore): boolean {
  return memoryStores.has(store);
}

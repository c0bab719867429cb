import type { ReplicaLink } from '../core/replicas';
import type { StoreHealth } from '../core/store';

/** The store's health as `GET /live` shows it. */
export interface StoreView {
  state: StoreHealth['state'];
  last_error: string | null;
  errors: number;
  last_write: string | null;
  /** With a store the replicas share (`redisStore()`): this replica's id, and whether it sends the shared services' alerts. */
  replica?: ReplicaView;
}

/** This replica among those sharing the store, as `GET /live` shows it. */
export interface ReplicaView {
  id: string;
  leading: boolean;
  /** Remote calls dropped unshared while the store was away: more than its buffer holds. */
  dropped_signals: number;
}

/** What a caller the details policy does not admit reads instead of the failure's message. */
export const HIDDEN_STORE_ERROR = 'A write to the store failed; the message is a detail, shown to callers the details policy admits.';

/** A quoted path, as Node's file system errors name theirs: `open '/var/lib/app/.heartbeat/state.json'`. */
const QUOTED_PATH = /'[^']*[/\\]([^'/\\]*)'/g;
/** A bare absolute path, POSIX or Windows, of at least two parts. */
const BARE_PATH = /(^|[\s(=:])(?:[A-Za-z]:)?[/\\][^\s'",)]*[/\\]([^\s'",)/\\]*)/g;

/**
 * A failure's message with every path cut to its file name: `EIO: i/o error, write
 * 'journal-3.log'`. The name says which file failed; the directory above it says where the
 * server keeps its files, which no answer tells (SECURITY.md), and `/live` is open to everyone.
 */
export function withoutDirectories(message: string): string {
  return message.replace(QUOTED_PATH, "'$1'").replace(BARE_PATH, '$1$2');
}

/**
 * The store's health for `/live`: snake_case keys and an ISO time, like the rest of the API,
 * the failure's message without directories, and shown only to callers the details policy
 * admits (others learn that writes fail, and how many, but not what the message says).
 */
export function storeView(health: StoreHealth, showDetails: boolean, replicas: ReplicaLink | null = null): StoreView {
  let lastError: string | null = null;
  if (health.lastError !== null) lastError = showDetails ? withoutDirectories(health.lastError) : HIDDEN_STORE_ERROR;
  return {
    state: health.state,
    last_error: lastError,
    errors: health.errors,
    last_write: health.lastWriteAt === null ? null : new Date(health.lastWriteAt).toISOString(),
    // Which replica answered, and whether it alerts: what an operator asks first when replicas disagree.
    ...(replicas ? { replica: { id: replicas.replicaId, leading: replicas.leading, dropped_signals: health.droppedSignals ?? 0 } } : {}),
  };
}

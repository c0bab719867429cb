import type { SnapshotHolds } from './signal-reader';
import { isStreamId } from './stream-id';

/**
 * The shared snapshot, `<prefix>:snapshot`, as the leader saves it: the manager's snapshot
 * (`body`) as of the stream entry `stream_id`, which a joining replica reads on from, and of
 * the leader's own signals numbered up to `own.seq`, which it skips wherever they are in the
 * stream (the leader applied them before the stream had them).
 */
export interface SavedSnapshot {
  readonly stream_id: string;
  /** Wall ms (the shared clock) when it was saved. */
  readonly saved_at: number;
  readonly body: unknown;
  /** The saving replica, and the number of its latest signal the body holds. */
  readonly own: SnapshotHolds | null;
}

/** The snapshot `text` holds, or null (with a warning if there was one this version cannot read: the joiner then replays the whole stream). */
export function parseSnapshot(text: string | null, warn: (message: string) => void): SavedSnapshot | null {
  if (text === null) return null;
  try {
    const saved = JSON.parse(text) as Partial<SavedSnapshot> | null;
    if (saved && isStreamId(saved.stream_id) && typeof saved.saved_at === 'number') {
      const own = saved.own;
      const holds = typeof own === 'object' && own !== null && typeof own.replica === 'string' && Number.isInteger(own.seq) ? own : null;
      return { stream_id: saved.stream_id, saved_at: saved.saved_at, body: saved.body ?? null, own: holds };
    }
  } catch {
    // Reported below.
  }
  warn('The shared snapshot in Redis is not one this version wrote: starting from the whole signal stream instead');
  return null;
}

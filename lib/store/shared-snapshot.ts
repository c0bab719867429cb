import { isStreamId } from './stream-id';

/**
 * The shared snapshot, `<prefix>:snapshot`, as the leader saves it: the manager's snapshot
 * (`body`) as of the stream entry `stream_id`, which a joining replica reads on from.
 */
export interface SavedSnapshot {
  readonly stream_id: string;
  /** Wall ms (the shared clock) when it was saved. */
  readonly saved_at: number;
  readonly body: unknown;
}

/** The snapshot `text` holds, or null (with a warning if there was one this version cannot read: the joiner then replays the whole stream). */
export function parseSnapshot(text: string | null, warn: (message: string) => void): SavedSnapshot | null {
  if (text === null) return null;
  try {
    const saved = JSON.parse(text) as Partial<SavedSnapshot> | null;
    if (saved && isStreamId(saved.stream_id) && typeof saved.saved_at === 'number') {
      return { stream_id: saved.stream_id, saved_at: saved.saved_at, body: saved.body ?? null };
    }
  } catch {
    // Reported below.
  }
  warn('The shared snapshot in Redis is not one this version wrote: starting from the whole signal stream instead');
  return null;
}

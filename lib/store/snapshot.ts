/** A snapshot file's content: `{ format, written_at, data }`, one JSON document. */
export interface Snapshot {
  /** The format version the writer used; the reader migrates from older ones. */
  readonly format: number;
  /** ISO 8601 time of the write. */
  readonly writtenAt: string;
  readonly data: unknown;
}

/** Thrown for a file a newer express-heartbeat wrote: reading it could lose what this one does not know. */
export class NewerFormatError extends Error {
  override readonly name = 'NewerFormatError';
  constructor(
    readonly path: string,
    readonly format: number,
    readonly supported: number,
  ) {
    super(
      `${path} was written by a newer express-heartbeat (format ${format}; this one reads up to ${supported}): ` +
        "upgrade, or point the store's directory elsewhere",
    );
  }
}

export function serializeSnapshot(format: number, writtenAt: number, data: unknown): string {
  return `${JSON.stringify({ format, written_at: new Date(writtenAt).toISOString(), data })}\n`;
}

/**
 * Reads a snapshot file's bytes: the snapshot, or what is wrong with the file. A format newer
 * than `supported` throws {@link NewerFormatError}, checked before the rest of the envelope,
 * which a newer format may have changed.
 */
export function parseSnapshot(path: string, bytes: Buffer, supported: number): Snapshot | { problem: string } {
  if (bytes.length === 0) return { problem: 'empty (0 bytes)' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { problem: `not valid JSON (${bytes.length} bytes)` };
  }
  const envelope = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
    format?: unknown;
    written_at?: unknown;
    data?: unknown;
  };
  const { format, written_at: writtenAt } = envelope;
  if (typeof format !== 'number' || !Number.isSafeInteger(format) || format < 1) {
    return { problem: 'not a state snapshot (no format version)' };
  }
  if (format > supported) throw new NewerFormatError(path, format, supported);
  if (typeof writtenAt !== 'string' || !('data' in envelope)) return { problem: 'not a state snapshot (no written_at or data)' };
  return { format, writtenAt, data: envelope.data };
}

import type { Writable } from 'node:stream';

/** Characters gathered into one write: 64 KB of export text takes about a millisecond to build. */
export const CHUNK_CHARS = 64 * 1024;

export interface ChunkedWriteHooks {
  /** Called once, just before the first write: the place to set the status and headers. */
  start(): void;
  /** A piece failed after the first write, when no error answer can be sent any more: `out` is destroyed. */
  failed(error: unknown): void;
}

/**
 * Writes what `pieces` yields to `out` in chunks of about {@link CHUNK_CHARS} characters, and
 * gives the event loop a turn between chunks, so a large body never blocks the process: the
 * next chunk is built on `setImmediate`, after `drain` when the reader is slower than the
 * writer, so at most about one chunk waits in memory. When `out` closes early (the client went away)
 * the pieces are abandoned, their generator's `finally` runs, and nothing more is built. A
 * piece that throws before the first write throws here, where an error answer can still be
 * sent; one that throws later is handed to `hooks.failed`.
 */
export function writeInChunks(out: Writable, pieces: Iterator<string>, hooks: ChunkedWriteHooks): void {
  let settled = false;
  const abandon = (): void => {
    if (settled) return;
    settled = true;
    pieces.return?.();
  };
  const next = (): void => {
    step(false);
  };
  // 'drain' can come on the same turn (a socket that took the chunk at once): wait for the next one.
  const nextTurn = (): void => {
    setImmediate(next);
  };

  const step = (first: boolean): void => {
    if (settled) return;
    if (out.destroyed || out.writableEnded) {
      abandon();
      return;
    }
    let chunk = '';
    let done = false;
    try {
      while (chunk.length < CHUNK_CHARS) {
        const piece = pieces.next();
        if (piece.done === true) {
          done = true;
          break;
        }
        chunk += piece.value;
      }
    } catch (error) {
      settled = true;
      out.off('close', abandon);
      if (first) throw error;
      out.destroy();
      hooks.failed(error);
      return;
    }
    if (first) hooks.start();
    if (done) {
      settled = true;
      out.off('close', abandon);
      out.end(chunk);
    } else if (out.write(chunk)) {
      setImmediate(next);
    } else {
      out.once('drain', nextTurn);
    }
  };

  out.once('close', abandon);
  step(true);
}

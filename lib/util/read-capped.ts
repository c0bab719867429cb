/**
 * Reading the body of a response the library did not produce: never more than a cap, since
 * a receiver may stream an endless answer, and never left half read, so the connection is
 * either reused or closed.
 */

/** What was read of a body: its first bytes, and whether more followed (the rest was cancelled, not read). */
export interface CappedBody {
  bytes: Uint8Array;
  truncated: boolean;
}

/**
 * Reads at most `maxBytes` of `response`'s body and cancels the rest. Rejects as the body's
 * stream does: a broken connection, or the request's signal aborting.
 */
export async function readCapped(response: Response, maxBytes: number): Promise<CappedBody> {
  const body = response.body;
  if (body === null) return { bytes: new Uint8Array(0), truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - length;
    if (value.byteLength > room) {
      if (room > 0) chunks.push(value.subarray(0, room));
      length += room;
      // Cancelling closes the connection: cheaper than reading on, and an endless body ends here.
      await reader.cancel().catch(() => undefined);
      return { bytes: concat(chunks, length), truncated: true };
    }
    chunks.push(value);
    length += value.byteLength;
  }
  return { bytes: concat(chunks, length), truncated: false };
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

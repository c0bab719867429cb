/** Redis stream ids (`<ms>-<seq>`) compared in stream order: negative, 0 or positive. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

/** Whether `text` is a complete stream id, as XADD returns and XREAD takes. */
export function isStreamId(text: unknown): text is string {
  return typeof text === 'string' && /^\d{1,20}-\d{1,20}$/.test(text);
}

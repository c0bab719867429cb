/** Whether `text` is a complete stream id (`<ms>-<seq>`), as XADD returns and XREAD takes. */
export function isStreamId(text: unknown): text is string {
  return typeof text === 'string' && /^\d{1,20}-\d{1,20}$/.test(text);
}

/** Whether stream id `a` comes after `b` (both complete ids). */
export function laterId(a: string, b: string): boolean {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  return aMs === bMs ? aSeq > bSeq : aMs > bMs;
}

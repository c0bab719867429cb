/** The `days` query parameter of `/service/{name}/history`, read or refused. */
export type DaysParam = { days: number | undefined } | { error: string; value: string; minimum: 1; maximum: number };

/** Digits only: `+1`, `1.0`, `1e1`, ` 1` and `0x1` are numbers to `Number()`, not whole numbers a caller meant. */
const WHOLE_NUMBER = /^[0-9]+$/;

/**
 * Reads `days` from a request's query: absent, or a whole number from 1 to `retentionDays`.
 * Anything else is refused with a message naming the parameter, the value as sent and the
 * range, for a 400: the manager would throw on it, and a caller's typo is no server error.
 */
export function readDaysParam(given: unknown, retentionDays: number): DaysParam {
  if (given === undefined) return { days: undefined };
  if (typeof given === 'string' && WHOLE_NUMBER.test(given)) {
    const days = Number(given);
    if (days >= 1 && days <= retentionDays) return { days };
  }
  // A repeated or nested parameter is echoed as the text it was, never as an array or object.
  const value = typeof given === 'string' ? given : JSON.stringify(given);
  return {
    error:
      `The days parameter is ${JSON.stringify(value)}; expected a whole number from 1 to ${retentionDays} ` +
      `(retention_days), given once, e.g. days=${Math.min(7, retentionDays)}.`,
    value,
    minimum: 1,
    maximum: retentionDays,
  };
}

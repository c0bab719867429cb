/** A whole-number query parameter of `/service/{name}/history`, read or refused. */
export type CountParam =
  { value: number | undefined } | { error: string; parameter: 'days' | 'limit'; value: string; minimum: 1; maximum: number };

/** Digits only: `+1`, `1.0`, `1e1`, ` 1` and `0x1` are numbers to `Number()`, not whole numbers a caller meant. */
const WHOLE_NUMBER = /^[0-9]+$/;

/**
 * Reads `parameter` from a request's query: absent, or a whole number from 1 to `maximum`
 * (`bound` names where the maximum comes from, e.g. `retention_days`). Anything else is
 * refused with a message naming the parameter, the value as sent and the range, for a 400:
 * the manager would throw on it, and a caller's typo is no server error.
 */
export function readCountParam(parameter: 'days' | 'limit', given: unknown, maximum: number, bound: string): CountParam {
  if (given === undefined) return { value: undefined };
  if (typeof given === 'string' && WHOLE_NUMBER.test(given)) {
    const value = Number(given);
    if (value >= 1 && value <= maximum) return { value };
  }
  // A repeated or nested parameter is echoed as the text it was, never as an array or object.
  const value = typeof given === 'string' ? given : JSON.stringify(given);
  return {
    error:
      `The ${parameter} parameter is ${JSON.stringify(value)}; expected a whole number from 1 to ${maximum} ` +
      `(${bound}), given once, e.g. ${parameter}=${Math.min(7, maximum)}.`,
    parameter,
    value,
    minimum: 1,
    maximum,
  };
}

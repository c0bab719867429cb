import { OptionReader, describeValue } from '../util/validate';

/**
 * Thrown for persisted state that cannot be trusted: a wrong type, a value out of range, a
 * missing or unknown field. It comes from a file, so it is refused whole, before anything
 * is applied, with the field named: never a crash deep inside the engine.
 */
export class StateFormatError extends Error {
  override readonly name = 'StateFormatError';
  constructor(
    message: string,
    /** Path of the bad field, e.g. `transitions[3][1]`; empty for the whole value. */
    readonly field: string,
  ) {
    super(message);
  }
}

/**
 * Saved state this version cannot read because a newer one wrote it: a snapshot or service of a
 * higher version, or an entry of a kind it does not know. The manager then saves nothing, so
 * that what the newer version wrote is not overwritten.
 */
export class NewerStateError extends StateFormatError {}

/** Latest wall time a JavaScript Date can hold (year 275760): anything later is not a time. */
const MAX_WALL_MS = 8.64e15;

/**
 * Field checks for one piece of persisted state, each naming the field and what was expected.
 * An {@link OptionReader} whose failures are {@link StateFormatError}s, so the config's own
 * rules (`checkTag()`, say) check a state as they check a config, and its checks are reused.
 * The context is the prefix of every message, e.g. `Service state for "save_worker"`.
 */
export class StateReader extends OptionReader {
  override fail(field: string, value: unknown, expected: string): never {
    this.refuse(field, describeStateValue(value), expected);
  }

  /** Fails with `described` standing for the value, e.g. `33 entries`. */
  refuse(field: string, described: string, expected: string): never {
    const subject = field ? `${this.context}: "${field}"` : this.context;
    throw new StateFormatError(`${subject} is ${described}; expected ${expected}.`, field);
  }

  /** A plain object with exactly the `required` keys and perhaps some of the `optional` ones. */
  override object(field: string, value: unknown, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, value, 'an object');
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!required.includes(key) && !optional.includes(key)) {
        this.fail(join(field, key), record[key], `no such field (known: ${[...required, ...optional].join(', ')})`);
      }
    }
    for (const key of required) if (!(key in record)) this.fail(join(field, key), undefined, 'a value: the field is missing');
    return record;
  }

  array(field: string, value: unknown, maxLength: number): unknown[] {
    if (!Array.isArray(value)) this.fail(field, value, 'an array');
    if (value.length > maxLength) this.refuse(field, `${value.length} entries`, `at most ${maxLength}`);
    return value as unknown[];
  }

  /** An array of exactly `length` entries. */
  tuple(field: string, value: unknown, length: number): unknown[] {
    if (!Array.isArray(value) || value.length !== length) this.fail(field, value, `an array of ${length} entries`);
    return value as unknown[];
  }

  string(field: string, value: unknown, maxLength: number): string {
    if (typeof value !== 'string') this.fail(field, value, 'a string');
    if (value.length > maxLength) this.fail(field, value, `a string of at most ${maxLength} characters`);
    return value;
  }

  /** A whole number from `min` to `max`. */
  wholeNumber(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(field, value, `a whole number from ${min} to ${max}`);
    }
    return value;
  }

  /** A finite number from `min` to `max`, fractions allowed. */
  number(field: string, value: unknown, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(field, value, `a number from ${min} to ${max}`);
    }
    return value;
  }

  /** Wall milliseconds since the Unix epoch, whole, in a Date's range. */
  wallTime(field: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_WALL_MS) {
      this.fail(field, value, 'wall-clock milliseconds since 1970, a whole number of at least 0');
    }
    return value;
  }

  nullOr<T>(value: unknown, read: (value: unknown) => T): T | null {
    return value === null ? null : read(value);
  }

  /** Fails unless `value` is at least `previous` (or above it, when `strictly`): entries are stored in order. */
  ordered(field: string, value: number, previous: number, strictly: boolean): void {
    if (strictly ? value <= previous : value < previous) {
      this.fail(field, value, `${strictly ? 'more than' : 'at least'} the entry before it (${previous}): entries are stored oldest first`);
    }
  }
}

/**
 * A value for a message: a string by its length alone, never its content. A state file holds
 * error messages, which may hold a connection string with its password, and a message goes to
 * logs; a string in the wrong field could be any of them.
 */
function describeStateValue(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} character${value.length === 1 ? '' : 's'}`;
  return describeValue(value);
}

export function join(field: string, key: string | number): string {
  if (typeof key === 'number') return `${field}[${key}]`;
  return field ? `${field}.${key}` : key;
}

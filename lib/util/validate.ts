/**
 * Option checks shared by every constructor. Each failure names where the value came from,
 * the key, the bad value and what would be accepted, so a typo is fixed in one read.
 */

import { MAX_TIMER_DELAY_MS } from './timers';

const PLAIN_PATH = /^(\/[A-Za-z0-9._~-]+)+$/;

/**
 * A config or option that failed its check, thrown when it is read (at construction, not
 * later). The message names where the value came from, the key, the bad value and what
 * would be accepted.
 */
export class ConfigError extends Error {
  /** Always `ConfigError`, so logs and `error.name` checks tell it from other errors. */
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    /** Dotted path of the offending key, e.g. `services.save_worker.interval`; empty when a config file cannot be read or parsed. */
    readonly key: string,
  ) {
    super(message);
  }
}

/** Renders a bad value the way it was written, so `"30"` and `30` are told apart. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}

export class OptionReader {
  constructor(
    /** Prefix of every message, e.g. `Invalid heartbeat config`. */
    readonly context: string,
  ) {}

  fail(key: string, value: unknown, expected: string): never {
    throw new ConfigError(`${this.context}: "${key}" is ${describeValue(value)}; expected ${expected}.`, key);
  }

  /** Rejects anything but a plain object, then any key not in `known`. */
  object(key: string, value: unknown, known: readonly string[] | null): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(key, value, 'an object');
    }
    const record = value as Record<string, unknown>;
    if (known) {
      for (const name of Object.keys(record)) {
        if (!known.includes(name)) {
          const where = key ? `"${key}.${name}"` : `"${name}"`;
          throw new ConfigError(
            `${this.context}: unknown key ${where}; expected one of ${known.join(', ')}.`,
            key ? `${key}.${name}` : name,
          );
        }
      }
    }
    return record;
  }

  boolean(key: string, value: unknown): boolean {
    if (typeof value !== 'boolean') this.fail(key, value, 'true or false');
    return value;
  }

  positiveNumber(key: string, value: unknown, example: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      this.fail(key, value, `a positive, finite number ${example}`);
    }
    return value;
  }

  nonNegativeNumber(key: string, value: unknown, example: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      this.fail(key, value, `a finite number of at least 0 ${example}`);
    }
    return value;
  }

  integer(key: string, value: unknown, min: number, example: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.fail(key, value, `a whole number of at least ${min} ${example}`);
    }
    return value;
  }

  /**
   * Milliseconds a timer waits: a whole number from `min` to {@link MAX_TIMER_DELAY_MS}. Node's
   * timers fire after 1 ms past that, and `AbortSignal.timeout()` throws on fractions.
   */
  durationMs(key: string, value: unknown, min: 0 | 1, example: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_TIMER_DELAY_MS) {
      this.fail(
        key,
        value,
        `a whole number of milliseconds from ${min} to ${MAX_TIMER_DELAY_MS} (the longest a Node timer waits), ${example}`,
      );
    }
    return value;
  }

  /** A URL path of literal segments: Express would read `:`, `*`, `(` and `?` as patterns. */
  plainPath(key: string, value: unknown): string {
    if (typeof value !== 'string' || !PLAIN_PATH.test(value)) {
      this.fail(key, value, 'a path such as "/api/health": a leading slash, literal segments, no trailing slash');
    }
    return value;
  }

  oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      this.fail(key, value, `one of ${allowed.map((word) => JSON.stringify(word)).join(', ')}`);
    }
    return value as T;
  }
}

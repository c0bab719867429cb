import type { Logger } from 'pino';

/** The log calls the store makes. */
export interface StoreLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * `logger`, with each call guarded: a logger that throws (a broken destination) must not turn
 * a failed write, which the store reports as status, into a throw or a rejected promise.
 */
export function guardedLog(logger: Logger): StoreLog {
  const guard =
    (level: keyof StoreLog) =>
    (fields: object, message: string): void => {
      try {
        logger[level](fields, message);
      } catch {
        // Nowhere left to report it; the store's status still says what failed.
      }
    };
  return { info: guard('info'), warn: guard('warn'), error: guard('error') };
}

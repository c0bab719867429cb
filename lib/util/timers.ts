/**
 * The longest delay Node's timers take, 2^31 − 1 ms (about 24.8 days). A longer one overflows:
 * Node warns and fires the timer after 1 ms, so a monthly probe would run a thousand times a second.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A timer made by {@link setLongTimeout}. */
export interface LongTimeout {
  /** Cancels it; calling it again, or after the timer fired, does nothing. */
  clear(): void;
}

/**
 * `setTimeout(callback, ms)` for any delay: a wait longer than {@link MAX_TIMER_DELAY_MS} is
 * chained from timers of at most that length, so it fires once, when it is due. Each link is
 * `unref()`'d, so it never keeps a process alive.
 */
export function setLongTimeout(callback: () => void, ms: number): LongTimeout {
  let remaining = Math.max(0, ms);
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const step = Math.min(remaining, MAX_TIMER_DELAY_MS);
    remaining -= step;
    timer = setTimeout(remaining > 0 ? arm : fire, step);
    timer.unref();
  };
  const fire = (): void => {
    timer = undefined;
    callback();
  };
  arm();
  return {
    clear: () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

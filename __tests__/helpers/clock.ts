import type { Clock } from '../../lib/util/clock';

/**
 * A clock driven by jest's fake timers: `advance()` moves time and fires due timers, as a
 * running process would; `skip()` moves time with no timer firing meanwhile, then lets the
 * overdue ones fire once, as a blocked event loop that resumes would; `jumpWall()` moves only the wall clock, as NTP or DST would.
 * Call `jest.useFakeTimers()` first.
 */
export interface TestClock extends Clock {
  advance(ms: number): void;
  skip(ms: number): void;
  jumpWall(ms: number): void;
}

export function createTestClock(): TestClock {
  const origin = Date.now();
  let monotonic = 0;
  let wallOffset = 0;
  return {
    now: () => monotonic + (Date.now() - origin),
    wallNow: () => Date.now() + wallOffset,
    advance: (ms) => {
      jest.advanceTimersByTime(ms);
    },
    skip: (ms) => {
      monotonic += ms;
      wallOffset += ms;
      jest.runOnlyPendingTimers();
    },
    jumpWall: (ms) => {
      wallOffset += ms;
    },
  };
}

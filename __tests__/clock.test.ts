import { StableWallOffset, isoTimeOf, type Clock } from '../lib/util/clock';

/** A clock whose next monotonic read can be made to come `preemptedMs` late, as a descheduled process sees it. */
function clockAt(wallStart: number) {
  let monotonic = 1000.2;
  let preemptNext = 0;
  let wallShift = 0;
  let preemptAfterNextWallRead = 0;
  const clock: Clock = {
    now: () => {
      monotonic += preemptNext; // the wall was read, then the process slept before this read
      preemptNext = 0;
      return monotonic;
    },
    wallNow: () => {
      preemptNext = preemptAfterNextWallRead;
      preemptAfterNextWallRead = 0;
      return Math.floor(wallStart + monotonic + wallShift);
    },
  };
  return {
    clock,
    advance: (ms: number) => (monotonic += ms),
    /** The next wall read is followed by a sleep: the monotonic read after it comes `ms` late. */
    preemptAfterWallRead: (ms: number) => (preemptAfterNextWallRead = ms),
    stepWall: (ms: number) => (wallShift += ms),
  };
}

describe('StableWallOffset', () => {
  const WALL = 1_764_000_000_000;

  it('ignores a reading the process was preempted in the middle of', () => {
    const { clock, advance, preemptAfterWallRead } = clockAt(WALL);
    const offset = new StableWallOffset(clock);
    const first = offset.read();
    preemptAfterWallRead(9);
    advance(0.7);
    expect(offset.read()).toBe(first);
  });

  it('takes a step of the wall clock once a second reading agrees, never on one reading alone', () => {
    const { clock, advance, stepWall } = clockAt(WALL);
    const offset = new StableWallOffset(clock);
    const first = offset.read();
    stepWall(5000);
    expect(offset.read()).toBe(first);
    advance(3);
    expect(offset.read()).toBeCloseTo(first + 5000, -1);
  });

  it('shows one instant the same on every read, the wall clock ticking in whole milliseconds', () => {
    const { clock, advance } = clockAt(WALL);
    const shown = new Set<string>();
    for (let i = 0; i < 50; i++) {
      shown.add(isoTimeOf(clock, 900));
      advance(0.37);
    }
    expect(shown.size).toBe(1);
  });
});

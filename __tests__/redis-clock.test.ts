import { SKEW_EVERY_MS, SkewClock, SLOW_READING_MS, type RedisTime } from '../lib/store/redis-clock';

/**
 * A SkewClock on fake local clocks: `local.mono` is monotonic time and the wall clock reads it
 * plus `local.wallOffset`. Each TIME answer takes `tookMs` of monotonic time; an Error (or no
 * answer left) fails the reading.
 */
function fake() {
  const local = { mono: 1000, wallOffset: 0 };
  const answers: Array<{ time: RedisTime; tookMs: number } | Error> = [];
  const clock = new SkewClock(
    () => {
      const next = answers.shift();
      if (next === undefined || next instanceof Error) return Promise.reject(next ?? new Error('Redis is away'));
      local.mono += next.tookMs;
      return Promise.resolve(next.time);
    },
    { monotonic: () => local.mono, wall: () => local.mono + local.wallOffset },
  );
  /** The shared wall time, as sharedClock() reads it: the local wall clock plus the skew. */
  const shared = () => local.mono + local.wallOffset + clock.skewMs();
  return { local, answers, clock, shared };
}

test('a reading pins Redis TIME to the middle of its round trip; the skew is that minus the wall clock, in whole ms', async () => {
  const { local, answers, clock, shared } = fake();
  // Sent at 1000, answered at 1010: TIME (5 s + 750 µs) was read about 1005.
  answers.push({ time: ['5', '750'], tookMs: 10 });
  expect(await clock.measure()).toBe(true);
  expect(local.mono).toBe(1010);
  expect(clock.skewMs()).toBe(3996); // 5000.75 − 1005 + (1010 − 1010), rounded
  expect(shared()).toBe(5006); // 5000.75 read at 1005, 5 ms ago
});

test('between readings Redis time is carried forward on the monotonic clock: a wall-clock step moves the skew, not the shared time', async () => {
  const { local, answers, clock, shared } = fake();
  answers.push({ time: ['5', '0'], tookMs: 0 });
  await clock.measure();
  expect(shared()).toBe(5000);
  local.mono += 2000;
  expect(shared()).toBe(7000);
  local.wallOffset -= 60_000; // NTP steps this machine's wall clock back a minute
  expect(shared()).toBe(7000);
  expect(clock.skewMs()).toBe(60_000 + 7000 - 3000);
});

test('a reading with a slow round trip is dropped and the last good one carried on, unless it is the first', async () => {
  const { local, answers, clock, shared } = fake();
  const slow = SLOW_READING_MS + 2;
  answers.push({ time: ['100', '0'], tookMs: slow }, { time: ['999', '0'], tookMs: slow }, { time: ['300', '0'], tookMs: 2 });
  expect(await clock.measure()).toBe(true); // the first: nothing better yet
  expect(shared()).toBe(100_000 + slow / 2);
  expect(await clock.measure()).toBe(false);
  expect(shared()).toBe(100_000 + slow / 2 + slow);
  local.mono += 10_000;
  expect(await clock.measure()).toBe(true);
  expect(shared()).toBe(300_001);
});

test('a failed reading keeps the old one, and before any reading the skew is 0', async () => {
  const { local, answers, clock, shared } = fake();
  expect(clock.skewMs()).toBe(0);
  answers.push({ time: ['1', '0'], tookMs: 2 }, new Error('Redis is away'));
  expect(await clock.measure()).toBe(true);
  expect(shared()).toBe(1001);
  local.mono += 500;
  expect(await clock.measure()).toBe(false);
  expect(shared()).toBe(1501);
});

test('start() measures at once, then again every 30 s until stop()', async () => {
  jest.useFakeTimers();
  try {
    const { local, answers, clock, shared } = fake();
    answers.push({ time: ['1', '0'], tookMs: 2 }, { time: ['50', '0'], tookMs: 2 });
    await clock.start();
    expect(shared()).toBe(1001);
    local.mono += SKEW_EVERY_MS;
    await jest.advanceTimersByTimeAsync(SKEW_EVERY_MS);
    // The second reading says Redis moved on 49 s, not 30: its clock drifted, and the second one wins.
    expect(shared()).toBe(50_001);
    clock.stop();
    expect(jest.getTimerCount()).toBe(0);
  } finally {
    jest.useRealTimers();
  }
});

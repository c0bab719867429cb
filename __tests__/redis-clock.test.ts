import { SKEW_EVERY_MS, SkewClock, SLOW_READING_MS, type RedisTime } from '../lib/store/redis-clock';

/** A clock whose local reads come from `locals` in turn and whose TIME answers come from `times`. */
function scripted(locals: number[], times: RedisTime[]): SkewClock {
  return new SkewClock(
    () => {
      const time = times.shift();
      return time ? Promise.resolve(time) : Promise.reject(new Error('Redis is away'));
    },
    () => {
      const local = locals.shift();
      if (local === undefined) throw new Error('read the local clock more often than scripted');
      return local;
    },
  );
}

test('the skew is Redis TIME minus the middle of the round trip, in whole milliseconds', async () => {
  // Sent at 1000, answered at 1010: TIME (5 s + 750 µs) was read about 1005.
  const clock = scripted([1000, 1010], [['5', '750']]);
  expect(await clock.measure()).toBe(true);
  expect(clock.skewMs()).toBe(3996); // 5000.75 − 1005, rounded
});

test('a reading with a slow round trip is dropped and the last good one kept, unless it is the first', async () => {
  const slow = SLOW_READING_MS + 1;
  const clock = scripted(
    [0, slow, 10_000, 10_000 + slow, 20_000, 20_002],
    [
      ['100', '0'],
      ['200', '0'],
      ['300', '0'],
    ],
  );
  expect(await clock.measure()).toBe(true); // the first: nothing better yet
  expect(clock.skewMs()).toBe(Math.round(100_000 - slow / 2));
  expect(await clock.measure()).toBe(false);
  expect(clock.skewMs()).toBe(Math.round(100_000 - slow / 2));
  expect(await clock.measure()).toBe(true);
  expect(clock.skewMs()).toBe(300_000 - 20_001);
});

test('a failed reading keeps the old value, and before any reading the skew is 0', async () => {
  const clock = scripted([0, 2, 5], [['1', '0']]);
  expect(clock.skewMs()).toBe(0);
  expect(await clock.measure()).toBe(true);
  expect(clock.skewMs()).toBe(999);
  expect(await clock.measure()).toBe(false);
  expect(clock.skewMs()).toBe(999);
});

test('start() measures at once, then again every 30 s until stop()', async () => {
  jest.useFakeTimers();
  try {
    // start() reads the clock around its first reading too, to see whether it was slow.
    const clock = scripted(
      [0, 0, 2, 2, 100_000, 100_002],
      [
        ['1', '0'],
        ['2', '0'],
      ],
    );
    await clock.start();
    expect(clock.skewMs()).toBe(999);
    await jest.advanceTimersByTimeAsync(SKEW_EVERY_MS);
    expect(clock.skewMs()).toBe(2000 - 100_001);
    clock.stop();
    expect(jest.getTimerCount()).toBe(0);
  } finally {
    jest.useRealTimers();
  }
});

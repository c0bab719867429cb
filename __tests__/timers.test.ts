import { MAX_TIMER_DELAY_MS, setLongTimeout } from '../lib/util/timers';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

// jest's fake timers overflow past 2^31 − 1 ms the way Node's do: they fire after 1 ms.
it.each([
  ['no wait', 0],
  ['one millisecond', 1],
  ['just under the longest timer', MAX_TIMER_DELAY_MS - 1],
  ['exactly the longest timer', MAX_TIMER_DELAY_MS],
  ['one millisecond past it', MAX_TIMER_DELAY_MS + 1],
  ['30 days', 30 * 86_400_000],
  ['a year', 365 * 86_400_000],
])('fires once, when due, after %s', (_label, ms) => {
  let fired = 0;
  setLongTimeout(() => fired++, ms);
  if (ms > 0) {
    jest.advanceTimersByTime(ms - 1);
    expect(fired).toBe(0);
  }
  jest.advanceTimersByTime(1);
  expect(fired).toBe(1);
  jest.advanceTimersByTime(2 * MAX_TIMER_DELAY_MS);
  expect(fired).toBe(1);
  expect(jest.getTimerCount()).toBe(0);
});

it('arms no link longer than the longest timer, and one timer at a time', () => {
  const delays: number[] = [];
  const spy = jest.spyOn(global, 'setTimeout');
  setLongTimeout(() => undefined, 3 * MAX_TIMER_DELAY_MS + 7);
  for (let i = 0; i < 5; i++) {
    expect(jest.getTimerCount()).toBeLessThanOrEqual(1);
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS);
  }
  for (const call of spy.mock.calls) delays.push(call[1] as number);
  spy.mockRestore();
  expect(delays).toEqual([MAX_TIMER_DELAY_MS, MAX_TIMER_DELAY_MS, MAX_TIMER_DELAY_MS, 7]);
});

it('never fires once cleared, whichever link is waiting', () => {
  let fired = 0;
  const early = setLongTimeout(() => fired++, 2 * MAX_TIMER_DELAY_MS);
  early.clear();
  const late = setLongTimeout(() => fired++, 2 * MAX_TIMER_DELAY_MS);
  jest.advanceTimersByTime(MAX_TIMER_DELAY_MS + 1);
  late.clear();
  late.clear();
  jest.advanceTimersByTime(4 * MAX_TIMER_DELAY_MS);
  expect(fired).toBe(0);
  expect(jest.getTimerCount()).toBe(0);
});

import { HeartbeatManager } from '../lib/core/manager';
import { MAX_TIMER_DELAY_MS } from '../lib/util/timers';
import { createTestClock, type TestClock } from './helpers/clock';

let clock: TestClock;
let manager: HeartbeatManager;

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
});
afterEach(() => {
  void manager.close();
  jest.useRealTimers();
});

const settle = () => new Promise((resolve) => setImmediate(resolve));

it('pulses on success, every interval', async () => {
  let runs = 0;
  manager.check(
    'postgres',
    () => {
      runs++;
    },
    { interval: 10, timeout: 1000 },
  );
  await settle();
  expect(manager.service('postgres')).toMatchObject({ status: 'healthy', total_pulses: 1, interval: 10 });
  for (let i = 0; i < 3; i++) {
    clock.advance(10_000);
    await settle();
  }
  expect(runs).toBe(4);
  expect(manager.service('postgres')?.total_pulses).toBe(4);
});

it('reports a throw, a rejection and a non-Error rejection as errors with their message', async () => {
  const outcomes: Array<() => unknown> = [
    () => {
      throw new Error('connection refused');
    },
    () => Promise.reject(new Error('auth failed')),
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a JavaScript probe may reject with anything; this one rejects with a string
    () => Promise.reject('plain string'),
  ];
  let run = 0;
  manager.check('redis', () => outcomes[run++]?.(), { interval: 10, timeout: 1000 });
  const messages: string[] = [];
  for (let i = 0; i < 3; i++) {
    await settle();
    messages.push(manager.service('redis')?.last_error?.message as string);
    clock.advance(10_000);
  }
  expect(messages).toEqual(['connection refused', 'auth failed', 'plain string']);
  expect(manager.service('redis')).toMatchObject({ status: 'warning', error_count: 3 });
});

it('reports a probe that never settles as timed out, aborts its signal, and never overlaps it', async () => {
  const signals: AbortSignal[] = [];
  manager.check(
    'api',
    (signal) => {
      signals.push(signal);
      return new Promise(() => undefined);
    },
    { interval: 5, timeout: 2000 },
  );
  await settle();
  clock.advance(2000);
  await settle();
  expect(manager.service('api')?.last_error?.message).toBe('timed out after 2000 ms');
  expect(signals[0]?.aborted).toBe(true);
  clock.advance(60_000);
  await settle();
  expect(signals).toHaveLength(1); // the hung run still holds its slot: no second run starts beside it
});

it('starts the next run at once after one that overran its slot, then keeps the rate', async () => {
  let runs = 0;
  let release: (() => void) | undefined;
  manager.check(
    'slow',
    () => {
      runs++;
      if (runs === 1) return new Promise<void>((resolve) => (release = resolve));
      return undefined;
    },
    { interval: 5, timeout: 5000 },
  );
  await settle();
  clock.advance(12_000); // the first run takes 12 s
  release?.();
  await settle();
  clock.advance(0);
  expect(runs).toBe(2);
  await settle();
  clock.advance(5000);
  await settle();
  expect(runs).toBe(3);
});

it('gives the probe its timeout as grace, so a slow success is not a miss', async () => {
  manager.check('db', () => undefined, { interval: 10, timeout: 4000 });
  await settle();
  clock.advance(10_000 + 3999);
  expect(manager.service('db')?.status).toBe('healthy');
});

it('stops with stop() and with the manager, leaving no timer', async () => {
  const check = manager.check('db', () => undefined, { interval: 10 });
  const other = manager.check('cache', () => undefined, { interval: 10 });
  await settle();
  check.stop();
  expect(manager.service('db')).toBeUndefined();
  void manager.close();
  other.stop();
  expect(jest.getTimerCount()).toBe(0);
});

it('abandons a run in flight on stop() and on close(): its timeout goes and its probe is told', async () => {
  const signals: AbortSignal[] = [];
  const probe = (signal: AbortSignal) => {
    signals.push(signal);
    return new Promise(() => undefined); // a probe that never settles
  };
  const check = manager.check('db', probe, { interval: 10, timeout: 5000 });
  manager.check('cache', probe, { interval: 10, timeout: 5000 });
  await settle();
  expect(signals).toHaveLength(2);
  check.stop();
  expect(signals[0]?.aborted).toBe(true);
  void manager.close();
  expect(signals[1]?.aborted).toBe(true);
  expect(jest.getTimerCount()).toBe(0);
});

const DAY = 86_400_000;

// jest's fake timers overflow past 2^31 − 1 ms (about 24.8 days) as Node's do, firing after 1 ms.
it.each([
  ['the longest single timer', MAX_TIMER_DELAY_MS / 1000],
  ['one millisecond past it', (MAX_TIMER_DELAY_MS + 1) / 1000],
  ['30 days', (30 * DAY) / 1000],
])('runs a probe every interval of %s, not every millisecond', async (_label, interval) => {
  let runs = 0;
  manager.check(
    'monthly_job',
    () => {
      runs++;
    },
    { interval, timeout: 1000 },
  );
  await settle();
  for (let i = 0; i < 20; i++) {
    clock.advance(100);
    await settle();
  }
  expect(runs).toBe(1);
  clock.advance(interval * 1000 - 2001);
  await settle();
  expect(runs).toBe(1);
  clock.advance(1);
  await settle();
  expect(runs).toBe(2);
  expect(manager.service('monthly_job')).toMatchObject({ status: 'healthy', total_pulses: 2 });
});

it('times a probe out after a timeout past 24.8 days, not at once', async () => {
  const timeout = 25 * DAY;
  const signals: AbortSignal[] = [];
  manager.check(
    'slow_job',
    (signal) => {
      signals.push(signal);
      return new Promise(() => undefined);
    },
    { interval: (30 * DAY) / 1000, timeout },
  );
  await settle();
  clock.advance(2000);
  await settle();
  expect(manager.service('slow_job')).toMatchObject({ status: 'healthy', last_error: null });
  clock.advance(timeout - 2001);
  await settle();
  expect(signals[0]?.aborted).toBe(false);
  clock.advance(1);
  await settle();
  expect(signals[0]?.aborted).toBe(true);
  expect(manager.service('slow_job')?.last_error?.message).toBe(`timed out after ${timeout} ms`);
});

it('rejects bad options', () => {
  expect(() => manager.check('x', 'not a function' as never)).toThrow('probe is string; expected a function');
  expect(() => manager.check('x', () => undefined, { interval: 0 })).toThrow('"interval" is 0');
  expect(() => manager.check('x', () => undefined, { interval: 0.0001 })).toThrow('at least 0.001 (one millisecond)');
  expect(() => manager.check('x', () => undefined, { interval: 1, timeout: 5000 })).toThrow(
    '"timeout" is 5000; expected at most the interval (1000 ms)',
  );
  expect(() => manager.check('x', () => undefined, { every: 3 } as never)).toThrow('unknown key "every"');
});

it('recovers once the dependency answers again, when the probe honours its signal', async () => {
  let down = true;
  manager.check(
    'api',
    (signal) =>
      new Promise<void>((resolve, reject) => {
        if (!down) {
          resolve();
          return;
        }
        signal.addEventListener('abort', () => {
          reject(new Error('aborted'));
        });
      }),
    { interval: 5, timeout: 2000 },
  );
  await settle();
  clock.advance(2000);
  await settle();
  expect(manager.service('api')?.status).toBe('warning');
  down = false;
  clock.advance(3000);
  await settle();
  expect(manager.service('api')?.status).toBe('healthy');
});

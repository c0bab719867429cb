import { HeartbeatManager } from '../lib/core/manager';
import { DeadlineScheduler, type Scheduled } from '../lib/core/scheduler';
import { createTestClock } from './helpers/clock';

interface Item extends Scheduled {
  name: string;
}

const item = (name: string): Item => ({ name, deadline: 0, heapIndex: -1 });

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

it('wakes items in deadline order with one timer', () => {
  const clock = createTestClock();
  const woken: string[] = [];
  const scheduler = new DeadlineScheduler<Item>(clock, (due) => woken.push(due.name));
  const names = ['e', 'a', 'd', 'b', 'c'];
  names.forEach((name, index) => {
    scheduler.schedule(item(name), [500, 100, 400, 200, 300][index] as number);
  });
  expect(jest.getTimerCount()).toBe(1);
  clock.advance(250);
  expect(woken).toEqual(['a', 'b']);
  clock.advance(1000);
  expect(woken).toEqual(['a', 'b', 'c', 'd', 'e']);
  expect(jest.getTimerCount()).toBe(0);
});

it('wakes an item strictly after its deadline, so one that re-queues itself for now waits a firing', () => {
  const clock = createTestClock();
  let wakes = 0;
  const scheduler: DeadlineScheduler<Item> = new DeadlineScheduler<Item>(clock, (due, now) => {
    wakes++;
    // At most a handful: a scheduler that woke items due at exactly now would spin here.
    if (wakes < 100) scheduler.schedule(due, now);
  });
  scheduler.schedule(item('a'), 10);
  clock.advance(10);
  expect(wakes).toBe(0);
  clock.advance(1);
  expect(wakes).toBe(1);
  clock.advance(1);
  expect(wakes).toBe(2);
});

it('moves a queued item instead of queuing it twice', () => {
  const clock = createTestClock();
  const woken: string[] = [];
  const scheduler = new DeadlineScheduler<Item>(clock, (due) => woken.push(due.name));
  const a = item('a');
  scheduler.schedule(a, 100);
  scheduler.schedule(a, 50);
  scheduler.schedule(a, 300);
  expect(scheduler.size).toBe(1);
  clock.advance(200);
  expect(woken).toEqual([]);
  clock.advance(200);
  expect(woken).toEqual(['a']);
});

it('keeps heap order through random schedules and removals', () => {
  const clock = createTestClock();
  const woken: number[] = [];
  const scheduler = new DeadlineScheduler<Item & { at: number }>(clock, (due) => woken.push(due.at));
  const items = Array.from({ length: 300 }, (_, i) => ({ ...item(String(i)), at: 0 }));
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (const entry of items) {
    entry.at = Math.floor(random() * 10_000) + 1;
    scheduler.schedule(entry, entry.at);
  }
  const removed = items.filter((_, i) => i % 3 === 0);
  for (const entry of removed) scheduler.remove(entry);
  clock.advance(20_000);
  const expected = items
    .filter((_, i) => i % 3 !== 0)
    .map((entry) => entry.at)
    .sort((x, y) => x - y);
  expect(woken).toEqual(expected);
});

it('schedules nothing after close()', () => {
  const clock = createTestClock();
  const woken: string[] = [];
  const scheduler = new DeadlineScheduler<Item>(clock, (due) => woken.push(due.name));
  scheduler.schedule(item('a'), 10);
  scheduler.close();
  scheduler.schedule(item('b'), 10);
  clock.advance(100);
  expect(woken).toEqual([]);
  expect(jest.getTimerCount()).toBe(0);
});

it('waits out a deadline past 24.8 days in a few links, and wakes the item once, after it', () => {
  // jest's fake timers overflow past 2^31 − 1 ms as Node's do: an unclamped delay would fire after 1 ms.
  const clock = createTestClock();
  const woken: number[] = [];
  let firings = 0;
  const month = 31 * 86_400_000;
  const scheduler = new DeadlineScheduler<Item>(
    clock,
    (_due, now) => woken.push(now),
    () => firings++,
  );
  scheduler.schedule(item('monthly'), month);
  clock.advance(1000);
  expect(firings).toBe(0);
  clock.advance(month - 1000);
  expect(woken).toEqual([]);
  clock.advance(1);
  expect(woken).toEqual([month + 1]);
  expect(firings).toBe(2);
  expect(jest.getTimerCount()).toBe(0);
});

it('marks a monthly heartbeat late only after its interval and grace', () => {
  const clock = createTestClock();
  const manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  const changes: string[] = [];
  manager.on('status', (change) => changes.push(change.to));
  const month = 31 * 86_400;
  manager.heartbeat({ tag: 'monthly_report', interval: month, grace: 3600 }).start();
  clock.advance((month + 3600) * 1000);
  expect(manager.service('monthly_report')?.status).toBe('healthy');
  expect(changes).toEqual([]);
  clock.advance(1);
  expect(changes).toEqual(['warning']);
  void manager.close();
});

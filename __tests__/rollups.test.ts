import { DailyRollups, type DailyRollup } from '../lib/core/rollups';
import { createTestClock, type TestClock } from './helpers/clock';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let clock: TestClock;

beforeEach(() => {
  jest.useFakeTimers({ now: new Date('2026-11-29T22:00:00.000Z') });
  clock = createTestClock();
});
afterEach(() => {
  jest.useRealTimers();
});

function day(rollups: DailyRollups, date: string): DailyRollup | undefined {
  return rollups.days(rollups.retentionDays, clock.wallNow()).find((entry) => entry.date === date);
}

it('splits an outage across midnight UTC between the two days', () => {
  const rollups = new DailyRollups(90, clock.wallNow(), clock);
  clock.advance(90 * MINUTE);
  const downAt = clock.wallNow(); // 23:30
  rollups.addTransition(downAt);
  clock.advance(HOUR); // 00:30 the next day
  rollups.addDowntime(downAt, clock.wallNow());
  rollups.addTransition(clock.wallNow());
  clock.advance(90 * MINUTE); // 02:00
  expect(rollups.days(2, clock.wallNow())).toEqual([
    // Watched from 22:00: 30 min down out of 2 h.
    { date: '2026-11-29', uptime: 1 - 30 / 120, downtime_seconds: 1800, transitions: 1, pulses: 0, errors: 0 },
    // Watched for 2 h so far: 30 min down.
    { date: '2026-11-30', uptime: 1 - 30 / 120, downtime_seconds: 1800, transitions: 1, pulses: 0, errors: 0 },
  ]);
});

it('counts pulses and errors on the day they came', () => {
  const rollups = new DailyRollups(90, clock.wallNow(), clock);
  rollups.addPulses(clock.wallNow(), 120);
  rollups.addErrors(clock.wallNow(), 2);
  clock.advance(3 * HOUR);
  rollups.addPulses(clock.wallNow(), 60);
  const [yesterday, today] = rollups.days(2, clock.wallNow());
  expect(yesterday).toMatchObject({ date: '2026-11-29', pulses: 120, errors: 2, uptime: 1 });
  expect(today).toMatchObject({ date: '2026-11-30', pulses: 60, errors: 0, uptime: 1 });
});

it('counts an outage still open up to now', () => {
  const rollups = new DailyRollups(90, clock.wallNow(), clock);
  const downSince = clock.wallNow();
  clock.advance(HOUR);
  expect(rollups.days(1, clock.wallNow(), downSince)).toEqual([
    { date: '2026-11-29', uptime: 0, downtime_seconds: 3600, transitions: 0, pulses: 0, errors: 0 },
  ]);
});

it('leaves time the monitor was offline out of the day', () => {
  const rollups = new DailyRollups(90, clock.wallNow() - 22 * HOUR, clock); // watched since midnight
  const start = clock.wallNow() - 20 * HOUR;
  rollups.addDowntime(start, start + HOUR);
  rollups.addOffline(start + HOUR, start + 11 * HOUR);
  // 22 h of the day so far, 10 h offline: 1 h down of 12 h watched.
  expect(day(rollups, '2026-11-29')?.uptime).toBeCloseTo(1 - 1 / 12, 9);
});

it('lists quiet days as fully up, and none before watching began', () => {
  const rollups = new DailyRollups(90, clock.wallNow(), clock);
  clock.skip(3 * DAY);
  const days = rollups.days(10, clock.wallNow());
  expect(days.map((entry) => entry.date)).toEqual(['2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02']);
  expect(days.every((entry) => entry.uptime === 1 && entry.pulses === 0)).toBe(true);
  expect(rollups.size).toBe(0);
});

it(`keeps at most retentionDays days, dropping the oldest as new ones come`, () => {
  const rollups = new DailyRollups(7, clock.wallNow(), clock);
  for (let i = 0; i < 30; i++) {
    rollups.addPulses(clock.wallNow(), 1);
    clock.skip(DAY);
  }
  expect(rollups.size).toBeLessThanOrEqual(7);
  const days = rollups.days(30, clock.wallNow());
  expect(days).toHaveLength(7);
  expect(days[days.length - 1]?.date).toBe('2026-12-29');
  expect(days[0]?.pulses).toBe(1);
  // Adds to a day already past the retention are dropped, not resurrected.
  const longGone = clock.wallNow() - 20 * DAY;
  rollups.addPulses(longGone, 5);
  expect(rollups.size).toBeLessThanOrEqual(7);
  expect(rollups.state().days.map(([dayNumber]) => dayNumber)).not.toContain(Math.floor(longGone / DAY));
});

it('ignores times more than a day past the clock: one bogus time pushes no real day out', () => {
  const rollups = new DailyRollups(7, clock.wallNow(), clock);
  for (let i = 0; i < 5; i++) {
    rollups.addPulses(clock.wallNow(), 1);
    clock.skip(DAY);
  }
  const kept = rollups.state();
  rollups.addPulses(clock.wallNow() + 400 * DAY, 1);
  rollups.addDowntime(clock.wallNow() + 399 * DAY, clock.wallNow() + 400 * DAY);
  rollups.load({ since: kept.since, days: [...kept.days, [Math.floor(clock.wallNow() / DAY) + 2, 0, 0, 1, 0, 0]] });
  expect(rollups.state()).toEqual(kept);
  rollups.addPulses(clock.wallNow(), 4);
  expect(rollups.days(1, clock.wallNow())[0]?.pulses).toBe(4);
});

it('counts again as soon as a wall clock that jumped a year ahead is set back', () => {
  const rollups = new DailyRollups(90, clock.wallNow(), clock);
  clock.jumpWall(365 * DAY);
  rollups.addPulses(clock.wallNow(), 1);
  clock.jumpWall(-365 * DAY);
  rollups.addPulses(clock.wallNow(), 2);
  expect(rollups.days(1, clock.wallNow())[0]?.pulses).toBe(2);
});

it('touches only the kept days for an outage longer than the retention', () => {
  const rollups = new DailyRollups(3, clock.wallNow() - 400 * DAY, clock);
  rollups.addDowntime(clock.wallNow() - 365 * DAY, clock.wallNow());
  expect(rollups.size).toBe(3);
  expect(rollups.days(3, clock.wallNow()).map((entry) => entry.downtime_seconds)).toEqual([86_400, 86_400, 22 * 3600]);
});

it('never counts more than a day of downtime or offline time in one day, however the spans overlap', () => {
  const rollups = new DailyRollups(90, clock.wallNow() - 22 * HOUR, clock);
  const midnight = clock.wallNow() - 22 * HOUR;
  for (let i = 0; i < 3; i++) {
    rollups.addDowntime(midnight, midnight + DAY);
    rollups.addOffline(midnight - HOUR, midnight + DAY);
  }
  expect(rollups.state().days).toEqual([
    [Math.floor(midnight / DAY) - 1, 0, 3 * HOUR, 0, 0, 0],
    [Math.floor(midnight / DAY), DAY, DAY, 0, 0, 0],
  ]);
});

it('drops days before a cutoff', () => {
  const rollups = new DailyRollups(90, clock.wallNow(), clock);
  rollups.addTransition(clock.wallNow());
  clock.skip(2 * DAY);
  rollups.addTransition(clock.wallNow());
  rollups.dropBefore(clock.wallNow() - DAY);
  expect(rollups.state().days.map(([, , , transitions]) => transitions)).toEqual([1]);
});

it('state() and load() rebuild the same days in a fresh instance', () => {
  const rollups = new DailyRollups(90, clock.wallNow(), clock);
  rollups.addDowntime(clock.wallNow(), clock.wallNow() + 3 * HOUR);
  rollups.addOffline(clock.wallNow() + 3 * HOUR, clock.wallNow() + 4 * HOUR);
  rollups.addPulses(clock.wallNow(), 7);
  rollups.addErrors(clock.wallNow() + 5 * HOUR, 1);
  rollups.addTransition(clock.wallNow());
  clock.skip(5 * HOUR);
  const copy = new DailyRollups(90, 0, clock);
  copy.load(JSON.parse(JSON.stringify(rollups.state())) as ReturnType<DailyRollups['state']>);
  expect(copy.state()).toEqual(rollups.state());
  expect(copy.days(5, clock.wallNow())).toEqual(rollups.days(5, clock.wallNow()));
});

it('refuses a retention that is not a whole number of at least 1', () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
    expect(() => new DailyRollups(bad, 0, clock)).toThrow(/retentionDays is .*; expected a whole number of at least 1/);
  }
});

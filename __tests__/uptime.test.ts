import { UPTIME_WINDOWS, UptimeTracker } from '../lib/core/uptime';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

it('is 1 for a service that never went down, and allocates nothing for it', () => {
  const tracker = new UptimeTracker(0);
  expect(tracker.ratio(3 * DAY, UPTIME_WINDOWS['24h'])).toBe(1);
  expect((tracker as unknown as { minutes: unknown }).minutes).toBeNull();
});

it('counts an ongoing outage up to now', () => {
  const tracker = new UptimeTracker(0);
  tracker.markDown(10 * HOUR);
  expect(tracker.ratio(12 * HOUR, UPTIME_WINDOWS['24h'])).toBeCloseTo(10 / 12, 6);
});

it('measures the share of the window over simulated days', () => {
  const tracker = new UptimeTracker(0);
  // Day 0: one hour down. Day 3: two hours down. Day 8: thirty minutes down.
  tracker.markDown(5 * HOUR);
  tracker.markUp(6 * HOUR);
  tracker.markDown(3 * DAY + 2 * HOUR);
  tracker.markUp(3 * DAY + 4 * HOUR);
  tracker.markDown(8 * DAY + 30 * MINUTE);
  tracker.markUp(8 * DAY + 60 * MINUTE);
  const now = 8 * DAY + 12 * HOUR;
  expect(tracker.ratio(now, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 0.5 / 24, 6);
  // The last 7 days start at day 1 12:00: day 0's hour is out, day 3's two hours and day 8's half hour are in.
  expect(tracker.ratio(now, UPTIME_WINDOWS['7d'])).toBeCloseTo(1 - 2.5 / (7 * 24), 6);
});

it('uses the service lifetime when it is shorter than the window', () => {
  const tracker = new UptimeTracker(10 * DAY);
  tracker.markDown(10 * DAY + HOUR);
  tracker.markUp(10 * DAY + 2 * HOUR);
  expect(tracker.ratio(10 * DAY + 4 * HOUR, UPTIME_WINDOWS['7d'])).toBeCloseTo(0.75, 6);
});

it('forgets what is older than a week even when nothing was written since', () => {
  const tracker = new UptimeTracker(0);
  tracker.markDown(HOUR);
  tracker.markUp(3 * HOUR);
  expect(tracker.ratio(2 * DAY, UPTIME_WINDOWS['7d'])).toBeCloseTo(1 - 2 / 48, 6);
  expect(tracker.ratio(30 * DAY, UPTIME_WINDOWS['7d'])).toBe(1);
  // A new outage a month later must not resurrect the old buckets sharing its ring slots.
  tracker.markDown(7 * DAY + HOUR);
  tracker.markUp(7 * DAY + HOUR + 10 * MINUTE);
  expect(tracker.ratio(7 * DAY + 3 * HOUR, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 10 / (24 * 60), 6);
});

it('drops downtime before a cutoff', () => {
  const tracker = new UptimeTracker(0);
  tracker.markDown(HOUR);
  tracker.markUp(2 * HOUR);
  tracker.markDown(20 * HOUR);
  tracker.markUp(21 * HOUR);
  tracker.dropBefore(10 * HOUR);
  expect(tracker.ratio(22 * HOUR, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 1 / 22, 6);
});

it('agrees with a brute-force count over random outages', () => {
  let seed = 42;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const tracker = new UptimeTracker(0);
  const outages: Array<[number, number]> = [];
  let t = 0;
  while (t < 9 * DAY) {
    t += Math.floor(random() * 6 * HOUR);
    const length = Math.floor(random() * 90 * MINUTE);
    tracker.markDown(t);
    tracker.markUp(t + length);
    outages.push([t, t + length]);
    t += length;
  }
  const now = t + HOUR;
  for (const window of [UPTIME_WINDOWS['24h'], UPTIME_WINDOWS['7d']]) {
    const from = now - window;
    const down = outages.reduce((sum, [start, end]) => sum + Math.max(0, Math.min(end, now) - Math.max(start, from)), 0);
    // Minute buckets: each window edge may misplace at most a minute of downtime.
    expect(Math.abs(tracker.ratio(now, window) - (1 - down / window))).toBeLessThanOrEqual((2 * MINUTE) / window);
  }
});

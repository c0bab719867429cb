import { MAX_EXCLUDED_SPANS, UPTIME_WINDOWS, UptimeTracker } from '../lib/core/uptime';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('time the monitor was offline', () => {
  it('counts neither as up nor as down: down 1 h, offline 2 h, up 1 h is half up', () => {
    const tracker = new UptimeTracker(0);
    tracker.markDown(0);
    tracker.markUp(HOUR);
    tracker.excludeSpan(HOUR, 3 * HOUR);
    expect(tracker.ratio(4 * HOUR, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 1 / 2, 6);
    expect(tracker.ratio(4 * HOUR, UPTIME_WINDOWS['7d'])).toBeCloseTo(1 - 1 / 2, 6);
  });

  it('stops an outage open at the crash at the start of the gap and counts it again from the restart', () => {
    const tracker = new UptimeTracker(0);
    tracker.markDown(0);
    tracker.excludeSpan(HOUR, 3 * HOUR);
    expect(tracker.isDown).toBe(true);
    // Still down after the restart: 1 h before the gap and 30 min after it, over 1.5 h watched.
    expect(tracker.ratio(3.5 * HOUR, UPTIME_WINDOWS['24h'])).toBeCloseTo(0, 6);
    tracker.markUp(3 * HOUR);
    expect(tracker.ratio(4 * HOUR, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 1 / 2, 6);
  });

  it('leaves a gap out of an outage that began inside it', () => {
    const tracker = new UptimeTracker(0);
    tracker.markDown(2 * HOUR);
    tracker.excludeSpan(HOUR, 3 * HOUR);
    tracker.markUp(4 * HOUR);
    // Watched 1 h before and 1 h after the gap; down the hour after it.
    expect(tracker.ratio(4 * HOUR, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 / 2, 6);
  });

  it('counts only the part of a gap inside the window', () => {
    const tracker = new UptimeTracker(0);
    tracker.excludeSpan(DAY - 2 * HOUR, DAY + 2 * HOUR);
    tracker.markDown(DAY + 2 * HOUR);
    tracker.markUp(DAY + 4 * HOUR);
    const now = 2 * DAY - 2 * HOUR;
    // The 24 h window runs from 22 h to 46 h: the whole 4 h gap is inside it, 20 h watched.
    expect(tracker.ratio(now, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 2 / 20, 6);
    // A window that starts in the middle of the gap leaves out only its second half.
    expect(tracker.ratio(DAY + 24 * HOUR, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 2 / 22, 6);
  });

  it('is 1 when the whole window was offline', () => {
    const tracker = new UptimeTracker(0);
    tracker.excludeSpan(0, 2 * DAY);
    expect(tracker.ratio(2 * DAY, UPTIME_WINDOWS['24h'])).toBe(1);
  });

  it('ignores an empty or reversed span', () => {
    const tracker = new UptimeTracker(0);
    tracker.excludeSpan(HOUR, HOUR);
    tracker.excludeSpan(2 * HOUR, HOUR);
    tracker.excludeSpan(HOUR, Number.NaN);
    expect(tracker.state().excluded).toEqual([]);
  });

  it('merges overlapping spans, so time is never left out twice', () => {
    const tracker = new UptimeTracker(0);
    tracker.excludeSpan(2 * HOUR, 4 * HOUR);
    tracker.excludeSpan(HOUR, 3 * HOUR);
    tracker.excludeSpan(4 * HOUR, 5 * HOUR);
    expect(tracker.state().excluded).toEqual([[HOUR, 5 * HOUR]]);
    expect(tracker.ratio(6 * HOUR, UPTIME_WINDOWS['24h'])).toBe(1);
  });

  it(`keeps at most ${MAX_EXCLUDED_SPANS} spans, merging those with the shortest watched stretch between them`, () => {
    const tracker = new UptimeTracker(0);
    // Restarts every 2 h, each 1 min offline; one pair of restarts only 5 s apart.
    for (let restart = 1; restart <= MAX_EXCLUDED_SPANS; restart++) {
      tracker.excludeSpan(restart * 2 * HOUR, restart * 2 * HOUR + MINUTE);
    }
    tracker.excludeSpan(10 * HOUR + MINUTE + 5000, 10 * HOUR + 2 * MINUTE);
    const spans = tracker.state().excluded;
    expect(spans).toHaveLength(MAX_EXCLUDED_SPANS);
    expect(spans).toContainEqual([10 * HOUR, 10 * HOUR + 2 * MINUTE]);
  });

  it('forgets spans that ended more than 7 days before the newest, and those before a cutoff', () => {
    const tracker = new UptimeTracker(0);
    tracker.excludeSpan(HOUR, 2 * HOUR);
    tracker.excludeSpan(3 * DAY, 3 * DAY + HOUR);
    tracker.excludeSpan(8 * DAY, 8 * DAY + HOUR);
    expect(tracker.state().excluded).toEqual([
      [3 * DAY, 3 * DAY + HOUR],
      [8 * DAY, 8 * DAY + HOUR],
    ]);
    tracker.dropBefore(5 * DAY);
    expect(tracker.state().excluded).toEqual([[8 * DAY, 8 * DAY + HOUR]]);
  });
});

describe('state() and load()', () => {
  it('rebuild the same ratios, downtime, open outage and gaps in a fresh tracker', () => {
    const tracker = new UptimeTracker(-5 * DAY);
    tracker.markDown(-4 * DAY);
    tracker.markUp(-4 * DAY + 90 * MINUTE);
    tracker.markDown(-HOUR);
    tracker.markUp(-HOUR + 7 * MINUTE + 30_000);
    tracker.excludeSpan(-30 * MINUTE, -20 * MINUTE);
    tracker.markDown(-10 * MINUTE);
    const state = tracker.state();
    expect(state.minutes.every(([, seconds]) => seconds > 0 && seconds <= 60)).toBe(true);

    const copy = new UptimeTracker(0);
    copy.load(JSON.parse(JSON.stringify(state)) as typeof state);
    expect(copy.state()).toEqual(state);
    expect(copy.isDown).toBe(true);
    for (const now of [0, HOUR, 2 * DAY]) {
      for (const window of [UPTIME_WINDOWS['24h'], UPTIME_WINDOWS['7d']]) {
        expect(copy.ratio(now, window)).toBe(tracker.ratio(now, window));
      }
    }
  });

  it('handle negative minute indexes, as restored times on a younger monotonic clock are', () => {
    const tracker = new UptimeTracker(-3 * DAY);
    tracker.load({
      since: -3 * DAY,
      downSince: null,
      minutes: [
        [-60, 60],
        [-59, 30],
        [-1, 15],
      ],
      excluded: [],
    });
    expect(tracker.state().minutes).toEqual([
      [-60, 60],
      [-59, 30],
      [-1, 15],
    ]);
    expect(tracker.ratio(0, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 105 / 86_400, 9);
    // Later outages share ring slots with none of them.
    tracker.markDown(0);
    tracker.markUp(MINUTE);
    expect(tracker.ratio(MINUTE, UPTIME_WINDOWS['24h'])).toBeCloseTo(1 - 165 / 86_400, 9);
  });

  it('list the same downtime minutes as a scan of every minute, reading only the hours that hold any', () => {
    // A small deterministic generator: outages of seconds to hours over 9 days, some cut by a cleanup.
    let seed = 7;
    const next = (): number => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    const tracker = new UptimeTracker(0);
    const everyMinute = (): unknown => (tracker as unknown as { minutes: { nonEmpty(): unknown } }).minutes.nonEmpty();
    let at = 0;
    for (let outage = 0; outage < 400; outage++) {
      at += next() * 40 * MINUTE;
      tracker.markDown(at);
      at += next() < 0.8 ? next() * 90_000 : next() * 3 * HOUR;
      tracker.markUp(at);
      if (outage % 97 === 0) tracker.dropBefore(at - 3 * DAY);
      if (outage % 25 === 0) expect(tracker.state().minutes).toEqual(everyMinute());
    }
    expect(tracker.state().minutes).toEqual(everyMinute());
    // An outage in the minutes the minute ring holds beyond the oldest hour it keeps a total for.
    const edge = new UptimeTracker(0);
    edge.markDown(61 * MINUTE);
    edge.markUp(62 * MINUTE + 30_000);
    edge.markDown(7 * DAY + 60 * MINUTE);
    edge.markUp(7 * DAY + 60 * MINUTE + 5000);
    // The newest minute is 10,140: minutes from 61 are held, hourly totals only from hour 2.
    expect(edge.state().minutes).toEqual([
      [61, 60],
      [62, 30],
      [7 * 24 * 60 + 60, 5],
    ]);
  });

  it('ignore minutes more than 7 days older than the newest', () => {
    const tracker = new UptimeTracker(-30 * DAY);
    tracker.load({
      since: -30 * DAY,
      downSince: null,
      minutes: [
        [-20 * 24 * 60, 60],
        [0, 60],
      ],
      excluded: [],
    });
    expect(tracker.state().minutes).toEqual([[0, 60]]);
  });
});

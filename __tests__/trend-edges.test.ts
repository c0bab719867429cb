// The gap model's edges in the manager (issue 20), each once a defect found in review: repeated
// pulses, a burst, the countdown after a restart, late listeners, the event's reading, a disabled
// manager, and failed runs in the runtime model. The common cases: trend.test.ts.
import type { TrendChange } from '../lib';
import { TREND_CHECK_MS } from '../lib/core/trend-watch';
import { createManager, type ManagerFixture } from './helpers/manager';
import { useManagerTimers } from './helpers/managers';
import { DRIFT_INTERVAL, driftingGaps, pulseAfterGaps, steadyGaps } from './helpers/drift';

useManagerTimers();

const SECOND = 1000;

let fixture: ManagerFixture;

const pulseAfter = (heartbeat: { pulse(): void }, gaps: readonly number[]): void => {
  pulseAfterGaps(fixture.clock, heartbeat, gaps);
};
const trendOf = (tag = 'save_worker') => fixture.manager.service(tag)?.trend;

/** A started worker pulsed after the drifting gaps until the first pulse that sets at_risk; `listen` hears trend events from the start. */
function workerAtRisk(listen?: (change: TrendChange) => void) {
  fixture = createManager({ log_level: 'silent' });
  if (listen) fixture.manager.on('trend', listen);
  const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: DRIFT_INTERVAL }).start();
  heartbeat.pulse();
  for (const gap of driftingGaps(8)) {
    pulseAfter(heartbeat, [gap]);
    if (trendOf()?.at_risk === true) return heartbeat;
  }
  throw new Error('never at risk');
}

describe('what is learnt', () => {
  it('a pulse repeated in the same millisecond is no gap: mean_gap_seconds stays the rhythm', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: DRIFT_INTERVAL }).start();
    heartbeat.pulse();
    for (let beat = 0; beat < 12; beat++) {
      fixture.clock.advance(20 * SECOND);
      heartbeat.pulse();
      heartbeat.pulse(); // e.g. a job's run.success() and the worker's own pulse, same instant
    }
    expect(trendOf()?.mean_gap_seconds).toBe(20);
  });

  it('a same-millisecond duplicate pulse does not clear at_risk of a service living on its grace', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: DRIFT_INTERVAL }).start();
    heartbeat.pulse();
    pulseAfter(heartbeat, [...steadyGaps(15), 31, 31.5, 31, 31.5, 31]);
    expect(trendOf()).toMatchObject({ at_risk: true, reason: 'last 5 gaps each past the 30 s interval, into the grace' });
    heartbeat.pulse(); // same instant: nothing about the rhythm changed
    expect(trendOf()?.at_risk).toBe(true);
  });

  it('one burst pulse 0.4 s after the last neither clears at_risk of a drifting service nor hides the flip from listeners', () => {
    const changes: TrendChange[] = [];
    const heartbeat = workerAtRisk((change) => changes.push(change));
    expect(trendOf()).toMatchObject({ at_risk: true, slope: 1.5, eta_seconds: 33 });
    pulseAfter(heartbeat, [0.4]);
    fixture.clock.advance(TREND_CHECK_MS + 1);
    expect(trendOf()?.at_risk).toBe(true);
    expect(changes.map((change) => change.trend.at_risk)).toEqual([true]);
  });
});

describe('eta_seconds after a gap is skipped', () => {
  it('counts down from a restart of the heartbeat instead of staying frozen at its last value', () => {
    fixture = createManager({ log_level: 'silent', services: { save_worker: { interval: DRIFT_INTERVAL } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker' }).start();
    heartbeat.pulse();
    for (const gap of driftingGaps(8)) pulseAfter(heartbeat, [gap]);
    expect(trendOf()).toMatchObject({ at_risk: true, eta_seconds: 33 });
    heartbeat.stop();
    fixture.clock.advance(5 * SECOND);
    fixture.manager.heartbeat({ tag: 'save_worker' }).start();
    fixture.clock.advance(40 * SECOND);
    // 40 s after the start the service has missed its beat (33 s): the countdown ran from the start.
    expect(fixture.manager.service('save_worker')?.status).not.toBe('healthy');
    expect(trendOf()?.eta_seconds).toBe(0);
  });
});

describe('the trend event', () => {
  it('tells a listener that comes after another left of a service already at risk', () => {
    workerAtRisk();
    const first = jest.fn();
    fixture.manager.on('trend', first);
    fixture.clock.advance(TREND_CHECK_MS + 1);
    expect(first).toHaveBeenCalledTimes(1);
    fixture.manager.off('trend', first);

    const second = jest.fn();
    fixture.manager.on('trend', second);
    fixture.clock.advance(3 * TREND_CHECK_MS);
    expect(trendOf()?.at_risk).toBe(true);
    expect(second).toHaveBeenCalledTimes(1);
  });

  it("gives the trend as of the pulse that turned it, as TrendChange.trend's doc says", () => {
    const changes: TrendChange[] = [];
    workerAtRisk((change) => changes.push(change));
    const atPulse = trendOf();
    fixture.clock.advance(TREND_CHECK_MS + 1);
    expect(changes[0]?.trend).toEqual(atPulse);
  });

  it('arms no timer for a trend listener while heartbeats are disabled', () => {
    fixture = createManager({ log_level: 'silent', enabled: false });
    expect(jest.getTimerCount()).toBe(0);
    fixture.manager.on('trend', jest.fn());
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('runtime_anomaly', () => {
  it('is not raised for a usual run after a streak of fast failures (they are not its usual runtime)', () => {
    fixture = createManager({ log_level: 'silent', services: { indexer: { interval: 3600 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'indexer' });
    const run = (seconds: number, ok = true) => {
      const job = heartbeat.begin();
      fixture.clock.advance(seconds * SECOND);
      if (ok) job.success();
      else job.fail('crashed at start');
      return fixture.manager.service('indexer')?.run.runtime_anomaly;
    };
    for (let i = 0; i < 10; i++) run(60);
    for (let i = 0; i < 20; i++) run(1, false); // a crash loop, fixed by a deploy
    expect(run(60)).toBeNull();
  });
});

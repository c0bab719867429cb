// The gap model wired into the manager (issue 20): `trend` in the service body, read from pulse
// times alone; the `trend` event; what is not learnt (pauses, restarts, cron schedules); and a
// job's runtime anomaly. The model itself on constructed sequences: trend-model.test.ts.
import request from 'supertest';
import type { TrendChange } from '../lib';
import { TREND_CHECK_MS } from '../lib/core/trend-watch';
import { createApp, type AppFixture } from './helpers/app';
import { createManager, type ManagerFixture } from './helpers/manager';
import { useManagerTimers } from './helpers/managers';
import { DRIFT_INTERVAL, driftingGaps, pulseAfterGaps, steadyGaps, learningTrend } from './helpers/drift';

useManagerTimers();

const SECOND = 1000;
const TOKEN = 'trend-token-0123456789abcdef';

let fixture: ManagerFixture;

/** A worker of `DRIFT_INTERVAL` seconds, started; `gaps` (seconds) are the waits before each pulse. */
function workerPulsing(gaps: readonly number[], tag = 'save_worker') {
  const heartbeat = fixture.manager.heartbeat({ tag, interval: DRIFT_INTERVAL }).start();
  heartbeat.pulse();
  pulseAfter(heartbeat, gaps);
  return heartbeat;
}

const pulseAfter = (heartbeat: { pulse(): void }, gaps: readonly number[]): void => {
  pulseAfterGaps(fixture.clock, heartbeat, gaps);
};

const trendOf = (tag = 'save_worker') => fixture.manager.service(tag)?.trend;

describe('trend in the service body', () => {
  it('says it is learning until 10 gaps, then gives the figures of steady gaps', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = workerPulsing(steadyGaps(9));
    expect(trendOf()).toEqual(learningTrend(9));
    pulseAfter(heartbeat, [20]);
    expect(trendOf()).toEqual({ mean_gap_seconds: 20, p95_gap_seconds: 20, slope: 0, at_risk: false, eta_seconds: null, reason: 'steady' });
  });

  it('turns at_risk while the gaps drift toward the deadline, before any beat is missed, and clears when they recover', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = workerPulsing(driftingGaps(0));
    const verdicts: { gap: number; atRisk: boolean; status: string | undefined }[] = [];
    for (const gap of driftingGaps(8).slice(20)) {
      pulseAfter(heartbeat, [gap]);
      verdicts.push({ gap, atRisk: trendOf()?.at_risk === true, status: fixture.manager.service('save_worker')?.status });
    }
    // Flagged while every gap is still within 33 s: the status never left healthy.
    const firstFlag = verdicts.findIndex((verdict) => verdict.atRisk);
    expect(firstFlag).toBeGreaterThanOrEqual(0);
    expect(verdicts.every((verdict) => verdict.gap < 33 && verdict.status === 'healthy')).toBe(true);
    const flagged = trendOf();
    expect(flagged).toMatchObject({
      at_risk: true,
      reason: expect.stringMatching(/^gaps growing [\d.]+ s per beat: a miss expected in about/),
    });
    expect(flagged?.slope).toBeGreaterThan(1);
    expect(flagged?.eta_seconds).toBeGreaterThan(0);

    // The worker catches up: steady 20 s gaps again clear the flag.
    pulseAfter(heartbeat, steadyGaps(10));
    expect(trendOf()).toMatchObject({ at_risk: false, eta_seconds: null });
  });

  it('is current right after a pulse whatever the timers did, and only eta_seconds moves between pulses', () => {
    fixture = createManager({ log_level: 'silent' });
    workerPulsing(driftingGaps(8));
    // Read right after the pulse, before any timer turn: the gaps alone make the verdict.
    const atPulse = trendOf();
    expect(atPulse).toMatchObject({ at_risk: true, eta_seconds: 33, reason: 'gaps growing 1.5 s per beat: a miss expected in about 33 s' });
    fixture.clock.advance(5 * SECOND);
    expect(trendOf()).toEqual({ ...atPulse, eta_seconds: 28, reason: 'gaps growing 1.5 s per beat: a miss expected in about 28 s' });
  });

  it('is served by GET /service/{name} for remote pulses too', async () => {
    const app: AppFixture = createApp({ remote_token: TOKEN, services: { nightly_sync: { interval: DRIFT_INTERVAL } } });
    const pulse = () => request(app.app).post('/api/health/service/nightly_sync/pulse').auth(TOKEN, { type: 'bearer' }).expect(204);
    await pulse();
    for (const gap of driftingGaps(8)) {
      app.clock.advance(gap * SECOND);
      await pulse();
    }
    const body = (await request(app.app).get('/api/health/service/nightly_sync').expect(200)).body as { status: string; trend: unknown };
    expect(body.status).toBe('healthy');
    expect(body.trend).toMatchObject({ at_risk: true, mean_gap_seconds: expect.any(Number), eta_seconds: expect.any(Number) });
  });

  it('does not learn the gap across a pause, nor the pulses inside it', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = workerPulsing(steadyGaps(12));
    fixture.manager.pause('save_worker', { reason: 'deploy' });
    // Pulses inside a pause are not learnt either: a paused service owes no rhythm.
    pulseAfter(heartbeat, [300, 5, 5]);
    fixture.clock.advance(3600 * SECOND);
    fixture.manager.resume('save_worker');
    pulseAfter(heartbeat, [20]);
    expect(trendOf()).toMatchObject({ mean_gap_seconds: 20, p95_gap_seconds: 20, reason: 'steady' });
  });

  it('does not learn the gap from a stop to a new start of a configured service', () => {
    fixture = createManager({ log_level: 'silent', services: { save_worker: { interval: DRIFT_INTERVAL } } });
    const heartbeat = workerPulsing(steadyGaps(12));
    heartbeat.stop();
    fixture.clock.advance(600 * SECOND);
    const again = fixture.manager.heartbeat({ tag: 'save_worker' }).start();
    pulseAfter(again, [20, 20]);
    expect(trendOf()).toMatchObject({ mean_gap_seconds: 20, p95_gap_seconds: 20, reason: 'steady' });
  });

  it('makes no forecast for a service on a cron schedule', () => {
    fixture = createManager({ log_level: 'silent', services: { nightly: { schedule: '0 3 * * *' } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'nightly' }).start();
    pulseAfter(heartbeat, steadyGaps(12, 86_400));
    expect(trendOf('nightly')).toEqual({
      mean_gap_seconds: null,
      p95_gap_seconds: null,
      slope: null,
      at_risk: false,
      eta_seconds: null,
      reason: 'not forecast: a cron schedule has no steady gap to learn',
    });
  });

  it('is learnt afresh after a restart: the gaps are not saved', () => {
    fixture = createManager({ log_level: 'silent' });
    workerPulsing(steadyGaps(12));
    expect(trendOf()?.reason).toBe('steady');
    void fixture.manager.close();
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: DRIFT_INTERVAL }).start();
    heartbeat.pulse();
    expect(trendOf()?.reason).toBe('learning: 0 of 10 gaps');
  });
});

describe('the trend event', () => {
  it('is emitted once when at_risk turns true and once when it clears, within a second of the pulse', () => {
    fixture = createManager({ log_level: 'silent' });
    const changes: TrendChange[] = [];
    fixture.manager.on('trend', (change) => changes.push(change));
    const heartbeat = workerPulsing(driftingGaps(0));
    expect(changes).toEqual([]);
    let flaggedAt = '';
    for (const gap of driftingGaps(8).slice(20)) {
      pulseAfter(heartbeat, [gap]);
      if (trendOf()?.at_risk === true && flaggedAt === '') flaggedAt = new Date(fixture.clock.wallNow()).toISOString();
    }
    fixture.clock.advance(TREND_CHECK_MS + 1);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ service: 'save_worker', trend: { at_risk: true } });
    // The time of the pulse that turned it; the trend as of the latest pulse before the look.
    expect(changes[0]?.time).toBe(flaggedAt);

    pulseAfter(heartbeat, steadyGaps(10));
    fixture.clock.advance(TREND_CHECK_MS + 1);
    expect(changes.map((change) => change.trend.at_risk)).toEqual([true, false]);
    expect(changes[1]?.trend.reason).toBe('steady');
  });

  it('stops with off() and close(), and tells a listener that comes late of a service already at risk', () => {
    fixture = createManager({ log_level: 'silent' });
    const listener = jest.fn();
    fixture.manager.on('trend', listener);
    fixture.manager.off('trend', listener);
    const heartbeat = workerPulsing(driftingGaps(8));
    fixture.clock.advance(5 * TREND_CHECK_MS);
    expect(listener).not.toHaveBeenCalled();

    fixture.manager.on('trend', listener);
    fixture.clock.advance(TREND_CHECK_MS + 1);
    // A service already at risk when the listener comes is news to it.
    expect(listener).toHaveBeenCalledTimes(1);
    void fixture.manager.close();
    pulseAfter(heartbeat, steadyGaps(10));
    fixture.clock.advance(5 * TREND_CHECK_MS);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('logs a listener that throws and goes on to the next', () => {
    fixture = createManager({ log_level: 'silent' });
    const after = jest.fn();
    fixture.manager.on('trend', () => {
      throw new Error('listener broke');
    });
    fixture.manager.on('trend', after);
    workerPulsing(driftingGaps(8));
    fixture.clock.advance(TREND_CHECK_MS + 1);
    expect(after).toHaveBeenCalledTimes(1);
  });

  it('names the events it knows when given another', () => {
    fixture = createManager({ log_level: 'silent' });
    expect(() => fixture.manager.on('trends' as 'trend', jest.fn())).toThrow(
      'HeartbeatManager emits "status", "pause", "trend" and "close" events, not "trends".',
    );
  });
});

describe('runtime_anomaly', () => {
  it('flags a run far longer than the recent runs, and clears with the next usual one', () => {
    fixture = createManager({ log_level: 'silent', services: { indexer: { interval: 3600 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'indexer' });
    const runFor = (seconds: number) => {
      const run = heartbeat.begin();
      fixture.clock.advance(seconds * SECOND);
      run.success();
      return fixture.manager.service('indexer')?.run.runtime_anomaly;
    };
    for (const seconds of [10, 10, 10, 10, 10, 10]) expect(runFor(seconds)).toBeNull();
    expect(runFor(31)).toEqual({
      reason: 'ran 3.1x longer than usual (31s, usually 10s)',
      duration_seconds: 31,
      mean_seconds: 10,
      sd_seconds: 0,
      threshold_seconds: 14,
      runs: 6,
    });
    expect(fixture.manager.service('indexer')?.status).toBe('healthy');
    expect(runFor(10)).toBeNull();
  });

  it('is flagged for a remote job over HTTP, and a failed run is judged too', async () => {
    const app = createApp({ remote_token: TOKEN, services: { nightly: { interval: 3600 } } });
    const post = (path: string) => request(app.app).post(`/api/health/service/nightly/${path}`).auth(TOKEN, { type: 'bearer' }).expect(204);
    const runFor = async (seconds: number, end = 'pulse') => {
      await post('start');
      app.clock.advance(seconds * SECOND);
      await post(end);
      return ((await request(app.app).get('/api/health/service/nightly').expect(200)).body as { run: { runtime_anomaly: unknown } }).run
        .runtime_anomaly;
    };
    for (let run = 0; run < 5; run++) expect(await runFor(60)).toBeNull();
    expect(await runFor(600, 'fail')).toMatchObject({ reason: 'ran 10.0x longer than usual (10m, usually 1m)', runs: 5 });
  });
});

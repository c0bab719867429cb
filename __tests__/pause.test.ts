import type { PauseChange } from '../lib/core/manager';
import { ConfigError } from '../lib/util/validate';
import { createManager, type ManagerFixture } from './helpers/manager';
import { useManagerTimers } from './helpers/managers';

let fixture: ManagerFixture;
let pauses: PauseChange[];

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const START = Date.parse('2026-06-01T12:00:00Z');

useManagerTimers({ now: START });

function start(config: Parameters<typeof createManager>[0] = {}): void {
  fixture = createManager({ log_level: 'silent', ...config });
  pauses = [];
  fixture.manager.on('pause', (change) => pauses.push(change));
}

const iso = (wall: number): string => new Date(wall).toISOString();

describe('manager.pause()', () => {
  it('stops counting misses, shows the pause, and leaves the service out of overall_status', () => {
    start({ services: { save_worker: { interval: 10 } } });
    fixture.clock.advance(60 * SECOND);
    expect(fixture.manager.service('save_worker')?.status).toBe('critical');

    const until = START + 2 * 3_600_000;
    const shown = fixture.manager.pause('save_worker', { until: new Date(until), reason: 'database migration' });
    const expected = { reason: 'database migration', until: iso(until), since: iso(fixture.clock.wallNow()) };
    expect(shown).toEqual(expected);
    expect(fixture.manager.service('save_worker')).toMatchObject({ status: 'healthy', consecutive_failures: 0, paused: expected });
    expect(fixture.changes.at(-1)).toMatchObject({ from: 'critical', to: 'healthy', reason: 'paused: database migration', paused: true });
    expect(pauses).toEqual([
      { service: 'save_worker', paused: true, reason: 'database migration', until: iso(until), time: expected.since },
    ]);

    // A reported error still shows, but says nothing of the system's health while paused.
    fixture.manager.heartbeat({ tag: 'save_worker' }).error('disk full', { critical: true });
    expect(fixture.manager.service('save_worker')?.status).toBe('critical');
    expect(fixture.manager.status().overall_status).toBe('healthy');

    // An hour of silence is no miss.
    fixture.clock.advance(3_600_000);
    expect(fixture.manager.service('save_worker')?.consecutive_failures).toBe(1); // the error, no misses
  });

  it('gives a fresh interval and grace when until passes: no false alarm at the end', () => {
    start({ services: { save_worker: { interval: 10, grace: 1 } } });
    const until = START + 30 * MINUTE;
    fixture.manager.pause('save_worker', { until });
    fixture.clock.advance(30 * MINUTE + 11 * SECOND);
    expect(fixture.manager.service('save_worker')).toMatchObject({ status: 'healthy', paused: null });
    expect(pauses.at(-1)).toEqual({ service: 'save_worker', paused: false, reason: 'paused', until: null, time: iso(until) });
    expect(fixture.changes).toEqual([]);
    // Eleven seconds after the end, plus a millisecond: the first beat since is missed.
    fixture.clock.advance(1);
    expect(fixture.manager.service('save_worker')?.status).toBe('warning');
    expect(fixture.changes.at(-1)).toMatchObject({ to: 'warning', paused: false });
  });

  it('ends on resume() with a fresh interval from that moment', () => {
    start({ services: { save_worker: { interval: 10, grace: 1 } } });
    fixture.manager.pause('save_worker');
    expect(fixture.manager.service('save_worker')?.paused?.until).toBeNull();
    fixture.clock.advance(5 * MINUTE);
    expect(fixture.manager.resume('save_worker')).toBe(true);
    expect(fixture.manager.resume('save_worker')).toBe(false);
    expect(fixture.manager.service('save_worker')?.paused).toBeNull();
    expect(pauses.map(({ paused, reason }) => [paused, reason])).toEqual([
      [true, 'paused'],
      [false, 'paused'],
    ]);
    fixture.manager.pause('save_worker', { reason: 'deploy' });
    fixture.manager.resume('save_worker');
    expect(pauses.at(-1)).toMatchObject({ paused: false, reason: 'deploy' });
    fixture.clock.advance(11 * SECOND);
    expect(fixture.manager.service('save_worker')?.status).toBe('healthy');
    fixture.clock.advance(1);
    expect(fixture.manager.service('save_worker')?.status).toBe('warning');
  });

  it('keeps counting pulses while paused, without ending the pause', () => {
    start({ services: { save_worker: { interval: 10 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker' });
    fixture.manager.pause('save_worker', { reason: 'deploy' });
    heartbeat.pulse();
    heartbeat.pulse();
    expect(fixture.manager.service('save_worker')).toMatchObject({ total_pulses: 2, paused: { reason: 'deploy' } });
  });

  it('leaves paused time out of the uptime, and lists it under gaps', () => {
    start({ services: { save_worker: { interval: 60, grace: 0 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker' });
    // Degraded after 3 missed beats (3 min), down until the pause begins at 10 min: 7 minutes down.
    fixture.clock.advance(10 * MINUTE);
    fixture.manager.pause('save_worker', { until: START + 70 * MINUTE });
    fixture.clock.advance(60 * MINUTE);
    for (let minute = 0; minute < 50; minute++) {
      heartbeat.pulse();
      fixture.clock.advance(MINUTE);
    }
    const history = fixture.manager.history('save_worker');
    // Watched for 60 of the 120 minutes, down for 7 of them (minute resolution: 7 of 60 within a second).
    expect(history?.uptime['24h']).toBeCloseTo(1 - 7 / 60, 2);
    expect(history?.gaps).toEqual([{ start: iso(START + 10 * MINUTE), end: iso(START + 70 * MINUTE), reason: 'paused' }]);
  });

  it('leaves an open pause out of the uptime while it runs, and the daily totals agree with the ratios after it', () => {
    start({ services: { save_worker: { interval: 60, grace: 0 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker' });
    // Down from 3 minutes (degraded) until the pause at 10: 420 s of the 600 watched.
    fixture.clock.advance(10 * MINUTE);
    fixture.manager.pause('save_worker', { until: START + 40 * MINUTE });
    fixture.clock.advance(20 * MINUTE);
    expect(fixture.manager.history('save_worker')?.uptime['24h']).toBeCloseTo(1 - 420 / 600, 2);
    fixture.clock.advance(10 * MINUTE);
    for (let minute = 0; minute < 20; minute++) {
      heartbeat.pulse();
      fixture.clock.advance(MINUTE);
    }
    // Watched 10 + 20 minutes, down 7 of them, by the ratios and by the day's totals alike.
    const history = fixture.manager.history('save_worker', { days: 1 });
    expect(history?.uptime['24h']).toBeCloseTo(1 - 420 / 1800, 2);
    expect(history?.daily?.[0]).toMatchObject({ downtime_seconds: 420 });
    expect(history?.daily?.[0]?.uptime).toBeCloseTo(1 - 420 / 1800, 2);
  });

  it('refuses an unknown service, an until in the past and a bad reason, saying which', () => {
    start({ services: { save_worker: { interval: 10 } } });
    expect(() => fixture.manager.pause('nope')).toThrow('pause("nope"): no service named "nope" is monitored.');
    expect(() => fixture.manager.resume('nope')).toThrow('resume("nope"): no service named "nope" is monitored.');
    expect(() => fixture.manager.pause('save_worker', { until: START - 1 })).toThrow(ConfigError);
    expect(() => fixture.manager.pause('save_worker', { until: START - 1 })).toThrow(
      `pause("save_worker"): "until" is ${START - 1}; expected a time in the future (now is ${iso(START)}).`,
    );
    expect(() => fixture.manager.pause('save_worker', { until: '2030-01-01T00:00:00' })).toThrow('"until" is "2030-01-01T00:00:00"');
    expect(() => fixture.manager.pause('save_worker', { reason: '' })).toThrow('"reason" is ""; expected a non-empty string');
    expect(() => fixture.manager.pause('save_worker', { later: 1 } as never)).toThrow('unknown key "options.later"');
    expect(fixture.manager.service('save_worker')?.paused).toBeNull();
  });
});

describe('maintenance windows in the config', () => {
  it('pauses the services a one-off window names, from its start to its end, with a fresh interval after', () => {
    const windowStart = START + 10 * MINUTE;
    const windowEnd = START + 40 * MINUTE;
    start({
      services: { a: { interval: 60, grace: 0 }, b: { interval: 60, grace: 0 } },
      maintenance: [{ services: ['a'], start: iso(windowStart), end: iso(windowEnd) }],
    });
    const a = fixture.manager.heartbeat({ tag: 'a' });
    const b = fixture.manager.heartbeat({ tag: 'b' });
    for (let minute = 0; minute < 10; minute++) {
      a.pulse();
      b.pulse();
      fixture.clock.advance(MINUTE);
    }
    fixture.clock.advance(1);
    expect(fixture.manager.service('a')?.paused).toEqual({ reason: 'maintenance', until: iso(windowEnd), since: iso(windowStart) });
    expect(fixture.manager.service('b')?.paused).toBeNull();
    expect(pauses).toEqual([{ service: 'a', paused: true, reason: 'maintenance', until: iso(windowEnd), time: iso(windowStart) }]);

    // Thirty silent minutes: a is not missed; b is.
    fixture.clock.advance(30 * MINUTE);
    expect(fixture.manager.service('a')?.status).toBe('healthy');
    expect(fixture.manager.service('b')?.status).toBe('critical');
    expect(pauses.at(-1)).toMatchObject({ service: 'a', paused: false, time: iso(windowEnd) });
    // A minute after the window's end, the first beat since is missed.
    fixture.clock.advance(windowEnd + MINUTE - fixture.clock.wallNow());
    expect(fixture.manager.service('a')?.status).toBe('healthy');
    fixture.clock.advance(1);
    expect(fixture.manager.service('a')?.status).toBe('warning');
  });

  it('opens a recurring window at each cron occurrence for its duration, for every service with "*"', () => {
    start({
      services: { a: { interval: 60 } },
      // Every day at 13:00 UTC for half an hour.
      maintenance: [{ services: '*', cron: '0 13 * * *', timezone: 'UTC', duration: 1800 }],
    });
    // An ad-hoc heartbeat started during the window joins it.
    fixture.clock.advance(60 * MINUTE + 5 * SECOND);
    expect(fixture.manager.service('a')?.paused?.reason).toBe('maintenance');
    const adHoc = fixture.manager.heartbeat({ tag: 'ad_hoc', interval: 5 }).start();
    expect(fixture.manager.service('ad_hoc')?.paused).toMatchObject({ reason: 'maintenance', until: '2026-06-01T13:30:00.000Z' });
    fixture.clock.advance(30 * MINUTE);
    expect(fixture.manager.service('a')?.paused).toBeNull();
    expect(fixture.manager.service('ad_hoc')?.paused).toBeNull();
    adHoc.stop();
    // And again the next day.
    fixture.clock.advance(23.5 * 60 * MINUTE);
    expect(fixture.manager.service('a')?.paused).toMatchObject({ until: '2026-06-02T13:30:00.000Z' });
  });

  it('ends a window sooner when the wall clock is set forward inside it, at the next look', () => {
    start({
      services: { a: { interval: 60 } },
      maintenance: [{ services: ['a'], start: iso(START + 10 * MINUTE), end: iso(START + 40 * MINUTE) }],
    });
    fixture.clock.advance(20 * MINUTE);
    expect(fixture.manager.service('a')?.paused?.until).toBe(iso(START + 40 * MINUTE));
    // NTP sets the clock 15 minutes forward: the window's end, a wall time, is 5 minutes away now.
    fixture.clock.jumpWall(15 * MINUTE);
    fixture.manager.status();
    fixture.manager.status();
    fixture.clock.advance(10 * MINUTE + 1);
    expect(fixture.manager.service('a')?.paused).toBeNull();
    expect(pauses.at(-1)).toMatchObject({ service: 'a', paused: false });
  });

  it('keeps a manual pause that outlasts a window, and a window that outlasts a resume', () => {
    start({
      services: { a: { interval: 60 } },
      maintenance: [{ services: ['a'], start: iso(START + MINUTE), end: iso(START + 10 * MINUTE) }],
    });
    fixture.clock.advance(2 * MINUTE);
    fixture.manager.pause('a', { reason: 'deploy', until: START + 20 * MINUTE });
    expect(fixture.manager.service('a')?.paused).toMatchObject({ reason: 'deploy', until: iso(START + 20 * MINUTE) });
    expect(fixture.manager.resume('a')).toBe(true);
    // The window still holds it.
    expect(fixture.manager.service('a')?.paused).toMatchObject({ reason: 'maintenance', until: iso(START + 10 * MINUTE) });
    fixture.clock.advance(8 * MINUTE + 1);
    expect(fixture.manager.service('a')?.paused).toBeNull();
  });
});

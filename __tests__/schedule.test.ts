import type { HeartbeatConfig } from '../lib/core/config';
import { createManager, type ManagerFixture } from './helpers/manager';
import { useManagerTimers } from './helpers/managers';

let fixture: ManagerFixture;

useManagerTimers(false);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A manager on fake timers whose wall clock starts at `start`. */
function managerAt(start: string, config: HeartbeatConfig): ManagerFixture {
  jest.useFakeTimers({ now: new Date(start) });
  return createManager({ log_level: 'silent', ...config });
}

/** Moves the fake clock forward to the wall time `at`, firing the monitor's timers on the way. */
function advanceTo(at: string): void {
  const ms = Date.parse(at) - fixture.clock.wallNow();
  if (ms < 0) throw new Error(`advanceTo(${at}): that is ${-ms} ms in the past`);
  fixture.clock.advance(ms);
}

function failures(tag: string): number {
  return fixture.manager.status().services[tag]?.consecutive_failures ?? Number.NaN;
}

describe('a cron schedule', () => {
  const nightly = { schedule: '0 3 * * *', timezone: 'UTC', grace: 300 };

  it('is expected at each occurrence plus its grace, not every interval', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', { services: { nightly } });
    // Its interval is the gap between occurrences: a day.
    expect(fixture.manager.service('nightly')?.interval).toBe(86_400);
    advanceTo('2026-01-01T03:05:00Z');
    expect(fixture.manager.service('nightly')?.status).toBe('healthy');
    fixture.clock.advance(1);
    expect(fixture.manager.service('nightly')?.status).toBe('warning');
    expect(fixture.changes.at(-1)).toMatchObject({ to: 'warning', cause: 'missed', missed: 1 });
  });

  it('counts a pulse after the occurrence as that occurrence, and expects the next one the next day', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', { services: { nightly } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'nightly' });
    advanceTo('2026-01-01T03:01:00Z');
    heartbeat.pulse();
    advanceTo('2026-01-02T03:05:00Z');
    expect(fixture.manager.service('nightly')?.status).toBe('healthy');
    fixture.clock.advance(1);
    expect(failures('nightly')).toBe(1);
  });

  it('counts each missed occurrence as one missed beat under the thresholds', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', { timeout_multiplier: 2, critical_after: 3, services: { nightly } });
    advanceTo('2026-01-02T03:06:00Z');
    expect(fixture.manager.service('nightly')).toMatchObject({ status: 'degraded', consecutive_failures: 2 });
    advanceTo('2026-01-03T03:06:00Z');
    expect(fixture.manager.service('nightly')).toMatchObject({ status: 'critical', consecutive_failures: 3 });
    expect(fixture.changes.map((change) => change.to)).toEqual(['warning', 'degraded', 'critical']);
  });

  it('goes critical at the first miss with its own critical_after: 1', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', { services: { nightly: { ...nightly, critical_after: 1 } } });
    advanceTo('2026-01-01T03:06:00Z');
    expect(fixture.manager.service('nightly')?.status).toBe('critical');
    expect(fixture.changes.map((change) => change.to)).toEqual(['critical']);
  });

  it('counts at most 100 missed occurrences, or critical_after if higher: a dead minutely job costs one lookup each', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', {
      services: {
        minutely: { schedule: '* * * * *', timezone: 'UTC', grace: 5 },
        strict: { schedule: '* * * * *', timezone: 'UTC', grace: 5, critical_after: 150 },
      },
    });
    fixture.clock.advance(8 * 24 * 60 * MINUTE);
    expect(fixture.manager.service('minutely')).toMatchObject({ status: 'critical', consecutive_failures: 100 });
    expect(fixture.manager.service('strict')).toMatchObject({ status: 'critical', consecutive_failures: 150 });
  });

  it('takes seconds fields', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', { services: { fast: { schedule: '*/10 * * * * *', timezone: 'UTC', grace: 1 } } });
    expect(fixture.manager.service('fast')?.interval).toBe(10);
    advanceTo('2026-01-01T00:00:11Z');
    expect(fixture.manager.service('fast')?.status).toBe('healthy');
    fixture.clock.advance(1);
    expect(fixture.manager.service('fast')?.status).toBe('warning');
  });
});

describe('a wall clock that jumps', () => {
  it('reads the next occurrence on the new wall time once the jump is taken', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', { services: { nightly: { schedule: '0 3 * * *', timezone: 'UTC', grace: 300 } } });
    fixture.clock.advance(60 * MINUTE);
    expect(failures('nightly')).toBe(0);
    // The wall clock is set an hour ahead (02:00): 03:05 is now 65 minutes away, not 125.
    fixture.clock.jumpWall(60 * MINUTE);
    failures('nightly');
    fixture.clock.advance(65 * MINUTE + 1);
    expect(failures('nightly')).toBe(1);
  });
});

describe('a daily job at 02:30 in Europe/Berlin across daylight saving time', () => {
  const job = { schedule: '30 2 * * *', timezone: 'Europe/Berlin', grace: 60, critical_after: 10 };

  it('is expected once on the spring-forward day, at the first valid time after the gap', () => {
    // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST, so 02:30 does not exist that day.
    fixture = managerAt('2026-03-28T12:00:00Z', { services: { job } });
    // 03:00 CEST is 01:00 UTC: nothing is missed before it and its grace.
    advanceTo('2026-03-29T01:01:00Z');
    expect(failures('job')).toBe(0);
    fixture.clock.advance(1);
    expect(failures('job')).toBe(1);
    // The rest of that day expects nothing more; the next day's 02:30 CEST is 00:30 UTC.
    advanceTo('2026-03-30T00:31:00Z');
    expect(failures('job')).toBe(1);
    fixture.clock.advance(1);
    expect(failures('job')).toBe(2);
  });

  it('is expected once on the fall-back day, when 02:30 happens twice', () => {
    // 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET, so 02:30 happens at 00:30 and 01:30 UTC.
    fixture = managerAt('2026-10-24T12:00:00Z', { services: { job } });
    advanceTo('2026-10-25T00:31:01Z');
    expect(failures('job')).toBe(1);
    // The second 02:30 (01:30 UTC) is not another occurrence.
    advanceTo('2026-10-26T01:31:00Z');
    expect(failures('job')).toBe(1);
    fixture.clock.advance(1);
    expect(failures('job')).toBe(2);
  });

  it('does not miss when the job runs at 03:00 on the spring-forward day and pulses', () => {
    fixture = managerAt('2026-03-28T12:00:00Z', { services: { job } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'job' });
    advanceTo('2026-03-29T01:00:30Z');
    heartbeat.pulse();
    advanceTo('2026-03-30T00:31:00Z');
    expect(fixture.manager.service('job')?.status).toBe('healthy');
    expect(fixture.changes).toEqual([]);
  });
});

describe('a job that begins at its occurrence and runs long', () => {
  it('is not missed while its run is open under max_runtime', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', {
      services: { nightly: { schedule: '0 3 * * *', timezone: 'UTC', grace: 300, max_runtime: 4 * HOUR } },
    });
    const heartbeat = fixture.manager.heartbeat({ tag: 'nightly' });
    advanceTo('2026-01-01T03:00:10Z');
    const run = heartbeat.begin();
    advanceTo('2026-01-01T06:00:00Z');
    expect(fixture.manager.service('nightly')?.status).toBe('healthy');
    run.success();
    expect(fixture.manager.service('nightly')?.run.last_duration_seconds).toBeCloseTo(3 * 3600 - 10, 3);
  });
});

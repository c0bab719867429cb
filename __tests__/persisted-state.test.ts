import { wallOffset, type Clock } from '../lib/util/clock';
import { historyOf, TransitionLog } from '../lib/core/history';
import type { HeartbeatManager } from '../lib/core/manager';
import {
  captureService,
  readServiceState,
  restoreService,
  SERVICE_STATE_VERSION,
  type PersistedService,
} from '../lib/core/persisted-state';
import { DailyRollups } from '../lib/core/rollups';
import { ServiceRecord } from '../lib/core/service-record';
import { StateFormatError } from '../lib/core/state-check';
import type { MissThresholds } from '../lib/core/status';
import { createManager, type ManagerFixture } from './helpers/manager';
import { closeManagers } from './helpers/managers';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The next process's monotonic clock starts this much later: hours, and not on a minute. */
const SHIFT = 7 * HOUR + 23_456.75;
const SETTINGS = { intervalMs: 60_000, graceMs: 6000, critical: true };

let fixture: ManagerFixture;

beforeEach(() => {
  jest.useFakeTimers({ now: new Date('2026-11-29T10:00:00.000Z') });
  fixture = createManager({ log_level: 'silent', history_size: 50 });
});
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

function recordOf(manager: HeartbeatManager, tag: string): ServiceRecord {
  return (manager as unknown as { records: Map<string, ServiceRecord> }).records.get(tag) as ServiceRecord;
}

/** The thresholds of the default config, as the manager gives its records. */
const DEFAULT_THRESHOLDS: MissThresholds = { degradedAfter: 3, criticalAfter: 5 };

/** The next process's clock: the same wall time, a monotonic time `SHIFT` behind. */
function restartedClock(clock: Clock): Clock {
  return { now: () => clock.now() - SHIFT, wallNow: () => clock.wallNow() };
}

/** Two hours of on-time pulses, an error, a 20 min stall, a recovery, then a stall left open. */
function livedService(): ServiceRecord {
  const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: 60, critical: true }).start();
  for (let minute = 0; minute < 120; minute++) {
    fixture.clock.advance(MINUTE);
    heartbeat.pulse();
  }
  heartbeat.error('disk full', { critical: true });
  fixture.clock.advance(20 * MINUTE);
  heartbeat.pulse();
  for (let minute = 0; minute < 30; minute++) {
    fixture.clock.advance(MINUTE);
    heartbeat.pulse();
  }
  fixture.clock.advance(15 * MINUTE);
  return recordOf(fixture.manager, 'save_worker');
}

/** A captured state after a trip through JSON, as a file gives it back. */
function throughJson(state: PersistedService): unknown {
  return JSON.parse(JSON.stringify(state)) as unknown;
}

describe('captureService() then restoreService() on a clock shifted by hours', () => {
  it('gives the same service() body fields', () => {
    const record = livedService();
    const state = throughJson(captureService(record, wallOffset(fixture.clock)));
    const clock = restartedClock(fixture.clock);
    const restored = new ServiceRecord('save_worker', false, SETTINGS, clock.now(), 50, DEFAULT_THRESHOLDS);
    restoreService(restored, state, clock);

    const before = fixture.manager.service('save_worker');
    const after = restored.health(wallOffset(clock), clock.now(), null);
    const fields = ['total_pulses', 'error_count', 'started_at', 'last_error', 'last_heartbeat', 'uptime'] as const;
    for (const field of fields) expect([field, after[field]]).toEqual([field, before?.[field]]);
    expect(before?.total_pulses).toBe(151);
    expect(before?.last_error).toMatchObject({ message: 'disk full', critical: true });
    // Its times were before this clock began.
    expect(restored.startedAt).toBeLessThan(0);
    expect(restored.lastSignAt).toBeLessThan(0);
  });

  it('gives the same history(): transitions, and uptime ratios within a minute of each window', () => {
    const record = livedService();
    const before = fixture.manager.history('save_worker');
    const state = throughJson(captureService(record, wallOffset(fixture.clock)));
    const clock = restartedClock(fixture.clock);
    const restored = new ServiceRecord('save_worker', false, SETTINGS, clock.now(), 50, DEFAULT_THRESHOLDS);
    restoreService(restored, state, clock);

    const after = historyOf(restored, clock, clock.now());
    expect(after.transitions).toEqual(before?.transitions);
    expect(after.transitions.map((entry) => entry.to)).toEqual(['critical', 'healthy', 'warning', 'degraded', 'critical']);
    expect(restored.uptime.isDown).toBe(true);
    expect(Math.abs(after.uptime['24h'] - (before?.uptime['24h'] ?? 0))).toBeLessThanOrEqual(MINUTE / DAY);
    expect(Math.abs(after.uptime['7d'] - (before?.uptime['7d'] ?? 0))).toBeLessThanOrEqual(MINUTE / (7 * DAY));
    // The service's life is shorter than the window: the ratio is over its own life on both sides.
    expect(after.uptime['24h']).toBeLessThan(0.9);
  });

  it('keeps counting the open outage, and the ratios, after the restart', () => {
    const record = livedService();
    const state = throughJson(captureService(record, wallOffset(fixture.clock)));
    const clock = restartedClock(fixture.clock);
    const restored = new ServiceRecord('save_worker', false, SETTINGS, clock.now(), 50, DEFAULT_THRESHOLDS);
    restoreService(restored, state, clock);
    fixture.clock.skip(2 * HOUR);
    const windows = historyOf(restored, clock, clock.now()).uptime;
    const original = fixture.manager.history('save_worker')?.uptime;
    expect(Math.abs(windows['24h'] - (original?.['24h'] ?? 0))).toBeLessThanOrEqual(MINUTE / DAY);
  });

  it('keeps the newest transitions when history_size shrank', () => {
    const record = livedService();
    const state = throughJson(captureService(record, wallOffset(fixture.clock)));
    const clock = restartedClock(fixture.clock);
    const restored = new ServiceRecord('save_worker', false, SETTINGS, clock.now(), 2, DEFAULT_THRESHOLDS);
    restoreService(restored, state, clock);
    expect(restored.history.toArray().map((entry) => entry.to)).toEqual(['degraded', 'critical']);
  });

  it('carries the offline spans, the remote flag, the settings and the rollups', () => {
    const record = livedService();
    record.uptime.excludeSpan(fixture.clock.now() - 3 * HOUR - 10 * MINUTE, fixture.clock.now() - 3 * HOUR);
    const rollups = new DailyRollups(90, fixture.clock.wallNow() - 3 * HOUR, fixture.clock);
    rollups.addPulses(fixture.clock.wallNow(), 151);
    rollups.addDowntime(fixture.clock.wallNow() - HOUR, fixture.clock.wallNow());
    const captured = captureService(record, wallOffset(fixture.clock), { remote: true, rollups });
    expect(captured).toMatchObject({
      v: SERVICE_STATE_VERSION,
      remote: true,
      settings: { interval_ms: 60_000, grace_ms: 6000, critical: true },
    });
    expect(captured.uptime.offline).toHaveLength(1);

    const clock = restartedClock(fixture.clock);
    const restored = new ServiceRecord('save_worker', false, SETTINGS, clock.now(), 50, DEFAULT_THRESHOLDS);
    const restoredRollups = new DailyRollups(90, clock.wallNow(), clock);
    restoreService(restored, throughJson(captured), clock, restoredRollups);
    expect(captureService(restored, wallOffset(clock), { remote: true, rollups: restoredRollups })).toEqual(captured);
    expect(restoredRollups.days(1, clock.wallNow())).toEqual(rollups.days(1, fixture.clock.wallNow()));
  });

  it('restores a service that never started nor failed as it was', () => {
    const clock = restartedClock(fixture.clock);
    const idle = new ServiceRecord('idle', true, SETTINGS, fixture.clock.now(), 50, DEFAULT_THRESHOLDS);
    const state = captureService(idle, wallOffset(fixture.clock));
    expect(state).toMatchObject({ started_at: null, last_heartbeat: null, last_error: null, transitions: [] });
    const restored = new ServiceRecord('idle', true, SETTINGS, clock.now(), 50, DEFAULT_THRESHOLDS);
    restoreService(restored, throughJson(state), clock);
    const health = restored.health(wallOffset(clock), clock.now(), null);
    expect(health).toMatchObject({ started_at: null, last_heartbeat: null, last_error: null, total_pulses: 0, uptime: '0s' });
  });

  it('refuses to restore into a record that already has a past', () => {
    const record = livedService();
    const state = throughJson(captureService(record, wallOffset(fixture.clock)));
    expect(() => {
      restoreService(record, state, fixture.clock);
    }).toThrow(/"save_worker" is not fresh/);
  });
});

describe('a restored service continues from the status it last reported', () => {
  it('a service restored critical gets one recovery at its first pulse, and its outage closes', () => {
    const state = throughJson(captureService(livedService(), wallOffset(fixture.clock)));
    fixture.clock.advance(5 * MINUTE);
    const next = createManager({ log_level: 'silent', history_size: 50 });
    const heartbeat = next.manager.heartbeat({ tag: 'save_worker', interval: 60, critical: true });
    const record = recordOf(next.manager, 'save_worker');
    restoreService(record, state, next.clock);

    heartbeat.pulse();
    next.clock.advance(10);
    expect(next.changes.map(({ from, to, cause }) => [from, to, cause])).toEqual([['critical', 'healthy', 'recovered']]);
    expect(record.uptime.isDown).toBe(false);
    const closed = next.manager.history('save_worker')?.uptime['24h'] ?? 0;
    for (let minute = 0; minute < 60; minute++) {
      next.clock.advance(MINUTE);
      heartbeat.pulse();
    }
    // Up for the hour since: the ratio rises, where an outage left open would keep lowering it.
    expect(next.manager.history('save_worker')?.uptime['24h']).toBeGreaterThan(closed);
    expect(next.changes).toHaveLength(1);
  });

  it('a configured service restored critical and still silent is not announced again', () => {
    const state = throughJson(captureService(livedService(), wallOffset(fixture.clock)));
    const next = createManager({ log_level: 'silent', history_size: 50, services: { save_worker: { interval: 60 } } });
    restoreService(recordOf(next.manager, 'save_worker'), state, next.clock);
    next.clock.advance(10 * MINUTE);
    expect(next.manager.service('save_worker')?.status).toBe('critical');
    expect(next.changes).toEqual([]);
    expect(next.manager.history('save_worker')?.transitions).toHaveLength(5);
  });
});

it('restores no time later than now when the wall clock was stepped back before the restart', () => {
  const record = livedService();
  record.uptime.excludeSpan(fixture.clock.now() - 90 * MINUTE, fixture.clock.now() - 30 * MINUTE);
  const state = throughJson(captureService(record, wallOffset(fixture.clock)));
  // The next process's wall clock reads an hour earlier: the last 15 min of pulses, the last
  // transitions and half the offline span now lie in its future.
  const clock: Clock = { now: () => fixture.clock.now() - SHIFT, wallNow: () => fixture.clock.wallNow() - HOUR };
  const restored = new ServiceRecord('save_worker', false, SETTINGS, clock.now(), 50, DEFAULT_THRESHOLDS);
  restoreService(restored, state, clock);

  const now = clock.now();
  expect(restored.startedAt).toBeLessThanOrEqual(now);
  expect(restored.lastSignAt).toBe(now);
  expect(restored.lastErrorAt).toBeLessThanOrEqual(now);
  expect(Math.max(...restored.history.toArray().map((entry) => entry.at))).toBe(now);
  const uptime = restored.uptime.state();
  expect(uptime.downSince).toBe(now);
  expect(uptime.excluded).toEqual([[now - 30 * MINUTE, now]]);
  expect(Math.max(...uptime.minutes.map(([minute]) => minute))).toBeLessThanOrEqual(Math.floor(now / MINUTE));
  expect(restored.health(wallOffset(clock), now, null).last_heartbeat).toBe(new Date(clock.wallNow()).toISOString());
});

describe('captureService() writes only what readServiceState() reads back', () => {
  it('folds a long outage into one run of minutes, and restores the same ratios from it', () => {
    const record = new ServiceRecord('save_worker', false, SETTINGS, 0, 50, DEFAULT_THRESHOLDS);
    record.uptime.markDown(DAY);
    record.uptime.markUp(4 * DAY);
    const state = captureService(record, 1_700_000_000_020);
    // One entry for the three days, where 4,320 pairs were.
    expect(state.uptime.minutes).toEqual([[Math.round(1_700_000_000_020 / MINUTE) + 24 * 60, 60, 3 * 24 * 60]]);
    const restored = new ServiceRecord('save_worker', false, SETTINGS, 0, 50, DEFAULT_THRESHOLDS);
    restoreService(restored, throughJson(state), { now: () => 5 * DAY, wallNow: () => 1_700_000_000_020 + 5 * DAY });
    for (const window of [DAY, 7 * DAY]) expect(restored.uptime.ratio(5 * DAY, window)).toBe(record.uptime.ratio(5 * DAY, window));
    expect(restored.uptime.ratio(5 * DAY, 7 * DAY)).toBeCloseTo(2 / 5, 10);
  });

  it('drops an offline span shorter than a millisecond, which would round to nothing', () => {
    const record = livedService();
    const at = fixture.clock.now() - HOUR;
    record.uptime.excludeSpan(at + 0.1, at + 0.4);
    record.uptime.excludeSpan(at + MINUTE, at + 2 * MINUTE);
    const state = captureService(record, wallOffset(fixture.clock));
    expect(state.uptime.offline).toHaveLength(1);
    expect(() => readServiceState(throughJson(state), 'save_worker')).not.toThrow();
  });

  it('keeps every day of its rollups within a day, however downtime and offline time overlapped', () => {
    const record = livedService();
    const rollups = new DailyRollups(90, fixture.clock.wallNow() - DAY, fixture.clock);
    const midnight = Math.floor(fixture.clock.wallNow() / DAY) * DAY;
    rollups.addDowntime(midnight - DAY, midnight);
    rollups.addDowntime(midnight - DAY, midnight);
    rollups.addOffline(midnight - DAY, midnight);
    rollups.addOffline(midnight - 2 * HOUR, midnight);
    const state = captureService(record, wallOffset(fixture.clock), { rollups });
    expect(() => readServiceState(throughJson(state), 'save_worker')).not.toThrow();
  });
});

it('imports neither the monitor nor the watcher, which will import it to save their state', () => {
  jest.isolateModules(() => {
    for (const engine of ['../lib/core/monitor', '../lib/core/watcher', '../lib/core/manager']) {
      jest.doMock(engine, () => {
        throw new Error(`persisted-state imports ${engine}: once that imports persisted-state, they form a cycle`);
      });
    }
    expect(() => jest.requireActual('../lib/core/persisted-state')).not.toThrow();
  });
});

it('TransitionLog keeps and drops entries at negative monotonic times', () => {
  const log = new TransitionLog(3);
  for (const at of [-300, -200, -100, 50]) log.push({ at, from: 'healthy', to: 'critical', reason: 'r' });
  expect(log.toArray().map((entry) => entry.at)).toEqual([-200, -100, 50]);
  expect(log.dropBefore(-150)).toBe(1);
  expect(log.toArray().map((entry) => entry.at)).toEqual([-100, 50]);
});

describe('restoreService() refuses bad input whole, naming the field', () => {
  function validState(): Record<string, unknown> {
    const record = new ServiceRecord('save_worker', false, SETTINGS, 0, 50, DEFAULT_THRESHOLDS);
    record.history.push({ at: 1000, from: 'healthy', to: 'critical', reason: 'missed 5 heartbeats' });
    record.uptime.markDown(1000);
    record.uptime.markUp(5 * MINUTE);
    const rollups = new DailyRollups(90, 1_700_000_000_000, { wallNow: () => 1_700_000_000_000 });
    rollups.addPulses(1_700_000_000_000, 3);
    return throughJson(captureService(record, 1_700_000_000_000, { rollups })) as Record<string, unknown>;
  }

  /** A copy of a valid state with the value at `path` replaced, or removed for `undefined`. */
  function withValue(path: ReadonlyArray<string | number>, value: unknown): unknown {
    const state = validState();
    let target = state as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    const last = path[path.length - 1] as string | number;
    if (value === undefined) Reflect.deleteProperty(target, last);
    else target[last] = value;
    return state;
  }

  it('accepts the valid state the table starts from', () => {
    expect(() => readServiceState(validState(), 'save_worker')).not.toThrow();
  });

  const tooLong = 'x'.repeat(1026);
  const cases: Array<[string, ReadonlyArray<string | number>, unknown, RegExp]> = [
    ['a version that is not a number', ['v'], '1', /"v" is a string of 1 character; expected a whole number from 1 to 1/],
    ['version 0', ['v'], 0, /"v" is 0/],
    ['a newer version', ['v'], 2, /written by a newer express-heartbeat \(version 2; this one reads up to 1\)/],
    ['an unknown field', ['extra'], 1, /"extra" is 1; expected no such field/],
    ['a missing field', ['total_pulses'], undefined, /"total_pulses" is undefined; expected a value: the field is missing/],
    ['another service', ['tag'], 'other', /"tag" is a string of 5 characters; expected "save_worker"/],
    ['a tag that is not a string', ['tag'], 5, /"tag" is 5; expected a non-empty string/],
    ['remote as a word', ['remote'], 'yes', /"remote" is a string of 3 characters; expected true or false/],
    ['a zero interval', ['settings', 'interval_ms'], 0, /"settings.interval_ms" is 0/],
    [
      "an interval under the config's millisecond",
      ['settings', 'interval_ms'],
      0.5,
      /"settings.interval_ms" is 0.5; expected a number from 1 /,
    ],
    ['a tag longer than the config allows', ['tag'], 'x'.repeat(201), /"tag" .*; expected a non-empty string of at most 200 characters/],
    ['an interval as text', ['settings', 'interval_ms'], '30', /"settings.interval_ms" is a string of 2 characters;/],
    ['an infinite interval', ['settings', 'interval_ms'], Infinity, /"settings.interval_ms" is Infinity/],
    ['a negative grace', ['settings', 'grace_ms'], -1, /"settings.grace_ms" is -1/],
    ['settings as null', ['settings'], null, /"settings" is null; expected an object/],
    ['negative pulses', ['total_pulses'], -1, /"total_pulses" is -1; expected a whole number from 0/],
    ['fractional pulses', ['total_pulses'], 1.5, /"total_pulses" is 1.5/],
    ['pulses past 2^53', ['total_pulses'], 2 ** 53, /"total_pulses" is 9007199254740992/],
    ['pulses as an object', ['total_pulses'], {}, /"total_pulses" is an object/],
    ['errors as NaN', ['error_count'], Number.NaN, /"error_count" is NaN/],
    ['a start before 1970', ['started_at'], -5, /"started_at" is -5; expected wall-clock milliseconds/],
    ['a start as ISO text', ['started_at'], '2026-11-29T10:00:00Z', /"started_at" is a string of 20 characters;/],
    ['a start past year 275760', ['started_at'], 1e20, /"started_at" is 100000000000000000000/],
    ['a last heartbeat as an object', ['last_heartbeat'], {}, /"last_heartbeat" is an object/],
    ['an error without a time', ['last_error'], { message: 'x', critical: false }, /"last_error.time" is undefined/],
    ['an error message as a number', ['last_error'], { message: 5, time: 0, critical: false }, /"last_error.message" is 5/],
    ['an error message past the cut', ['last_error'], { message: tooLong, time: 0, critical: false }, /"last_error.message".*at most 1025/],
    ['transitions as an object', ['transitions'], {}, /"transitions" is an object; expected an array/],
    ['an unknown status', ['transitions', 0, 2], 'down', /"transitions\[0\]\[2\]" is a string of 4 characters; expected one of "healthy"/],
    [
      'a transition of three entries',
      ['transitions', 0],
      [1, 'healthy', 'critical'],
      /"transitions\[0\]" is an array; expected an array of 4 entries/,
    ],
    [
      'transitions out of order',
      ['transitions', 1],
      [0, 'critical', 'healthy', 'pulse'],
      /"transitions\[1\]\[0\]" is 0; expected at least the entry before it/,
    ],
    ['a reason past the cut', ['transitions', 0, 3], tooLong, /"transitions\[0\]\[3\]"/],
    ['minutes of 61 seconds', ['uptime', 'minutes', 0, 1], 61, /"uptime.minutes\[0\]\[1\]" is 61; expected a whole number from 1 to 60/],
    ['an empty minute', ['uptime', 'minutes', 0, 1], 0, /"uptime.minutes\[0\]\[1\]" is 0/],
    [
      'a minute twice',
      ['uptime', 'minutes'],
      [
        [5, 10],
        [5, 10],
      ],
      /"uptime.minutes\[1\]\[0\]" is 5; expected more than the entry before it/,
    ],
    ['a fractional minute', ['uptime', 'minutes'], [[1.5, 10]], /"uptime.minutes\[0\]\[0\]" is 1.5/],
    [
      'a minute inside the run before it',
      ['uptime', 'minutes'],
      [
        [5, 60, 3],
        [7, 10],
      ],
      /"uptime.minutes\[1\]\[0\]" is 7; expected more than the entry before it \(7\)/,
    ],
    [
      'a run of one minute',
      ['uptime', 'minutes'],
      [[5, 60, 1]],
      /"uptime.minutes\[0\]\[2\]" is 1; expected a whole number from 2 to 10080/,
    ],
    [
      'runs of more than 7 days in all',
      ['uptime', 'minutes'],
      [
        [0, 60, 10_080],
        [20_000, 60],
      ],
      /"uptime.minutes\[1\]" is a run reaching 10081 minutes in all; expected at most 10080 \(7 days\)/,
    ],
    [
      'a reversed offline span',
      ['uptime', 'offline'],
      [[10, 5]],
      /"uptime.offline\[0\]\[1\]" is 5; expected more than the entry before it/,
    ],
    [
      'overlapping offline spans',
      ['uptime', 'offline'],
      [
        [10, 50],
        [40, 60],
      ],
      /"uptime.offline\[1\]\[0\]" is 40/,
    ],
    [
      'too many offline spans',
      ['uptime', 'offline'],
      Array.from({ length: 33 }, (_, i) => [i * 10, i * 10 + 5]),
      /"uptime.offline" is 33 entries; expected at most 32/,
    ],
    ['an outage start as text', ['uptime', 'down_since'], 'x', /"uptime.down_since" is a string of 1 character;/],
    ['a day longer than a day', ['rollups', 'days', 0, 1], DAY + 1, /"rollups.days\[0\]\[1\]" is 86400001/],
    ['negative rollup pulses', ['rollups', 'days', 0, 4], -1, /"rollups.days\[0\]\[4\]" is -1/],
    ['rollups as an array', ['rollups'], [], /"rollups" is an array; expected an object/],
  ];

  it.each(cases)('%s', (_name, path, value, message) => {
    const record = new ServiceRecord('save_worker', false, SETTINGS, 0, 50, DEFAULT_THRESHOLDS);
    let thrown: unknown;
    try {
      restoreService(record, withValue(path, value), fixture.clock);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StateFormatError);
    expect((thrown as Error).message).toMatch(/^Service state for "save_worker": /);
    expect((thrown as Error).message).toMatch(message);
    // Refused whole: nothing of it was applied.
    expect(record.history.size).toBe(0);
    expect(record.totalPulses).toBe(0);
  });

  it('names a bad string by its length alone: an error message may hold a password', () => {
    const secret = 'postgres://admin:hunter2@db.internal/orders';
    const bad: Array<[ReadonlyArray<string | number>, unknown]> = [
      [['last_error'], { message: `${secret} ${'x'.repeat(1100)}`, time: 0, critical: false }],
      [['last_error'], { message: 'timeout', time: secret, critical: false }],
      [['started_at'], secret],
      [['transitions', 0, 2], secret],
      [['tag'], secret],
      [['remote'], secret],
    ];
    const messages = bad.map(([path, value]) => {
      try {
        readServiceState(withValue(path, value), 'save_worker');
      } catch (error) {
        return error instanceof StateFormatError ? error.message : `not a StateFormatError: ${String(error)}`;
      }
      return 'accepted';
    });
    for (const message of messages) expect(message).toMatch(/ is a string of \d+ characters; /);
    expect(messages.join('\n')).not.toMatch(/hunter2|postgres|admin/);
  });

  it('refuses an empty tag, which no config gives a service', () => {
    expect(() => readServiceState(withValue(['tag'], ''))).toThrow(
      /^Service state: "tag" is a string of 0 characters; expected a non-empty string of at most 200 characters, e\.g\. "save_worker"\.$/,
    );
  });

  it.each([null, [], 'state', 42])('refuses %p as a whole', (value) => {
    expect(() => readServiceState(value)).toThrow(/^Service state is .*; expected an object\.$/);
  });

  it('refuses more transitions than any history_size', () => {
    const state = withValue(
      ['transitions'],
      Array.from({ length: 100_001 }, () => [0, 'healthy', 'critical', 'r']),
    );
    expect(() => readServiceState(state)).toThrow(/"transitions" is 100001 entries; expected at most 100000/);
  });
});

import { pulseEvery, useManagerStore } from './helpers/manager-store';

// Restart-aware watching, through the public API on a real file store: what the manager serves
// after a clean stop or a crash (the directory copied while the manager runs, as a kill -9
// leaves it), with time driven by the test clock.

// An hour before midnight UTC: the daily rollups cross it.
const START = Date.parse('2026-11-30T23:00:00Z');
const fixture = useManagerStore(START);
const { start, restart, crashCopy } = fixture;
const iso = (wallMs: number): string => new Date(wallMs).toISOString();

describe('the time the monitor was offline', () => {
  it('is a gap of its own in the history, and counts neither as up nor as down in the uptime', () => {
    const clock = fixture.clock;
    const first = start();
    const worker = first.manager.heartbeat({ tag: 'worker', interval: 1 }).start();
    pulseEvery(clock, worker, 1000, 10);
    worker.error('database gone', { critical: true }); // down from 10 s
    clock.advance(20_000);
    worker.pulse(); // up again on the next timer turn, 1 ms later
    pulseEvery(clock, worker, 1000, 30);
    expect(first.manager.history('worker')?.uptime['24h']).toBeCloseTo(1 - 20_000 / 60_000, 10);

    // Closed at 60 s, started again at 180 s.
    const second = restart(first, 120_000);
    const again = second.manager.heartbeat({ tag: 'worker', interval: 1 }).start();
    pulseEvery(clock, again, 1000, 60);

    const history = second.manager.history('worker');
    expect(history?.gaps).toEqual([{ start: iso(START + 60_000), end: iso(START + 180_000), reason: 'monitor offline' }]);
    // 20 s down over the 120 s watched: the 120 s offline are neither up (1 - 20/240) nor down (1 - 140/240).
    expect(history?.uptime['24h']).toBeCloseTo(1 - 20_000 / 120_000, 10);
    expect(history?.uptime['7d']).toBeCloseTo(1 - 20_000 / 120_000, 10);
    expect(history?.transitions.map(({ to, reason }) => [to, reason])).toEqual([
      ['critical', 'critical error: database gone'],
      ['healthy', 'pulse received'],
    ]);
    expect(second.messages()).toContain('Restored 1 service from the file store; the monitor was offline for 120 s');
    expect(second.manager.restored).toMatchObject({ services: 1, skipped: 0, savedAt: START + 60_000, offlineMs: 120_000 });
  });
});

describe('a configured service after a restart', () => {
  const config = { services: { nightly_export: { interval: 1, grace: 0.1 } } };

  /** Runs a manager until the configured service is critical, restarts it 30 s later, and checks that nothing changes. */
  function staysCriticalAfterRestart(startHeartbeat: boolean): void {
    const clock = fixture.clock;
    const first = start(config);
    if (startHeartbeat) {
      const job = first.manager.heartbeat({ tag: 'nightly_export' }).start();
      pulseEvery(clock, job, 1000, 3);
    }
    clock.advance(10_000);
    expect(first.manager.service('nightly_export')?.status).toBe('critical');
    const before = first.manager.history('nightly_export')?.transitions;
    expect(before?.map((t) => t.to)).toEqual(['warning', 'degraded', 'critical']);

    const second = restart(first, 30_000, config);
    expect(second.manager.service('nightly_export')?.status).toBe('critical');
    clock.advance(1100); // the amnesty of an interval and its grace
    expect(second.manager.service('nightly_export')?.status).toBe('critical');
    clock.advance(10_000);
    expect(second.manager.service('nightly_export')?.status).toBe('critical');
    expect(second.manager.status().overall_status).toBe('critical');
    expect(second.changes).toEqual([]);
    expect(second.manager.history('nightly_export')?.transitions).toEqual(before);
    expect(second.lines.filter((line) => line.service === 'nightly_export')).toEqual([]);
  }

  it('that was critical before, stopped pulsing and still does not, stays critical with no new transition', () => {
    staysCriticalAfterRestart(true);
  });

  // BUG (lib/core, reported): a configured service that never pulsed is saved with
  // last_heartbeat null, so the restored record counts its misses from the new manager's
  // creation. It reads healthy at once, unannounced, then announces critical -> warning ->
  // degraded -> critical again: the same incident alerted twice.
  it('that was critical before, whose heartbeat never started, stays critical with no new transition', () => {
    staysCriticalAfterRestart(false);
  });

  it('that was healthy and whose deadline passed while the monitor was offline counts no miss until an interval and its grace after the restart', () => {
    const clock = fixture.clock;
    const services = { services: { billing_sync: { interval: 10, grace: 1 } } };
    const first = start(services);
    const sync = first.manager.heartbeat({ tag: 'billing_sync' }).start();
    pulseEvery(clock, sync, 10_000, 3); // last pulse at 30 s
    clock.advance(5000);
    expect(first.manager.service('billing_sync')?.status).toBe('healthy');

    // Closed at 35 s, started again at 95.5 s: seven deadlines (41 s … 91 s) passed meanwhile.
    const second = restart(first, 60_500, services);
    const service = () => second.manager.service('billing_sync');
    expect(service()).toMatchObject({ status: 'healthy', consecutive_failures: 0 });
    clock.advance(10_999); // 1 ms before the amnesty ends at 106.5 s
    expect(service()).toMatchObject({ status: 'healthy', consecutive_failures: 0 });
    expect(second.changes).toEqual([]);
    clock.advance(1); // now the 7 beats due at 41 s … 101 s count at once: past critical_after (5)
    expect(service()).toMatchObject({ status: 'critical', consecutive_failures: 7 });
    clock.advance(1); // the transition is found on the next timer turn
    expect(second.changes.map(({ from, to, reason }) => [from, to, reason])).toEqual([['healthy', 'critical', 'missed 7 heartbeats']]);
    expect(second.manager.history('billing_sync')?.transitions.map((t) => t.to)).toEqual(['critical']);
  });

  it('keeps an error reported before the restart (a warning no pulse cleared) as a warning after it', () => {
    const clock = fixture.clock;
    const services = { services: { mailer: { interval: 10 } } };
    const first = start(services);
    const mailer = first.manager.heartbeat({ tag: 'mailer' }).start();
    pulseEvery(clock, mailer, 10_000, 2);
    clock.advance(2000);
    mailer.error('SMTP 421: try again later');
    expect(first.manager.service('mailer')).toMatchObject({ status: 'warning', consecutive_failures: 1 });

    const second = restart(first, 5000, services);
    const service = () => second.manager.service('mailer');
    expect(service()).toMatchObject({
      status: 'warning',
      consecutive_failures: 1,
      error_count: 1,
      total_pulses: 2,
      last_error: { message: 'SMTP 421: try again later', time: iso(START + 22_000), critical: false },
    });
    clock.advance(5000); // within the amnesty (11 s): the warning is the error's, not a miss
    expect(service()?.status).toBe('warning');
    expect(second.changes).toEqual([]);
    // A pulse clears it, as it would have before the restart.
    second.manager.heartbeat({ tag: 'mailer' }).pulse();
    clock.advance(1);
    expect(service()).toMatchObject({ status: 'healthy', consecutive_failures: 0, error_count: 1 });
    expect(second.changes.map(({ from, to }) => [from, to])).toEqual([['warning', 'healthy']]);
  });
});

describe('an in-process heartbeat started again after a restart', () => {
  it('starts fresh, healthy at once with its new start time, and keeps its counters and history', () => {
    const clock = fixture.clock;
    const first = start();
    const worker = first.manager.heartbeat({ tag: 'queue_worker', interval: 1 }).start();
    pulseEvery(clock, worker, 1000, 4);
    worker.error('redis timeout');
    clock.advance(10_000); // no pulse: degraded, then critical
    const before = first.manager.service('queue_worker');
    expect(before).toMatchObject({ status: 'critical', total_pulses: 4, error_count: 1, started_at: iso(START) });
    const transitions = first.manager.history('queue_worker')?.transitions;
    expect(transitions?.map((t) => t.to)).toEqual(['warning', 'degraded', 'critical']);

    const second = restart(first, 45_000);
    // Not shown until its heartbeat runs again: an ad-hoc service belongs to the code that starts it.
    expect(second.manager.service('queue_worker')).toBeUndefined();
    second.manager.heartbeat({ tag: 'queue_worker', interval: 1 }).start();
    expect(second.manager.service('queue_worker')).toMatchObject({
      status: 'healthy',
      started_at: iso(START + 59_000),
      uptime: '0s',
      total_pulses: 4,
      error_count: 1,
      consecutive_failures: 0,
      last_error: { message: 'redis timeout', time: iso(START + 4000), critical: false },
    });
    expect(second.changes.map(({ from, to, reason }) => [from, to, reason])).toEqual([['critical', 'healthy', 'started']]);
    expect(second.manager.history('queue_worker')?.transitions).toEqual([
      ...(transitions ?? []),
      { time: iso(START + 59_000), from: 'critical', to: 'healthy', reason: 'started' },
    ]);
  });
});

describe('cleanupOldData after a restart', () => {
  it('drops the same old history from what is saved, and it stays dropped after the next restart and after a crash', () => {
    const clock = fixture.clock;
    const first = start();
    const worker = first.manager.heartbeat({ tag: 'importer', interval: 60 }).start();
    worker.error('feed 503');
    clock.advance(1000);
    worker.pulse();
    clock.advance(1000);
    expect(first.manager.history('importer')?.transitions.map((t) => t.to)).toEqual(['warning', 'healthy']);

    // Two days offline; the importer runs again and fails once more.
    const second = restart(first, 2 * 86_400_000);
    const again = second.manager.heartbeat({ tag: 'importer', interval: 60 }).start();
    again.error('feed 504');
    clock.advance(1000);
    again.pulse();
    clock.advance(1000);
    expect(second.manager.history('importer', { days: 3 })?.daily?.map((day) => [day.date, day.transitions, day.errors])).toEqual([
      ['2026-11-30', 2, 1],
      ['2026-12-01', 0, 0],
      ['2026-12-02', 2, 1],
    ]);
    expect(second.manager.cleanupOldData(1)).toBe(2); // the two transitions of two days ago
    const kept = second.manager.history('importer', { days: 3 });
    expect(kept?.transitions.map((t) => t.reason)).toEqual(['error: feed 504', 'pulse received']);
    // The day of the old failure stays listed (watching began then), its totals gone.
    const keptDays = [
      ['2026-11-30', 0, 0],
      ['2026-12-01', 0, 0],
      ['2026-12-02', 2, 1],
    ];
    expect(kept?.daily?.map((day) => [day.date, day.transitions, day.errors])).toEqual(keptDays);

    // A crash right after the cleanup: the journal says what went.
    const crashed = start({}, { dir: crashCopy() });
    crashed.manager.heartbeat({ tag: 'importer', interval: 60 }).start();
    const crashedHistory = crashed.manager.history('importer', { days: 3 });
    expect(crashedHistory?.transitions).toEqual(kept?.transitions);
    expect(crashedHistory?.daily?.map((day) => [day.date, day.transitions, day.errors])).toEqual(keptDays);

    const third = restart(second, 60_000);
    third.manager.heartbeat({ tag: 'importer', interval: 60 }).start();
    const after = third.manager.history('importer', { days: 3 });
    expect(after?.transitions).toEqual(kept?.transitions);
    expect(after?.daily?.map((day) => [day.date, day.transitions, day.errors])).toEqual(keptDays);
    expect(third.manager.service('importer')?.last_error?.message).toBe('feed 504');
  });
});

describe('daily rollups', () => {
  it('count pulses, errors, transitions and downtime per UTC day, over midnight and across a restart with an offline span', () => {
    const clock = fixture.clock;
    const MINUTE = 60_000;
    const first = start();
    const reporter = first.manager.heartbeat({ tag: 'reporter', interval: 60 }).start(); // grace 6 s
    pulseEvery(clock, reporter, MINUTE, 30); // 23:01 … 23:30
    reporter.error('db slow'); // warning at 23:30
    pulseEvery(clock, reporter, MINUTE, 10); // 23:31 … 23:40, healthy again at 23:31:00.001
    clock.advance(10 * MINUTE); // warning 23:41:06.001, degraded 23:43:06.001, critical 23:45:06.001
    reporter.pulse(); // 23:50, healthy at 23:50:00.001: 414 s down
    pulseEvery(clock, reporter, MINUTE, 9); // 23:51 … 23:59: 50 pulses on Nov 30
    pulseEvery(clock, reporter, MINUTE, 11); // 00:00 … 00:10

    // Closed at 00:10, offline for 30 minutes.
    const second = restart(first, 30 * MINUTE);
    const again = second.manager.heartbeat({ tag: 'reporter', interval: 60 }).start(); // 00:40
    pulseEvery(clock, again, MINUTE, 5); // 00:41 … 00:45
    clock.advance(30_000);
    again.error('disk full', { critical: true }); // down from 00:45:30
    clock.advance(30_000);
    again.pulse(); // 00:46, up at 00:46:00.001: 30.001 s down
    pulseEvery(clock, again, MINUTE, 4); // 00:47 … 00:50: 11 + 10 pulses on Dec 1
    clock.advance(2000); // a flush rolls the last pulse into the day

    const nov30 = {
      date: '2026-11-30',
      uptime: 1 - 414_000 / 3_600_000, // the hour from 23:00 was all watched
      downtime_seconds: 414,
      transitions: 6,
      pulses: 50,
      errors: 1,
    };
    // Watched on Dec 1: 00:00 to now (00:50:02), less the 30 minutes offline.
    const dec1 = { date: '2026-12-01', downtime_seconds: 30, transitions: 2, pulses: 21, errors: 1 };
    const watchedDec1 = 50 * MINUTE + 2000 - 30 * MINUTE;
    const daily = second.manager.history('reporter', { days: 3 })?.daily;
    // Watching began on Nov 30: the day before it is not listed.
    expect(daily).toEqual([
      { ...nov30, uptime: expect.closeTo(nov30.uptime, 12) },
      { ...dec1, uptime: expect.closeTo(1 - 30_001 / watchedDec1, 12) },
    ]);

    // Saved as they were: a clean restart a minute later serves the same days, the minute offline left out.
    const third = restart(second, MINUTE);
    third.manager.heartbeat({ tag: 'reporter', interval: 60 }).start();
    expect(third.manager.history('reporter', { days: 3 })?.daily).toEqual([
      { ...nov30, uptime: expect.closeTo(nov30.uptime, 12) },
      { ...dec1, uptime: expect.closeTo(1 - 30_001 / watchedDec1, 12) },
    ]);
  });
});

describe('flush_interval', () => {
  it('a crash loses the pulses counted since the last flush; a flush keeps them', () => {
    const clock = fixture.clock;
    const first = start({ flush_interval: 5 });
    const ingest = first.manager.heartbeat({ tag: 'ingest', interval: 10 }).start();
    pulseEvery(clock, ingest, 1000, 2);
    clock.advance(3500); // 5.5 s: the flush at 5 s saved 2 pulses
    pulseEvery(clock, ingest, 1000, 3); // 8.5 s: 3 more, the next flush at 10 s
    expect(first.manager.service('ingest')?.total_pulses).toBe(5);

    const pulsesAfterCrash = (): number | undefined => {
      const crashed = start({ flush_interval: 5 }, { dir: crashCopy() });
      crashed.manager.heartbeat({ tag: 'ingest', interval: 10 }).start();
      const total = crashed.manager.service('ingest')?.total_pulses;
      void crashed.manager.close();
      return total;
    };
    expect(pulsesAfterCrash()).toBe(2);
    clock.advance(2000); // past the flush at 10 s
    expect(pulsesAfterCrash()).toBe(5);
  });
});

describe('a transition announced', () => {
  it('is in the history after a crash at the very moment it is announced', () => {
    const clock = fixture.clock;
    const services = { services: { payments: { interval: 1, grace: 0.1 } } };
    const first = start(services);
    const copies: string[] = [];
    // Listeners hear of a change only once it is saved: a crash inside one finds it on disk.
    first.manager.on('status', () => copies.push(crashCopy()));
    const payments = first.manager.heartbeat({ tag: 'payments' }).start();
    pulseEvery(clock, payments, 1000, 2);
    payments.error('card processor down', { critical: true });
    clock.advance(500);
    payments.pulse();
    clock.advance(10_000); // warning, degraded, critical by misses
    const announced = first.changes.map(({ time, from, to, reason }) => ({ time, from, to, reason }));
    expect(announced.map((change) => change.to)).toEqual(['critical', 'healthy', 'warning', 'degraded', 'critical']);
    expect(copies).toHaveLength(announced.length);

    copies.forEach((copy, index) => {
      const crashed = start(services, { dir: copy });
      expect(crashed.manager.history('payments')?.transitions).toEqual(announced.slice(0, index + 1));
      void crashed.manager.close();
    });
  });
});

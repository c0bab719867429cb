import { createManager, type ManagerFixture } from './helpers/manager';
import { useManagerTimers } from './helpers/managers';

let fixture: ManagerFixture;
useManagerTimers();

const SECOND = 1000;

describe('heartbeat.begin()', () => {
  it('records the run: running while open, then its duration and exit code 0 after success()', () => {
    fixture = createManager({ log_level: 'silent', services: { indexer: { interval: 60 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'indexer' });
    const run = heartbeat.begin();
    const startedAt = new Date(fixture.clock.wallNow()).toISOString();
    expect(fixture.manager.service('indexer')?.run).toEqual({
      state: 'running',
      started_at: startedAt,
      last_duration_seconds: null,
      last_exit_code: null,
      runtime_anomaly: null,
    });
    // The start is a sign of life, not a pulse.
    expect(fixture.manager.service('indexer')?.total_pulses).toBe(0);
    expect(fixture.manager.service('indexer')?.last_heartbeat).toBe(startedAt);

    fixture.clock.advance(42 * SECOND);
    run.success();
    const body = fixture.manager.service('indexer');
    expect(body?.run).toEqual({ state: 'idle', started_at: null, last_duration_seconds: 42, last_exit_code: 0, runtime_anomaly: null });
    expect(body?.total_pulses).toBe(1);
    expect(body?.status).toBe('healthy');
  });

  it('ends a run once: a second end does nothing', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'job', interval: 60 });
    const run = heartbeat.begin();
    run.success();
    expect(run.isEnded).toBe(true);
    run.fail(new Error('late'));
    run.success();
    const body = fixture.manager.service('job');
    expect(body?.total_pulses).toBe(1);
    expect(body?.error_count).toBe(0);
  });

  it('pairs overlapping runs with their own starts', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'job', interval: 600 });
    const first = heartbeat.begin();
    fixture.clock.advance(10 * SECOND);
    const second = heartbeat.begin();
    fixture.clock.advance(5 * SECOND);
    second.success();
    expect(fixture.manager.service('job')?.run.last_duration_seconds).toBe(5);
    // The first is still open, and started 15 s ago.
    expect(fixture.manager.service('job')?.run.state).toBe('running');
    fixture.clock.advance(1 * SECOND);
    first.success();
    expect(fixture.manager.service('job')?.run).toMatchObject({ state: 'idle', last_duration_seconds: 16 });
  });

  it('reports fail() as an error, warning until the next success, and exit(code) by its code', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'job', interval: 600 });
    heartbeat.begin().fail(new Error('disk full'));
    let body = fixture.manager.service('job');
    expect(body?.status).toBe('warning');
    expect(body?.last_error?.message).toBe('disk full');
    expect(body?.run.last_exit_code).toBeNull();

    heartbeat.begin().exit(3);
    body = fixture.manager.service('job');
    expect(body?.last_error?.message).toBe('exited with code 3');
    expect(body?.run.last_exit_code).toBe(3);

    heartbeat.begin().fail('fatal', { critical: true });
    expect(fixture.manager.service('job')?.status).toBe('critical');

    heartbeat.begin().exit(0);
    body = fixture.manager.service('job');
    expect(body?.status).toBe('healthy');
    expect(body?.run.last_exit_code).toBe(0);
    expect(() => {
      heartbeat.begin().exit(256);
    }).toThrow('run.exit(code): code is 256; expected a process exit code, a whole number from 0 to 255.');
  });
});

describe('heartbeat.run()', () => {
  it('succeeds with the result, and fails with the error thrown on', async () => {
    jest.useRealTimers();
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'job', interval: 600 });
    await expect(heartbeat.run(() => Promise.resolve(7))).resolves.toBe(7);
    expect(fixture.manager.service('job')).toMatchObject({ total_pulses: 1, run: { state: 'idle', last_exit_code: 0 } });

    const failure = new Error('index corrupt');
    await expect(heartbeat.run(() => Promise.reject(failure))).rejects.toBe(failure);
    expect(fixture.manager.service('job')).toMatchObject({ status: 'warning', error_count: 1, last_error: { message: 'index corrupt' } });

    await expect(heartbeat.run('nope' as unknown as () => void)).rejects.toThrow('heartbeat.run(work): work is string');
  });
});

describe('max_runtime', () => {
  it('turns an open run warning past max_runtime and critical past twice it, without counting misses meanwhile', () => {
    fixture = createManager({ log_level: 'silent', services: { router_tasks: { interval: 60, max_runtime: 600 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'router_tasks' });
    heartbeat.begin();
    // Ten intervals pass: a plain heartbeat would be critical, but the run's deadline is max_runtime.
    fixture.clock.advance(600 * SECOND);
    expect(fixture.manager.service('router_tasks')?.status).toBe('healthy');
    fixture.clock.advance(1 * SECOND);
    expect(fixture.manager.service('router_tasks')?.status).toBe('warning');
    expect(fixture.changes.at(-1)).toMatchObject({ to: 'warning', cause: 'runtime', reason: 'run exceeded max_runtime (10m)' });
    fixture.clock.advance(600 * SECOND);
    expect(fixture.manager.service('router_tasks')?.status).toBe('critical');
    expect(fixture.changes.at(-1)).toMatchObject({ to: 'critical', cause: 'runtime', reason: 'run exceeded twice max_runtime (20m)' });
  });

  it('is healthy again once the run ends, and then watches the interval again', () => {
    fixture = createManager({ log_level: 'silent', services: { router_tasks: { interval: 60, max_runtime: 600 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'router_tasks' });
    const run = heartbeat.begin();
    fixture.clock.advance(700 * SECOND);
    expect(fixture.manager.service('router_tasks')?.status).toBe('warning');
    run.success();
    fixture.clock.advance(1);
    expect(fixture.manager.service('router_tasks')?.status).toBe('healthy');
    expect(fixture.changes.at(-1)).toMatchObject({ to: 'healthy', cause: 'recovered' });
    // 60 s interval + 6 s grace later, a beat is missed as usual.
    fixture.clock.advance(67 * SECOND);
    expect(fixture.manager.service('router_tasks')?.status).toBe('warning');
    expect(fixture.changes.at(-1)).toMatchObject({ to: 'warning', cause: 'missed' });
  });
});

describe('min_runtime', () => {
  it('warns after a run that finished too fast, until a run of normal length', () => {
    fixture = createManager({ log_level: 'silent', services: { backup: { interval: 3600, min_runtime: 5 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'backup' });
    let run = heartbeat.begin();
    fixture.clock.advance(400);
    run.success();
    fixture.clock.advance(1);
    expect(fixture.manager.service('backup')?.status).toBe('warning');
    expect(fixture.changes.at(-1)).toMatchObject({ to: 'warning', cause: 'runtime', reason: 'finished too fast (0.4s < 5s)' });

    // Plain pulses do not clear it: only a run of normal length does.
    heartbeat.pulse();
    fixture.clock.advance(1);
    expect(fixture.manager.service('backup')?.status).toBe('warning');

    run = heartbeat.begin();
    fixture.clock.advance(6 * SECOND);
    run.success();
    fixture.clock.advance(1);
    expect(fixture.manager.service('backup')?.status).toBe('healthy');
  });
});

describe('remote run signals (signalRun)', () => {
  it('pairs a start and an end by rid, replaces an unnamed start, and keeps an unpaired end a plain pulse', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'cron_job', interval: 600 });
    heartbeat.signalRun('a', null);
    fixture.clock.advance(3 * SECOND);
    heartbeat.signalRun('b', null);
    fixture.clock.advance(4 * SECOND);
    heartbeat.signalRun('a', { ok: true, exitCode: null });
    expect(fixture.manager.service('cron_job')?.run.last_duration_seconds).toBe(7);
    heartbeat.signalRun('b', { ok: false, exitCode: 2, message: 'exited with code 2' });
    expect(fixture.manager.service('cron_job')?.run).toMatchObject({ state: 'idle', last_duration_seconds: 4, last_exit_code: 2 });

    // A second unnamed start replaces the first: the end pairs with the latest.
    heartbeat.signalRun(null, null);
    fixture.clock.advance(5 * SECOND);
    heartbeat.signalRun(null, null);
    fixture.clock.advance(2 * SECOND);
    heartbeat.signalRun(null, { ok: true, exitCode: null });
    expect(fixture.manager.service('cron_job')?.run).toMatchObject({ state: 'idle', last_duration_seconds: 2, last_exit_code: 0 });

    // An end with nothing open is a pulse that leaves the last run's figures alone.
    const pulses = fixture.manager.service('cron_job')?.total_pulses ?? 0;
    heartbeat.signalRun(null, { ok: true, exitCode: null });
    expect(fixture.manager.service('cron_job')).toMatchObject({ total_pulses: pulses + 1, run: { last_duration_seconds: 2 } });
  });

  it('takes an end with no run open as a plain report: no sign of life, and no duration beside its exit code', () => {
    fixture = createManager({ log_level: 'silent', services: { job: { interval: 10, max_runtime: 600 } } });
    const heartbeat = fixture.manager.heartbeat({ tag: 'job' });
    heartbeat.signalRun('a', null);
    fixture.clock.advance(5 * SECOND);
    heartbeat.signalRun('a', { ok: true, exitCode: null });
    fixture.clock.advance(30 * SECOND);
    const missedBefore = fixture.manager.service('job')?.consecutive_failures ?? 0;
    expect(missedBefore).toBeGreaterThan(0);
    heartbeat.signalRun(null, { ok: false, exitCode: 3, message: 'exited with code 3' });
    expect(fixture.manager.service('job')).toMatchObject({
      consecutive_failures: missedBefore + 1,
      run: { last_duration_seconds: null, last_exit_code: 3 },
    });
  });

  it('keeps at most 100 runs open per service', () => {
    fixture = createManager({ log_level: 'silent' });
    const heartbeat = fixture.manager.heartbeat({ tag: 'fan_out', interval: 600 });
    for (let index = 0; index < 150; index++) heartbeat.signalRun(`run-${index}`, null);
    // The 50 oldest were dropped: the oldest open one is run-50.
    heartbeat.signalRun('run-0', { ok: true, exitCode: null });
    expect(fixture.manager.service('fan_out')?.run.last_duration_seconds).toBeNull();
    fixture.clock.advance(SECOND);
    heartbeat.signalRun('run-50', { ok: true, exitCode: null });
    expect(fixture.manager.service('fan_out')?.run.last_duration_seconds).toBe(1);
  });
});

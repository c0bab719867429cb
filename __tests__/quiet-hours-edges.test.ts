// Edge cases of jobs and quiet hours found by review (issue 17), each a failing test before its fix.
import request from 'supertest';
import type { HeartbeatConfig } from '../lib/core/config';
import { createApp, type AppFixture } from './helpers/app';
import { createManager, type ManagerFixture } from './helpers/manager';
import { useManagerTimers } from './helpers/managers';

useManagerTimers(false);

describe('wall clock corrections', () => {
  let fixture: ManagerFixture;
  function managerAt(start: string, config: HeartbeatConfig): ManagerFixture {
    jest.useFakeTimers({ now: new Date(start) });
    return createManager({ log_level: 'silent', ...config });
  }
  function advanceTo(at: string): void {
    const ms = Date.parse(at) - fixture.clock.wallNow();
    if (ms < 0) throw new Error(`advanceTo(${at}): ${-ms} ms in the past`);
    fixture.clock.advance(ms);
  }

  it('cron schedule: wall clock stepped back 1h (NTP) gives no false miss before the next occurrence', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', { services: { nightly: { schedule: '0 3 * * *', timezone: 'UTC', grace: 300 } } });
    const hb = fixture.manager.heartbeat({ tag: 'nightly' });
    advanceTo('2026-01-01T03:01:00Z');
    hb.pulse();
    advanceTo('2026-01-01T12:00:00Z');
    fixture.clock.jumpWall(-3_600_000); // the wall clock was an hour fast; now it reads 11:00
    fixture.manager.status();
    fixture.manager.status();
    // Next occurrence is 2026-01-02T03:00Z wall; deadline 03:05. At wall 02:30 nothing is due yet.
    advanceTo('2026-01-02T02:30:00Z');
    expect(fixture.manager.service('nightly')?.status).toBe('healthy');
    expect(fixture.changes).toEqual([]);
  });

  it('maintenance window: wall clock stepped forward 1h still opens the window at its wall time', () => {
    fixture = managerAt('2026-01-01T00:00:00Z', {
      services: { a: { interval: 60 } },
      maintenance: [{ services: '*', cron: '0 2 * * *', duration: 3600, timezone: 'UTC' }],
    });
    fixture.manager.heartbeat({ tag: 'a' }).start();
    fixture.clock.advance(1000);
    fixture.clock.jumpWall(3_600_000); // wall was an hour slow: now reads 01:00
    fixture.manager.status();
    fixture.manager.status();
    advanceTo('2026-01-01T02:30:00Z');
    expect(fixture.manager.service('a')?.paused).not.toBeNull();
  });
});

describe('runs that never end', () => {
  it('a run left open by a stopped heartbeat does not keep its successor critical forever', () => {
    jest.useFakeTimers();
    const f = createManager({ log_level: 'silent', services: { job: { interval: 10, max_runtime: 30 } } });
    const first = f.manager.heartbeat({ tag: 'job' });
    first.begin(); // the worker is shut down mid-run
    first.stop();
    const second = f.manager.heartbeat({ tag: 'job' });
    second.start();
    for (let i = 0; i < 24; i++) {
      f.clock.advance(5000);
      const run = second.begin();
      run.success();
    }
    const body = f.manager.service('job');
    expect(body?.status).toBe('healthy');
  });

  it('remote-style: a run with rid that never ended keeps the job critical though later runs succeed', () => {
    jest.useFakeTimers();
    const f = createManager({ log_level: 'silent', services: { job: { interval: 10, max_runtime: 30 } } });
    const hb = f.manager.heartbeat({ tag: 'job' });
    hb.signalRun('crashed-run', null);
    for (let i = 0; i < 24; i++) {
      f.clock.advance(5000);
      hb.signalRun(`r${i}`, null);
      hb.signalRun(`r${i}`, { ok: true, exitCode: null });
    }
    const body = f.manager.service('job');
    expect(body?.status).toBe('healthy');
  });
});

describe('a stall before a nightly job', () => {
  let fixture: ManagerFixture;
  function advanceTo(at: string): void {
    fixture.clock.advance(Date.parse(at) - fixture.clock.wallNow());
  }

  it('a 1 s stall an hour before a nightly job is due does not hide its miss for a day', () => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    fixture = createManager({
      log_level: 'silent',
      services: { nightly: { schedule: '0 3 * * *', timezone: 'UTC', grace: 300 }, busy: { interval: 10 } },
    });
    const busy = fixture.manager.heartbeat({ tag: 'busy' });
    busy.start();
    setInterval(() => {
      busy.pulse();
    }, 5000);
    const nightly = fixture.manager.heartbeat({ tag: 'nightly' });
    advanceTo('2026-01-01T03:01:00Z');
    nightly.pulse();
    advanceTo('2026-01-02T02:00:00Z');
    fixture.clock.skip(1000); // the event loop blocked for 1 s at 02:00
    advanceTo('2026-01-02T03:06:00Z'); // the job did not run at 03:00
    const at0306 = fixture.manager.service('nightly')?.status;
    expect(at0306).toBe('warning');
    expect(fixture.changes.filter((change) => change.service === 'nightly').map((change) => change.time)).toEqual([
      '2026-01-02T03:05:00.001Z',
    ]);
  });
});

describe('a run that fails inside max_runtime', () => {
  it('a run that fails within max_runtime is warning for its error, not missed beats for the time it ran', () => {
    jest.useFakeTimers();
    const f = createManager({ log_level: 'silent', services: { job: { interval: 60, max_runtime: 600 } } });
    const hb = f.manager.heartbeat({ tag: 'job' });
    const run = hb.begin();
    f.clock.advance(300_000); // 5 minutes, well inside max_runtime: no misses counted meanwhile
    expect(f.manager.service('job')?.status).toBe('healthy');
    run.fail(new Error('disk full'));
    const body = f.manager.service('job');
    expect(body?.status).toBe('warning');
  });
});

describe('runs of a stopped handle', () => {
  it("a stopped heartbeat's run, ended late, neither reports on nor ends its successor's run", () => {
    jest.useFakeTimers();
    const f = createManager({ log_level: 'silent', services: { job: { interval: 60, max_runtime: 600 } } });
    const a = f.manager.heartbeat({ tag: 'job' });
    const aborted = a.begin();
    a.stop(); // shutdown of the old worker; its job is still unwinding
    const b = f.manager.heartbeat({ tag: 'job' }).start();
    b.begin(); // the new worker's run, in progress
    f.clock.advance(1000);
    a.pulse(); // a stopped handle's pulse is ignored...
    aborted.fail(new Error('aborted by shutdown')); // ...but its run's end is not
    const body = f.manager.service('job');
    expect(body?.run.state).toBe('running');
    expect(body?.status).toBe('healthy');
  });
});

describe('a paused dependency', () => {
  it('a paused dependency holds no one (docs/alerts.md), even one that is critical by a reported error', () => {
    jest.useFakeTimers();
    const f = createManager({ log_level: 'silent', services: { db: { interval: 10 }, api: { interval: 10, depends_on: ['db'] } } });
    const db = f.manager.heartbeat({ tag: 'db' }).start();
    f.manager.heartbeat({ tag: 'api' }).start();
    db.error('disk failure', { critical: true });
    f.manager.pause('db', { reason: 'replacing the disk' });
    for (let i = 0; i < 12; i++) {
      f.clock.advance(5000);
      db.pulse();
      db.error('disk failure', { critical: true });
    }
    const api = f.manager.service('api');
    expect(api?.suppressed_by).toBeNull();
  });
});

describe('a plain remote pulse', () => {
  const TOKEN = 'jobs-token-0123456789abcdef';
  let fixture: AppFixture;
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));

  it('a plain remote pulse (no job, no runtime rule) adds no job series', async () => {
    fixture = createApp({ remote_token: TOKEN, services: { plain: { interval: 60 } } });
    const pulse = await request(fixture.app)
      .post('/api/health/service/plain/pulse')
      .set({ Authorization: `Bearer ${TOKEN}` });
    expect(pulse.status).toBe(204);
    const metrics = await request(fixture.app).get('/metrics');
    const line = metrics.text.split('\n').find((l) => l.startsWith('heartbeat_run_in_progress{service="plain"}'));
    expect(line).toBeUndefined();
  });
});

describe('a remote service deleted while paused', () => {
  const TOKEN = 'jobs-token-0123456789abcdef';
  const auth = { Authorization: `Bearer ${TOKEN}` };
  let fixture: AppFixture;
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));

  it('a remote service removed with DELETE and registered again by a pulse is not paused by the old pause', async () => {
    fixture = createApp({ remote_token: TOKEN, auto_register: true });
    const post = (path: string, body?: object) => {
      const t = request(fixture.app).post(`/api/health/service/${path}`).set(auth);
      return body ? t.send(body) : t;
    };
    expect((await post('edge-7/pulse')).status).toBe(204);
    expect((await post('edge-7/pause', { reason: 'host decommissioned' })).status).toBe(200);
    expect((await request(fixture.app).delete('/api/health/service/edge-7').set(auth)).status).toBe(204);
    // Months later a new host takes the name.
    expect((await post('edge-7/pulse')).status).toBe(204);
    const paused = fixture.manager.service('edge-7')?.paused ?? null;
    expect(paused).toBeNull();
  });
});

describe('a remote service paused longer than auto_register_ttl', () => {
  const TOKEN = 'jobs-token-0123456789abcdef';
  const auth = { Authorization: `Bearer ${TOKEN}` };
  let fixture: AppFixture;
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));

  it('is not removed while its pause runs, and expires a ttl after the pause ends', async () => {
    fixture = createApp({ remote_token: TOKEN, auto_register: true, auto_register_ttl: 60 });
    await request(fixture.app).post('/api/health/service/nightly/pulse').set(auth).expect(204);
    const until = new Date(fixture.clock.wallNow() + 10 * 60_000).toISOString();
    await request(fixture.app).post('/api/health/service/nightly/pause').set(auth).send({ until, reason: 'migration' }).expect(200);
    fixture.clock.advance(5 * 60_000);
    const during = await request(fixture.app).get('/api/health/service/nightly');
    expect(during.status).toBe(200);
    expect(during.body.paused).toMatchObject({ reason: 'migration' });
    // Silent since the pause ended: gone once auto_register_ttl has passed from there.
    fixture.clock.advance(5 * 60_000 + 59_000);
    expect((await request(fixture.app).get('/api/health/service/nightly')).status).toBe(200);
    fixture.clock.advance(2_000);
    expect((await request(fixture.app).get('/api/health/service/nightly')).status).toBe(404);
  });
});

describe('readiness of a paused service', () => {
  let fixture: AppFixture;
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));

  it('does not fail /ready, as it does not count in overall_status', async () => {
    fixture = createApp({ services: { db: { interval: 10 } } });
    fixture.manager.heartbeat({ tag: 'db' }).error('disk failure', { critical: true });
    expect((await request(fixture.app).get('/api/health/ready')).status).toBe(503);
    fixture.manager.pause('db', { reason: 'replacing the disk' });
    const ready = await request(fixture.app).get('/api/health/ready');
    expect([ready.status, ready.body]).toEqual([200, { status: 'ready', overall_status: 'healthy', failing: [] }]);
  });
});

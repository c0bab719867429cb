import express4 from 'express4';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter } from '../lib/http/router';
import { createApp, type AppFixture } from './helpers/app';
import { createTestClock } from './helpers/clock';
import { closeManagers, trackManager } from './helpers/managers';

/**
 * Job runs and pauses over HTTP: `POST …/start`, `/pulse`, `/fail`, `/exit/{code}`, `/pause`
 * and `/resume`, on loopback through supertest, with time moved by the test clock.
 */

const TOKEN = 'jobs-token-0123456789abcdef';
const auth = { Authorization: `Bearer ${TOKEN}` };
const SERVICE = '/api/health/service';
let fixture: AppFixture;

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

/** Remote heartbeats on, with the job `job` (interval 60 s) in the config, and `extra` config on top. */
function app(services: HeartbeatConfig['services'] = {}, config: HeartbeatConfig = {}): AppFixture['app'] {
  fixture = createApp({ remote_token: TOKEN, services: { job: { interval: 60 }, ...services }, ...config });
  return fixture.app;
}

/** POSTs to `/api/health/service/{name}/{path}` with the token, and a JSON body if one is given. */
function post(path: string, body?: unknown, name = 'job'): request.Test {
  const test = request(fixture.app).post(`${SERVICE}/${name}/${path}`).set(auth);
  return body === undefined ? test : test.send(body as object);
}

function service(name = 'job') {
  const body = fixture.manager.service(name);
  if (!body) throw new Error(`no service ${name}`);
  return body;
}

/** Expects a 204 with no body. */
async function accepted(test: request.Test): Promise<void> {
  const response = await test;
  expect([response.status, response.text]).toEqual([204, '']);
}

describe('runs', () => {
  it('records the time from /start to /pulse as the last duration, and the start is a sign of life but not a pulse', async () => {
    app();
    await accepted(post('start'));
    const running = service();
    expect(running.run).toEqual({
      state: 'running',
      started_at: new Date(fixture.clock.wallNow()).toISOString(),
      last_duration_seconds: null,
      last_exit_code: null,
      runtime_anomaly: null,
    });
    expect(running.total_pulses).toBe(0);
    expect(running.last_heartbeat).toBe(new Date(fixture.clock.wallNow()).toISOString());

    fixture.clock.advance(42_500);
    await accepted(post('pulse'));
    expect(service()).toMatchObject({
      status: 'healthy',
      total_pulses: 1,
      run: { state: 'idle', started_at: null, last_duration_seconds: 42.5, last_exit_code: 0 },
    });
  });

  it('pairs overlapping runs by rid, from the query or the body', async () => {
    app();
    await accepted(post('start?rid=first'));
    fixture.clock.advance(10_000);
    await accepted(post('start', { rid: 'second' }));
    fixture.clock.advance(5_000);
    // The first one ends first: 15 s, and the second is still open.
    await accepted(post('pulse', { rid: 'first' }));
    expect(service().run).toMatchObject({ state: 'running', last_duration_seconds: 15 });
    fixture.clock.advance(7_000);
    await accepted(post('pulse?rid=second'));
    expect(service().run).toMatchObject({ state: 'idle', last_duration_seconds: 12 });
    // The same rid in both places is one rid.
    await accepted(post('start?rid=third', { rid: 'third' }));
    fixture.clock.advance(3_000);
    await accepted(post('exit/0?rid=third', { rid: 'third' }));
    expect(service().run).toMatchObject({ state: 'idle', last_duration_seconds: 3, last_exit_code: 0 });
  });

  it('ends the oldest open run on a pulse without a rid', async () => {
    app();
    await accepted(post('start?rid=a'));
    fixture.clock.advance(20_000);
    await accepted(post('start?rid=b'));
    fixture.clock.advance(1_000);
    await accepted(post('pulse'));
    expect(service().run).toMatchObject({ state: 'running', last_duration_seconds: 21 });
  });

  it('takes /exit/0 as a success and /exit/3 as a failure that says so', async () => {
    app();
    await accepted(post('start'));
    fixture.clock.advance(2_000);
    await accepted(post('exit/0'));
    expect(service()).toMatchObject({ status: 'healthy', total_pulses: 1, run: { last_exit_code: 0, last_duration_seconds: 2 } });

    await accepted(post('start'));
    fixture.clock.advance(4_000);
    await accepted(post('exit/3'));
    expect(service()).toMatchObject({
      status: 'warning',
      total_pulses: 1,
      error_count: 1,
      last_error: { message: 'exited with code 3', critical: false },
      run: { state: 'idle', last_exit_code: 3, last_duration_seconds: 4 },
    });
    // The next successful run clears the warning, as a pulse after an error does.
    await accepted(post('exit/0'));
    expect(service()).toMatchObject({ status: 'healthy', run: { last_exit_code: 0 } });
  });

  it('takes /fail with a message and critical, and without a body as "run failed"', async () => {
    app();
    await accepted(post('start?rid=nightly'));
    await accepted(post('fail', { rid: 'nightly', message: 'disk full', critical: true }));
    expect(service()).toMatchObject({
      status: 'critical',
      last_error: { message: 'disk full', critical: true },
      run: { state: 'idle', last_exit_code: null },
    });
    expect((await request(fixture.app).get('/api/health/status')).status).toBe(503);

    await accepted(post('start'));
    await accepted(post('fail'));
    expect(service()).toMatchObject({ status: 'critical', error_count: 2, last_error: { message: 'run failed', critical: false } });
    await accepted(post('pulse'));
    expect(service().status).toBe('healthy');
  });

  it('counts one pulse per /pulse request: bare, with a rid, with metrics, with or without an open run', async () => {
    app();
    await accepted(post('pulse'));
    await accepted(post('pulse?rid=none-open'));
    await accepted(post('pulse', { metrics: { queue_depth: 1 } }));
    expect(service().total_pulses).toBe(3);
    await accepted(post('start'));
    fixture.clock.advance(9_000);
    // Ends the run and records the metrics, as one pulse.
    await accepted(post('pulse', { metrics: { queue_depth: 7, rows: 1200 } }));
    expect(service()).toMatchObject({
      total_pulses: 4,
      metrics: { queue_depth: 7, rows: 1200 },
      run: { state: 'idle', last_duration_seconds: 9 },
    });
    await accepted(post('start?rid=x'));
    await accepted(post('pulse?rid=x', { metrics: { queue_depth: 3 } }));
    expect(service()).toMatchObject({ total_pulses: 5, metrics: { queue_depth: 3 }, run: { state: 'idle' } });
    expect(await fixture.registry.metrics()).toContain('heartbeat_pulses_total{service="job"} 5');
  });

  it('registers a new name with auto_register on /start, as a pulse does', async () => {
    app({}, { auto_register: true });
    await accepted(post('start', undefined, 'backup'));
    expect(service('backup')).toMatchObject({ critical: false, run: { state: 'running' } });
  });
});

describe('max_runtime', () => {
  it('turns a run open past max_runtime warning, past twice critical, and the end healthy', async () => {
    app({ job: { interval: 60, max_runtime: 600 } });
    await accepted(post('start'));
    // Ten intervals without a pulse: the run's deadline is max_runtime, not the interval.
    fixture.clock.advance(600_000);
    expect(service().status).toBe('healthy');
    fixture.clock.advance(1_000);
    expect(service().status).toBe('warning');
    fixture.clock.advance(600_000);
    expect(service().status).toBe('critical');
    const history = await request(fixture.app).get(`${SERVICE}/job/history`);
    expect(history.body.transitions.map((t: { to: string; reason: string }) => [t.to, t.reason])).toEqual([
      ['warning', 'run exceeded max_runtime (10m)'],
      ['critical', 'run exceeded twice max_runtime (20m)'],
    ]);
    await accepted(post('exit/0'));
    expect(service()).toMatchObject({ status: 'healthy', run: { state: 'idle', last_duration_seconds: 1201, last_exit_code: 0 } });
  });
});

describe('pause and resume', () => {
  it('pauses a service: /status leaves it out, its body shows the pause, and /resume ends it', async () => {
    app();
    // Ten intervals missed: critical, and the server with it.
    fixture.clock.advance(10 * 61_000);
    expect(service().status).toBe('critical');
    expect((await request(fixture.app).get('/api/health/status')).status).toBe(503);

    const until = new Date(fixture.clock.wallNow() + 3_600_000).toISOString();
    const paused = await post('pause', { until, reason: 'database migration' });
    expect(paused.status).toBe(200);
    const expected = { reason: 'database migration', until, since: new Date(fixture.clock.wallNow()).toISOString() };
    expect(paused.body).toEqual(expected);
    const status = await request(fixture.app).get('/api/health/status');
    expect([status.status, status.body.overall_status]).toEqual([200, 'healthy']);
    expect(service().paused).toEqual(expected);
    // Misses are not counted while paused.
    fixture.clock.advance(30 * 60_000);
    expect(service()).toMatchObject({ status: 'healthy', paused: expected });

    const resumed = await post('resume');
    expect([resumed.status, resumed.body]).toEqual([200, { resumed: true }]);
    expect(service()).toMatchObject({ status: 'healthy', paused: null });
    // A fresh interval and grace from the resume: no miss at once, one after.
    fixture.clock.advance(55_000);
    expect(service().status).toBe('healthy');
    fixture.clock.advance(12_000); // 67 s: past the interval (60 s) and its grace (6 s)
    expect(service().status).toBe('warning');
    expect((await post('resume')).body).toEqual({ resumed: false });
  });

  it('pauses until resumed with no body, with the reason "paused"', async () => {
    app();
    const paused = await post('pause');
    expect([paused.status, paused.body]).toEqual([
      200,
      { reason: 'paused', until: null, since: new Date(fixture.clock.wallNow()).toISOString() },
    ]);
  });

  it('does not register a service, even with auto_register', async () => {
    app({}, { auto_register: true });
    for (const path of ['pause', 'resume']) {
      const response = await post(path, undefined, 'stranger');
      expect([response.status, response.body]).toEqual([
        404,
        { error: 'No service named "stranger" is monitored; pause and resume do not register one.', service: 'stranger' },
      ]);
    }
    expect(fixture.manager.service('stranger')).toBeUndefined();
  });
});

describe('bad calls', () => {
  /** Expects a JSON 4xx whose error says `error`, and nothing recorded for the job. */
  async function refused(test: request.Test, status: number, error: string | RegExp): Promise<request.Response> {
    const response = await test;
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    if (typeof error === 'string') expect(response.body.error).toBe(error);
    else expect(response.body.error).toMatch(error);
    const job = fixture.manager.service('job');
    if (job) expect(job).toMatchObject({ total_pulses: 0, error_count: 0, run: { state: 'idle' }, paused: null });
    return response;
  }
  const RID_RULE = '"rid" must be 1 to 64 printable ASCII characters ("!" to "~", no spaces), e.g. a UUID';

  it.each<[string, string, unknown, string]>([
    [
      'a space',
      'start?rid=a%20b',
      undefined,
      `${RID_RULE}; the one in the query has a space, a control character or one outside ASCII at position 2.`,
    ],
    ['65 characters', `pulse?rid=${'r'.repeat(65)}`, undefined, `${RID_RULE}; the one in the query has 65 characters.`],
    ['an empty one', 'fail?rid=', undefined, `${RID_RULE}; the one in the query is empty.`],
    ['a number in the body', 'exit/0', { rid: 42 }, `${RID_RULE}; the body has a number.`],
    [
      'a letter outside ASCII',
      'start',
      { rid: 'café' },
      `${RID_RULE}; the one in the body has a space, a control character or one outside ASCII at position 4.`,
    ],
    [
      'a control character',
      'start',
      { rid: 'a\u007fb' },
      `${RID_RULE}; the one in the body has a space, a control character or one outside ASCII at position 2.`,
    ],
    ['the query repeated', 'pulse?rid=a&rid=b', undefined, `${RID_RULE}, given once; the query has it 2 times.`],
    ['two different ones', 'start?rid=a', { rid: 'b' }, '"rid" is given in the query and in the body with different values; give it once.'],
  ])('answers a rid with %s with 400 naming it', async (_label, path, body, error) => {
    app();
    const response = await refused(post(path, body), 400, error);
    expect(response.body.service).toBe('job');
  });

  it.each(['256', '-1', 'abc', '1.5', '0x1', '1000'])('answers /exit/%s with 400 naming the code', async (code) => {
    app();
    await refused(post(`exit/${code}`), 400, `The exit code "${code}" is not a whole number from 0 to 255.`);
  });

  it.each<[string, unknown, string | RegExp]>([
    [
      'an until without a zone',
      { until: '2026-12-01T14:00:00' },
      /^pause\("job"\): "until" is "2026-12-01T14:00:00"; expected .*ISO 8601 time with a zone/,
    ],
    [
      'an until in the past',
      { until: '2000-01-01T00:00:00Z' },
      /^pause\("job"\): "until" is "2000-01-01T00:00:00Z"; expected a time in the future/,
    ],
    ['an until that is a number', { until: 1 }, /^"until" must be an ISO 8601 time with a zone/],
    ['a reason that is a number', { reason: 7 }, '"reason" must be a string, or left out (then it reads "paused").'],
    ['an empty reason', { reason: ' ' }, /^pause\("job"\): "reason" is " "; expected a non-empty string of at most 200 characters/],
    ['a reason of 201 characters', { reason: 'r'.repeat(201) }, /^pause\("job"\): "reason" is "r+…"; expected a non-empty string/],
    [
      'an array',
      [1],
      'The body must be a JSON object, e.g. { "until": "2026-12-01T14:00:00Z", "reason": "database migration" }, or empty.',
    ],
  ])('answers a pause with %s with 400 naming it', async (_label, body, error) => {
    app();
    await refused(post('pause', body), 400, error);
  });

  it.each<[string, unknown, string]>([
    ['an empty message', { message: '' }, '"message" must be a non-empty string, or left out (then it reads "run failed").'],
    ['a string critical', { critical: 'yes' }, '"critical" must be true or false.'],
    ['a JSON array', [1], 'The body must be a JSON object, e.g. { "rid": "…", "message": "…", "critical": false }, or empty.'],
  ])('answers a fail with %s with 400 naming it', async (_label, body, error) => {
    app();
    await refused(post('fail', body), 400, error);
  });

  it.each(['start', 'fail', 'exit/1', 'pause', 'resume'])('answers /%s to an unknown name with 404 and registers nothing', async (path) => {
    app();
    const response = await refused(post(path, undefined, 'stranger'), 404, /^No service named "stranger" is monitored/);
    expect(response.body.service).toBe('stranger');
    expect(fixture.manager.service('stranger')).toBeUndefined();
  });

  it.each(['start', 'fail', 'exit/1', 'pause', 'resume'])('answers /%s without the token with 401 and a challenge', async (path) => {
    app();
    const response = await refused(
      request(fixture.app).post(`${SERVICE}/job/${path}`),
      401,
      'Authentication required: send Authorization: Bearer <token>.',
    );
    expect(response.headers['www-authenticate']).toBe('Bearer realm="heartbeat"');
    expect(Object.keys(response.body)).toEqual(['error']);
    const query = await refused(
      request(fixture.app).post(`${SERVICE}/job/${path}?token=${TOKEN}`).set(auth),
      401,
      'Tokens are not accepted in the query string; send Authorization: Bearer <token>.',
    );
    expect(query.text).not.toContain(TOKEN);
  });

  it.each(['start', 'fail', 'exit/1', 'pause', 'resume'])('answers /%s with 404 while remote heartbeats are off', async (path) => {
    fixture = createApp({ services: { job: { interval: 60 } } });
    const response = await refused(
      post(path),
      404,
      'Remote heartbeats are off on this server: set remote_token in its heartbeat config to turn them on.',
    );
    expect(response.body.endpoints).toEqual([]);
  });

  it.each(['start', 'fail', 'exit/1', 'pause', 'resume'])('answers /%s with a text body 415, a big one 413, a GET 405', async (path) => {
    app();
    await refused(post(path).type('text').send('hello'), 415, /must be JSON \(Content-Type: application\/json\), or empty\.$/);
    await refused(post(path, { reason: 'x'.repeat(5000) }), 413, 'The body is over 4096 bytes.');
    await refused(
      post(path).set('Content-Type', 'application/json').send('{"rid": '),
      400,
      'The body is not valid JSON (an object is expected).',
    );
    const wrong = await refused(request(fixture.app).get(`${SERVICE}/job/${path}`), 405, 'Method GET is not allowed here; use POST.');
    expect(wrong.headers.allow).toBe('POST');
  });

  it.each(['start', 'fail', 'exit/1', 'pause', 'resume'])('answers /%s with 503 once the manager is closed', async (path) => {
    app();
    void fixture.manager.close();
    await refused(post(path), 503, 'The heartbeat manager is closed: the server is shutting down.');
  });
});

describe('on Express 4', () => {
  it('takes runs and pauses, and refuses a rid the extended query parser made an object', async () => {
    const clock = createTestClock();
    const manager = trackManager(
      new HeartbeatManager({ config: { log_level: 'silent', remote_token: TOKEN, services: { job: { interval: 60 } } }, clock }),
    );
    const server = express4();
    server.use(healthRouter({ manager, registry: new Registry() }));
    const call = (path: string) => request(server).post(`${SERVICE}/job/${path}`).set(auth);

    expect((await call('start?rid=a')).status).toBe(204);
    clock.advance(4_000);
    expect((await call('exit/0?rid=a')).status).toBe(204);
    expect(manager.service('job')?.run).toMatchObject({ state: 'idle', last_duration_seconds: 4, last_exit_code: 0 });
    const nested = await call('start?rid[x]=1');
    expect([nested.status, nested.body.error]).toEqual([
      400,
      '"rid" must be 1 to 64 printable ASCII characters ("!" to "~", no spaces), e.g. a UUID, given once; the query has it as a nested object.',
    ]);
    const paused = await call('pause');
    expect([paused.status, paused.body.reason]).toEqual([200, 'paused']);
    expect((await call('resume')).body).toEqual({ resumed: true });
  });
});

import request from 'supertest';
import { ConfigError } from '../lib/util/validate';
import { createApp, type AppFixture } from './helpers/app';
import { closeManagers } from './helpers/managers';

const TOKEN = 'test-token-0123456789abcdef';
const auth = { Authorization: `Bearer ${TOKEN}` };
let fixture: AppFixture;

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

function app(config: Record<string, unknown> = {}) {
  fixture = createApp({ remote_token: TOKEN, services: { csharp_client: { interval: 30 } }, ...config });
  return fixture.app;
}

it('is off without a remote_token', async () => {
  fixture = createApp({ services: { csharp_client: { interval: 30 } } });
  const response = await request(fixture.app).post('/api/health/service/csharp_client/pulse').set(auth);
  expect(response.status).toBe(404);
  expect(response.body.error).toBe('Remote heartbeats are off on this server: set remote_token in its heartbeat config to turn them on.');
});

it('takes a pulse and an error from a configured service, answering 204', async () => {
  const server = app();
  expect((await request(server).post('/api/health/service/csharp_client/pulse').set(auth)).status).toBe(204);
  expect(fixture.manager.service('csharp_client')).toMatchObject({ status: 'healthy', total_pulses: 1, active: true });

  const error = await request(server)
    .post('/api/health/service/csharp_client/error')
    .set(auth)
    .send({ message: 'queue full', critical: true, timestamp: '1999-01-01T00:00:00Z' });
  expect(error.status).toBe(204);
  const body = fixture.manager.service('csharp_client');
  expect(body).toMatchObject({ status: 'critical', error_count: 1, last_error: { message: 'queue full', critical: true } });
  // The server's clock is the truth: the client's timestamp is ignored.
  expect(body?.last_error?.time).toBe(new Date(fixture.clock.wallNow()).toISOString());
});

it('records custom metrics sent with a pulse', async () => {
  const server = app();
  await request(server)
    .post('/api/health/service/csharp_client/pulse')
    .set(auth)
    .send({ metrics: { queue_depth: 12 } });
  expect(fixture.manager.service('csharp_client')?.metrics).toEqual({ queue_depth: 12 });
  expect(await fixture.registry.metrics()).toContain('heartbeat_service_metric{service="csharp_client",metric="queue_depth"} 12');
});

it('answers 400 naming the limit when metrics would take a service past 20 names, and keeps nothing of that pulse', async () => {
  const server = app();
  const pulse = (metrics: Record<string, number>) =>
    request(server).post('/api/health/service/csharp_client/pulse').set(auth).send({ metrics });
  const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`m${i}`, i]));
  expect((await pulse(twenty)).status).toBe(204);

  const refused = await pulse({ m0: 100, extra_a: 1, extra_b: 2 });
  expect(refused.status).toBe(400);
  expect(refused.body).toEqual({
    error:
      '"metrics" would give this service 22 names with the 20 it has; at most 20 are kept per service. New here: "extra_a", "extra_b".',
    service: 'csharp_client',
  });
  // Refused whole: no pulse counted, no value changed, nothing dropped in silence.
  expect(fixture.manager.service('csharp_client')).toMatchObject({ total_pulses: 1, metrics: twenty });

  // The names it has still update.
  expect((await pulse({ m0: 100 })).status).toBe(204);
  expect(fixture.manager.service('csharp_client')?.metrics.m0).toBe(100);
});

describe('authentication', () => {
  it.each([
    ['no header', {}, 'Authentication required: send Authorization: Bearer <token>.'],
    ['a wrong token', { Authorization: 'Bearer wrong-token-0123456789abcdef' }, 'The bearer token is not valid.'],
    ['a token of another length', { Authorization: 'Bearer x' }, 'The bearer token is not valid.'],
    ['another scheme', { Authorization: `Basic ${TOKEN}` }, 'The bearer token is not valid.'],
  ])('answers 401 JSON for %s, and changes nothing', async (_label, headers, error) => {
    const server = app();
    const response = await request(server)
      .post('/api/health/service/csharp_client/pulse')
      .set(headers as Record<string, string>);
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="heartbeat"');
    expect(response.body).toEqual({ error });
    expect(fixture.manager.service('csharp_client')?.total_pulses).toBe(0);
  });

  it('refuses a token in the query string, even the right one', async () => {
    const server = app();
    const response = await request(server).post(`/api/health/service/csharp_client/pulse?token=${TOKEN}`).set(auth);
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('Tokens are not accepted in the query string; send Authorization: Bearer <token>.');
  });
});

describe('which services', () => {
  it('answers 404 for a service not in the config while auto_register is off', async () => {
    const response = await request(app()).post('/api/health/service/stranger/pulse').set(auth);
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: 'No service named "stranger" is monitored, and auto_register is off.', service: 'stranger' });
    expect(fixture.manager.service('stranger')).toBeUndefined();
  });

  it('registers new services with auto_register, up to max_services, then 429', async () => {
    const server = app({ auto_register: true, max_services: 2 });
    expect((await request(server).post('/api/health/service/a/pulse').set(auth)).status).toBe(204);
    expect((await request(server).post('/api/health/service/b/error').set(auth).send({ message: 'x' })).status).toBe(204);
    expect((await request(server).post('/api/health/service/a/pulse').set(auth)).status).toBe(204);
    const third = await request(server).post('/api/health/service/c/pulse').set(auth);
    expect(third.status).toBe(429);
    expect(third.body.error).toBe('This server already took 2 remote services (max_services); no more are registered.');
    expect(fixture.manager.tags().sort()).toEqual(['a', 'b', 'csharp_client']);
  });

  it("frees the place of a registered service that the server's own code stopped, at once", async () => {
    const server = app({ auto_register: true, max_services: 1 });
    expect((await request(server).post('/api/health/service/a/pulse').set(auth)).status).toBe(204);
    fixture.manager.get('a')?.stop();
    expect((await request(server).post('/api/health/service/b/pulse').set(auth)).status).toBe(204);
  });

  it.each(['__proto__', 'constructor', 'toString', '%5F%5Fproto%5F%5F'])('treats %s as an ordinary name', async (name) => {
    const server = app();
    const response = await request(server).post(`/api/health/service/${name}/pulse`).set(auth);
    expect(response.status).toBe(404);
    expect(response.body.service).toBe(decodeURIComponent(name));
    void fixture.manager.close();
    const registered = await request(app({ auto_register: true }))
      .post(`/api/health/service/${name}/pulse`)
      .set(auth);
    expect(registered.status).toBe(204);
    expect(fixture.manager.service(decodeURIComponent(name))?.total_pulses).toBe(1);
  });

  it('answers 400 for a name longer than a tag may be', async () => {
    const response = await request(app({ auto_register: true }))
      .post(`/api/health/service/${'x'.repeat(201)}/pulse`)
      .set(auth);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('A service name has 1 to 200 characters; this one has 201.');
  });
});

describe('services registered by remote calls', () => {
  const pulse = (server: AppFixture['app'], name: string) => request(server).post(`/api/health/service/${name}/pulse`).set(auth);
  const DAY = 86_400_000;

  it('are not critical: a critical error from a mistyped name leaves the server ready', async () => {
    fixture = createApp({ remote_token: TOKEN, auto_register: true });
    const server = fixture.app;
    const error = await request(server).post('/api/health/service/save-worker/error').set(auth).send({ message: 'x', critical: true });
    expect(error.status).toBe(204);
    expect(fixture.manager.service('save-worker')).toMatchObject({ status: 'critical', critical: false });
    const ready = await request(server).get('/api/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', overall_status: 'degraded', failing: [] });
    // Missed beats count the same way: critical, and still ready.
    await pulse(server, 'other-typo');
    fixture.clock.advance(10 * 30_000);
    expect(fixture.manager.service('other-typo')?.status).toBe('critical');
    expect((await request(server).get('/api/health/ready')).status).toBe(200);
  });

  it('keep the settings of the config for a name listed there', async () => {
    const server = app({ auto_register: true });
    await request(server).post('/api/health/service/csharp_client/error').set(auth).send({ message: 'x', critical: true });
    expect(fixture.manager.service('csharp_client')?.critical).toBe(true);
    expect((await request(server).get('/api/health/ready')).status).toBe(503);
  });

  it('leave after auto_register_ttl seconds without a pulse, and free their place', async () => {
    const server = app({ auto_register: true, max_services: 1, auto_register_ttl: 3600 });
    expect((await pulse(server, 'a')).status).toBe(204);
    fixture.clock.advance(3_000_000);
    expect((await pulse(server, 'a')).status).toBe(204); // a pulse starts the wait over
    fixture.clock.advance(3_000_000);
    expect(fixture.manager.tags()).toContain('a');
    expect((await pulse(server, 'b')).status).toBe(429);
    fixture.clock.advance(601_000 + 1000);
    expect(fixture.manager.tags()).toEqual(['csharp_client']);
    expect(fixture.manager.service('a')).toBeUndefined();
    expect(await fixture.registry.metrics()).not.toContain('service="a"');
    expect((await pulse(server, 'b')).status).toBe(204);
    // A configured service never expires, pulsed or not.
    fixture.clock.advance(10 * 3_600_000);
    expect(fixture.manager.tags()).toEqual(['csharp_client']);
  });

  it('leave after 7 days without a pulse by default', async () => {
    const server = app({ auto_register: true });
    await pulse(server, 'a');
    fixture.clock.advance(7 * DAY - 60_000);
    expect(fixture.manager.service('a')).toBeDefined();
    fixture.clock.advance(2 * 60_000);
    expect(fixture.manager.service('a')).toBeUndefined();
  });

  it('wait out a ttl longer than a Node timer can (24.8 days) without leaving early', async () => {
    // A single setTimeout of 30 days overflows and fires after 1 ms (jest's fake timers do the same).
    const server = app({ auto_register: true, auto_register_ttl: 30 * 86_400 });
    await pulse(server, 'a');
    fixture.clock.advance(29 * DAY);
    expect(fixture.manager.service('a')).toBeDefined();
    fixture.clock.advance(DAY + 3_600_000);
    expect(fixture.manager.service('a')).toBeUndefined();
  });

  it('leave no timer once none is left, or once the manager closes', async () => {
    fixture = createApp({ remote_token: TOKEN, auto_register: true, auto_register_ttl: 3600 });
    const server = fixture.app;
    expect(jest.getTimerCount()).toBe(0);
    await pulse(server, 'a');
    fixture.clock.advance(3_600_000 + 1000);
    expect(fixture.manager.service('a')).toBeUndefined();
    expect(jest.getTimerCount()).toBe(0);
    await pulse(server, 'b');
    void fixture.manager.close();
    expect(jest.getTimerCount()).toBe(0);
  });

  describe('DELETE /api/health/service/{name}', () => {
    const remove = (server: AppFixture['app'], name: string) => request(server).delete(`/api/health/service/${name}`).set(auth);

    it('removes one a remote call registered, 204, and frees its place', async () => {
      const server = app({ auto_register: true, max_services: 1 });
      await pulse(server, 'save-worker');
      const response = await remove(server, 'save-worker');
      expect(response.status).toBe(204);
      expect(response.text).toBe('');
      expect(fixture.manager.service('save-worker')).toBeUndefined();
      expect(fixture.manager.tags()).toEqual(['csharp_client']);
      expect((await remove(server, 'save-worker')).status).toBe(404);
      // Its place is free, and a later pulse registers it again.
      expect((await pulse(server, 'save_worker')).status).toBe(204);
    });

    it('answers 409 for a configured service, naming why, and keeps it', async () => {
      const server = app({ auto_register: true });
      await pulse(server, 'csharp_client');
      const response = await remove(server, 'csharp_client');
      expect(response.status).toBe(409);
      expect(response.body).toEqual({
        error:
          'Service "csharp_client" is listed in the heartbeat config\'s services, so it cannot be deleted over HTTP; remove it from the config instead.',
        service: 'csharp_client',
      });
      expect(fixture.manager.service('csharp_client')?.active).toBe(true);
    });

    it('answers 409 for a service of the server itself, naming why, and keeps it', async () => {
      const server = app({ auto_register: true });
      fixture.manager.heartbeat({ tag: 'local_worker', interval: 30 }).start();
      const response = await remove(server, 'local_worker');
      expect(response.status).toBe(409);
      expect(response.body).toEqual({
        error:
          'Service "local_worker" runs in this server\'s own code, not registered by a remote call, so it cannot be deleted over HTTP; its code stops it with heartbeat.stop().',
        service: 'local_worker',
      });
      expect(fixture.manager.get('local_worker')?.isActive).toBe(true);
    });

    it('answers 409 for a name the server took back after a remote call registered it', async () => {
      const server = app({ auto_register: true });
      await pulse(server, 'shared');
      fixture.manager.get('shared')?.stop();
      fixture.manager.heartbeat({ tag: 'shared', interval: 30 }).start();
      expect((await remove(server, 'shared')).status).toBe(409);
      expect(fixture.manager.get('shared')?.isActive).toBe(true);
    });

    it('answers 404 for an unknown name', async () => {
      const response = await remove(app({ auto_register: true }), 'nope');
      expect(response.status).toBe(404);
      expect(response.body).toEqual({ error: 'No service named "nope" is monitored.', service: 'nope' });
    });

    it.each([
      ['no header', {}, 'Authentication required: send Authorization: Bearer <token>.'],
      ['a wrong token', { Authorization: 'Bearer wrong-token-0123456789abcdef' }, 'The bearer token is not valid.'],
    ])('answers %s with 401, as the other remote endpoints do, and removes nothing', async (_label, headers, error) => {
      const server = app({ auto_register: true });
      await pulse(server, 'a');
      const response = await request(server)
        .delete('/api/health/service/a')
        .set(headers as Record<string, string>);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="heartbeat"');
      expect(response.body).toEqual({ error });
      const inQuery = await request(server).delete(`/api/health/service/a?token=${TOKEN}`);
      expect(inQuery.status).toBe(401);
      expect(fixture.manager.service('a')).toBeDefined();
    });

    it('answers 404 while remote heartbeats are off', async () => {
      fixture = createApp({ services: { csharp_client: { interval: 30 } } });
      const response = await request(fixture.app).delete('/api/health/service/csharp_client').set(auth);
      expect(response.status).toBe(404);
      expect(response.body).toEqual({
        error: 'Remote heartbeats are off on this server: set remote_token in its heartbeat config to turn them on.',
        endpoints: [],
      });
    });

    it('is named in the Allow header of the service path', async () => {
      const response = await request(app()).put('/api/health/service/csharp_client');
      expect(response.status).toBe(405);
      expect(response.headers.allow).toBe('GET, HEAD, DELETE');
    });
  });
});

describe('bad input', () => {
  const cases: Array<[string, string, (r: request.Test) => request.Test, number, string]> = [
    [
      'a body over 4 KB',
      'error',
      (r) => r.set('Content-Type', 'application/json').send(JSON.stringify({ message: 'x'.repeat(5000) })),
      413,
      'The body is over 4096 bytes.',
    ],
    [
      'invalid JSON',
      'error',
      (r) => r.set('Content-Type', 'application/json').send('{"message": '),
      400,
      'The body is not valid JSON (an object is expected).',
    ],
    ['a JSON array', 'error', (r) => r.send([1, 2]), 400, 'The body must be a JSON object: { "message": "…", "critical": false }.'],
    [
      'a JSON string',
      'error',
      (r) => r.set('Content-Type', 'application/json').send('"hello"'),
      400,
      'The body is not valid JSON (an object is expected).',
    ],
    ['a missing message', 'error', (r) => r.send({ critical: true }), 400, '"message" must be a non-empty string.'],
    ['a numeric message', 'error', (r) => r.send({ message: 42 }), 400, '"message" must be a non-empty string.'],
    ['a string critical', 'error', (r) => r.send({ message: 'x', critical: 'yes' }), 400, '"critical" must be true or false.'],
    [
      'form data',
      'error',
      (r) => r.type('form').send('message=x'),
      415,
      'Send the error as JSON: Content-Type: application/json, body { "message": "…" }.',
    ],
    [
      'a text pulse body',
      'pulse',
      (r) => r.type('text').send('hello'),
      415,
      'A pulse body must be JSON (Content-Type: application/json), or empty.',
    ],
    [
      'metrics that are not an object',
      'pulse',
      (r) => r.send({ metrics: [1] }),
      400,
      '"metrics" must be an object of numbers, e.g. { "metrics": { "queue_depth": 12 } }.',
    ],
    [
      'a JSON array pulse body',
      'pulse',
      (r) => r.send([1, 2]),
      400,
      'A pulse body must be a JSON object, e.g. { "metrics": { "queue_depth": 12 } }, or empty.',
    ],
    [
      'a metric that is not a number',
      'pulse',
      (r) => r.send({ metrics: { queue_depth: 'x' } }),
      400,
      'Metric "queue_depth" must be a finite number.',
    ],
    [
      'a metric with a bad name',
      'pulse',
      (r) => r.send({ metrics: { 'a b': 1 } }),
      400,
      'Metric name "a b" is not valid; use letters, digits and _, starting with a letter or _ (e.g. queue_depth).',
    ],
    [
      'too many metrics',
      'pulse',
      (r) => r.send({ metrics: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`m${i}`, i])) }),
      400,
      '"metrics" has 21 names; at most 20 are kept per service.',
    ],
  ];

  it.each(cases)('answers %s with a clear JSON error and changes nothing', async (_label, kind, build, status, error) => {
    const server = app();
    const response = await build(request(server).post(`/api/health/service/csharp_client/${kind}`).set(auth));
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body.error).toBe(error);
    expect(fixture.manager.service('csharp_client')).toMatchObject({ total_pulses: 0, error_count: 0 });
  });

  it('truncates a long message to 1 KB and keeps it as text', async () => {
    const server = app();
    await request(server)
      .post('/api/health/service/csharp_client/error')
      .set(auth)
      .send({ message: `<b>${'y'.repeat(3000)}` });
    const message = fixture.manager.service('csharp_client')?.last_error?.message as string;
    expect(message.length).toBe(1025);
    expect(message.startsWith('<b>yyy')).toBe(true);
  });

  it('answers a GET on a remote path with 405', async () => {
    const response = await request(app()).get('/api/health/service/csharp_client/pulse');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('POST');
  });
});

it('counts every one of many concurrent pulses', async () => {
  const server = app({ auto_register: true });
  const listening = server.listen(0, '127.0.0.1');
  await new Promise((resolve) => listening.once('listening', resolve));
  const { port } = listening.address() as { port: number };
  const base = `http://127.0.0.1:${port}`;
  const sends = Array.from({ length: 300 }, (_, i) =>
    fetch(`${base}/api/health/service/${i % 2 ? 'csharp_client' : 'other'}/pulse`, { method: 'POST', headers: auth }).then((r) => r.status),
  );
  const statuses = await Promise.all(sends);
  listening.closeAllConnections();
  await new Promise((resolve) => listening.close(resolve));
  expect(statuses.every((status) => status === 204)).toBe(true);
  expect(fixture.manager.service('csharp_client')?.total_pulses).toBe(150);
  expect(fixture.manager.service('other')?.total_pulses).toBe(150);
});

describe('the remote_token', () => {
  it.each([
    ['that is too short', 'short', 'it is shorter than 16 characters'],
    ['with a space', 'has spaces in the secret value', 'character 4 is a space or line break'],
    ['with a tab', 'tab-0123456789\tabcdef', 'character 15 is a space or line break'],
    ['with a non-breaking space', 'nbsp-0123456789\u00a0abcdef', 'character 16 is a space or line break'],
    ['with a letter outside ASCII', 'pässwort-0123456789abcdef', 'character 2 is not ASCII'],
    ['with an emoji', 'token-\u{1F511}-0123456789abcdef', 'character 7 is not ASCII'],
    ['with DEL', 'token-0123456789\x7Fabcdef', 'character 17 is a control character'],
    ['with NUL', '\0token-0123456789abcdef', 'character 1 is a control character'],
    ['that is not a string', 1234567890123456, 'it is not a string'],
  ])('refuses a token %s at startup, saying why without echoing it', (_label, token, problem) => {
    let thrown: unknown;
    try {
      createApp({ remote_token: token as string });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).key).toBe('remote_token');
    expect((thrown as ConfigError).message).toBe(
      `Invalid heartbeat config: "remote_token" is not valid: ${problem}; expected at least 16 printable ASCII characters (! to ~, no spaces), e.g. from \`openssl rand -hex 32\`.`,
    );
  });

  it('takes every printable ASCII character, and a client sends it as it is', async () => {
    const token = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
    expect(token.startsWith('!"#') && token.endsWith('|}~')).toBe(true);
    fixture = createApp({ remote_token: token, services: { csharp_client: { interval: 30 } } });
    const response = await request(fixture.app).post('/api/health/service/csharp_client/pulse').set('Authorization', `Bearer ${token}`);
    expect(response.status).toBe(204);
  });
});

it('answers 503 once the manager is closed, instead of failing', async () => {
  const server = app();
  void fixture.manager.close();
  const response = await request(server).post('/api/health/service/csharp_client/pulse').set(auth);
  expect(response.status).toBe(503);
  expect(response.body.error).toBe('The heartbeat manager is closed: the server is shutting down.');
});

it('answers a body that does not decompress with a clear 400', async () => {
  const response = await request(app())
    .post('/api/health/service/csharp_client/error')
    .set(auth)
    .set('Content-Type', 'application/json')
    .set('Content-Encoding', 'gzip')
    .send('{"message":"not gzip"}');
  expect(response.status).toBe(400);
  expect(response.body.error).toBe('The body could not be read: send it as plain UTF-8 JSON.');
});

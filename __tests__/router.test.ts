import fs, { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { connect, type AddressInfo } from 'node:net';
import request from 'supertest';
import { healthRouter } from '../lib/http/router';
import { HeartbeatManager } from '../lib/core/manager';
import { ConfigError } from '../lib/util/validate';
import { HIDDEN_STORE_ERROR, withoutDirectories } from '../lib/http/store-view';
import { fileStore } from '../lib/store';
import { createApp, type AppFixture } from './helpers/app';
import { createTestClock } from './helpers/clock';
import { closeManagers, trackManager } from './helpers/managers';
import { learningTrend } from './helpers/drift';

let fixture: AppFixture;

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
});
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

function expectJsonNoStore(response: request.Response): void {
  expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(response.headers['cache-control']).toBe('no-store');
}

describe('GET /api/health/status', () => {
  it('returns the seed body with 200 while healthy', async () => {
    fixture = createApp({ services: { save_worker: { interval: 30 }, web_listener: { interval: 20, critical: false } } });
    fixture.manager.heartbeat({ tag: 'save_worker' }).start();
    const response = await request(fixture.app).get('/api/health/status');
    expect(response.status).toBe(200);
    expectJsonNoStore(response);
    expect(response.body).toEqual({
      services: {
        save_worker: {
          status: 'healthy',
          last_heartbeat: new Date(fixture.clock.wallNow()).toISOString(),
          interval: 30,
          consecutive_failures: 0,
          critical: true,
          active: true,
        },
        web_listener: { status: 'healthy', last_heartbeat: null, interval: 20, consecutive_failures: 0, critical: false, active: false },
      },
      overall_status: 'healthy',
    });
  });

  it('answers 503 with the same body while critical, and the code is configurable', async () => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
    fixture.clock.advance(5200);
    const response = await request(fixture.app).get('/api/health/status');
    expect(response.status).toBe(503);
    expectJsonNoStore(response);
    expect(response.body.overall_status).toBe('critical');
    expect(response.body.services.w).toMatchObject({ status: 'critical', consecutive_failures: 5 });

    const lenient = createApp({}, { criticalStatusCode: 200 });
    lenient.manager.heartbeat({ tag: 'w', interval: 1 }).error('boom', { critical: true });
    expect((await request(lenient.app).get('/api/health/status')).status).toBe(200);
    void lenient.manager.close();
  });

  it('answers 200 for degraded', async () => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
    fixture.clock.advance(3200);
    const response = await request(fixture.app).get('/api/health/status');
    expect([response.status, response.body.overall_status]).toEqual([200, 'degraded']);
  });
});

describe('GET /api/health/service/{name}', () => {
  it('returns the seed body with extras', async () => {
    fixture = createApp();
    const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    fixture.clock.advance(42_000);
    heartbeat.pulse();
    heartbeat.error('disk full');
    const response = await request(fixture.app).get('/api/health/service/save_worker');
    expect(response.status).toBe(200);
    expectJsonNoStore(response);
    expect(response.body).toEqual({
      service: 'save_worker',
      status: 'warning',
      last_heartbeat: new Date(fixture.clock.wallNow()).toISOString(),
      uptime: '42s',
      started_at: new Date(fixture.clock.wallNow() - 42_000).toISOString(),
      total_pulses: 1,
      error_count: 1,
      interval: 30,
      consecutive_failures: 1,
      critical: true,
      group: null,
      active: true,
      last_error: { message: 'disk full', time: new Date(fixture.clock.wallNow()).toISOString(), critical: false },
      metrics: {},
      run: { state: 'idle', started_at: null, last_duration_seconds: null, last_exit_code: null, runtime_anomaly: null },
      paused: null,
      suppressed_by: null,
      trend: learningTrend(0),
    });
  });

  it('finds a name that needs percent-encoding', async () => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'a/b c?', interval: 30 }).start();
    const response = await request(fixture.app).get(`/api/health/service/${encodeURIComponent('a/b c?')}`);
    expect([response.status, response.body.service]).toEqual([200, 'a/b c?']);
  });

  const unknown: [string, string, string][] = [
    ['a plain unknown name', 'nope', 'nope'],
    ['__proto__', '__proto__', '__proto__'],
    ['constructor', 'constructor', 'constructor'],
    ['toString', 'toString', 'toString'],
    ['hasOwnProperty', 'hasOwnProperty', 'hasOwnProperty'],
    ['an encoded __proto__', '%5F%5Fproto%5F%5F', '__proto__'],
    ['a NUL byte', '%00', '\u0000'],
    ['malformed percent-encoding', '%E0%A4%A', '%E0%A4%A'],
    ['a lone percent sign', '%', '%'],
    ['invalid UTF-8', '%FF%FE', '%FF%FE'],
    ['10,000 characters', 'x'.repeat(10_000), 'x'.repeat(10_000)],
    ['unicode', encodeURIComponent('сервис💥'), 'сервис💥'],
  ];

  it.each(unknown)('answers 404 JSON for %s, never a prototype lookup', async (_label, path, name) => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const response = await request(fixture.app).get(`/api/health/service/${path}`);
    expect(response.status).toBe(404);
    expectJsonNoStore(response);
    expect(response.body).toEqual({ error: `No service named ${JSON.stringify(name)} is monitored.`, service: name });
  });
});

describe('probes', () => {
  it('live answers 200 while the process answers', async () => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'w', interval: 1 }).error('x', { critical: true });
    const response = await request(fixture.app).get('/api/health/live');
    // No store given: nothing is saved, and /live says so.
    expect([response.status, response.body]).toEqual([
      200,
      {
        status: 'ok',
        event_loop_lag_seconds: 0,
        stalls: 0,
        last_stall: null,
        store: { state: 'memory', last_error: null, errors: 0, last_write: null },
      },
    ]);
    expectJsonNoStore(response);
  });

  describe("live's store", () => {
    const TOKEN = 'live-token-0123456789abcdef';
    let dir = '';
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'heartbeat-live-'));
    });
    afterEach(() => {
      closeManagers();
      jest.restoreAllMocks();
      rmSync(dir, { recursive: true, force: true });
    });

    /** An app on a file store whose next journal sync fails as a failing disk's does, naming the file with its directory. */
    function failingStore(details: 'always' | 'when-authorized') {
      const clock = createTestClock();
      const manager = trackManager(
        new HeartbeatManager({ clock, config: { log_level: 'silent', remote_token: TOKEN }, store: fileStore({ dir }) }),
      );
      const app = express().use(healthRouter({ manager, registry: new Registry(), details }));
      const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
      // EIO cannot be caused for real; the message is Node's own shape for it.
      jest.spyOn(fs, 'fdatasyncSync').mockImplementationOnce(() => {
        throw Object.assign(new Error(`EIO: i/o error, fdatasync '${join(dir, 'journal-1.log')}'`), { code: 'EIO' });
      });
      worker.error('disk full'); // a status change, saved before it is announced: the sync fails
      expect(manager.storeHealth()).toMatchObject({ state: 'degraded', errors: 1, lastError: expect.stringContaining(dir) as string });
      return app;
    }

    it('stays 200 while degraded, naming the failed file but not its directory', async () => {
      const response = await request(failingStore('always')).get('/api/health/live');
      expect(response.status).toBe(200);
      expect(response.body.store).toEqual({
        state: 'degraded',
        last_error: "EIO: i/o error, fdatasync 'journal-1.log'",
        errors: 1,
        last_write: null,
      });
      expect(response.text).not.toContain(dir);
    });

    it('shows the failure only to callers the details policy admits', async () => {
      const app = failingStore('when-authorized');
      const anonymous = await request(app).get('/api/health/live');
      expect([anonymous.status, anonymous.body.store]).toEqual([
        200,
        { state: 'degraded', last_error: HIDDEN_STORE_ERROR, errors: 1, last_write: null },
      ]);
      const admitted = await request(app).get('/api/health/live').set('Authorization', `Bearer ${TOKEN}`);
      expect(admitted.body.store.last_error).toBe("EIO: i/o error, fdatasync 'journal-1.log'");
    });

    it.each([
      ["EACCES: permission denied, open '/var/lib/app/.heartbeat/state.json.tmp'", "EACCES: permission denied, open 'state.json.tmp'"],
      [
        "EXDEV: cross-device link not permitted, rename '/a/b/c.tmp' -> '/a/b/c'",
        "EXDEV: cross-device link not permitted, rename 'c.tmp' -> 'c'",
      ],
      ["EROFS: read-only file system, open 'C:\\data\\heartbeat\\journal-2.log'", "EROFS: read-only file system, open 'journal-2.log'"],
      ['state directory /srv/app/state: listing failed', 'state directory state: listing failed'],
      ['ENOSPC: no space left on device, write', 'ENOSPC: no space left on device, write'],
      ["EIO: i/o error, write 'journal-1.log'", "EIO: i/o error, write 'journal-1.log'"],
    ])('cuts every path in %j to its file name', (message, shown) => {
      expect(withoutDirectories(message)).toBe(shown);
    });
  });

  it('ready answers 503 only when a critical service is critical', async () => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'core', interval: 100 }).start();
    const optional = fixture.manager.heartbeat({ tag: 'optional', interval: 100, critical: false });
    optional.error('x', { critical: true });
    let response = await request(fixture.app).get('/api/health/ready');
    expect([response.status, response.body]).toEqual([200, { status: 'ready', overall_status: 'degraded', failing: [] }]);

    fixture.manager.get('core')?.error('down', { critical: true });
    response = await request(fixture.app).get('/api/health/ready');
    expect([response.status, response.body]).toEqual([503, { status: 'not_ready', overall_status: 'critical', failing: ['core'] }]);
  });

  it('ready answers 503 when the system is offline', async () => {
    fixture = createApp({ enabled: false });
    const response = await request(fixture.app).get('/api/health/ready');
    expect([response.status, response.body]).toEqual([503, { status: 'not_ready', overall_status: 'offline', failing: [] }]);
  });
});

describe('everything else', () => {
  it('answers a wrong method with 405 JSON and Allow', async () => {
    fixture = createApp();
    for (const path of ['/api/health/status', '/api/health/service/x', '/api/health/live', '/api/health/ready', '/metrics']) {
      // A service also takes DELETE (remote services are deleted there).
      const allowed = path === '/api/health/service/x' ? 'GET, HEAD, DELETE' : 'GET, HEAD';
      const response = await request(fixture.app).post(path);
      expect(response.status).toBe(405);
      expect(response.headers.allow).toBe(allowed);
      expectJsonNoStore(response);
      expect(response.body.error).toBe(`Method POST is not allowed here; use ${allowed}.`);
    }
  });

  it('answers an unknown path under the base path with 404 JSON', async () => {
    fixture = createApp();
    const response = await request(fixture.app).get('/api/health/nope?x=1');
    expect(response.status).toBe(404);
    expectJsonNoStore(response);
    expect(response.body.error).toBe('No health endpoint at GET /api/health/nope.');
  });

  it('answers a malformed URL under the base path with 400 JSON, no stack', async () => {
    fixture = createApp();
    const response = await request(fixture.app).get('/api/health/%E0%A4%A');
    expect([400, 404]).toContain(response.status);
    expectJsonNoStore(response);
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.js|node_modules/);
  });

  it('leaves the app routes alone', async () => {
    fixture = createApp();
    const response = await request(fixture.app).get('/app-route');
    expect([response.status, response.text]).toEqual([200, 'the app answers']);
  });

  it('answers its own paths as Express matches them, and passes every other path to the app', async () => {
    fixture = createApp({}, { uiPath: '/dashboard' });
    fixture.app.get(/.*/, (req, res) => {
      res.send(`app: ${req.path}`);
    });
    const ours = [
      '/API/Health/status',
      '/api/health/status/',
      '/api/health/status?x=1',
      '/api/health',
      '/api/health?x',
      '/METRICS',
      '/metrics/',
      '/metrics?name[]=x',
      '/dashboard/',
      '/Dashboard?theme=dark',
    ];
    for (const path of ours) {
      const response = await request(fixture.app).get(path);
      expect([path, response.text.startsWith('app:')]).toEqual([path, false]);
    }
    for (const path of ['/api/healthz', '/api/health-check/status', '/metricsx', '/metrics/extra', '/dashboardx', '/ap', '/']) {
      const response = await request(fixture.app).get(path);
      expect([path, response.text]).toEqual([path, `app: ${path}`]);
    }
  });

  it('answers an absolute-form request target, as a proxy sends it', async () => {
    fixture = createApp();
    const server = fixture.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end(`GET http://127.0.0.1:${port}/api/health/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
        });
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('end', () => {
          resolve(text);
        });
        socket.on('error', reject);
      });
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('serves under a custom base path', async () => {
    fixture = createApp({}, { basePath: '/health' });
    expect((await request(fixture.app).get('/health/status')).status).toBe(200);
    expect((await request(fixture.app).get('/api/health/status')).status).toBe(404);
  });

  it('lists the paths a client calls when the app mounts the router under a prefix', async () => {
    const manager = trackManager(
      new HeartbeatManager({ config: { log_level: 'silent', remote_token: 'prefix-token-0123456789' }, clock: createTestClock() }),
    );
    manager.heartbeat({ tag: 'w', interval: 30 }).start();
    const app = express();
    app.use('/ops', healthRouter({ manager, registry: new Registry(), basePath: '/health', uiPath: '/dashboard' }));
    const response = await request(app).get('/ops/health/nope');
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('No health endpoint at GET /ops/health/nope.');
    expect([...response.body.endpoints].sort()).toEqual([
      '/ops/dashboard',
      '/ops/health',
      '/ops/health/badge.svg',
      '/ops/health/badge/{name}.svg',
      '/ops/health/export',
      '/ops/health/live',
      '/ops/health/ready',
      '/ops/health/service/{name}',
      '/ops/health/service/{name}/error',
      '/ops/health/service/{name}/exit/{code}',
      '/ops/health/service/{name}/fail',
      '/ops/health/service/{name}/history',
      '/ops/health/service/{name}/pause',
      '/ops/health/service/{name}/pulse',
      '/ops/health/service/{name}/resume',
      '/ops/health/service/{name}/start',
      '/ops/health/status',
      '/ops/health/stream',
    ]);
    expect((await request(app).get('/ops/health/')).body.endpoints).toEqual(response.body.endpoints);
    // Each one is really there: called as listed, none answers the unknown-path 404.
    for (const path of response.body.endpoints as string[]) {
      if (path.endsWith('/stream')) continue; // it stays open; the page below finds it under the prefix
      const url = path.replace('{name}', 'w').replace('{code}', '0');
      const auth = { Authorization: 'Bearer prefix-token-0123456789' };
      const posted = /\/(pulse|start|fail|exit\/0|pause|resume)$/.test(url);
      const answer = url.endsWith('/error')
        ? await request(app).post(url).set(auth).send({ message: 'probe' })
        : posted
          ? await request(app).post(url).set(auth)
          : await request(app).get(url).set(auth);
      expect([url, answer.status < 300]).toEqual([url, true]);
    }
    const wrongMethod = await request(app).delete('/ops/health/status');
    expect([wrongMethod.status, wrongMethod.body.path]).toEqual([405, '/ops/health/status']);
    const page = await request(app).get('/ops/dashboard');
    expect(page.text).toContain('data-stream="/ops/health/stream"');
  });

  it('attaches the manager it serves', () => {
    fixture = createApp();
    const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
    expect(healthRouter({ manager, metrics: false }).manager).toBe(manager);
    void manager.close();
  });

  it.each([
    ['basePath', { basePath: 'api/health' }],
    ['basePath', { basePath: '/api/:health' }],
    ['basePath', { basePath: '/api/health/' }],
    ['metrics', { metrics: 'yes' }],
    ['metricsPrefix', { metricsPrefix: '9bad_' }],
    ['metricsPrefix', { metricsPrefix: 'has space_' }],
    ['metricsPrefix', { metricsPrefix: '' }],
    ['metricsPrefix', { metricsPrefix: null }],
    ['metricsPrefix', { metricsPrefix: 42 }],
    ['criticalStatusCode', { criticalStatusCode: 42 }],
    ['criticalStatusCode', { criticalStatusCode: '503' }],
    ['manager', { manager: {} }],
    ['basepath', { basepath: '/x' }],
  ])('rejects a bad %s at construction', (key, options) => {
    expect(() => healthRouter(options as never)).toThrow(ConfigError);
    expect(() => healthRouter(options as never)).toThrow(`"${key}"`);
  });
});

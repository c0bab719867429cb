// Bridge servers in the field still run Express 4: the router and the middleware must work there.
import express4 from 'express4';
import { Registry } from 'prom-client';
import request from 'supertest';
import { pulseMiddleware } from '../lib/http/middleware';
import { healthRouter } from '../lib/http/router';
import { useQuietManager } from './helpers/manager';

const quietManager = useQuietManager();

it('runs on Express 4', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a package.json is read as data, not imported as a module
  expect((require('express4/package.json') as { version: string }).version).toMatch(/^4\./);
});

it('serves every endpoint from an Express 4 app', async () => {
  const manager = quietManager();
  const registry = new Registry();
  const heartbeat = manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
  const app = express4();
  app.use(pulseMiddleware(heartbeat));
  app.use(healthRouter({ manager, registry }));

  const status = await request(app).get('/api/health/status');
  expect(status.status).toBe(200);
  expect(status.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(status.headers['cache-control']).toBe('no-store');
  expect(status.body.services.flask_bridge).toMatchObject({ status: 'healthy', interval: 15 });

  const service = await request(app).get('/api/health/service/flask_bridge');
  expect(service.body).toMatchObject({ service: 'flask_bridge', total_pulses: 2 });

  for (const name of ['__proto__', 'constructor', '%E0%A4%A', '%FF']) {
    const missing = await request(app).get(`/api/health/service/${name}`);
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');
  }

  expect((await request(app).get('/api/health/ready')).status).toBe(200);
  expect((await request(app).get('/api/health/live')).body).toMatchObject({ status: 'ok' });
  expect((await request(app).delete('/api/health/status')).status).toBe(405);
  expect((await request(app).get('/api/health/unknown')).status).toBe(404);

  const metrics = await request(app).get('/metrics');
  expect(metrics.headers['content-type']).toBe(registry.contentType);
  expect(metrics.text).toContain('heartbeat_pulses_total{service="flask_bridge"}');
});

it('lists the paths a client calls, and finds the stream, when the app mounts the router under a prefix', async () => {
  const app = express4();
  app.use('/ops', healthRouter({ manager: quietManager(), registry: new Registry() }));
  const expected = [
    '/ops/api/health',
    '/ops/api/health/status',
    '/ops/api/health/service/{name}',
    '/ops/api/health/service/{name}/history',
    '/ops/api/health/export',
    '/ops/api/health/live',
    '/ops/api/health/ready',
    '/ops/api/health/badge.svg',
    '/ops/api/health/badge/{name}.svg',
    '/ops/api/health/stream',
    '/ops/api/health/ui',
  ];
  for (const path of ['/ops/api/health/nope', '/ops/api/health/', '/OPS/api/health/nope']) {
    const response = await request(app).get(path);
    expect([path, response.status, response.body.endpoints]).toEqual([
      path,
      404,
      path.startsWith('/OPS') ? expected.map((endpoint) => endpoint.replace('/ops', '/OPS')) : expected,
    ]);
  }
  expect((await request(app).get('/ops/api/health/ui')).text).toContain('data-stream="/ops/api/health/stream"');
});

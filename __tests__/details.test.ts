import request from 'supertest';
import { Registry } from 'prom-client';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter } from '../lib/http/router';
import { createApp, type AppFixture } from './helpers/app';
import { openStream } from './helpers/sse';
import { closeManagers } from './helpers/managers';

const TOKEN = 'details-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };
let fixture: AppFixture;

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

function setup(details: 'always' | 'when-authorized' | 'never') {
  fixture = createApp({ remote_token: TOKEN }, { details });
  fixture.manager
    .heartbeat({ tag: 'save_worker', interval: 30, critical: true })
    .error('password=hunter2 in /srv/app.js', { critical: true });
  return fixture.app;
}

it('shows everything by default, as the seed clients expect', async () => {
  const app = setup('always');
  const response = await request(app).get('/api/health/status');
  expect(response.body.services.save_worker).toMatchObject({ status: 'critical', interval: 30, consecutive_failures: 1 });
});

describe.each(['when-authorized', 'never'] as const)('details: %s', (policy) => {
  it('gives callers without the token status words only', async () => {
    const app = setup(policy);
    const status = await request(app).get('/api/health/status');
    expect(status.status).toBe(503);
    expect(status.body).toEqual({ services: { save_worker: { status: 'critical' } }, overall_status: 'critical' });
    const service = await request(app).get('/api/health/service/save_worker');
    expect(service.body).toEqual({ service: 'save_worker', status: 'critical', paused: false, group: null, at_risk: false });
    const ready = await request(app).get('/api/health/ready');
    expect(ready.body).toEqual({ status: 'not_ready', overall_status: 'critical', failing: [] });
    for (const path of ['/api/health/service/save_worker/history', '/api/health/export', '/api/health/export?format=csv']) {
      const refused = await request(app).get(path);
      expect(refused.status).toBe(policy === 'never' ? 403 : 401);
      expect(refused.text).not.toContain('hunter2');
    }
  });

  it('keeps error messages out of the stream too', async () => {
    const app = setup(policy);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const client = await openStream(`http://127.0.0.1:${port}/api/health/stream`);
    await client.waitFor(1, 'snapshot');
    fixture.manager.get('save_worker')?.pulse();
    fixture.manager.get('save_worker')?.error('second secret: hunter3');
    await client.waitFor(1, 'status');
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    expect(JSON.parse(client.events[0]?.data as string)).toMatchObject({ services: [{ service: 'save_worker', status: 'critical' }] });
    expect(client.raw()).not.toMatch(/hunter|last_error|reason/);
  });
});

it('gives callers without details the pause flag, in bodies and in the snapshot of a stream opened during the pause', async () => {
  const app = setup('never');
  fixture.manager.pause('save_worker', { reason: 'secret migration of hunter2' });
  const service = await request(app).get('/api/health/service/save_worker');
  expect(service.body).toEqual({ service: 'save_worker', status: 'critical', paused: true, group: null, at_risk: false });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  const client = await openStream(`http://127.0.0.1:${port}/api/health/stream`);
  await client.waitFor(1, 'snapshot');
  client.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  expect(JSON.parse(client.events[0]?.data as string)).toMatchObject({ services: [{ service: 'save_worker', paused: true }] });
  expect(client.raw()).not.toMatch(/hunter|migration/);
});

it('gives a stream without the token the current status words only: no change, no time, no pulse', async () => {
  const app = setup('when-authorized');
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  const anonymous = await openStream(`http://127.0.0.1:${port}/api/health/stream`);
  const authorized = await openStream(`http://127.0.0.1:${port}/api/health/stream`, auth);
  await anonymous.waitFor(1, 'snapshot');
  await authorized.waitFor(1, 'snapshot');
  const worker = fixture.manager.get('save_worker');
  worker?.pulse(); // recovers save_worker, and is the next pulse batch
  fixture.clock.advance(250);
  await authorized.waitFor(1, 'pulse');
  worker?.error('x'); // after the batch: anything sent before it has arrived once this has
  const statuses = await anonymous.waitFor(2, 'status');
  await authorized.waitFor(2, 'status');
  anonymous.close();
  authorized.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));

  expect(anonymous.events.map((event) => event.event)).toEqual(['snapshot', 'status', 'status']);
  expect(statuses.map((event) => JSON.parse(event.data))).toEqual([
    { service: 'save_worker', status: 'healthy', overall_status: 'healthy' },
    { service: 'save_worker', status: 'warning', overall_status: 'warning' },
  ]);
  // The same changes, with their history, for the token holder.
  expect(JSON.parse(authorized.events.filter((event) => event.event === 'status')[0]?.data as string)).toMatchObject({
    from: 'critical',
    to: 'healthy',
    time: expect.any(String),
  });
});

it('shows details to a caller with the token under when-authorized', async () => {
  const app = setup('when-authorized');
  const status = await request(app).get('/api/health/status').set(auth);
  expect(status.body.services.save_worker).toMatchObject({ status: 'critical', consecutive_failures: 1 });
  const history = await request(app).get('/api/health/service/save_worker/history').set(auth);
  expect(history.status).toBe(200);
  expect(history.body.transitions[0].reason).toContain('hunter2');
  const wrong = await request(app).get('/api/health/service/save_worker').set({ Authorization: 'Bearer nope' });
  expect(wrong.body).toEqual({ service: 'save_worker', status: 'critical', paused: false, group: null, at_risk: false });
});

it('hides details from everyone under never, token or not', async () => {
  const app = setup('never');
  const status = await request(app).get('/api/health/service/save_worker').set(auth);
  expect(status.body).toEqual({ service: 'save_worker', status: 'critical', paused: false, group: null, at_risk: false });
});

it('refuses when-authorized without a token to check against', () => {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  expect(() => healthRouter({ manager, registry: new Registry(), details: 'when-authorized' })).toThrow(
    '"details" is "when-authorized"; expected a remote_token in the heartbeat config',
  );
  expect(() => healthRouter({ manager, registry: new Registry(), details: 'sometimes' as never })).toThrow('"details" is "sometimes"');
  void manager.close();
});

import express from 'express';
import request from 'supertest';
import { pulseMiddleware } from '../lib/http/middleware';
import { HeartbeatManager } from '../lib/core/manager';
import { createTestClock } from './helpers/clock';
import { useQuietManager } from './helpers/manager';

const quietManager = useQuietManager();

it('pulses once per request, before the route runs', async () => {
  const manager = quietManager();
  const heartbeat = manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
  const app = express();
  app.use(pulseMiddleware(heartbeat));
  app.get('/work', (_req, res) => void res.json({ pulsesSeenByRoute: manager.service('flask_bridge')?.total_pulses }));
  for (let i = 1; i <= 3; i++) {
    const response = await request(app).get('/work');
    expect(response.body).toEqual({ pulsesSeenByRoute: i });
  }
  await request(app).get('/missing');
  expect(manager.service('flask_bridge')?.total_pulses).toBe(4);
});

it('brings a stalled bridge back to healthy on the next request', async () => {
  const clock = createTestClock();
  const local = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  const heartbeat = local.heartbeat({ tag: 'flask_bridge', interval: 1 }).start();
  const app = express()
    .use(pulseMiddleware(heartbeat))
    .get('/', (_req, res) => void res.send('ok'));
  clock.advance(3500);
  expect(local.status().services.flask_bridge?.status).toBe('degraded');
  await request(app).get('/');
  expect(local.status().services.flask_bridge?.status).toBe('healthy');
  void local.close();
});

it('exposes the heartbeat it pulses', () => {
  const heartbeat = quietManager().heartbeat({ tag: 'x', interval: 1 });
  expect(pulseMiddleware(heartbeat).heartbeat).toBe(heartbeat);
});

it.each([undefined, null, {}, 'flask_bridge'])('rejects %p with a clear error', (value) => {
  expect(() => pulseMiddleware(value as never)).toThrow('pulseMiddleware(heartbeat): expected a Heartbeat');
});

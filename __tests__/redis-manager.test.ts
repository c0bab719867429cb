// redisStore under a real HeartbeatManager: what the engine writes through it, a joining
// replica reads back. The HTTP layer and the alerts have tests of their own.
import express from 'express';
import request from 'supertest';
import { Registry } from 'prom-client';
import { createClient } from 'redis';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter } from '../lib/http/router';
import { redisStore } from '../lib/store/redis-store';
import { startRedis, type RedisServer } from './helpers/redis-server';
import { freshPrefix, waitFor } from './helpers/redis-stores';

const TOKEN = 'redis-manager-token-0123456789abcdef';
let redis: RedisServer;
const managers: HeartbeatManager[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.close()));
});
afterAll(async () => {
  await redis.stop();
});

async function replica(prefix: string): Promise<{ manager: HeartbeatManager; app: express.Express }> {
  const store = await redisStore({ url: redis.url, prefix, snapshotEveryMs: 1 });
  const manager = new HeartbeatManager({ config: { log_level: 'silent', remote_token: TOKEN, auto_register: true }, store });
  managers.push(manager);
  const app = express();
  app.use(healthRouter({ manager, registry: new Registry() }));
  return { manager, app };
}

async function totalPulses(app: express.Express, service: string): Promise<unknown> {
  const response = await request(app).get(`/api/health/service/${service}`);
  return (response.body as { total_pulses?: unknown }).total_pulses;
}

test("a replica that joins later starts from the leader's snapshot, with the same counters", async () => {
  const prefix = freshPrefix();
  const leader = await replica(prefix);
  const other = await replica(prefix);
  for (let index = 0; index < 20; index++) {
    const target = index % 2 === 0 ? leader : other;
    await request(target.app).post('/api/health/service/cron/pulse').set('Authorization', `Bearer ${TOKEN}`).expect(204);
  }
  await waitFor(
    '20 pulses on both',
    async () => (await totalPulses(leader.app, 'cron')) === 20 && (await totalPulses(other.app, 'cron')) === 20,
  );

  // Once the leader's snapshot covers the whole stream, the stream is emptied: from then on
  // only the snapshot can tell a joiner about those pulses.
  const admin = createClient({ url: redis.url });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    await waitFor('a snapshot through the last pulse', async () => {
      const last = (await admin.xRevRange(`${prefix}:signals`, '+', '-', { COUNT: 1 }))?.[0];
      const saved = JSON.parse((await admin.get(`${prefix}:snapshot`)) ?? 'null') as { stream_id: string } | null;
      return last !== undefined && saved?.stream_id === last.id;
    });
    await admin.xTrim(`${prefix}:signals`, 'MAXLEN', 0);
    expect(await admin.xLen(`${prefix}:signals`)).toBe(0);
  } finally {
    admin.destroy();
  }
  const joiner = await replica(prefix);
  await waitFor('the joiner to hold the snapshot', async () => (await totalPulses(joiner.app, 'cron')) === 20);
});

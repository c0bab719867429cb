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

jest.setTimeout(60_000);

test('under a steady stream of pulses the leader keeps saving its snapshot, and replicas that join mid-stream, or after the leader left, count every pulse once', async () => {
  const prefix = freshPrefix();
  const leader = await replica(prefix);
  const other = await replica(prefix);
  const admin = createClient({ url: redis.url });
  admin.on('error', () => undefined);
  await admin.connect();
  const savedAt = async () => (JSON.parse((await admin.get(`${prefix}:snapshot`)) ?? 'null') as { saved_at: number } | null)?.saved_at ?? 0;
  let sent = 0;
  // Read by the loop across awaits: an object, so that the linter sees it may change.
  const load = { sending: true, current: Promise.resolve() };
  let targets = [other, leader, leader];
  const pulses = (async () => {
    while (load.sending) {
      const target = targets[sent % targets.length] as typeof leader;
      load.current = request(target.app)
        .post('/api/health/service/busy/pulse')
        .set('Authorization', `Bearer ${TOKEN}`)
        .expect(204)
        .then(() => undefined);
      await load.current;
      sent++;
    }
  })();
  try {
    await waitFor('pulses going', () => sent >= 200, 20_000);
    // Never idle, and still saving: each new snapshot holds the leader's own signals still on their way.
    const first = await savedAt();
    await waitFor('a newer snapshot under load', async () => (await savedAt()) > first, 10_000);
    const joiner = await replica(prefix);
    await waitFor('more pulses after the join', () => sent >= 400, 20_000);
    // The leader leaves mid-stream: its final snapshot stands where its state does, not where its reader got to.
    targets = [other];
    await load.current; // a pulse on its way to the leader is answered before it closes
    await leader.manager.close();
    await waitFor('more pulses after the leader left', () => sent >= 500, 20_000);
    load.sending = false;
    await pulses;
    const late = await replica(prefix);
    // Every pulse, once, whichever replica took it (the leader's share reached the others before it left).
    const counts = async () => Promise.all([other, joiner, late].map((one) => totalPulses(one.app, 'busy')));
    let seen: unknown[] = [];
    try {
      await waitFor(
        'every pulse, once, on the replicas still running',
        async () => (seen = await counts()).every((count) => count === sent),
        15_000,
      );
    } finally {
      expect([sent, seen]).toEqual([sent, [sent, sent, sent]]);
    }
  } finally {
    load.sending = false;
    await pulses;
    admin.destroy();
  }
});

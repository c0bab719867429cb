import { createClient } from 'redis';
import { AlertLease } from '../lib/store/alert-lease';
import { createConnection, type RedisConnection } from '../lib/store/redis-connection';
import { RedisHealth } from '../lib/store/redis-health';
import { startRedis, type RedisServer } from './helpers/redis-server';
import { freshPrefix } from './helpers/redis-stores';

// The lease's rules, one try at a time (tick()) on a clock the test moves: no timer decides
// who wins a race here.
let redis: RedisServer;
let admin: ReturnType<typeof createClient>;
const clients: RedisConnection[] = [];
const leases: AlertLease[] = [];
let now = 0;

beforeAll(async () => {
  redis = await startRedis();
  admin = createClient({ url: redis.url });
  admin.on('error', () => undefined);
  await admin.connect();
});
afterEach(() => {
  for (const lease of leases.splice(0)) lease.stop();
  for (const client of clients.splice(0)) client.destroy();
});
afterAll(async () => {
  admin.destroy();
  await redis.stop();
});

async function lease(prefix: string, replicaId: string): Promise<AlertLease> {
  const client = createConnection(
    redis.url,
    5000,
    () => true,
    () => undefined,
  );
  clients.push(client);
  await client.connect();
  const health = new RedisHealth(redis.url, () => client.isReady);
  const made = new AlertLease({
    client,
    key: `${prefix}:lease`,
    eraKey: `${prefix}:era`,
    replicaId,
    leaseMs: 1000,
    health,
    warn: () => undefined,
    now: () => now,
  });
  leases.push(made);
  return made;
}

test('Redis lost its keys: a replica that knew the lease waits leaseMs for the old leader to take it back', async () => {
  const prefix = freshPrefix();
  const a = await lease(prefix, 'a');
  const b = await lease(prefix, 'b');
  await a.tick();
  await b.tick();
  expect([a.leading, b.leading]).toEqual([true, false]);

  await admin.flushAll(); // as a restart without persistence would leave it
  await b.tick();
  expect(b.leading).toBe(false);
  expect(await admin.get(`${prefix}:lease`)).toBeNull();
  await a.tick();
  expect(a.leading).toBe(true);
  expect(await admin.get(`${prefix}:lease`)).toBe('a');
  now += 1000;
  await b.tick();
  expect(b.leading).toBe(false);
});

test('Redis lost its keys and the old leader never comes back: the other takes the lease once leaseMs passed', async () => {
  const prefix = freshPrefix();
  const a = await lease(prefix, 'a');
  const b = await lease(prefix, 'b');
  await a.tick();
  await b.tick();
  a.stop();

  await admin.flushAll();
  await b.tick();
  now += 999;
  await b.tick();
  expect(b.leading).toBe(false);
  now += 1;
  await b.tick();
  expect(b.leading).toBe(true);
  expect(await admin.get(`${prefix}:lease`)).toBe('b');
});

test('a replica that never saw a lease (a new cluster) takes it at once', async () => {
  const prefix = freshPrefix();
  const first = await lease(prefix, 'first');
  await first.tick();
  expect(first.leading).toBe(true);
});

test('a leader whose renewals fail stops leading leaseMs after it sent the last one that went through', async () => {
  const prefix = freshPrefix();
  const a = await lease(prefix, 'a');
  const changes: boolean[] = [];
  a.onChange((leading) => changes.push(leading));
  const sentAt = Date.now();
  await a.tick();
  expect(a.leading).toBe(true);
  (clients[0] as RedisConnection).destroy(); // every later command fails
  await a.tick();
  expect(a.leading).toBe(true);
  while (a.leading && Date.now() - sentAt < 5000) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(changes).toEqual([true, false]);
  // Not before: until then, Redis may still hold the lease for it.
  expect(Date.now() - sentAt).toBeGreaterThanOrEqual(990);
});

test('a leader whose event loop stalled past its lease stops leading at the first read, says so, and takes its own lease back at the next tick', async () => {
  const prefix = freshPrefix();
  const a = await lease(prefix, 'a');
  const changes: boolean[] = [];
  a.onChange((leading) => changes.push(leading));
  await a.tick();
  expect(a.leading).toBe(true);
  // 1.5 leaseMs with no timer run (a stalled loop): the expiry timer has not fired, the lease lapsed.
  now += 1500;
  expect(a.leading).toBe(false);
  expect(changes).toEqual([true, false]);
  // Its key may still be there (Redis's clock ran slower), or gone: either way it is a's again.
  await a.tick();
  expect(a.leading).toBe(true);
  expect(changes).toEqual([true, false, true]);
  expect(await admin.get(`${prefix}:lease`)).toBe('a');
});

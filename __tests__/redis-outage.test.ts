import { startRedis, type RedisServer } from './helpers/redis-server';
import { freshPrefix, pulse, redisStores, waitFor } from './helpers/redis-stores';

// Redis stops and comes back in these tests: each one restarts it, so they share one server
// and run one after the other. It requires a password, to show it never leaks.
const PASSWORD = 'outage-secret-4711';
let redis: RedisServer;
const stores = redisStores();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  redis = await startRedis({ password: PASSWORD });
});
afterEach(async () => {
  await redis.restart().catch(() => undefined);
  await stores.closeAll();
  expect(unhandled).toEqual([]);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await redis.stop();
});

test('while Redis is away, signals wait and health says degraded; once it is back they arrive in order', async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: redis.url, prefix, bufferSize: 3 });
  const b = await stores.open({ url: redis.url, prefix });
  expect(a.store.health().state).toBe('ok');

  await redis.stop();
  await waitFor('A to notice', () => a.store.health().state === 'degraded');
  for (let index = 1; index <= 5; index++) a.store.replicas.publish(pulse('cron', index));
  // bufferSize 3: the two oldest went, and the outage was reported once.
  expect(a.store.droppedSignals).toBe(2);
  const health = a.store.health();
  expect(health.errors).toBeGreaterThan(0);
  expect(health.lastError).toMatch(/^Redis: /);
  expect(health.lastError).not.toContain(String(redis.port));
  expect(a.log.lines.filter((line) => /the oldest are dropped/.test(line.msg))).toHaveLength(1);
  expect(a.log.lines.filter((line) => /monitoring goes on from memory/.test(line.msg))).toHaveLength(1);

  await redis.restart();
  await waitFor('the buffered signals at B', () => b.received.length >= 3, 10_000);
  expect(b.received).toEqual([pulse('cron', 3), pulse('cron', 4), pulse('cron', 5)]);
  await waitFor('A healthy again', () => a.store.health().state === 'ok');
  expect(a.store.droppedSignals).toBe(2);

  const everything = JSON.stringify([a.store.health(), b.store.health(), a.log.lines, b.log.lines]);
  expect(everything).not.toContain(PASSWORD);
  expect(everything).not.toContain(`127.0.0.1:${redis.port}`);
});

test('a leader that cannot renew its lease for leaseMs stops leading; a store leads again once Redis is back', async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: redis.url, prefix, leaseMs: 1000 });
  const b = await stores.open({ url: redis.url, prefix, leaseMs: 1000 });
  const changes: boolean[] = [];
  a.store.replicas.onLeadChange((leading) => changes.push(leading));
  expect(a.store.replicas.leading).toBe(true);

  const stoppedAt = Date.now();
  redis.kill();
  await waitFor('A to step down', () => !a.store.replicas.leading, 5000);
  expect(Date.now() - stoppedAt).toBeLessThan(3000);
  expect(changes).toEqual([false]);
  expect(b.store.replicas.leading).toBe(false);

  await redis.restart();
  await waitFor('one store to lead', () => a.store.replicas.leading || b.store.replicas.leading, 10_000);
  expect(a.store.replicas.leading && b.store.replicas.leading).toBe(false);
});

test('notes saved while Redis is away are written once it is back; readNotes() meanwhile rejects, never reads as empty', async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: redis.url, prefix });
  const b = await stores.open({ url: redis.url, prefix });
  await redis.stop();
  await waitFor('A to notice', () => a.store.health().state === 'degraded');
  a.store.replicas.saveNote('alerts', 'cron', { state: 'warning' });
  a.store.replicas.saveNote('alerts', 'cron', { state: 'critical' });
  await waitFor('B to notice', () => b.store.health().state === 'degraded');
  await expect(b.store.replicas.readNotes('alerts')).rejects.toThrow('Redis is not connected: the shared notes cannot be read');

  await redis.restart();
  let notes: ReadonlyMap<string, unknown> = new Map();
  await waitFor(
    'the note at B',
    async () => {
      notes = await b.store.replicas.readNotes('alerts').catch(() => new Map<string, unknown>());
      return notes.size > 0;
    },
    10_000,
  );
  expect(Object.fromEntries(notes)).toEqual({ cron: { state: 'critical' } });
});

test('close() with Redis away returns promptly', async () => {
  const a = await stores.open({ url: redis.url, prefix: freshPrefix() });
  a.store.replicas.publish(pulse('cron', 1));
  redis.kill();
  await waitFor('A to notice', () => a.store.health().state === 'degraded');
  const started = Date.now();
  await stores.close(a.store, { final: true });
  expect(Date.now() - started).toBeLessThan(2000);
});

test('with the url naming a host, neither health() nor the log shows the address it resolved to, nor the port', async () => {
  const url = redis.url.replace('127.0.0.1', 'localhost');
  expect(url).toContain('localhost');
  const a = await stores.open({ url, prefix: freshPrefix(), connectTimeoutMs: 3000 });
  await redis.stop();
  await waitFor('A to notice', () => a.store.health().state === 'degraded');
  // The reconnection's refusals name the address: wait for one.
  await waitFor('a refused reconnection', () => /ECONNREFUSED/.test(a.store.health().lastError ?? ''), 10_000);
  const shown = JSON.stringify([a.store.health(), a.log.lines]);
  for (const secret of ['localhost', '127.0.0.1', String(redis.port), PASSWORD]) expect(shown).not.toContain(secret);
});

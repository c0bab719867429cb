// The bounds and the edges of redisStore's parts, on a real redis-server: what waits while Redis
// is away has a cap and says so once; a closed store takes nothing more; a lease tick that
// overlaps the one in flight is not sent twice; the snapshot keeps to its period.
import { createClient } from 'redis';
import { AlertLease } from '../lib/store/alert-lease';
import { createConnection } from '../lib/store/redis-connection';
import { RedisHealth } from '../lib/store/redis-health';
import { MAX_WAITING_NOTES } from '../lib/store/shared-notes';
import { parseIncidentKey, readSavedIncident, incidentKey } from '../lib/alerts/saved-incidents';
import { freshPrefix, pulse, useRedis, waitFor } from './helpers/redis-stores';

const fixture = useRedis({ restartAfterEach: true });
const stores = fixture.stores;

test(`notes waiting for Redis are capped at ${MAX_WAITING_NOTES} keys: a later key is not kept, and that is said once`, async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: fixture.redis.url, prefix });
  await fixture.redis.stop();
  await waitFor('A to notice', () => a.store.health().state === 'degraded');
  for (let index = 0; index < MAX_WAITING_NOTES + 5; index++) a.store.replicas.saveNote('alerts', `key-${index}`, { index });
  // A newer value of a key that waits already still replaces it.
  a.store.replicas.saveNote('alerts', 'key-0', { index: 'newer' });
  expect(a.log.messages().filter((message) => message.includes('shared notes wait for Redis'))).toEqual([
    `${MAX_WAITING_NOTES} shared notes wait for Redis: later ones are not saved`,
  ]);
  await fixture.redis.restart();
  await waitFor('the kept notes written', async () => (await fixture.admin.hLen(`${prefix}:notes:alerts`)) === MAX_WAITING_NOTES, 20_000);
  expect(await fixture.admin.hGet(`${prefix}:notes:alerts`, 'key-0')).toBe(JSON.stringify({ index: 'newer' }));
  expect(await fixture.admin.hExists(`${prefix}:notes:alerts`, `key-${MAX_WAITING_NOTES}`)).toBe(0);
});

test('a closed store takes no more signals or notes, and says nothing of them', async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: fixture.redis.url, prefix });
  const b = await stores.open({ url: fixture.redis.url, prefix });
  await stores.close(a.store);
  a.store.replicas.publish(pulse('late', 1));
  a.store.replicas.saveNote('alerts', 'late', { state: 'critical' });
  b.store.replicas.publish(pulse('still', 2));
  await waitFor('B to go on', async () => (await fixture.admin.xLen(`${prefix}:signals`)) === 1);
  expect(await fixture.admin.hGetAll(`${prefix}:notes:alerts`)).toEqual({});
});

test("the leader's snapshot keeps to snapshotEveryMs: an append before it is due saves nothing", async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: fixture.redis.url, prefix, snapshotEveryMs: 60_000 });
  expect(a.store.replicas.leading).toBe(true);
  a.store.append([], () => ({ first: true }));
  await waitFor('the first snapshot', async () => (await fixture.admin.exists(`${prefix}:snapshot`)) === 1);
  a.store.append([], () => ({ second: true }));
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(JSON.parse((await fixture.admin.get(`${prefix}:snapshot`)) ?? 'null')).toMatchObject({ body: { first: true } });
});

test('a lease tick while one is still on its way to Redis is not sent again', async () => {
  const client = createConnection(
    fixture.redis.url,
    5000,
    () => true,
    () => undefined,
  );
  await client.connect();
  const prefix = freshPrefix();
  const lease = new AlertLease({
    client,
    key: `${prefix}:lease`,
    eraKey: `${prefix}:era`,
    replicaId: 'a',
    leaseMs: 3000,
    health: new RedisHealth(fixture.redis.url, () => client.isReady),
    warn: () => undefined,
  });
  try {
    const monitor = createClient({ url: fixture.redis.url });
    monitor.on('error', () => undefined);
    await monitor.connect();
    const evals: string[] = [];
    const listening = monitor.monitor((line) => {
      if (/"EVAL(SHA)?"/i.test(line) && line.includes(prefix)) evals.push(line);
    });
    await listening;
    await Promise.all([lease.tick(), lease.tick(), lease.tick()]);
    await fixture.admin.ping(); // MONITOR lines arrive in order: past this one, every EVAL before it is in
    await new Promise((resolve) => setTimeout(resolve, 50));
    monitor.destroy();
    expect(lease.leading).toBe(true);
    expect(evals).toHaveLength(1);
  } finally {
    lease.stop();
    client.destroy();
  }
});

describe('saved incident notes read back', () => {
  test('keys that incidentKey() did not make are refused', () => {
    expect(parseIncidentKey(incidentKey('cron', 'ops'))).toEqual({ service: 'cron', target: 'ops' });
    for (const key of ['cron:ops', '0::ops', '4:cron', '4:cronops', '4:cron:', `999:${'x'.repeat(999)}:ops`])
      expect(parseIncidentKey(key)).toBeNull();
  });

  test('values that are not incidents are refused, saying what is wrong and quoting nothing', () => {
    const good = { since: 1_700_000_000_000, alerted: 'critical', reminders: 0, alerted_at: 1_700_000_000_000 };
    expect(readSavedIncident(good)).toEqual(good);
    expect(readSavedIncident([good])).toBe('it is not an object');
    expect(readSavedIncident({ ...good, secret: 'x' })).toBe('it has fields other than since, alerted, reminders, alerted_at');
    expect(readSavedIncident({ ...good, since: 'yesterday' })).toBe('"since" is not a wall-clock time in ms');
    expect(readSavedIncident({ ...good, alerted_at: -1 })).toBe('"alerted_at" is not a wall-clock time in ms');
    expect(readSavedIncident({ ...good, alerted: 'healthy' })).toBe('"alerted" is not one of at_risk, warning, degraded or critical');
    expect(readSavedIncident({ ...good, reminders: 1.5 })).toBe('"reminders" is not a whole number of at least 0');
  });
});

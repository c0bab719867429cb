// redisStore() against a real redis-server whose keys are in the way: what Redis refuses while
// it is up (a wrong type under one of the store's keys) is counted and waited out, never thrown
// at the app; a signal's text that is not a signal is refused by the reader.
import { parseSignal } from '../lib/store/signal-reader';
import { freshPrefix, pulse, useRedis, waitFor } from './helpers/redis-stores';

const fixture = useRedis();
const stores = fixture.stores;

test('a snapshot Redis cannot hand back (a wrong type under its key) fails the start, naming why and no part of the url', async () => {
  const prefix = freshPrefix();
  await fixture.admin.hSet(`${prefix}:snapshot`, 'not', 'a string');
  const error = await stores.open({ url: fixture.redis.url, prefix }).then(
    () => null,
    (caught: unknown) => caught as Error,
  );
  expect(error?.message).toMatch(/^Could not read the shared state from Redis: Redis: WRONGTYPE/);
  expect(error?.message).not.toContain(String(fixture.redis.port));
});

test('a stream Redis refuses to read counts as an error while connected, and reading goes on once it can', async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: fixture.redis.url, prefix });
  const b = await stores.open({ url: fixture.redis.url, prefix });
  const errorsBefore = b.store.health().errors;
  // The stream's key now holds a string: every XREAD answers WRONGTYPE.
  await fixture.admin.del(`${prefix}:signals`);
  await fixture.admin.set(`${prefix}:signals`, 'in the way');
  await waitFor('the reader to count the refusal', () => b.store.health().errors > errorsBefore);
  await fixture.admin.del(`${prefix}:signals`);
  a.store.replicas.publish(pulse('cron', 1));
  await waitFor('the signal at B', () => b.received.length === 1, 10_000);
  expect(b.received).toEqual([pulse('cron', 1)]);
});

test('notes that wait merge into what readNotes() finds: a newer value wins, a waiting delete hides the stored one, other spaces stay out', async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: fixture.redis.url, prefix });
  await fixture.admin.set(`${prefix}:notes:alerts`, 'in the way');
  a.store.replicas.saveNote('alerts', 'cron', { state: 'critical' });
  a.store.replicas.saveNote('alerts', 'backup', null);
  a.store.replicas.saveNote('other', 'x', 1);
  await waitFor('the refusal', () => a.store.health().state === 'degraded');
  // Redis holds a hash again, with a value the waiting delete is newer than; nothing wrote since.
  await fixture.admin.del(`${prefix}:notes:alerts`);
  await fixture.admin.hSet(`${prefix}:notes:alerts`, {
    backup: JSON.stringify({ state: 'warning' }),
    sync: JSON.stringify({ state: 'ok' }),
  });
  expect(Object.fromEntries(await a.store.replicas.readNotes('alerts'))).toEqual({ cron: { state: 'critical' }, sync: { state: 'ok' } });
});

test('close() is safe to call twice, and a store closed once saves and releases nothing the second time', async () => {
  const prefix = freshPrefix();
  const a = await stores.open({ url: fixture.redis.url, prefix });
  expect(a.store.replicas.leading).toBe(true);
  await stores.close(a.store, { v: 1 });
  expect(await fixture.admin.get(`${prefix}:lease`)).toBeNull();
  await fixture.admin.set(`${prefix}:lease`, 'someone-else');
  await a.store.close({ v: 2 });
  expect(await fixture.admin.get(`${prefix}:lease`)).toBe('someone-else');
  expect(JSON.parse((await fixture.admin.get(`${prefix}:snapshot`)) ?? 'null')).toMatchObject({ body: { v: 1 } });
});

describe('parseSignal', () => {
  test.each([
    ['undefined', undefined],
    ['not JSON', '{'],
    ['not an object', '42'],
    ['null', 'null'],
    ['an unknown kind', JSON.stringify({ kind: 'explode', service: 'a', at: 1 })],
    ['no service', JSON.stringify({ kind: 'pulse', at: 1 })],
    ['a time that is not a number', JSON.stringify({ kind: 'pulse', service: 'a', at: '1' })],
    ['a time that is not finite', '{"kind":"pulse","service":"a","at":1e999}'],
  ])('refuses %s', (_name, text) => {
    expect(parseSignal(text)).toBeNull();
  });

  test('takes a signal as it was published', () => {
    expect(parseSignal(JSON.stringify(pulse('cron', 5)))).toEqual(pulse('cron', 5));
  });
});

test('a replica whose stream lost calls it has not seen (trimmed past the snapshot) says so at the start; one the snapshot covers says nothing', async () => {
  const prefix = freshPrefix();
  const ids: string[] = [];
  for (let index = 1; index <= 5; index++) {
    ids.push(
      await fixture.admin.xAdd(`${prefix}:signals`, '*', { o: 'elsewhere', q: String(index), s: JSON.stringify(pulse('cron', index)) }),
    );
  }
  await fixture.admin.xTrim(`${prefix}:signals`, 'MAXLEN', 2);
  const lost = await stores.open({ url: fixture.redis.url, prefix });
  expect(lost.log.messages()).toContain(
    'The signal stream no longer holds every call since it began: this replica may miss some (raise streamLength, or save the snapshot more often with snapshotEveryMs)',
  );
  await waitFor('what the stream still holds', () => lost.received.length === 2);
  expect(lost.received).toEqual([pulse('cron', 4), pulse('cron', 5)]);

  // A snapshot through the oldest entry the stream still holds: nothing after it is gone.
  await fixture.admin.set(`${prefix}:snapshot`, JSON.stringify({ stream_id: ids[3], saved_at: 1, body: { v: 1 }, own: null }));
  const covered = await stores.open({ url: fixture.redis.url, prefix });
  expect(covered.log.messages().filter((message) => message.startsWith('The signal stream'))).toEqual([]);
  await waitFor('the entry after the snapshot', () => covered.received.length === 1);
  expect(covered.received).toEqual([pulse('cron', 5)]);
});

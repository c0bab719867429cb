// The small parts of redisStore that need no Redis: the bounded queue, URL redaction, stream
// ids, the health it reports.
import { BoundedQueue } from '../lib/store/bounded-queue';
import { errorMessage, RedisHealth } from '../lib/store/redis-health';
import { redactUrl, scrubSecrets } from '../lib/store/redis-url';
import { isStreamId } from '../lib/store/stream-id';

describe('BoundedQueue', () => {
  test('keeps the newest capacity items in order, and says how many of the oldest it dropped', () => {
    const queue = new BoundedQueue<number>(3);
    expect([1, 2, 3, 4, 5].map((item) => queue.push(item))).toEqual([0, 0, 0, 1, 1]);
    expect(queue.length).toBe(3);
    expect(queue.shift()).toBe(3);
    expect(queue.takeAll()).toEqual([4, 5]);
    expect(queue.shift()).toBeUndefined();
  });

  test('items put back in front come out first; beyond capacity the oldest of them go', () => {
    const queue = new BoundedQueue<string>(3);
    queue.push('later');
    expect(queue.pushFront(['first', 'second', 'third'])).toBe(1);
    expect(queue.takeAll()).toEqual(['second', 'third', 'later']);
  });

  test('stays bounded and in order over many drops', () => {
    const queue = new BoundedQueue<number>(10);
    let dropped = 0;
    for (let item = 0; item < 5000; item++) dropped += queue.push(item);
    expect(dropped).toBe(4990);
    expect(queue.takeAll()).toEqual([4990, 4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999]);
  });
});

describe('URL redaction', () => {
  test.each([
    ['redis://user:pw@host:6379/0', 'redis://user:***@host:6379/0'],
    ['redis://:pw@host:6379', 'redis://***@host:6379'],
    ['rediss://user@host', 'rediss://user@host'],
    ['redis://host:6379/?password=pw#frag', 'redis://host:6379'],
    ['not a url://user:pw@host', 'not a url://***@host'],
  ])('%s shows as %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  test('a message quoting the url or its password, as written or decoded, is scrubbed', () => {
    const url = 'redis://app:p%40ss@db:6379';
    expect(scrubSecrets(`cannot use ${url}: WRONGPASS p@ss or p%40ss at db:6379`, url)).toBe('cannot use ***: WRONGPASS *** or *** at ***');
    expect(scrubSecrets('nothing secret', 'not a url')).toBe('nothing secret');
    // A name's resolved address is not in the url: it goes too, v4 and v6, with its port.
    expect(scrubSecrets('connect ECONNREFUSED 127.0.0.1:6379', 'redis://localhost:6379')).toBe('connect ECONNREFUSED ***');
    expect(scrubSecrets('connect ECONNREFUSED ::1:6379 or [fd00::5]:6380', 'redis://localhost:6379')).toBe(
      'connect ECONNREFUSED *** or ***',
    );
    expect(scrubSecrets('WRONGTYPE Operation against a key holding the wrong kind of value', 'redis://localhost:6379')).toBe(
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    );
  });
});

describe('stream ids', () => {
  test('are <ms>-<seq>, whole', () => {
    expect([isStreamId('1-0'), isStreamId('18446744073709551615-1'), isStreamId('1'), isStreamId('$'), isStreamId(1)]).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('RedisHealth', () => {
  test('ok while connected and the last write went through; degraded otherwise, naming no part of the url', () => {
    let connected = false;
    const health = new RedisHealth(
      'redis://:pw@db.internal:6379',
      () => connected,
      () => 1234,
    );
    expect(health.health()).toEqual({
      state: 'degraded',
      lastError: 'Redis is not connected',
      errors: 0,
      lastWriteAt: null,
    });
    connected = true;
    expect(health.health().state).toBe('ok');
    health.failed(new Error('WRONGTYPE for redis://:pw@db.internal:6379, connect ECONNREFUSED db.internal:6379 (db.internal)'), true);
    expect(health.health()).toEqual({
      state: 'degraded',
      lastError: 'Redis: WRONGTYPE for ***, connect ECONNREFUSED *** (***)',
      errors: 1,
      lastWriteAt: null,
    });
    health.wrote();
    expect(health.health()).toEqual({ state: 'ok', lastError: null, errors: 1, lastWriteAt: 1234 });
  });

  test('reads any thrown value', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage({ name: 'AbortError', message: '' })).toBe('AbortError');
    expect(errorMessage('text')).toBe('text');
    expect(errorMessage(42)).toBe('an unknown error');
  });
});

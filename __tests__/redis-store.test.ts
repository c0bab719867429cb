import { spawn } from 'node:child_process';
import { redisStore } from '../lib/store/redis-store';
import { ConfigError } from '../lib/util/validate';
import { systemClock } from '../lib/util/clock';
import { ROOT, waitForExit } from './helpers/child';
import { captureLogger } from './helpers/logger';
import { freePort } from './helpers/prometheus';
import { freshPrefix, pulse, useRedis, waitFor } from './helpers/redis-stores';

const fixture = useRedis();
const stores = fixture.stores;

describe('options', () => {
  const secret = 's3cr3t-pw';
  test.each([
    ['url', '"http://user:***@127.0.0.1:6379"', { url: `http://user:${secret}@127.0.0.1:6379` }],
    ['url', '"redis//***@127.0.0.1"', { url: `redis//user:${secret}@127.0.0.1` }],
    ['url', '6379', { url: 6379 }],
    ['url', '"redis://***@127.0.0.1:99999"', { url: `redis://:${secret}@127.0.0.1:99999` }],
    ['leaseMs', '999', { url: `redis://:${secret}@127.0.0.1`, leaseMs: 999 }],
    ['leaseMs', '2147483648', { url: `redis://:${secret}@127.0.0.1`, leaseMs: 2 ** 31 }],
    ['leaseMs', 'NaN', { url: `redis://:${secret}@127.0.0.1`, leaseMs: NaN }],
    ['leaseMs', '"5000"', { url: `redis://:${secret}@127.0.0.1`, leaseMs: '5000' }],
    ['bufferSize', '0', { url: `redis://:${secret}@127.0.0.1`, bufferSize: 0 }],
    ['streamLength', '1.5', { url: `redis://:${secret}@127.0.0.1`, streamLength: 1.5 }],
    ['connectTimeoutMs', '-1', { url: `redis://:${secret}@127.0.0.1`, connectTimeoutMs: -1 }],
    ['snapshotEveryMs', 'Infinity', { url: `redis://:${secret}@127.0.0.1`, snapshotEveryMs: Infinity }],
    ['prefix', '"has space"', { url: `redis://:${secret}@127.0.0.1`, prefix: 'has space' }],
    ['leasMs', 'unknown key', { url: `redis://:${secret}@127.0.0.1`, leasMs: 5000 }],
  ])('bad %s (%s): refused, naming both, never the password', async (key, shown, options) => {
    const error = await redisStore(options as never).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain(`"${key}"`);
    expect(message).toContain(shown);
    expect(message).not.toContain(secret);
  });

  test('an unreachable Redis rejects within connectTimeoutMs, naming the cause and no part of the url', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await redisStore({ url: `redis://app:s3cr3t-pw@127.0.0.1:${port}/0`, connectTimeoutMs: 300 }).then(
      () => null,
      (caught: unknown) => caught as Error,
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error?.message).toBe(
      'Could not reach Redis within 300 ms (ECONNREFUSED): start it, or check the url given to redisStore() (not shown: it may hold a password)',
    );
  });

  test('a rediss:// url is passed through: the client speaks TLS, which a plain Redis does not answer', async () => {
    const error = await redisStore({ url: `rediss://:s3cr3t-pw@127.0.0.1:${fixture.redis.port}`, connectTimeoutMs: 500 }).then(
      () => null,
      (caught: unknown) => caught as Error,
    );
    // A plain redis:// url to this server connects at once (the tests above); over TLS nothing answers.
    expect(error?.message).toMatch(/^Could not reach Redis within 500 ms \(no answer\)/);
    expect(error?.message).not.toContain('s3cr3t-pw');
    expect(error?.message).not.toContain(String(fixture.redis.port));
  });

  test('a process whose redisStore() was refused exits at once: nothing of it is left running', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { performance } = require('node:perf_hooks');
         let refusedAt;
         process.on('exit', () => console.log(JSON.stringify({ lingered: performance.now() - refusedAt })));
         require('./lib/store/redis-store.ts')
           .redisStore({ url: 'redis://127.0.0.1:${port}', connectTimeoutMs: 2500 })
           .catch(() => { refusedAt = performance.now(); });`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const { stdout, code } = await waitForExit(child);
    expect(code).toBe(0);
    const { lingered } = JSON.parse(stdout) as { lingered: number };
    // The client's own backoff (up to a second by then) would keep it alive a while, mostly
    // longer than this: the store retries on its own timers while it opens.
    expect(lingered).toBeLessThan(100);
  });
});

describe('signals', () => {
  test('a signal one store publishes reaches the other store, in order and intact, and not its own', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    const b = await stores.open({ url: fixture.redis.url, prefix });
    const sent = [
      pulse('cron', 1000, 'r1'),
      { kind: 'error', service: 'cron', at: 1001, message: 'disk full', critical: true } as const,
      { kind: 'end', service: 'cron', at: 1002, rid: 'r1', ending: { ok: false, exitCode: 3, message: 'boom', critical: false } } as const,
      { kind: 'pause', service: 'cron', at: 1003, until: null, reason: 'deploy' } as const,
      { kind: 'pulse', service: 'cron', at: 1004, rid: null, metrics: { rows: 12 } } as const,
    ];
    for (const signal of sent) a.store.replicas.publish(signal);
    await waitFor('5 signals at B', () => b.received.length >= sent.length);
    expect(b.received).toEqual(sent);
    // A reads the stream too: once B's reply has reached it, A has read past its own signals.
    b.store.replicas.publish(pulse('from-b', 2000));
    await waitFor("B's signal at A", () => a.received.length >= 1);
    expect(a.received).toEqual([pulse('from-b', 2000)]);
    expect(a.store.health()).toMatchObject({ state: 'ok', errors: 0, lastError: null });
    expect(a.store.health().lastWriteAt).toEqual(expect.any(Number));
  });

  test('a thousand signals reach every other store, in order, quickly', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    const b = await stores.open({ url: fixture.redis.url, prefix });
    const c = await stores.open({ url: fixture.redis.url, prefix });
    const started = Date.now();
    for (let index = 0; index < 1000; index++) a.store.replicas.publish(pulse('bulk', index));
    await waitFor('1000 signals at B and C', () => b.received.length >= 1000 && c.received.length >= 1000);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(b.received.map((signal) => signal.at)).toEqual([...Array(1000).keys()]);
    expect(c.received).toEqual(b.received);
  });

  test('entries that are not signals are skipped, counted and logged, and those after them still arrive', async () => {
    const prefix = freshPrefix();
    const b = await stores.open({ url: fixture.redis.url, prefix });
    await fixture.admin.xAdd(`${prefix}:signals`, '*', { o: 'elsewhere', s: 'not json' });
    await fixture.admin.xAdd(`${prefix}:signals`, '*', { o: 'elsewhere', s: JSON.stringify({ kind: 'explode', service: 'x', at: 1 }) });
    await fixture.admin.xAdd(`${prefix}:signals`, '*', { o: 'elsewhere', s: JSON.stringify(pulse('fine', 5)) });
    await waitFor('the good signal', () => b.received.length >= 1);
    expect(b.received).toEqual([pulse('fine', 5)]);
    expect(b.log.lines.filter((line) => /is not a signal: skipped/.test(line.msg))).toHaveLength(2);
  });

  test('signals Redis refuses are kept and sent again, in order, and health says degraded meanwhile', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    // The stream's key holds a string: every XADD fails with WRONGTYPE while the connection is fine.
    await fixture.admin.set(`${prefix}:signals`, 'in the way');
    a.store.replicas.publish(pulse('refused', 1));
    a.store.replicas.publish(pulse('refused', 2));
    await waitFor('the refusal', () => a.store.health().state === 'degraded');
    expect(a.store.health().lastError).toMatch(/WRONGTYPE/);
    a.store.replicas.publish(pulse('refused', 3));
    await fixture.admin.del(`${prefix}:signals`);
    const b = await stores.open({ url: fixture.redis.url, prefix });
    await waitFor('the three at B', () => b.received.length >= 3);
    expect(b.received.map((signal) => signal.at)).toEqual([1, 2, 3]);
    await waitFor('A healthy again', () => a.store.health().state === 'ok');
  });

  test('a listener that throws on one signal is logged, and the signals after it still arrive', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    const b = await redisStore({ url: fixture.redis.url, prefix });
    try {
      const log = captureLogger('warn');
      b.load({ logger: log.logger, clock: systemClock });
      const received: number[] = [];
      b.replicas.onSignal((signal) => {
        if (signal.at === 1) throw new Error('cannot apply this one');
        received.push(signal.at);
      });
      a.store.replicas.publish(pulse('cron', 1));
      a.store.replicas.publish(pulse('cron', 2));
      await waitFor('the second signal', () => received.length >= 1);
      expect(received).toEqual([2]);
      expect(log.messages()).toContain('A shared pulse signal for "cron" could not be applied: cannot apply this one');
    } finally {
      await b.close(undefined);
    }
  });

  test('a store takes one signal listener: a second manager on it is refused', async () => {
    const { store } = await stores.open({ url: fixture.redis.url, prefix: freshPrefix() });
    expect(() => {
      store.replicas.onSignal(() => undefined);
    }).toThrow('This Redis store already has a signal listener: give each manager its own store.');
    expect(() => store.load({ logger: captureLogger().logger, clock: systemClock })).toThrow(
      'This redisStore() is already used by a HeartbeatManager: give each manager its own store.',
    );
  });

  test('signals read before a listener is set wait for it', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    const late = await redisStore({ url: fixture.redis.url, prefix });
    try {
      a.store.replicas.publish(pulse('early', 1));
      a.store.replicas.publish(pulse('early', 2));
      // No bounded wait can prove the reader has read them already; a marker read by a third store can.
      const witness = await stores.open({ url: fixture.redis.url, prefix });
      await waitFor('the witness to read both', () => witness.received.length >= 2);
      const received: unknown[] = [];
      late.replicas.onSignal((signal) => received.push(signal));
      await waitFor('both at the late listener', () => received.length >= 2);
      expect(received).toEqual([pulse('early', 1), pulse('early', 2)]);
    } finally {
      await late.close(undefined);
    }
  });
});

describe('shared clock', () => {
  test('skewMs() is Redis TIME minus the local wall clock: near 0 on one machine', async () => {
    const { store } = await stores.open({ url: fixture.redis.url, prefix: freshPrefix() });
    expect(Math.abs(store.replicas.skewMs())).toBeLessThan(100);
  });
});

describe('notes', () => {
  test('a note one store saves, another reads; null deletes it; a value that is not JSON is skipped', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    const b = await stores.open({ url: fixture.redis.url, prefix });
    a.store.replicas.saveNote('alerts', 'cron', { state: 'critical', since: 1234 });
    a.store.replicas.saveNote('alerts', 'backup', { state: 'warning' });
    a.store.replicas.saveNote('other', 'cron', 'elsewhere');
    let notes: ReadonlyMap<string, unknown> = new Map();
    await waitFor('both notes at B', () => {
      void b.store.replicas.readNotes('alerts').then((read) => (notes = read));
      return notes.size === 2;
    });
    expect(Object.fromEntries(notes)).toEqual({ cron: { state: 'critical', since: 1234 }, backup: { state: 'warning' } });

    a.store.replicas.saveNote('alerts', 'cron', null);
    await fixture.admin.hSet(`${prefix}:notes:alerts`, 'broken', '{not json');
    await waitFor('the deletion at B', () => {
      void b.store.replicas.readNotes('alerts').then((read) => (notes = read));
      return !notes.has('cron');
    });
    expect(Object.fromEntries(notes)).toEqual({ backup: { state: 'warning' } });
    expect(Object.fromEntries(await b.store.replicas.readNotes('other'))).toEqual({ cron: 'elsewhere' });
  });
});

describe('notes, when Redis refuses them', () => {
  test('a note Redis refuses waits, and is written once it can be; readNotes() shows the waiting value meanwhile', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    // The hash's key holds a string: HSET and HGETALL fail with WRONGTYPE.
    await fixture.admin.set(`${prefix}:notes:alerts`, 'in the way');
    a.store.replicas.saveNote('alerts', 'cron', { state: 'critical' });
    await waitFor('the refusal', () => a.store.health().state === 'degraded');
    await expect(a.store.replicas.readNotes('alerts')).rejects.toThrow('The shared notes could not be read');
    await fixture.admin.del(`${prefix}:notes:alerts`);
    await fixture.admin.hSet(`${prefix}:notes:alerts`, 'backup', JSON.stringify({ state: 'warning' }));
    // Still waiting (nothing wrote it yet): readNotes() tells what this replica saved last.
    expect(Object.fromEntries(await a.store.replicas.readNotes('alerts'))).toEqual({
      cron: { state: 'critical' },
      backup: { state: 'warning' },
    });
    a.store.replicas.saveNote('alerts', 'backup', null); // the next write carries both
    // One note at a time, in order: the delete lands after the write.
    await waitFor('both writes', async () => Object.keys(await fixture.admin.hGetAll(`${prefix}:notes:alerts`)).join() === 'cron');
    expect(await fixture.admin.hGetAll(`${prefix}:notes:alerts`)).toEqual({ cron: JSON.stringify({ state: 'critical' }) });
  });
});

describe('alert lease', () => {
  test('exactly one store leads; when it closes, the other takes over within leaseMs and says so', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix, leaseMs: 1000 });
    const b = await stores.open({ url: fixture.redis.url, prefix, leaseMs: 1000 });
    expect([a.store.replicas.leading, b.store.replicas.leading]).toEqual([true, false]);
    const changes: boolean[] = [];
    b.store.replicas.onLeadChange((leading) => changes.push(leading));
    const closedAt = Date.now();
    await stores.close(a.store);
    await waitFor('B to lead', () => b.store.replicas.leading, 3000);
    // A released the lease as it closed, so B takes it at its next try (every leaseMs/3).
    expect(Date.now() - closedAt).toBeLessThan(1000);
    expect(changes).toEqual([true]);
    expect(await fixture.admin.get(`${prefix}:lease`)).toBe(b.store.replicas.replicaId);
  });

  test('when the leader dies without a word (kill -9), another store takes over within leaseMs + leaseMs/3', async () => {
    const prefix = freshPrefix();
    const leader = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `require('./lib/store/redis-store.ts').redisStore(${JSON.stringify({ url: fixture.redis.url, prefix, leaseMs: 1000 })}).then((store) => {
           console.log(store.replicas.leading ? 'leading' : 'not leading');
           setInterval(() => undefined, 1000);
         });`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const first = await new Promise<string>((resolve) =>
        leader.stdout.once('data', (chunk: Buffer) => {
          resolve(chunk.toString().trim());
        }),
      );
      expect(first).toBe('leading');
      const b = await stores.open({ url: fixture.redis.url, prefix, leaseMs: 1000 });
      expect(b.store.replicas.leading).toBe(false);
      const killedAt = Date.now();
      leader.kill('SIGKILL');
      await waitFor('B to lead', () => b.store.replicas.leading, 5000);
      // The lease lapses leaseMs after the last renewal at most; B tries every leaseMs/3.
      expect(Date.now() - killedAt).toBeLessThan(3000);
      expect(Date.now() - killedAt).toBeGreaterThan(300);
    } finally {
      leader.kill('SIGKILL');
    }
  });

  test('a leader that finds another holder stops leading, and takes the lease back once it lapses', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix, leaseMs: 1000 });
    const changes: boolean[] = [];
    a.store.replicas.onLeadChange((leading) => changes.push(leading));
    await fixture.admin.set(`${prefix}:lease`, 'someone-else', { expiration: { type: 'PX', value: 1000 } });
    await waitFor('A to step down', () => !a.store.replicas.leading, 3000);
    await waitFor('A to lead again', () => a.store.replicas.leading, 4000);
    expect(changes).toEqual([false, true]);
  });
});

describe('shared snapshot', () => {
  test("the leader's append() saves it, its own signals on their way included; a store opened later loads it and reads only later signals", async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix, snapshotEveryMs: 1 });
    const b = await stores.open({ url: fixture.redis.url, prefix, snapshotEveryMs: 1 });
    expect(a.store.replicas.leading).toBe(true);
    b.store.replicas.publish(pulse('before', 1));
    a.store.replicas.publish(pulse('own', 2));
    await waitFor("B's signal at A", () => a.received.length >= 1);

    // B does not lead: its append() saves nothing.
    b.store.append([], () => ({ from: 'b' }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await fixture.admin.get(`${prefix}:snapshot`)).toBeNull();
    // A's own signal is still on its way as A saves: the snapshot holds it (A applied it before publishing).
    a.store.replicas.publish(pulse('own-2', 3));
    a.store.append([{ ignored: true }], () => ({ services: ['before', 'own', 'own-2'] }));
    await waitFor('the snapshot', async () => (await fixture.admin.exists(`${prefix}:snapshot`)) === 1);
    const saved = JSON.parse((await fixture.admin.get(`${prefix}:snapshot`)) ?? 'null') as unknown;
    expect(saved).toEqual({
      stream_id: expect.stringMatching(/^\d+-\d+$/),
      saved_at: expect.any(Number),
      body: { services: ['before', 'own', 'own-2'] },
      own: { replica: a.store.replicas.replicaId, seq: 2 },
    });

    const c = await stores.open({ url: fixture.redis.url, prefix });
    expect(c.loaded).toEqual({ snapshot: { services: ['before', 'own', 'own-2'] }, entries: [] });
    b.store.replicas.publish(pulse('after', 4));
    a.store.replicas.publish(pulse('own-after', 5));
    await waitFor('the later signals at C', () => c.received.length >= 2);
    // Not own-2, though the stream has it after the snapshot's entry: the snapshot said it holds it.
    // Two replicas' signals: the stream has them in whichever order Redis took them.
    expect([...c.received].sort((x, y) => x.at - y.at)).toEqual([pulse('after', 4), pulse('own-after', 5)]);
  });

  test('without a snapshot a joining store reads the whole stream', async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    a.store.replicas.publish(pulse('one', 1));
    a.store.replicas.publish(pulse('two', 2));
    const joiner = await stores.open({ url: fixture.redis.url, prefix });
    expect(joiner.loaded).toEqual({ snapshot: null, entries: [] });
    await waitFor('both at the joiner', () => joiner.received.length >= 2);
    expect(joiner.received).toEqual([pulse('one', 1), pulse('two', 2)]);
  });

  test('a snapshot this version cannot read is skipped with a warning, and the joiner reads the whole stream', async () => {
    const prefix = freshPrefix();
    await fixture.admin.set(`${prefix}:snapshot`, JSON.stringify({ version: 99, state: {} }));
    await fixture.admin.xAdd(`${prefix}:signals`, '*', { o: 'elsewhere', s: JSON.stringify(pulse('kept', 1)) });
    const joiner = await stores.open({ url: fixture.redis.url, prefix });
    expect(joiner.loaded).toEqual({ snapshot: null, entries: [] });
    expect(joiner.log.messages()).toContain(
      'The shared snapshot in Redis is not one this version wrote: starting from the whole signal stream instead',
    );
    await waitFor('the stream at the joiner', () => joiner.received.length >= 1);
    expect(joiner.received).toEqual([pulse('kept', 1)]);
  });

  test("close() saves the leader's final snapshot and releases the lease", async () => {
    const prefix = freshPrefix();
    const a = await stores.open({ url: fixture.redis.url, prefix });
    await stores.close(a.store, { final: true });
    expect(JSON.parse((await fixture.admin.get(`${prefix}:snapshot`)) ?? 'null')).toMatchObject({ body: { final: true } });
    expect(await fixture.admin.get(`${prefix}:lease`)).toBeNull();
  });
});

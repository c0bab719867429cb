import type { Server } from 'node:http';
import net from 'node:net';
import { Registry } from 'prom-client';
import request from 'supertest';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter, type HealthRouterOptions } from '../lib/http/router';
import { MAX_TIMER_DELAY_MS } from '../lib/util/timers';
import type { TestClock } from './helpers/clock';
import type { SseClient } from './helpers/sse';
import { eventsOf, settle, useStreamFixture } from './helpers/stream-app';

let clock: TestClock;
let manager: HeartbeatManager;
let server: Server;
let base: string;
const fixture = useStreamFixture((made) => ({ clock, manager } = made));

async function start(options: Omit<HealthRouterOptions, 'manager' | 'registry'> = {}, trustProxy?: string): Promise<void> {
  ({ server, base } = await fixture.start(options, trustProxy));
}
const connect = (headers: Record<string, string> = {}): Promise<SseClient> => fixture.connect(headers);
const parse = eventsOf;

describe('changes of one turn', () => {
  it('go out together, with one reading of the overall status', async () => {
    const workers = ['a', 'b', 'c'].map((tag) => manager.heartbeat({ tag, interval: 1 }).start());
    await start();
    const client = await connect();
    await client.waitFor(1, 'snapshot');
    const ratings = jest.spyOn(manager, 'overallStatus');
    for (const worker of workers) worker.error('disk full');
    const events = await client.waitFor(3, 'status');
    expect(events.map((event) => JSON.parse(event.data).service)).toEqual(['a', 'b', 'c']);
    expect(events.map((event) => JSON.parse(event.data).overall_status)).toEqual(['warning', 'warning', 'warning']);
    expect(ratings).toHaveBeenCalledTimes(1);
  });

  it('past MAX_STATUS_EVENTS_PER_TURN, go out as one fresh snapshot: a mass outage neither rates nor floods', async () => {
    const workers = Array.from({ length: 500 }, (_, i) => manager.heartbeat({ tag: `w${String(i)}`, interval: 1 }).start());
    await start();
    const client = await connect();
    await client.waitFor(1, 'snapshot');
    const ratings = jest.spyOn(manager, 'overallStatus');
    for (const worker of workers) worker.error('disk full', { critical: true });
    const [, snapshot] = await client.waitFor(2, 'snapshot');
    const body = JSON.parse(snapshot?.data as string);
    expect(body.overall_status).toBe('critical');
    expect(body.services).toHaveLength(500);
    await settle();
    expect(parse(client, 'status')).toEqual([]);
    expect(ratings).not.toHaveBeenCalled();
  });
});

it('sends a snapshot on connect, then status events in order', async () => {
  const worker = manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
  await start();
  const client = await connect();
  expect(client.status).toBe(200);
  expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  expect(client.headers['cache-control']).toBe('no-store');
  const [snapshot] = await client.waitFor(1, 'snapshot');
  expect(JSON.parse(snapshot?.data as string)).toMatchObject({
    overall_status: 'healthy',
    services: [{ service: 'save_worker', status: 'healthy' }],
  });

  // Each change in a turn of its own, as the monitor's timer makes them.
  clock.advance(1101);
  await settle();
  clock.advance(2100);
  await settle();
  worker.pulse();
  clock.advance(1);
  await client.waitFor(3, 'status');
  expect(parse(client, 'status').map((e) => `${e.from}->${e.to}`)).toEqual(['healthy->warning', 'warning->degraded', 'degraded->healthy']);
  expect(parse(client, 'status')[1]).toMatchObject({
    service: 'save_worker',
    overall_status: 'degraded',
    reason: 'missed 3 heartbeats',
    health: { status: 'degraded' },
  });
  const ids = client.events.map((event) => Number(event.id));
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
});

it('coalesces pulses into at most one batch per interval per service', async () => {
  const bridge = manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
  await start({ stream: { pulseBatchMs: 250 } });
  const client = await connect();
  await client.waitFor(1, 'snapshot');
  for (let i = 0; i < 500; i++) bridge.pulse();
  clock.advance(250);
  await client.waitFor(1, 'pulse');
  for (let i = 0; i < 500; i++) bridge.pulse();
  clock.advance(250);
  clock.advance(250); // nothing new: no event
  await client.waitFor(2, 'pulse');
  await settle();
  expect(parse(client, 'pulse').map((e) => e.services.flask_bridge.total_pulses)).toEqual([500, 1000]);
});

it('still sends the clients already connected the pulses made before another client joined', async () => {
  const bridge = manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
  await start({ stream: { pulseBatchMs: 250 } });
  const first = await connect();
  await first.waitFor(1, 'snapshot');
  bridge.pulse();
  bridge.pulse();
  // A second client joins between the pulses and the batch that carries them.
  const second = await connect();
  await second.waitFor(1, 'snapshot');
  clock.advance(250);
  await first.waitFor(1, 'pulse');
  expect(parse(first, 'pulse').map((e) => e.services.flask_bridge.total_pulses)).toEqual([2]);
  // The second client shared the first one's snapshot, taken in the same batch: the batch brings it up to date too.
  await second.waitFor(1, 'pulse');
  expect(parse(second, 'snapshot')[0].services[0].total_pulses).toBe(0);
  expect(parse(second, 'pulse').map((e) => e.services.flask_bridge.total_pulses)).toEqual([2]);
});

it('still tells the clients already connected of a service that came before another client joined', async () => {
  await start({ stream: { pulseBatchMs: 250 } });
  const first = await connect();
  await first.waitFor(1, 'snapshot');
  clock.advance(250); // the first client's snapshot is a batch old: the next joiner takes a fresh one
  manager.heartbeat({ tag: 'late_worker', interval: 15 }).start();
  const second = await connect();
  await second.waitFor(1, 'snapshot');
  clock.advance(250);
  await first.waitFor(2, 'snapshot');
  expect(parse(first, 'snapshot').map((e) => e.services.map((service: { service: string }) => service.service))).toEqual([
    [],
    ['late_worker'],
  ]);
});

it('shares one snapshot among clients joining in one pulse batch with no event between, and takes a fresh one after', async () => {
  const bridge = manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
  await start({ stream: { pulseBatchMs: 250 } });
  const snapshots = jest.spyOn(manager, 'status');
  const [a, b] = [await connect(), await connect()];
  await Promise.all([a.waitFor(1, 'snapshot'), b.waitFor(1, 'snapshot')]);
  expect(snapshots).toHaveBeenCalledTimes(1);
  expect(a.events[0]).toEqual(b.events[0]); // the same frame, id included

  bridge.error('disk full'); // an event: the next client must not get a snapshot from before it
  const c = await connect();
  await c.waitFor(1, 'snapshot');
  expect(snapshots).toHaveBeenCalledTimes(2);
  expect(parse(c, 'snapshot')[0].services[0].status).toBe('warning');

  clock.advance(250); // a batch later, with no event: still a fresh one
  const d = await connect();
  await d.waitFor(1, 'snapshot');
  expect(snapshots).toHaveBeenCalledTimes(3);
});

it('sends a fresh snapshot when a service comes or goes', async () => {
  await start({ stream: { pulseBatchMs: 250 } });
  const client = await connect();
  await client.waitFor(1, 'snapshot');
  const job = manager.heartbeat({ tag: 'nightly_job', interval: 60 }).start();
  clock.advance(250);
  await client.waitFor(2, 'snapshot');
  job.stop();
  clock.advance(250);
  const snapshots = await client.waitFor(3, 'snapshot');
  expect(snapshots.map((event) => JSON.parse(event.data).services.map((s: { service: string }) => s.service))).toEqual([
    [],
    ['nightly_job'],
    [],
  ]);
});

it('keeps every event on one data line, whatever the names and messages hold', async () => {
  const hostile = 'evil\n\nevent: status\ndata: {"forged":true}\r\n';
  const worker = manager.heartbeat({ tag: hostile, interval: 10 }).start();
  await start();
  const client = await connect();
  await client.waitFor(1, 'snapshot');
  worker.error('line one\nevent: snapshot\ndata: {}\n\nline two\r\rthree');
  await client.waitFor(1, 'status');
  await settle();
  expect(client.events.map((e) => e.event)).toEqual(['snapshot', 'status']);
  const status = parse(client, 'status')[0];
  expect(status.service).toBe(hostile);
  expect(status.health.last_error.message).toBe('line one\nevent: snapshot\ndata: {}\n\nline two\r\rthree');
  expect(client.raw()).not.toContain('\ndata: {"forged"');
});

it('refuses streams past the cap with 503 JSON', async () => {
  await start({ stream: { maxClients: 2 } });
  await connect();
  await connect();
  const response = await request(base).get('/api/health/stream');
  expect(response.status).toBe(503);
  expect(response.headers['retry-after']).toBe('5');
  expect(response.body).toEqual({ error: 'Too many open event streams (the limit is 2); try again later.', limit: 2 });
});

describe('places per client address', () => {
  /** Asks for a stream expected to be refused: the answer, or only its status if a stream opened (so a missing limit fails at once). */
  async function refusal(headers: Record<string, string> = {}): Promise<{ status: number; retryAfter: unknown; body: unknown }> {
    const client = await connect(headers);
    if (client.status === 200) return { status: 200, retryAfter: undefined, body: undefined };
    for (let i = 0; i < 50 && !client.ended(); i++) await settle();
    return { status: client.status, retryAfter: client.headers['retry-after'], body: JSON.parse(client.raw()) };
  }

  it('refuses a client past maxClientsPerAddress with 429 JSON naming the limit, while the server has room', async () => {
    await start({ stream: { maxClients: 100, maxClientsPerAddress: 2 } });
    await connect();
    await connect();
    expect(await refusal()).toEqual({
      status: 429,
      retryAfter: '5',
      body: { error: 'Too many open event streams from your address (the limit is 2 per address); close one first.', limit: 2 },
    });
  });

  it('counts each client behind a trusted proxy by its own address', async () => {
    await start({ stream: { maxClientsPerAddress: 1 } }, 'loopback');
    const first = await connect({ 'x-forwarded-for': '203.0.113.1' });
    expect(first.status).toBe(200);
    expect((await refusal({ 'x-forwarded-for': '203.0.113.1' })).status).toBe(429);
    const other = await connect({ 'x-forwarded-for': '203.0.113.2' });
    expect(other.status).toBe(200);
  });

  it('ignores X-Forwarded-For unless the app trusts the proxy, so a client cannot forge its way past the limit', async () => {
    await start({ stream: { maxClientsPerAddress: 1 } });
    expect((await connect({ 'x-forwarded-for': '203.0.113.1' })).status).toBe(200);
    expect((await refusal({ 'x-forwarded-for': '203.0.113.2' })).status).toBe(429);
  });

  it('gives the place back when a stream closes', async () => {
    await start({ stream: { maxClientsPerAddress: 1 } });
    const first = await connect();
    await first.waitFor(1, 'snapshot');
    first.close();
    let again: SseClient | undefined;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      await settle();
      const client = await connect();
      if (client.status === 200) again = client;
      else client.close();
    }
    expect(again?.status).toBe(200);
  });

  it('defaults to 10 per address', async () => {
    await start();
    for (let i = 0; i < 10; i++) expect((await connect()).status).toBe(200);
    expect(await refusal()).toMatchObject({ status: 429, body: { limit: 10 } });
  });
});

it('cleans up a closed socket at once, and accepts a new client in its place', async () => {
  await start({ stream: { maxClients: 1 } });
  const first = await connect();
  await first.waitFor(1, 'snapshot');
  first.close();
  let second: SseClient | undefined;
  for (let attempt = 0; attempt < 50 && !second; attempt++) {
    await settle();
    const client = await connect();
    if (client.status === 200) second = client;
    else client.close();
  }
  expect(second?.status).toBe(200);
});

it('drops a client that stops reading, without holding up the others', async () => {
  const worker = manager.heartbeat({ tag: 'w', interval: 1000 }).start();
  await start({ stream: { maxBufferedBytes: 64 * 1024 } });
  const reader = await connect();
  await reader.waitFor(1, 'snapshot');
  // A client that sends its request and never reads the answer.
  const stuck = net.connect(Number(new URL(base).port), '127.0.0.1');
  stuck.write('GET /api/health/stream HTTP/1.1\r\nHost: x\r\n\r\n');
  stuck.pause();
  await new Promise((resolve) => stuck.once('connect', resolve));
  const big = 'x'.repeat(1000);
  let transitions = 0;
  // Until the stuck client's queue passes the cap, while the reader keeps up (it reads in this
  // same event loop, so let it run after each round).
  for (let round = 0; round < 20_000; round++) {
    worker.error(big);
    worker.pulse();
    clock.advance(1);
    transitions += 2;
    await settle();
    if (round % 50 === 0 && (await streamsOpen()) === 1) break;
  }
  expect(await streamsOpen()).toBe(1);
  await reader.waitFor(transitions, 'status');
  expect(parse(reader, 'status')).toHaveLength(transitions);
  stuck.destroy();
});

/** Open streams, read from the ready probe's view of the router: the hub is not exported through HTTP. */
async function streamsOpen(): Promise<number> {
  return new Promise((resolve) =>
    server.getConnections((_error, count) => {
      resolve(count);
    }),
  );
}

it('starts a reconnecting client over from a fresh snapshot', async () => {
  const worker = manager.heartbeat({ tag: 'w', interval: 10 }).start();
  await start();
  const first = await connect();
  await first.waitFor(1, 'snapshot');
  first.close();
  worker.error('while away');
  const again = await connect({ 'last-event-id': first.events[0]?.id ?? '1' });
  const [snapshot] = await again.waitFor(1, 'snapshot');
  expect(JSON.parse(snapshot?.data as string).services[0]).toMatchObject({
    service: 'w',
    status: 'warning',
    last_error: { message: 'while away' },
  });
  expect(again.raw()).toContain('retry: 2000');
});

it('sends keep-alive comments', async () => {
  await start({ stream: { keepAliveMs: 1000, pulseBatchMs: 250 } });
  const client = await connect();
  await client.waitFor(1, 'snapshot');
  clock.advance(1000);
  for (let i = 0; i < 20 && !client.raw().includes(': keep-alive'); i++) await settle();
  expect(client.raw()).toContain(': keep-alive\n\n');
});

it('ends every stream when the manager closes, and leaves no timer', async () => {
  await start();
  const client = await connect();
  await client.waitFor(1, 'snapshot');
  void manager.close();
  for (let i = 0; i < 20 && !client.ended(); i++) await settle();
  expect(client.ended()).toBe(true);
  expect(jest.getTimerCount()).toBe(0);
});

it('can be turned off, and the page with it', async () => {
  await start({ stream: false, ui: false });
  expect((await request(base).get('/api/health/stream')).status).toBe(404);
  expect((await request(base).get('/api/health/ui')).status).toBe(404);
  expect(() => healthRouter({ manager, registry: new Registry(), stream: false, ui: true })).toThrow(
    '"ui" is true; expected false when the stream is off',
  );
});

it('rejects bad stream limits', () => {
  expect(() => healthRouter({ manager, registry: new Registry(), stream: { maxClients: 0 } })).toThrow('"stream.maxClients" is 0');
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '10', null, {}]) {
    expect(() => healthRouter({ manager, registry: new Registry(), stream: { maxClientsPerAddress: bad as number } })).toThrow(
      /"stream\.maxClientsPerAddress" is .*; expected a whole number of at least 1/,
    );
  }
  expect(() => healthRouter({ manager, registry: new Registry(), stream: { maxClient: 3 } as never })).toThrow(
    'unknown key "stream.maxClient"',
  );
});

// Node's timers (and jest's fake ones) overflow past 2^31 − 1 ms and fire after 1 ms: such a batch would spin.
it.each(['pulseBatchMs', 'keepAliveMs'])('refuses a %s past the longest timer, and keeps the longest one', async (key) => {
  expect(() => healthRouter({ manager, registry: new Registry(), stream: { [key]: MAX_TIMER_DELAY_MS + 1 } })).toThrow(
    `"stream.${key}" is ${MAX_TIMER_DELAY_MS + 1}; expected at most ${MAX_TIMER_DELAY_MS} milliseconds`,
  );
  await start({ stream: { [key]: MAX_TIMER_DELAY_MS } });
  const worker = manager.heartbeat({ tag: 'w', interval: 10 }).start();
  const client = await connect();
  await client.waitFor(1, 'snapshot');
  worker.pulse();
  clock.advance(1000);
  for (let i = 0; i < 5; i++) await settle();
  if (key === 'pulseBatchMs') expect(parse(client, 'pulse')).toEqual([]);
  else expect(client.raw()).not.toContain(': keep-alive');
});

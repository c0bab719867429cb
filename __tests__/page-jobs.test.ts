// What the status page learns of runs and pauses from the event stream, over real HTTP on the
// test clock: a pause need not change the status and a run's begin is not a pulse, so neither
// would reach the page through status or pulse events. The page itself is the browser test's.
import type { Server } from 'node:http';
import { Script } from 'node:vm';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { HeartbeatManager } from '../lib/core/manager';
import type { HeartbeatConfig } from '../lib/core/config';
import { MAX_STATUS_EVENTS_PER_TURN } from '../lib/http/stream';
import { healthRouter, type HealthRouterOptions } from '../lib/http/router';
import { PAGE_SCRIPT } from '../lib/page/script';
import { createTestClock, type TestClock } from './helpers/clock';
import { openStream, type SseClient } from './helpers/sse';

const TOKEN = 'page-jobs-token-0123456789';
const BATCH_MS = 250;

let clock: TestClock;
let manager: HeartbeatManager;
let server: Server | undefined;
let base: string;
const clients: SseClient[] = [];
const managers: HeartbeatManager[] = [];

function openManager(config: HeartbeatConfig = {}): HeartbeatManager {
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent', ...config } });
  managers.push(manager);
  return manager;
}

async function start(options: Omit<HealthRouterOptions, 'manager' | 'registry'> = {}): Promise<void> {
  const app = express().use(healthRouter({ manager, registry: new Registry(), stream: { pulseBatchMs: BATCH_MS }, ...options }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server?.once('listening', resolve));
  base = `http://127.0.0.1:${String((server.address() as { port: number }).port)}`;
}

async function connect(headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await openStream(`${base}/api/health/stream`, headers);
  clients.push(client);
  await client.waitFor(1, 'snapshot');
  return client;
}

const parse = (client: SseClient, name: string) =>
  client.events.filter((event) => event.event === name).map((event) => JSON.parse(event.data) as Record<string, unknown>);
const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const opened of managers.splice(0)) void opened.close();
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  }
  jest.useRealTimers();
});

describe('run events', () => {
  it('tell the page when a run begins and ends, with the body’s run, in the pulses’ rhythm', async () => {
    openManager({ services: { router_tasks: { interval: 60, max_runtime: 600 }, save_worker: { interval: 30 } } });
    const tasks = manager.heartbeat({ tag: 'router_tasks' }).start();
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    await start();
    const client = await connect();

    const run = tasks.begin();
    const startedAt = new Date(clock.wallNow()).toISOString();
    worker.pulse();
    clock.advance(BATCH_MS);
    await client.waitFor(1, 'run');
    expect(parse(client, 'run')).toEqual([
      {
        services: {
          router_tasks: {
            state: 'running',
            started_at: startedAt,
            last_duration_seconds: null,
            last_exit_code: null,
            runtime_anomaly: null,
          },
        },
      },
    ]);

    clock.advance(42_000 - BATCH_MS);
    run.success();
    clock.advance(BATCH_MS);
    await client.waitFor(2, 'run');
    expect(parse(client, 'run')[1]).toEqual({
      services: { router_tasks: { state: 'idle', started_at: null, last_duration_seconds: 42, last_exit_code: 0, runtime_anomaly: null } },
    });
    // The same as the body the page would read.
    expect((await request(base).get('/api/health/service/router_tasks')).body.run).toEqual({
      state: 'idle',
      started_at: null,
      last_duration_seconds: 42,
      last_exit_code: 0,
      runtime_anomaly: null,
    });

    // Nothing changed since: no more run events, though save_worker pulses on.
    worker.pulse();
    clock.advance(BATCH_MS);
    await client.waitFor(3, 'pulse');
    clock.advance(BATCH_MS);
    await settle();
    expect(parse(client, 'run')).toHaveLength(2);
    // A plain heartbeat never appears in a run batch.
    expect(parse(client, 'run').some((event) => 'save_worker' in (event.services as object))).toBe(false);
  });

  it('reach a client connected before another one, whose snapshot came between the change and the batch', async () => {
    openManager();
    const indexer = manager.heartbeat({ tag: 'file_indexer', interval: 3600 }).start();
    indexer.begin().success(); // a job before anyone watched
    await start();
    const early = await connect();
    indexer.begin();
    const late = await connect();
    clock.advance(BATCH_MS);
    await early.waitFor(1, 'run');
    expect(parse(early, 'run')[0]).toMatchObject({ services: { file_indexer: { state: 'running' } } });
    // The late one shared the early one's snapshot, taken in the same batch with no event between: the batch brings it the run too.
    await late.waitFor(1, 'run');
    expect(parse(late, 'snapshot')[0]).toMatchObject({ services: [{ service: 'file_indexer', run: { state: 'idle' } }] });
    expect(parse(late, 'run')[0]).toMatchObject({ services: { file_indexer: { state: 'running' } } });
  });

  it('go only to callers who may see details', async () => {
    openManager({ remote_token: TOKEN });
    const indexer = manager.heartbeat({ tag: 'file_indexer', interval: 3600 }).start();
    await start({ details: 'when-authorized' });
    const anonymous = await connect();
    const authorized = await connect({ authorization: `Bearer ${TOKEN}` });
    indexer.begin();
    clock.advance(BATCH_MS);
    await authorized.waitFor(1, 'run');
    await settle();
    expect(parse(anonymous, 'run')).toEqual([]);
  });
});

describe('pause events', () => {
  it('tell the page when a pause begins and ends, with the body and the overall status, though the status does not change', async () => {
    openManager({ services: { save_worker: { interval: 30 } } });
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    worker.error('volume offline', { critical: true });
    await start();
    const client = await connect();

    const until = new Date(clock.wallNow() + 3600_000).toISOString();
    manager.pause('save_worker', { until, reason: 'disk swap' });
    const [event] = await client.waitFor(1, 'pause');
    const paused = JSON.parse(event?.data ?? '{}') as Record<string, unknown>;
    expect(paused).toMatchObject({
      service: 'save_worker',
      paused: true,
      reason: 'disk swap',
      until,
      // Still critical by its error, but left out of the overall status.
      overall_status: 'healthy',
      health: { status: 'critical', paused: { reason: 'disk swap', until } },
    });
    expect(parse(client, 'status')).toEqual([]);

    expect(manager.resume('save_worker')).toBe(true);
    await client.waitFor(2, 'pause');
    expect(parse(client, 'pause')[1]).toMatchObject({
      service: 'save_worker',
      paused: false,
      overall_status: 'critical',
      health: { paused: null },
    });
  });

  it('tell a caller without details the flag alone, with the overall status', async () => {
    openManager({ remote_token: TOKEN, services: { save_worker: { interval: 30 } } });
    manager.heartbeat({ tag: 'save_worker' }).start();
    await start({ details: 'when-authorized' });
    const anonymous = await connect();
    manager.pause('save_worker', { reason: 'secret migration plan' });
    await anonymous.waitFor(1, 'pause');
    expect(parse(anonymous, 'pause')).toEqual([{ service: 'save_worker', paused: true, overall_status: 'healthy' }]);
    expect(anonymous.raw()).not.toContain('secret migration plan');
  });

  it('past the per-turn cap, go out as one fresh snapshot', async () => {
    const tags = Array.from({ length: MAX_STATUS_EVENTS_PER_TURN + 10 }, (_, i) => `w${String(i)}`);
    openManager();
    for (const tag of tags) manager.heartbeat({ tag, interval: 3600 }).start();
    await start();
    const client = await connect();
    for (const tag of tags) manager.pause(tag, { reason: 'maintenance' });
    const [, snapshot] = await client.waitFor(2, 'snapshot');
    const body = JSON.parse(snapshot?.data ?? '{}') as { services: Array<{ paused: unknown }> };
    expect(body.services.every((service) => service.paused !== null)).toBe(true);
    await settle();
    expect(parse(client, 'pause')).toEqual([]);
  });
});

describe('the page script', () => {
  it('listens for pause and run events, and writes notes as text only', () => {
    expect(PAGE_SCRIPT).toContain("source.addEventListener('pause', onPause)");
    expect(PAGE_SCRIPT).toContain("source.addEventListener('run', onRun)");
    // No HTML is ever built from data: every note goes through textContent.
    expect(PAGE_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    // A script that parses (compiled, not run).
    expect(() => new Script(PAGE_SCRIPT)).not.toThrow();
  });
});

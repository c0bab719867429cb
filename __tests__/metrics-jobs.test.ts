import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import type { ReplicaLink } from '../lib/core/replicas';
import type { HeartbeatStore } from '../lib/core/store';
import { healthRouter } from '../lib/http/router';
import { createApp, type AppFixture } from './helpers/app';
import { createTestClock } from './helpers/clock';
import { closeManagers, trackManager } from './helpers/managers';
import { parseSamples, promtoolCheckMetrics } from './helpers/promtool';

let fixture: AppFixture;

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
  fixture = createApp({
    services: {
      file_indexer: { interval: 3600, critical: false },
      // A runtime rule creates the service's runs from the config, before any begin().
      router_tasks: { interval: 60, max_runtime: 600 },
      save_worker: { interval: 30 },
    },
  });
});
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

/** One real scrape of /metrics, checked by promtool, as samples. */
async function scrape(): Promise<Map<string, number>> {
  const response = await request(fixture.app).get('/metrics');
  expect(response.status).toBe(200);
  const check = promtoolCheckMetrics(response.text);
  expect(check.output).toBe('');
  expect(check.status).toBe(0);
  return parseSamples(response.text);
}

it('has run_in_progress 1 while a run is open, then the last duration and 0 once it succeeds', async () => {
  const indexer = fixture.manager.heartbeat({ tag: 'file_indexer' }).start();
  let samples = await scrape();
  // Before its first begin() a service without a runtime rule is a plain heartbeat: no job series.
  expect(samples.has('heartbeat_run_in_progress{service="file_indexer"}')).toBe(false);
  expect(samples.has('heartbeat_last_run_duration_seconds{service="file_indexer"}')).toBe(false);

  const run = indexer.begin();
  samples = await scrape();
  expect(samples.get('heartbeat_run_in_progress{service="file_indexer"}')).toBe(1);
  // No run has finished yet: absent, not 0, which would read as a run that took no time.
  expect(samples.has('heartbeat_last_run_duration_seconds{service="file_indexer"}')).toBe(false);

  fixture.clock.advance(42_000);
  run.success();
  samples = await scrape();
  expect(samples.get('heartbeat_run_in_progress{service="file_indexer"}')).toBe(0);
  expect(samples.get('heartbeat_last_run_duration_seconds{service="file_indexer"}')).toBe(42);

  // The next run open: in progress again, and the last finished one still reported.
  indexer.begin();
  fixture.clock.advance(5_000);
  samples = await scrape();
  expect(samples.get('heartbeat_run_in_progress{service="file_indexer"}')).toBe(1);
  expect(samples.get('heartbeat_last_run_duration_seconds{service="file_indexer"}')).toBe(42);
});

it('exports run_in_progress 0 for a service with max_runtime before its first run, and nothing for plain heartbeats', async () => {
  fixture.manager.heartbeat({ tag: 'save_worker' }).start().pulse();
  const samples = await scrape();
  expect(samples.get('heartbeat_run_in_progress{service="router_tasks"}')).toBe(0);
  expect(samples.has('heartbeat_run_in_progress{service="save_worker"}')).toBe(false);
  expect(samples.has('heartbeat_run_in_progress{service="file_indexer"}')).toBe(false);
  expect([...samples.keys()].filter((series) => series.startsWith('heartbeat_run_in_progress{'))).toEqual([
    'heartbeat_run_in_progress{service="router_tasks"}',
  ]);
});

it('reports a failed run: 0 in progress and its duration', async () => {
  const tasks = fixture.manager.heartbeat({ tag: 'router_tasks' }).start();
  const run = tasks.begin();
  fixture.clock.advance(7_500);
  run.fail(new Error('route table locked'));
  const samples = await scrape();
  expect(samples.get('heartbeat_run_in_progress{service="router_tasks"}')).toBe(0);
  expect(samples.get('heartbeat_last_run_duration_seconds{service="router_tasks"}')).toBe(7.5);
});

it('has service_paused for every listed service: 1 while paused, 0 after resume', async () => {
  let samples = await scrape();
  for (const tag of ['file_indexer', 'router_tasks', 'save_worker'])
    expect(samples.get(`heartbeat_service_paused{service="${tag}"}`)).toBe(0);

  fixture.manager.pause('save_worker', { reason: 'disk swap' });
  samples = await scrape();
  expect(samples.get('heartbeat_service_paused{service="save_worker"}')).toBe(1);
  expect(samples.get('heartbeat_service_paused{service="file_indexer"}')).toBe(0);

  expect(fixture.manager.resume('save_worker')).toBe(true);
  samples = await scrape();
  expect(samples.get('heartbeat_service_paused{service="save_worker"}')).toBe(0);
});

it('drops service_paused to 0 when the pause reaches its until, with no resume()', async () => {
  fixture.manager.pause('save_worker', { until: fixture.clock.wallNow() + 60_000 });
  expect((await scrape()).get('heartbeat_service_paused{service="save_worker"}')).toBe(1);
  fixture.clock.advance(60_001);
  expect((await scrape()).get('heartbeat_service_paused{service="save_worker"}')).toBe(0);
});

it('has service_paused 1 inside a maintenance window, and 0 after it', async () => {
  const start = fixture.clock.wallNow() + 10_000;
  const windowed = createApp({
    services: { save_worker: { interval: 30 } },
    maintenance: [{ services: ['save_worker'], start: new Date(start).toISOString(), end: new Date(start + 60_000).toISOString() }],
  });
  fixture = windowed;
  expect((await scrape()).get('heartbeat_service_paused{service="save_worker"}')).toBe(0);
  fixture.clock.advance(11_000);
  expect((await scrape()).get('heartbeat_service_paused{service="save_worker"}')).toBe(1);
  fixture.clock.advance(60_000);
  expect((await scrape()).get('heartbeat_service_paused{service="save_worker"}')).toBe(0);
});

describe('service_shared', () => {
  const TOKEN = 'test-token-0123456789abcdef';
  const SERVICES: HeartbeatConfig = {
    remote_token: TOKEN,
    auto_register: true,
    services: {
      // Configured as remote: shared from the start, before any remote call.
      nightly_export: { interval: 3600, remote: true },
      // Configured, and shared from its first remote call.
      csharp_client: { interval: 30 },
      // In-process: describes this replica only.
      save_worker: { interval: 30 },
    },
  };

  /**
   * A store that replicas share, as far as the metrics can tell: it keeps nothing, and its link
   * to the other replicas goes nowhere (no other replica, always the leader, no skew).
   */
  function sharedStore(): HeartbeatStore {
    const link: ReplicaLink = {
      replicaId: 'replica-under-test',
      skewMs: () => 0,
      publish: () => undefined,
      onSignal: () => undefined,
      leading: true,
      onLeadChange: () => undefined,
      saveNote: () => undefined,
      readNotes: () => Promise.resolve(new Map<string, unknown>()),
    };
    return {
      kind: 'shared-fixture',
      load: () => ({ snapshot: null, entries: [] }),
      append: () => true,
      health: () => ({ state: 'ok', lastError: null, errors: 0, lastWriteAt: null, droppedSignals: 7 }),
      close: () => Promise.resolve(),
      replicas: link,
    };
  }

  /** createApp() with a manager on a shared store. */
  function sharedApp(config: HeartbeatConfig): AppFixture {
    const clock = createTestClock();
    const manager = trackManager(new HeartbeatManager({ config: { log_level: 'silent', ...config }, clock, store: sharedStore() }));
    const registry = new Registry();
    const app = express();
    app.use(healthRouter({ manager, registry }));
    return { app, manager, registry, clock };
  }

  const remotePulse = (tag: string) =>
    request(fixture.app)
      .post(`/api/health/service/${tag}/pulse`)
      .set({ Authorization: `Bearer ${TOKEN}` });

  /** The service_shared samples, by service. */
  const shared = (samples: Map<string, number>) =>
    Object.fromEntries(
      [...samples].flatMap(([series, value]) => {
        const tag = /^heartbeat_service_shared\{service="(\w+)"\}$/.exec(series)?.[1];
        return tag === undefined ? [] : [[tag, value]];
      }),
    );

  it('is 0 for every service without a shared store, remote ones included', async () => {
    fixture = createApp(SERVICES);
    expect(fixture.manager.replicas).toBeNull();
    fixture.manager.heartbeat({ tag: 'save_worker' }).start().pulse();
    expect((await remotePulse('csharp_client')).status).toBe(204);
    expect((await remotePulse('cron_cleanup')).status).toBe(204);
    expect(shared(await scrape())).toEqual({ nightly_export: 0, csharp_client: 0, save_worker: 0, cron_cleanup: 0 });
  });

  it('is 1 for remote services on a shared store, from the config or the first remote call, and 0 for in-process ones', async () => {
    fixture = sharedApp(SERVICES);
    fixture.manager.heartbeat({ tag: 'save_worker' }).start().pulse();
    expect(shared(await scrape())).toEqual({ nightly_export: 1, csharp_client: 0, save_worker: 0 });

    expect((await remotePulse('csharp_client')).status).toBe(204);
    // auto_register: a service the first remote pulse creates is shared from then on.
    expect((await remotePulse('cron_cleanup')).status).toBe(204);
    const samples = await scrape();
    expect(shared(samples)).toEqual({ nightly_export: 1, csharp_client: 1, save_worker: 0, cron_cleanup: 1 });
    // One series per listed service, as for the status: the rules join the two on (job, instance, service).
    const statuses = [...samples.keys()].filter((series) => series.startsWith('heartbeat_service_status{'));
    expect(statuses).toHaveLength(4);
  });

  it('counts the remote calls a shared store dropped unshared, and is absent for a store that shares nothing', async () => {
    fixture = sharedApp(SERVICES);
    expect((await scrape()).get('heartbeat_store_dropped_signals_total')).toBe(7);
    fixture = createApp(SERVICES);
    expect((await scrape()).has('heartbeat_store_dropped_signals_total')).toBe(false);
  });
});

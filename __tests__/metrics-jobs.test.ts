import request from 'supertest';
import { createApp, type AppFixture } from './helpers/app';
import { closeManagers } from './helpers/managers';
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

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Gauge, Registry, register as globalRegister, type OpenMetricsContentType } from 'prom-client';
import request from 'supertest';
import { HeartbeatManager } from '../lib/core/manager';
import { registerMetrics } from '../lib/metrics/prometheus';
import { healthRouter } from '../lib/http/router';
import { type TestClock } from './helpers/clock';
import { useMetricsFixture } from './helpers/metrics-fixture';
import { failNext } from './helpers/fs-faults';
import { captureLogger } from './helpers/logger';
import { fileStore } from '../lib/store';
import { parseSamples, promtoolCheckMetrics } from './helpers/promtool';

let clock: TestClock;
let manager: HeartbeatManager;
let registry: Registry;

useMetricsFixture((fixture) => ({ clock, manager, registry } = fixture));

it('exports every family with values read at scrape time', async () => {
  registerMetrics(manager, { registry });
  const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
  worker.pulse();
  worker.pulse();
  worker.error('disk full');
  let samples = parseSamples(await registry.metrics());
  expect(samples.get('heartbeat_service_status{service="save_worker"}')).toBe(1);
  expect(samples.get('heartbeat_service_status{service="file_indexer"}')).toBe(0);
  expect(samples.get('heartbeat_interval_seconds{service="save_worker"}')).toBe(30);
  expect(samples.get('heartbeat_pulses_total{service="save_worker"}')).toBe(2);
  expect(samples.get('heartbeat_errors_total{service="save_worker"}')).toBe(1);
  expect(samples.get('heartbeat_consecutive_failures{service="save_worker"}')).toBe(1);
  expect(samples.get('heartbeat_last_pulse_timestamp_seconds{service="save_worker"}')).toBeCloseTo(clock.wallNow() / 1000, 3);
  // A configured service that never started has no last pulse yet: the series is absent, not 0.
  expect(samples.has('heartbeat_last_pulse_timestamp_seconds{service="file_indexer"}')).toBe(false);
  expect(samples.get('heartbeat_overall_status')).toBe(1);

  clock.advance(60 * 5 + 10_000 * 60); // long silence: both critical, file_indexer capped in the overall status
  samples = parseSamples(await registry.metrics());
  expect(samples.get('heartbeat_service_status{service="save_worker"}')).toBe(3);
  expect(samples.get('heartbeat_service_status{service="file_indexer"}')).toBe(3);
  expect(samples.get('heartbeat_overall_status')).toBe(3);
});

it('reports offline as 4', async () => {
  const offline = new HeartbeatManager({ clock, config: { enabled: false, log_level: 'silent' } });
  registerMetrics(offline, { registry });
  expect(parseSamples(await registry.metrics()).get('heartbeat_overall_status')).toBe(4);
  void offline.close();
});

it('passes promtool check metrics, with names that need escaping', async () => {
  registerMetrics(manager, { registry });
  for (const tag of ['plain', 'quote"d', 'back\\slash', 'new\nline', 'юникод💥', '{brace}=x,'])
    manager.heartbeat({ tag, interval: 5 }).start();
  const text = await registry.metrics();
  const check = promtoolCheckMetrics(text);
  expect(check.output).toBe('');
  expect(check.status).toBe(0);
  expect(parseSamples(text).get('heartbeat_service_status{service="quote\\"d"}')).toBe(0);
  expect(parseSamples(text).get('heartbeat_service_status{service="new\\nline"}')).toBe(0);
});

it('has promtool reject a broken exposition, so the check above can fail', () => {
  expect(promtoolCheckMetrics('heartbeat_service_status{service="a} 1\n').status).not.toBe(0);
});

it('registers twice, and two managers on one registry, without "already registered"', async () => {
  const other = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  registerMetrics(manager, { registry });
  expect(() => registerMetrics(manager, { registry })).not.toThrow();
  expect(() => registerMetrics(other, { registry })).not.toThrow();
  manager.heartbeat({ tag: 'a', interval: 1 }).start();
  other.heartbeat({ tag: 'b', interval: 1 }).error('down', { critical: true });
  const samples = parseSamples(await registry.metrics());
  expect(samples.get('heartbeat_service_status{service="a"}')).toBe(0);
  expect(samples.get('heartbeat_service_status{service="b"}')).toBe(3);
  expect(samples.get('heartbeat_overall_status')).toBe(3); // the worst of both managers
  void other.close();
  expect(parseSamples(await registry.metrics()).has('heartbeat_service_status{service="b"}')).toBe(false);
});

it('stops exporting a manager on unregister()', async () => {
  const registration = registerMetrics(manager, { registry });
  manager.heartbeat({ tag: 'a', interval: 1 }).start();
  registration.unregister();
  expect(parseSamples(await registry.metrics()).has('heartbeat_service_status{service="a"}')).toBe(false);
});

it('registers again after registry.clear()', async () => {
  registerMetrics(manager, { registry });
  registry.clear();
  registerMetrics(manager, { registry });
  manager.heartbeat({ tag: 'a', interval: 1 }).start();
  expect(parseSamples(await registry.metrics()).get('heartbeat_pulses_total{service="a"}')).toBe(0);
});

it('forgets the managers of a cleared registry: only those registered after clear() are exported', async () => {
  manager.heartbeat({ tag: 'before_clear', interval: 5 }).start().pulse();
  registerMetrics(manager, { registry });
  registry.clear();
  const other = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  other.heartbeat({ tag: 'after_clear', interval: 5 }).start().pulse();
  registerMetrics(other, { registry });
  const samples = parseSamples(await registry.metrics());
  void other.close();
  expect(samples.get('heartbeat_pulses_total{service="after_clear"}')).toBe(1);
  expect(samples.has('heartbeat_pulses_total{service="before_clear"}')).toBe(false);
});

it('exports a manager registered on a Registry.merge()d registry, which shares the merged families and so their managers', async () => {
  manager.heartbeat({ tag: 'on_source', interval: 5 }).start().pulse();
  registerMetrics(manager, { registry });
  const merged = Registry.merge([registry]);
  const other = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  other.heartbeat({ tag: 'on_merged', interval: 5 }).start().pulse();
  registerMetrics(other, { registry: merged });
  const [onMerged, onSource] = [parseSamples(await merged.metrics()), parseSamples(await registry.metrics())];
  void other.close();
  expect([
    onMerged.get('heartbeat_pulses_total{service="on_merged"}'),
    onMerged.get('heartbeat_pulses_total{service="on_source"}'),
  ]).toEqual([1, 1]);
  expect(onSource.get('heartbeat_pulses_total{service="on_merged"}')).toBe(1);
});

it('refuses a name taken by a foreign metric, naming it and the fix, and registers nothing', () => {
  new Gauge({ name: 'heartbeat_errors_total', help: 'mine', registers: [registry] });
  expect(() => registerMetrics(manager, { registry })).toThrow(
    'the registry already has a metric named "heartbeat_errors_total" that express-heartbeat did not create. ' +
      `Pass another prefix than "heartbeat_": healthRouter({ metricsPrefix: 'app_heartbeat_' }), ` +
      `or registerMetrics(manager, { prefix: 'app_heartbeat_' }) where you register the metrics yourself.`,
  );
  expect(registry.getSingleMetric('heartbeat_service_status')).toBeUndefined();
  expect(() => registerMetrics(manager, { registry, prefix: 'app_heartbeat_' })).not.toThrow();
  expect(registry.getSingleMetric('app_heartbeat_service_status')).toBeDefined();
});

it.each([
  ['prefix', { prefix: '9bad' }],
  ['prefix', { prefix: 'has space_' }],
  ['registry', { registry: {} }],
  ['registy', { registy: 1 }],
])('rejects a bad %s', (key, options) => {
  expect(() => registerMetrics(manager, options as never)).toThrow(`"${key}"`);
});

it('works with an OpenMetrics registry', async () => {
  const open = new Registry<OpenMetricsContentType>();
  open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registerMetrics(manager, { registry: open });
  manager.heartbeat({ tag: 'a', interval: 1 }).pulse();
  const text = await open.metrics();
  expect(text).toContain('# TYPE heartbeat_pulses counter');
  expect(text).toContain('heartbeat_pulses_total{service="a"} 1');
  expect(text.endsWith('# EOF\n')).toBe(true);
});

describe('GET /metrics through the router', () => {
  it('serves the registry with its content type', async () => {
    const app = express().use(healthRouter({ manager, registry }));
    manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
    const response = await request(app).get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe(registry.contentType);
    expect(response.text).toContain('heartbeat_service_status{service="flask_bridge"} 0');
  });

  it('uses the global registry by default, so a plain app.use(healthRouter()) is a scrape target', async () => {
    const app = express().use(healthRouter({ manager }));
    manager.heartbeat({ tag: 'global_check', interval: 15 }).start();
    const response = await request(app).get('/metrics');
    expect(response.text).toContain('heartbeat_service_status{service="global_check"} 0');
    expect(globalRegister.getSingleMetric('heartbeat_service_status')).toBeDefined();
  });

  it('leaves /metrics to the app with metrics: false, and still registers the gauges', async () => {
    const app = express().use(healthRouter({ manager, registry, metrics: false }));
    app.get('/metrics', (_req, res) => void res.send('the app owns this'));
    expect((await request(app).get('/metrics')).text).toBe('the app owns this');
    expect(registry.getSingleMetric('heartbeat_service_status')).toBeDefined();
  });

  it('refuses a taken metric name, naming metricsPrefix, and serves under the metricsPrefix given', async () => {
    new Gauge({ name: 'heartbeat_service_status', help: 'the app’s own', registers: [registry] });
    expect(() => healthRouter({ manager, registry })).toThrow(
      /already has a metric named "heartbeat_service_status" .*Pass another prefix than "heartbeat_": healthRouter\(\{ metricsPrefix: 'app_heartbeat_' \}\)/,
    );
    const app = express().use(healthRouter({ manager, registry, metricsPrefix: 'app_heartbeat_' }));
    manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
    const samples = parseSamples((await request(app).get('/metrics')).text);
    expect(samples.get('app_heartbeat_service_status{service="flask_bridge"}')).toBe(0);
    expect(samples.get('app_heartbeat_pulses_total{service="flask_bridge"}')).toBe(0);
    expect(samples.has('heartbeat_pulses_total{service="flask_bridge"}')).toBe(false);
  });

  it('answers a failing collector with a JSON 500 and keeps serving', async () => {
    new Gauge({
      name: 'broken_gauge',
      help: 'throws',
      registers: [registry],
      collect() {
        throw new Error('collector bug');
      },
    });
    const app = express().use(healthRouter({ manager, registry }));
    const response = await request(app).get('/metrics');
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: 'Collecting metrics failed; see the server log.' });
    expect((await request(app).get('/api/health/live')).status).toBe(200);
  });
});

describe('the store metrics', () => {
  const dirs: string[] = [];
  const stored: HeartbeatManager[] = [];
  afterEach(() => {
    for (const opened of stored.splice(0)) void opened.close();
    jest.restoreAllMocks();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A manager on a file store in a new temporary directory, closed after the test. */
  function onFileStore(): HeartbeatManager {
    const dir = mkdtempSync(join(tmpdir(), 'heartbeat-metrics-'));
    dirs.push(dir);
    const opened = new HeartbeatManager({ clock, config: { log_level: 'silent' }, store: fileStore({ dir }) });
    stored.push(opened);
    return opened;
  }

  it('export no errors and no last flush for a memory store: absent, not a flush in 1970', async () => {
    registerMetrics(manager, { registry });
    manager.heartbeat({ tag: 'a', interval: 1 }).pulse();
    clock.advance(2000);
    const samples = parseSamples(await registry.metrics());
    expect(samples.get('heartbeat_store_errors_total')).toBe(0);
    expect(samples.has('heartbeat_store_last_flush_timestamp_seconds')).toBe(false);
  });

  it('export the time of the last write, and count failed writes, over /metrics, passing promtool', async () => {
    const onDisk = onFileStore();
    const app = express().use(healthRouter({ manager: onDisk, registry }));
    const worker = onDisk.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    let samples = parseSamples((await request(app).get('/metrics')).text);
    expect(samples.has('heartbeat_store_last_flush_timestamp_seconds')).toBe(false); // nothing written yet

    worker.pulse();
    clock.advance(2000); // a flush saves the pulse
    const lastWriteAt = onDisk.storeHealth().lastWriteAt as number;
    expect(lastWriteAt).toBeGreaterThan(clock.wallNow() - 2000);
    samples = parseSamples((await request(app).get('/metrics')).text);
    expect(samples.get('heartbeat_store_last_flush_timestamp_seconds')).toBe(lastWriteAt / 1000);
    expect(samples.get('heartbeat_store_errors_total')).toBe(0);

    failNext('fdatasyncSync', 'EIO', { count: 2 }); // a failing disk: EIO cannot be caused for real
    worker.error('disk full'); // a status change, saved before it is announced
    worker.error('disk full', { critical: true });
    const text = (await request(app).get('/metrics')).text;
    samples = parseSamples(text);
    expect(samples.get('heartbeat_store_errors_total')).toBe(2);
    expect(samples.get('heartbeat_store_last_flush_timestamp_seconds')).toBe(lastWriteAt / 1000);
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
  });

  it('sum the errors of several managers on one registry, and give the latest write', async () => {
    const first = onFileStore();
    const second = onFileStore();
    registerMetrics(first, { registry });
    registerMetrics(second, { registry });
    registerMetrics(manager, { registry }); // a memory store adds nothing to either
    const a = first.heartbeat({ tag: 'a', interval: 30 }).start();
    a.pulse();
    clock.advance(2000);
    const b = second.heartbeat({ tag: 'b', interval: 30 }).start();
    b.pulse();
    clock.advance(2000);
    failNext('fdatasyncSync', 'EIO', { count: 3 });
    a.error('one');
    b.error('two');
    b.error('three', { critical: true });
    const samples = parseSamples(await registry.metrics());
    expect([first.storeHealth().errors, second.storeHealth().errors]).toEqual([1, 2]);
    expect(samples.get('heartbeat_store_errors_total')).toBe(3);
    const latest = Math.max(first.storeHealth().lastWriteAt as number, second.storeHealth().lastWriteAt as number);
    expect(latest).toBe(second.storeHealth().lastWriteAt);
    expect(samples.get('heartbeat_store_last_flush_timestamp_seconds')).toBe(latest / 1000);
  });
});

describe('custom metrics', () => {
  it('records numbers sent with pulses, shows them and exports them', async () => {
    registerMetrics(manager, { registry });
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 });
    worker.pulse({ queue_depth: 12, lag_seconds: 0.5 });
    worker.pulse({ queue_depth: 3 });
    expect(manager.service('save_worker')?.metrics).toEqual({ queue_depth: 3, lag_seconds: 0.5 });
    const samples = parseSamples(await registry.metrics());
    expect(samples.get('heartbeat_service_metric{service="save_worker",metric="queue_depth"}')).toBe(3);
    expect(samples.get('heartbeat_service_metric{service="save_worker",metric="lag_seconds"}')).toBe(0.5);
  });

  it('ignores anything but finite numbers under sane names, at most 20 per service, warning once', () => {
    const { logger, lines } = captureLogger();
    const local = new HeartbeatManager({ clock, logger, config: { log_level: 'warn' } });
    const worker = local.heartbeat({ tag: 'w', interval: 30 });
    const many = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`m${i}`, i]));
    worker.pulse(many);
    worker.pulse({ text: 'x', nan: Number.NaN, inf: Infinity, 'bad name': 1, __proto__: 5 } as never);
    worker.pulse('nonsense' as never);
    const metrics = local.service('w')?.metrics ?? {};
    expect(Object.keys(metrics)).toHaveLength(20);
    expect(metrics.m19).toBe(19);
    expect(metrics.m20).toBeUndefined();
    expect(local.service('w')?.total_pulses).toBe(3);
    expect(lines.filter((line) => line.msg.includes('custom metrics that were ignored'))).toHaveLength(1);
    void local.close();
  });
});

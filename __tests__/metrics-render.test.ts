// renderMetrics(): the router's own GET /metrics writes the heartbeat families itself, and must
// write exactly the bytes prom-client's registry.metrics() writes, whatever the registry holds.
import express from 'express';
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry, type OpenMetricsContentType } from 'prom-client';
import request from 'supertest';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter } from '../lib/http/router';
import { registerMetrics } from '../lib/metrics/prometheus';
import { renderMetrics } from '../lib/metrics/render';
import { type TestClock } from './helpers/clock';
import { useMetricsFixture } from './helpers/metrics-fixture';
import { DRIFT_INTERVAL, driftingGaps, pulseAfterGaps } from './helpers/drift';
import { parseSamples, promtoolCheckMetrics } from './helpers/promtool';

let clock: TestClock;
let manager: HeartbeatManager;
let registry: Registry;

useMetricsFixture((fixture) => ({ clock, manager, registry } = fixture));

/** Services in every state a family reads: escaping names, errors, a job, a pause, custom metrics, a learnt and an at-risk gap model. */
function fillManager(target: HeartbeatManager): void {
  // First, since it moves the clock some ten minutes: the others are then fresh.
  const drifting = target.heartbeat({ tag: 'drifting', interval: DRIFT_INTERVAL }).start();
  drifting.pulse();
  pulseAfterGaps(clock, drifting, driftingGaps());
  for (const tag of ['plain', 'quote"d', 'back\\slash', 'new\nline', 'юникод💥', '{brace}=x,'])
    target.heartbeat({ tag, interval: 5 }).start().pulse();
  const worker = target.heartbeat({ tag: 'save_worker', interval: 30 }).start();
  worker.pulse({ queue_depth: 12, lag_ms: 0.25 });
  worker.error('disk full');
  const job = target.heartbeat({ tag: 'nightly_export', interval: 3600 });
  job.begin().success();
  job.begin();
  target.heartbeat({ tag: 'paused_one', interval: 10 }).start();
  target.pause('paused_one', { reason: 'deploy' });
}

/** The app's own metrics around the heartbeat families: a labelled gauge, a counter, a histogram (formatted through getForPromString) and a gauge read at collect time. */
function addAppMetrics(target: Registry, phase: string): void {
  const gauge = new Gauge({ name: `app_${phase}_queue`, help: 'Queue "depth"\nper \\ lane.', labelNames: ['lane'], registers: [target] });
  gauge.set({ lane: 'fast"' }, 3);
  gauge.set({ lane: 'slow' }, Number.NaN);
  new Counter({ name: `app_${phase}_requests_total`, help: 'Requests.', registers: [target] }).inc(7);
  new Histogram({ name: `app_${phase}_seconds`, help: 'Latency.', buckets: [0.1, 1], registers: [target] }).observe(0.5);
  new Gauge({
    name: `app_${phase}_collected`,
    help: 'Read at scrape time.',
    registers: [target],
    collect() {
      this.set(Number.POSITIVE_INFINITY);
    },
  });
}

it('writes the same bytes as registry.metrics(), the app metrics in their places', async () => {
  addAppMetrics(registry, 'before');
  registerMetrics(manager, { registry });
  addAppMetrics(registry, 'after');
  fillManager(manager);

  const expected = await registry.metrics();
  // The fixture reaches every kind of line: a failing fixture would make the comparison hollow.
  const samples = parseSamples(expected);
  expect(samples.get('heartbeat_service_status{service="quote\\"d"}')).toBe(0);
  expect(samples.get('heartbeat_service_metric{service="save_worker",metric="lag_ms"}')).toBe(0.25);
  expect(samples.get('heartbeat_run_in_progress{service="nightly_export"}')).toBe(1);
  expect(samples.get('heartbeat_service_paused{service="paused_one"}')).toBe(1);
  expect(samples.get('heartbeat_at_risk{service="drifting"}')).toBe(1);
  expect(samples.get('heartbeat_pulse_gap_seconds{service="drifting",stat="p95"}')).toBeGreaterThan(20);
  expect(samples.get('heartbeat_uptime_ratio{service="plain",window="7d"}')).toBe(1);
  expect(expected).toContain('app_before_queue{lane="slow"} Nan');
  expect(expected.indexOf('app_before_queue')).toBeLessThan(expected.indexOf('heartbeat_service_status'));
  expect(expected.indexOf('heartbeat_store_last_flush')).toBeLessThan(expected.indexOf('app_after_queue'));

  expect(await renderMetrics(registry)).toBe(expected);
  expect(promtoolCheckMetrics(await renderMetrics(registry)).output).toBe('');
});

it('adds the registry default labels as prom-client does: after a sample’s own, never over them', async () => {
  registerMetrics(manager, { registry });
  fillManager(manager);
  registry.setDefaultLabels({ app: 'bridge "1"\n', service: 'not-this', window: 'not-this-either', replica: 3 });
  const expected = await registry.metrics();
  expect(expected).toContain('heartbeat_service_status{service="plain",app="bridge \\"1\\"\\n",window="not-this-either",replica="3"} ');
  expect(expected).toContain('heartbeat_uptime_ratio{service="plain",window="24h",app="bridge \\"1\\"\\n",replica="3"} ');
  expect(expected).toContain('heartbeat_overall_status{app="bridge \\"1\\"\\n",service="not-this",window="not-this-either",replica="3"} ');
  expect(await renderMetrics(registry)).toBe(expected);
});

it('writes several managers on one registry, and two prefixes, as one; a closed manager leaves both', async () => {
  const other = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  const closing = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  registerMetrics(manager, { registry });
  registerMetrics(other, { registry });
  registerMetrics(closing, { registry, prefix: 'jobs_' });
  registerMetrics(other, { registry, prefix: 'jobs_' });
  fillManager(manager);
  other.heartbeat({ tag: 'elsewhere', interval: 1 }).error('down', { critical: true });
  closing.heartbeat({ tag: 'gone_soon', interval: 1 }).start();
  expect(await renderMetrics(registry)).toBe(await registry.metrics());
  expect(await renderMetrics(registry)).toContain('jobs_service_status{service="gone_soon"}');

  await closing.close();
  const rendered = await renderMetrics(registry);
  expect(rendered).toBe(await registry.metrics());
  expect(rendered).not.toContain('gone_soon');
  void other.close();
});

it('writes an empty registry, and a manager without services, as prom-client does', async () => {
  expect(await renderMetrics(registry)).toBe(await registry.metrics());
  const idle = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  registerMetrics(idle, { registry });
  expect(await renderMetrics(registry)).toBe(await registry.metrics());
  void idle.close();
});

it('leaves an OpenMetrics registry to prom-client whole', async () => {
  const open = new Registry<OpenMetricsContentType>();
  open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registerMetrics(manager, { registry: open });
  fillManager(manager);
  const rendered = await renderMetrics(open);
  expect(rendered).toBe(await open.metrics());
  expect(rendered).toContain('heartbeat_pulses_total{service="plain"} 1');
  expect(rendered.endsWith('# EOF\n')).toBe(true);
});

it('rejects as registry.metrics() does when an app collector throws', async () => {
  registerMetrics(manager, { registry });
  new Gauge({
    name: 'app_broken',
    help: 'Throws.',
    registers: [registry],
    collect() {
      throw new Error('collector broke');
    },
  });
  await expect(renderMetrics(registry)).rejects.toThrow('collector broke');
});

it('matches registry.metrics() for any service names and custom metric values', async () => {
  registerMetrics(manager, { registry });
  const names = fc.string({ unit: 'binary', minLength: 1, maxLength: 30 });
  const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(names, { minLength: 1, maxLength: 8 }), fc.array(value, { maxLength: 3 }), async (tags, values) => {
      const fresh = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
      const scraped = new Registry();
      registerMetrics(fresh, { registry: scraped });
      for (const tag of tags)
        fresh
          .heartbeat({ tag, interval: 5 })
          .start()
          .pulse(Object.fromEntries(values.map((v, i) => [`m${String(i)}`, v])));
      const [rendered, expected] = [await renderMetrics(scraped), await scraped.metrics()];
      await fresh.close();
      return rendered === expected;
    }),
    { numRuns: 60 },
  );
});

it('serves GET /metrics through renderMetrics: the same bytes, with the registry content type', async () => {
  const app = express();
  addAppMetrics(registry, 'app');
  app.use(healthRouter({ manager, registry }));
  fillManager(manager);
  const response = await request(app).get('/metrics').expect(200);
  expect(response.headers['content-type']).toBe(registry.contentType);
  expect(response.text).toBe(await registry.metrics());
});

describe('registries off the common path', () => {
  /** What a scrape gives: its text, or its rejection's message. */
  const settle = (scrape: Promise<string>): Promise<string> =>
    scrape.then(
      (text) => text,
      (error: unknown) => `REJECTED: ${(error as Error).message}`,
    );

  beforeEach(() => {
    manager.heartbeat({ tag: 'plain', interval: 5 }).start().pulse();
    registerMetrics(manager, { registry });
  });

  it('formats an app counter by object, not by name: an OpenMetrics scrape renames it without moving it', async () => {
    const open = new Registry<OpenMetricsContentType>();
    open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [registry, open] }).inc(2);
    await open.metrics(); // prom-client renames the shared counter object to app_requests
    const expected = await registry.metrics();
    expect(expected).toContain('app_requests 2');
    expect(await settle(renderMetrics(registry))).toBe(expected);

    // The same on one registry switched to OpenMetrics and back.
    const switched = new Registry();
    registerMetrics(manager, { registry: switched });
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [switched] }).inc();
    (switched as unknown as Registry<OpenMetricsContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    await switched.metrics();
    switched.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(await settle(renderMetrics(switched))).toBe(await settle(switched.metrics()));
  });

  it('hands default labels it would not write as prom-client does to prom-client: array-index names, values that are not strings, numbers or booleans', async () => {
    registry.setDefaultLabels({ '0': 'zero', app: 'a' });
    const indexFirst = await registry.metrics();
    expect(indexFirst).toContain('heartbeat_service_status{0="zero",service="plain",app="a"} 0');
    expect(await renderMetrics(registry)).toBe(indexFirst);

    registry.setDefaultLabels({ app: Symbol('app') as unknown as string });
    const rejected = await settle(registry.metrics());
    expect(rejected).toMatch(/^REJECTED: Cannot convert a Symbol value to a string/);
    expect(await settle(renderMetrics(registry))).toBe(rejected);

    const odd = JSON.parse('{"__proto__": "p", "n": 1.5, "b": true}') as Record<string, unknown>;
    Object.assign(odd, { u: undefined, o: { toString: () => 'obj"' }, big: 10n, window: 'w', metric: 'm' });
    registry.setDefaultLabels(odd);
    manager
      .heartbeat({ tag: `${'x'.repeat(195)}\uD800"\\\n`, interval: 5 })
      .start()
      .pulse({ depth: -0 });
    const expected = await registry.metrics();
    expect(expected).toContain('__proto__="p"');
    expect(await renderMetrics(registry)).toBe(expected);
  });

  it('rejects a failing scrape as registry.metrics() does, leaving no rejection of an app metric before it unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const before = new Registry();
      new Gauge({
        name: 'app_first',
        help: 'Fails when collected.',
        registers: [before],
        collect: () => Promise.reject(new Error('app collector failed')),
      });
      registerMetrics(manager, { registry: before });
      // A fault no real state causes: a family's reader throwing.
      jest.spyOn(manager, 'overallStatus').mockImplementation(() => {
        throw new Error('overall status broke');
      });
      const expected = await settle(before.metrics());
      expect(expected).toBe('REJECTED: overall status broke');
      expect(await settle(renderMetrics(before))).toBe(expected);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('reads the services again after an app metric between two families, whose collect() may add one', async () => {
    const world = (): { scraped: Registry; own: HeartbeatManager } => {
      const own = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
      own.heartbeat({ tag: 'plain', interval: 5 }).start().pulse();
      const scraped = new Registry();
      registerMetrics(own, { registry: scraped });
      // The app metric lands between families: one family removed and registered again after it.
      scraped.removeSingleMetric('heartbeat_errors_total');
      new Gauge({
        name: 'app_lazy',
        help: 'Adds a service when collected.',
        registers: [scraped],
        collect() {
          if (!own.get('lazy')) own.heartbeat({ tag: 'lazy', interval: 5 }).start();
          this.set(1);
        },
      });
      registerMetrics(own, { registry: scraped });
      return { scraped, own };
    };
    const [first, second] = [world(), world()];
    const expected = await first.scraped.metrics();
    const rendered = await renderMetrics(second.scraped);
    void first.own.close();
    void second.own.close();
    expect(expected).toContain('heartbeat_errors_total{service="lazy"} 0');
    expect(rendered).toBe(expected);
  });

  it('matches registry.metrics() with a disabled manager beside, and with scrapes at once', async () => {
    const off = new HeartbeatManager({ clock, config: { log_level: 'silent', enabled: false } });
    off.heartbeat({ tag: 'off', interval: 5 }).start().pulse();
    registerMetrics(off, { registry });
    const [a, b, c] = await Promise.all([renderMetrics(registry), renderMetrics(registry), registry.metrics()]);
    void off.close();
    expect(a).toBe(c);
    expect(b).toBe(c);
  });
});

describe('renderMetrics at chunk boundaries and at thousands of services', () => {
  const managers: HeartbeatManager[] = [];
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
  });

  /** A manager with `count` services named so that some need escaping, every fifth with custom metrics, one with an error, one job. */
  function filled(count: number, name: string): HeartbeatManager {
    const target = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    managers.push(target);
    for (let i = 0; i < count; i++) {
      const tag = i % 97 === 0 ? `${name}"q\\${String(i)}\n` : `${name}_${String(i)}`;
      const hb = target.heartbeat({ tag, interval: 5 + (i % 7) }).start();
      if (i % 5 === 0) hb.pulse({ depth: i, lag_ms: i / 3 });
      else if (i % 11 === 0) hb.error('boom');
      else if (i % 13 === 0) hb.begin();
    }
    return target;
  }

  it.each([
    [[0], {}],
    [[1023], {}],
    [[1024], {}],
    [[1025], {}],
    [[512, 512], { region: 'eu"1', n: 3, ok: true }],
    [[1000, 24, 0, 1], { service: 'default-never-wins', window: 'w' }],
    [[1700, 1300], { region: 'eu', zone: 'a\\b\nc' }],
  ])('writes %j services with default labels %j byte for byte as registry.metrics()', async (counts, defaults) => {
    const registry = new Registry();
    registry.setDefaultLabels(defaults);
    counts.forEach((count, i) => registerMetrics(filled(count, `m${String(i)}`), { registry }));
    clock.advance(7000); // misses, so statuses and failures vary
    const [rendered, expected] = [await renderMetrics(registry), await registry.metrics()];
    expect(rendered.length).toBe(expected.length);
    expect(rendered === expected).toBe(true);
  });
});

describe('registerMetrics with prefixes on one registry', () => {
  it('refuses a prefix whose names run into another prefix’s ("hb_" and "hb_store_"), naming the metric', async () => {
    const registry = new Registry();
    const first = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    first.heartbeat({ tag: 'first_service', interval: 5 }).start();
    const second = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    second.heartbeat({ tag: 'second_service', interval: 5 }).start();
    registerMetrics(first, { registry, prefix: 'hb_' });
    // hb_store_ + errors_total is hb_ + store_errors_total: the only name the two prefixes share.
    expect(() => registerMetrics(second, { registry, prefix: 'hb_store_' })).toThrow(
      '"hb_store_errors_total" is already another heartbeat metric on this registry, exported under a prefix that this one ("hb_store_") overlaps.',
    );
    // Nothing of the refused prefix was registered, and the first still exports only its own.
    const text = await registry.metrics();
    expect(text).not.toContain('hb_store_service_status');
    expect(text).toContain('hb_service_status{service="first_service"} 0');
    await Promise.all([first.close(), second.close()]);
  });
});

// GET /metrics and GET /api/health/status at 10, 1,000, 10,000 and 100,000 services, beside
// their anchors: prom-client metrics set eagerly with the same series, and JSON.stringify of
// an already built status object; and per service at 100,000 against the same at 10,000.
import express from 'express';
import { Counter, Gauge, Registry } from 'prom-client';
import { healthRouter } from '../lib';
import { renderMetrics } from '../lib/metrics/render';
import { pulsedFleet } from './fleet';
import { callsFilling, collectGarbage, figure, injector, interleave, microsPerCall, type Figure } from './measure';

const SIZES = [10, 1_000, 10_000, 100_000];
/** From this size on, fewer rounds: one scrape takes about a second, and so does the collection before each sample. */
const LARGE = 100_000;
const STILL_AT_MS = 1_000_000;
const STILL_CLOCK = { now: () => STILL_AT_MS, wallNow: () => Date.UTC(2026, 0, 1) + STILL_AT_MS };

/**
 * The anchor: prom-client Gauges and Counters holding the very series the library exported
 * (same families, labels and values, read back from its text), set before the scrape as an
 * exporter that updates them on every change would have them.
 */
function eagerCopy(exposition: string): Registry {
  const registry = new Registry();
  const families = new Map<string, { type: string; help: string; samples: { labels: Record<string, string>; value: number }[] }>();
  for (const line of exposition.split('\n')) {
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, text] = comment as unknown as [string, string, string, string];
      const family = families.get(name) ?? { type: 'gauge', help: '', samples: [] };
      if (kind === 'HELP') family.help = text;
      else family.type = text;
      families.set(name, family);
      continue;
    }
    const sample = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) continue;
    const [, name, labelText = '', value] = sample as unknown as [string, string, string | undefined, string];
    const labels = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map(([, key, text]) => [key as string, text as string]));
    families.get(name)?.samples.push({ labels, value: Number(value) });
  }
  for (const [name, { type, help, samples }] of families) {
    // A family without samples still needs a label, or prom-client would invent an unlabelled 0.
    const labelNames = samples[0] ? Object.keys(samples[0].labels) : ['service'];
    if (type === 'counter') {
      const counter = new Counter({ name, help, labelNames, registers: [registry] });
      for (const { labels, value } of samples) counter.inc(labels, value);
    } else {
      const gauge = new Gauge({ name, help, labelNames, registers: [registry] });
      for (const { labels, value } of samples) gauge.set(labels, value);
    }
  }
  return registry;
}

/** The series of an exposition, without their values. */
const seriesOf = (text: string): string[] =>
  text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.slice(0, line.lastIndexOf(' ')))
    .sort();

type Timed = 'metrics' | 'render' | 'body' | 'eager' | 'floor';

const PER_SERVICE: Record<Timed, string> = {
  eager: 'eager prom-client metrics()',
  metrics: 'registry.metrics()',
  render: 'GET /metrics body (renderMetrics)',
  body: "status endpoint's body",
  floor: 'JSON.stringify of a built status',
};

/**
 * The same µs/call samples at 10,000 and 100,000 services, in ns per service: a ratio of 1
 * means a cost that grows linearly with the services. The eager anchor and the status floor
 * are shown so too, without a target: how prom-client's formatter and V8's JSON.stringify
 * themselves grow.
 */
function linearity(perService: Partial<Record<number, Record<Timed, number[]>>>): Figure[] {
  const figures: Figure[] = [];
  for (const timed of Object.keys(PER_SERVICE) as Timed[]) {
    const name = (size: number): string => `${PER_SERVICE[timed]} per service, ${size.toLocaleString('en-US')} services`;
    for (const size of [10_000, LARGE]) {
      const samples = perService[size]?.[timed];
      if (!samples) continue;
      figures.push(
        figure(
          name(size),
          'ns/service',
          samples.map((micros) => (micros * 1000) / size),
          size === LARGE
            ? {
                anchor: name(10_000),
                ...(timed === 'eager' || timed === 'floor'
                  ? {}
                  : { target: { text: '≤ 1.25× the 10,000 figure per service (linear)', limit: 1.25, on: 'ratio' } }),
              }
            : {},
        ),
      );
    }
  }
  return figures;
}

export async function benchScale(quick: boolean): Promise<Figure[]> {
  const figures: Figure[] = [];
  const perService: Partial<Record<number, Record<Timed, number[]>>> = {};
  for (const size of SIZES) {
    // A clock that stands still: two scrapes are then the same bytes (a last pulse's wall time is
    // monotonic time plus an offset read anew), and no service comes due however long the
    // 100,000-service round lasts (its 30 s interval passes in real time).
    const { manager, registry } = pulsedFleet(size, STILL_CLOCK);
    const built = manager.status();
    const exported = await registry.metrics();
    // The router's scrape must be the same bytes as the registry's own (the state is fixed: no pulse, no timer due).
    if ((await renderMetrics(registry)) !== exported) throw new Error(`${size} services: renderMetrics() differs from registry.metrics()`);
    const eager = eagerCopy(exported);
    const copied = await eager.metrics();
    const [ours, theirs] = [seriesOf(exported), seriesOf(copied)];
    const differing = ours.find((series, i) => theirs[i] !== series) ?? theirs[ours.length];
    if (differing !== undefined || ours.length !== theirs.length) {
      throw new Error(
        `${size} services: the anchor does not hold the exported series (${ours.length} against ${theirs.length}; first difference near ${differing})`,
      );
    }
    const app = express();
    app.use(healthRouter({ manager, registry: new Registry() }));

    const getMetrics = injector(app, '/metrics');
    const getStatus = injector(app, '/api/health/status');
    let length = 0; // keeps the results observable, so no work is optimised away
    const operations = {
      metrics: async () => (length += (await registry.metrics()).length),
      render: async () => (length += (await renderMetrics(registry)).length),
      eager: async () => (length += (await eager.metrics()).length),
      status: () => (length += JSON.stringify(manager.status()).length),
      statusView: () => (length += JSON.stringify(manager.statusView()).length),
      stringify: () => (length += JSON.stringify(built).length),
      httpMetrics: async () => (length += (await getMetrics()).payload.length),
      httpStatus: async () => (length += (await getStatus()).payload.length),
    };
    const large = size >= LARGE;
    const budgetMs = quick ? 10 : 40;
    const configurations: Record<string, () => Promise<number>> = {};
    for (const [name, operation] of Object.entries(operations)) {
      // At 100,000 every operation but the status body's takes more than the budget: one call a sample.
      const calls = await callsFilling(budgetMs, operation, quick || large ? 60 : 300);
      // From a clean heap each time: prom-client caches label strings in a WeakMap, which grows
      // with every scrape until a collection, and costs several times more per scrape while the
      // collector is marking; samples caught in that phase or not would differ by up to 10×.
      configurations[name] = () => {
        collectGarbage();
        return microsPerCall(calls, operation);
      };
    }
    // callsFilling() has warmed every operation up; a smoke test skips the discarded round too.
    const rounds = large ? (quick ? 1 : 5) : quick ? 3 : 21;
    const perCall = await interleave(rounds, configurations as Record<keyof typeof operations, () => Promise<number>>, !quick && !large);
    void manager.close();
    if (length === 0) throw new Error('nothing was produced');

    const n = size.toLocaleString('en-US');
    const eagerName = `eager prom-client metrics(), ${n} services (anchor)`;
    const floorName = `JSON.stringify of a built status, ${n} services (floor)`;
    const metricsName = `registry.metrics(), ${n} services`;
    const renderName = `GET /metrics body (renderMetrics), ${n} services`;
    const statusName = `JSON.stringify(manager.status()), ${n} services`;
    const bodyName = `status endpoint's body, JSON.stringify(manager.statusView()), ${n} services`;
    figures.push(
      figure(eagerName, 'µs/call', perCall.eager),
      figure(metricsName, 'µs/call', perCall.metrics, {
        anchor: eagerName,
        target: { text: '≤ 1× eager', limit: 1, on: 'ratio' },
      }),
      figure(renderName, 'µs/call', perCall.render, {
        anchor: eagerName,
        ...(size === 10_000 ? { target: { text: '≤ 0.5× eager', limit: 0.5, on: 'ratio' } } : {}),
      }),
      figure(floorName, 'µs/call', perCall.stringify),
      figure(bodyName, 'µs/call', perCall.statusView, { anchor: floorName, target: { text: '≤ 1.5× floor', limit: 1.5, on: 'ratio' } }),
      figure(statusName, 'µs/call', perCall.status, { anchor: floorName }),
      figure(`GET /metrics through HTTP, ${n} services`, 'µs/request', perCall.httpMetrics, { anchor: metricsName }),
      figure(`GET /api/health/status through HTTP, ${n} services`, 'µs/request', perCall.httpStatus, { anchor: bodyName }),
    );
    if (size >= 10_000) {
      perService[size] = {
        metrics: perCall.metrics,
        render: perCall.render,
        body: perCall.statusView,
        eager: perCall.eager,
        floor: perCall.stringify,
      };
    }
  }
  return [...figures, ...linearity(perService)];
}

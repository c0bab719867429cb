// GET /metrics and GET /api/health/status at 10, 1,000 and 10,000 services, beside their
// anchors: prom-client metrics set eagerly with the same series, and JSON.stringify of an
// already built status object.
import express from 'express';
import { Counter, Gauge, Registry } from 'prom-client';
import { HeartbeatManager, healthRouter, registerMetrics } from '../lib';
import { callsFilling, collectGarbage, figure, injector, interleave, microsPerCall, type Figure } from './measure';

const SIZES = [10, 1_000, 10_000];

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

export async function benchScale(quick: boolean): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const size of SIZES) {
    const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
    for (let i = 0; i < size; i++)
      manager
        .heartbeat({ tag: `service_${i}`, interval: 30 })
        .start()
        .pulse();
    const registry = new Registry();
    registerMetrics(manager, { registry });
    const built = manager.status();
    const exported = await registry.metrics();
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
      eager: async () => (length += (await eager.metrics()).length),
      status: () => (length += JSON.stringify(manager.status()).length),
      statusView: () => (length += JSON.stringify(manager.statusView()).length),
      stringify: () => (length += JSON.stringify(built).length),
      httpMetrics: async () => (length += (await getMetrics()).payload.length),
      httpStatus: async () => (length += (await getStatus()).payload.length),
    };
    const budgetMs = quick ? 10 : 40;
    const configurations: Record<string, () => Promise<number>> = {};
    for (const [name, operation] of Object.entries(operations)) {
      const calls = await callsFilling(budgetMs, operation, quick ? 60 : 300);
      // From a clean heap each time: prom-client caches label strings in a WeakMap, which grows
      // with every scrape until a collection, and costs several times more per scrape while the
      // collector is marking; samples caught in that phase or not would differ by up to 10×.
      configurations[name] = () => {
        collectGarbage();
        return microsPerCall(calls, operation);
      };
    }
    // callsFilling() has warmed every operation up; a smoke test skips the discarded round too.
    const perCall = await interleave(quick ? 3 : 21, configurations as Record<keyof typeof operations, () => Promise<number>>, !quick);
    void manager.close();
    if (length === 0) throw new Error('nothing was produced');

    const n = size.toLocaleString('en-US');
    const eagerName = `eager prom-client metrics(), ${n} services (anchor)`;
    const floorName = `JSON.stringify of a built status, ${n} services (floor)`;
    const metricsName = `registry.metrics(), ${n} services`;
    const statusName = `JSON.stringify(manager.status()), ${n} services`;
    const bodyName = `status endpoint's body, JSON.stringify(manager.statusView()), ${n} services`;
    figures.push(
      figure(eagerName, 'µs/call', perCall.eager),
      figure(metricsName, 'µs/call', perCall.metrics, {
        anchor: eagerName,
        target: { text: '≤ 1× eager (aim 0.5×)', limit: 1, on: 'ratio' },
      }),
      figure(floorName, 'µs/call', perCall.stringify),
      figure(bodyName, 'µs/call', perCall.statusView, { anchor: floorName, target: { text: '≤ 1.5× floor', limit: 1.5, on: 'ratio' } }),
      figure(statusName, 'µs/call', perCall.status, { anchor: floorName }),
      figure(`GET /metrics through HTTP, ${n} services`, 'µs/request', perCall.httpMetrics, { anchor: metricsName }),
      figure(`GET /api/health/status through HTTP, ${n} services`, 'µs/request', perCall.httpStatus, { anchor: bodyName }),
    );
  }
  return figures;
}

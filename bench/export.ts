// GET /api/health/export of 200,000 status changes over loopback: the longest the event loop
// stays blocked while it is answered (the gap between two turns of a setImmediate ticker),
// beside the endpoint as it was before it streamed: the whole body built and sent by res.json().
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { Registry } from 'prom-client';
import { HeartbeatManager, healthRouter } from '../lib';
import { figure, forkBenchmark, interleave, pick, type Figure } from './measure';

const SERVICES = 200;
const ENTRIES = 1000;

/** 200 services of 1,000 status changes each, with 150-character reasons: about 46 MB of JSON. */
function populated(): HeartbeatManager {
  const manager = new HeartbeatManager({ config: { log_level: 'silent', history_size: ENTRIES } });
  for (let s = 0; s < SERVICES; s++) manager.heartbeat({ tag: `service_${s}`, interval: 60 }).start();
  const now = performance.now();
  for (const record of manager.listedRecords()) {
    for (let i = 0; i < ENTRIES; i++) {
      record.history.push({ at: now - ENTRIES + i, from: 'healthy', to: 'warning', reason: `error: ${'x'.repeat(143)}${i}` });
    }
  }
  return manager;
}

/** Runs `work` while a setImmediate ticker notes the longest gap between two turns of the loop, in ms. */
async function longestBlock(work: () => Promise<void>): Promise<{ blockMs: number; totalMs: number }> {
  let running = true;
  let last = performance.now();
  let longest = 0;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const started = performance.now();
  await work();
  const totalMs = performance.now() - started;
  // One more turn, so a block that ended with the work is counted too.
  await new Promise((resolve) => setImmediate(resolve));
  running = false;
  return { blockMs: longest, totalMs };
}

/** Reads the whole answer of `path` over loopback, as a client would. */
function download(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (response) => {
        response.on('data', () => undefined);
        response.on('end', resolve);
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * Runs in a process of its own: light-my-request, which the per-request benchmark drives in
 * the main process, leaves Node's HTTP server unable to close sockets (its Request.destroy
 * ends up on real requests), and this benchmark needs a real server.
 */
export async function benchExport(quick: boolean): Promise<Figure[]> {
  const { child, received } = forkBenchmark<Figure[]>(__filename, ['run', quick ? 'quick' : 'full'], ['--expose-gc']);
  try {
    return await received;
  } finally {
    child.disconnect();
  }
}

async function measureExport(quick: boolean): Promise<Figure[]> {
  const manager = populated();
  const app = express();
  // The anchor: the endpoint as it was before it streamed, building the body whole with res.json().
  app.get('/whole-export', (_req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json({ generated_at: new Date(manager.clock.wallNow()).toISOString(), services: manager.exportHistory() });
  });
  app.use(healthRouter({ manager, registry: new Registry() }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const runs = await interleave(quick ? 3 : 7, {
      json: () => longestBlock(() => download(port, '/api/health/export?format=json')),
      csv: () => longestBlock(() => download(port, '/api/health/export?format=csv')),
      whole: () => longestBlock(() => download(port, '/whole-export')),
    });
    const total = SERVICES * ENTRIES;
    const label = `${total.toLocaleString('en-US')} status changes`;
    const whole = `GET /export built whole with res.json() (as before it streamed), ${label}: longest event loop block`;
    const block = (format: string): Figure =>
      figure(
        `GET /export ${format.toUpperCase()}, ${label}: longest event loop block`,
        'ms',
        pick(format === 'json' ? runs.json : runs.csv, 'blockMs'),
        {
          anchor: whole,
          target: { text: '≤ 100 ms', limit: 100, on: 'median' },
        },
      );
    return [
      figure(whole, 'ms', pick(runs.whole, 'blockMs')),
      block('json'),
      block('csv'),
      figure(`GET /export JSON, ${label}: whole download over loopback`, 'ms', pick(runs.json, 'totalMs'), {
        anchor: `GET /export built whole, ${label}: whole download over loopback`,
      }),
      figure(`GET /export built whole, ${label}: whole download over loopback`, 'ms', pick(runs.whole, 'totalMs')),
    ];
  } finally {
    void manager.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

if (require.main === module && process.argv[2] === 'run') {
  measureExport(process.argv[3] === 'quick').then(
    (figures) => process.send?.(figures),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

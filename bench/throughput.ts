// Throughput under load, as a sanity check: autocannon over loopback against the demo
// bridge's shape with and without the pulse middleware.
//
// The servers run in a child process (this file, forked). That keeps the load generator out
// of the servers' event loop, and keeps them clear of light-my-request, which the other
// benchmarks use: to inject into an Express app it re-parents Express's shared request and
// response prototypes onto its own fakes, for every app in the process, for good.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import autocannon from 'autocannon';
import express from 'express';
import { Registry } from 'prom-client';
import { HeartbeatManager, healthRouter, pulseMiddleware } from '../lib';
import { figure, forkBenchmark, interleave, pick, type Figure } from './measure';

type Bridge = 'without' | 'with';

/** The demo bridge without its request log (which writes to a terminal) and demo controls. */
function bridge(manager: HeartbeatManager, withPulse: boolean): express.Express {
  const app = express();
  if (withPulse) app.use(pulseMiddleware(manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start()));
  app.use(healthRouter({ manager, registry: new Registry() }));
  app.get('/', (_req, res) => {
    res.json({ service: 'demo bridge server', endpoints: ['/api/health/status', '/metrics'] });
  });
  return app;
}

function listen(app: express.Express): Promise<number> {
  return new Promise((resolve, reject) => {
    const server: Server = app.listen(0, '127.0.0.1');
    server.once('listening', () => {
      resolve((server.address() as AddressInfo).port);
    });
    server.once('error', reject);
  });
}

/** In the child: serves both bridges until the parent disconnects. */
async function serve(): Promise<void> {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  const ports: Record<Bridge, number> = { without: await listen(bridge(manager, false)), with: await listen(bridge(manager, true)) };
  process.send?.(ports);
  process.once('disconnect', () => {
    process.exit(0);
  });
}

async function startServers(): Promise<{ ports: Record<Bridge, number>; stop: () => void }> {
  const { child, received } = forkBenchmark<Record<Bridge, number>>(__filename, ['serve'], []);
  const ports = await received;
  return {
    ports,
    stop: () => {
      child.disconnect();
    },
  };
}

export async function benchThroughput(quick: boolean): Promise<Figure[]> {
  const { ports, stop } = await startServers();
  const load = async (name: Bridge, duration: number) => {
    const result = await autocannon({ url: `http://127.0.0.1:${ports[name]}/`, connections: 50, duration });
    if (result.errors > 0 || result.non2xx > 0) throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
    return { requestsPerSecond: result.requests.total / result.duration, latencyP99: result.latency.p99 };
  };
  // A short burst each instead of a whole discarded round: the first bridge loaded would
  // otherwise pay for compiling the code both share. Rates are counted over the whole run,
  // not from autocannon's per-second samples, of which a run of 1.5 s has one.
  for (const name of ['without', 'with'] as const) await load(name, quick ? 0.5 : 1);
  const duration = quick ? 1.5 : 3;
  const runs = await interleave(quick ? 1 : 5, { without: () => load('without', duration), with: () => load('with', duration) }, false);
  stop();

  const without = 'Bridge without pulseMiddleware (anchor)';
  const latencyAnchor = 'Bridge without pulseMiddleware, p99 latency (anchor)';
  return [
    figure(without, 'requests/s', pick(runs.without, 'requestsPerSecond')),
    figure('Bridge with pulseMiddleware', 'requests/s', pick(runs.with, 'requestsPerSecond'), { anchor: without }),
    figure(latencyAnchor, 'ms', pick(runs.without, 'latencyP99')),
    figure('Bridge with pulseMiddleware, p99 latency', 'ms', pick(runs.with, 'latencyP99'), { anchor: latencyAnchor }),
  ];
}

if (require.main === module && process.argv[2] === 'serve') void serve();

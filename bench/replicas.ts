// Remote pulses per second on one replica, with and without Redis: autocannon over loopback
// POSTs `/service/{name}/pulse` to a bridge on a memory store and to one on redisStore() (a
// local redis-server this benchmark starts), and a second replica on the same Redis reads every
// pulse the first one shares, as it would behind a load balancer.
//
// The bridges run in a child process (this file, forked), out of the load generator's event
// loop, as in throughput.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import autocannon from 'autocannon';
import express from 'express';
import { Registry } from 'prom-client';
import { HeartbeatManager, healthRouter, redisStore, type HeartbeatStore } from '../lib';
import { figure, forkBenchmark, interleave, pick, type Figure } from './measure';

type Bridge = 'memory' | 'redis';
const TOKEN = 'bench-remote-token-0123456789abcdef';
const SERVICE = 'bench_client';

async function bridge(store: HeartbeatStore | undefined): Promise<number> {
  const manager = new HeartbeatManager({
    config: { log_level: 'silent', remote_token: TOKEN, auto_register: true, default_interval: 60 },
    ...(store ? { store } : {}),
  });
  const app = express();
  app.use(healthRouter({ manager, registry: new Registry() }));
  return new Promise((resolve, reject) => {
    const server: Server = app.listen(0, '127.0.0.1');
    server.once('listening', () => {
      resolve((server.address() as AddressInfo).port);
    });
    server.once('error', reject);
  });
}

/** In the child: serves a bridge on a memory store, one on Redis, and a second Redis replica that only reads, until the parent disconnects. */
async function serve(redisUrl: string): Promise<void> {
  const ports: Record<Bridge, number> = {
    memory: await bridge(undefined),
    redis: await bridge(await redisStore({ url: redisUrl, prefix: 'bench' })),
  };
  await bridge(await redisStore({ url: redisUrl, prefix: 'bench' }));
  process.send?.(ports);
  process.once('disconnect', () => {
    process.exit(0);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => {
        resolve(port);
      });
    });
  });
}

/** A local redis-server keeping nothing on disk, answering once it logs that it is ready. */
async function startRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-bench-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.once('error', (error) => {
      reject(new Error(`redis-server could not run (${error.message}); npm test installs Debian's redis-server package.`));
    });
    child.once('exit', (code) => {
      reject(new Error(`redis-server exited with ${String(code)} before it was ready: ${output}`));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function benchReplicas(quick: boolean): Promise<Figure[]> {
  const redis = await startRedis();
  const { child, received } = forkBenchmark<Record<Bridge, number>>(__filename, ['serve', redis.url], []);
  try {
    const ports = await received;
    const load = async (name: Bridge, duration: number) => {
      const result = await autocannon({
        url: `http://127.0.0.1:${ports[name]}/api/health/service/${SERVICE}/pulse`,
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        connections: 50,
        duration,
      });
      if (result.errors > 0 || result.non2xx > 0) throw new Error(`${name}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
      return { pulsesPerSecond: result.requests.total / result.duration, latencyMean: result.latency.average };
    };
    for (const name of ['memory', 'redis'] as const) await load(name, quick ? 0.5 : 1);
    const duration = quick ? 1.5 : 3;
    const runs = await interleave(quick ? 1 : 5, { memory: () => load('memory', duration), redis: () => load('redis', duration) }, false);
    // One caller at a time, timed here to the microsecond (autocannon's latencies are whole
    // milliseconds): the latency a pulse has when the server is not saturated.
    const sequential = async (name: Bridge) => {
      const count = quick ? 300 : 2000;
      const url = `http://127.0.0.1:${ports[name]}/api/health/service/${SERVICE}/pulse`;
      const started = performance.now();
      for (let index = 0; index < count; index++) {
        const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
        if (response.status !== 204) throw new Error(`${name}: HTTP ${response.status}`);
      }
      return { latencyMean: (performance.now() - started) / count };
    };
    const single = await interleave(quick ? 1 : 5, { memory: () => sequential('memory'), redis: () => sequential('redis') });
    const memory = 'Remote pulses, memory store (anchor)';
    const added = single.redis.map((run, round) => run.latencyMean - (single.memory[round]?.latencyMean ?? 0));
    return [
      figure(memory, 'pulses/s', pick(runs.memory, 'pulsesPerSecond')),
      figure('Remote pulses, shared through Redis', 'pulses/s', pick(runs.redis, 'pulsesPerSecond'), {
        anchor: memory,
        target: { text: '≥ 3,000 pulses/s', limit: 3000, on: 'median-at-least' },
      }),
      figure('Mean latency per remote pulse at 50 connections, memory store', 'ms', pick(runs.memory, 'latencyMean')),
      figure('Mean latency per remote pulse at 50 connections, Redis', 'ms', pick(runs.redis, 'latencyMean')),
      figure('Mean latency per remote pulse, one caller, memory store', 'ms', pick(single.memory, 'latencyMean')),
      figure('Mean latency per remote pulse, one caller, Redis', 'ms', pick(single.redis, 'latencyMean')),
      figure('Latency Redis adds per remote pulse, one caller (paired)', 'ms', added),
    ];
  } finally {
    child.disconnect();
    redis.stop();
  }
}

if (require.main === module && process.argv[2] === 'serve') void serve(process.argv[3] as string);

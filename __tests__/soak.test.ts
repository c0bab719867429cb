// Memory stays flat: millions of pulses and a simulated month of status changes later, every
// store the monitor keeps is at its cap and the heap has not grown with the work done.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import { AlertDispatcher } from '../lib/alerts/dispatcher';
import { HeartbeatManager } from '../lib/core/manager';
import { registerMetrics } from '../lib/metrics/prometheus';
import { createTestClock } from './helpers/clock';
import { reportFigure } from './helpers/figures';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

function heapMb(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

afterEach(() => jest.useRealTimers());

it('keeps memory flat over millions of pulses', () => {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  const heartbeats = Array.from({ length: 100 }, (_, i) => manager.heartbeat({ tag: `svc_${i}`, interval: 60 }).start());
  for (let i = 0; i < 100_000; i++) heartbeats[i % 100]?.pulse();
  const before = heapMb();
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < 100_000; i++) heartbeats[i % 100]?.pulse({ queue_depth: i & 7 });
  }
  const after = heapMb();
  reportFigure(`3,000,000 pulses on 100 services: heap ${before.toFixed(1)} MB before, ${after.toFixed(1)} MB after`);
  expect(manager.service('svc_0')?.total_pulses).toBe(31_000);
  expect(after - before).toBeLessThan(5);
  void manager.close();
});

it('keeps memory bounded over a simulated month of status changes', async () => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  const clock = createTestClock();
  const manager = new HeartbeatManager({ clock, config: { log_level: 'silent', history_size: 1000, flap_threshold: 1_000_000 } });
  const registry = new Registry();
  registerMetrics(manager, { registry });
  // A receiver that never answers: the alert queues must stay bounded anyway.
  const stuck = { name: 'stuck', send: () => new Promise<void>(() => undefined) };
  const alerts = new AlertDispatcher(manager, { targets: [{ notifier: stuck }], registry, queueSize: 50, timeoutMs: 3_600_000 });
  const services = Array.from({ length: 50 }, (_, i) => manager.heartbeat({ tag: `svc_${i}`, interval: 7200 }).start());
  const day = async () => {
    for (let hour = 0; hour < 24; hour++) {
      for (const [i, heartbeat] of services.entries()) {
        heartbeat.error(`${'failure '.repeat(200)} #${hour} of ${i}`, { critical: hour % 2 === 0 });
        heartbeat.pulse();
      }
      clock.advance(3_600_000);
    }
    await new Promise((resolve) => setImmediate(resolve));
  };
  // Three weeks fill every store to its cap (48 changes a day reach 1,000 in 21 days)...
  for (let d = 0; d < 22; d++) await day();
  const before = heapMb();
  // ...and a further month of the same must not grow the heap.
  for (let d = 0; d < 30; d++) await day();
  const after = heapMb();
  reportFigure(
    `30 more simulated days, 72,000 status changes on 50 services: heap ${before.toFixed(1)} MB before, ${after.toFixed(1)} MB after`,
  );

  for (const heartbeat of services) {
    expect(manager.history(heartbeat.tag)?.transitions.length).toBe(1000);
    expect(manager.service(heartbeat.tag)?.last_error?.message.length).toBeLessThanOrEqual(1025);
    expect(Math.max(...(manager.history(heartbeat.tag)?.transitions ?? []).map((t) => t.reason.length))).toBeLessThanOrEqual(201);
  }
  expect(alerts.pending).toBe(51); // one in flight, fifty queued
  expect(after - before).toBeLessThan(5);
  void manager.close();
});

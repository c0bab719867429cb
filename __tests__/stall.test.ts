import request from 'supertest';
import { createApp, type AppFixture } from './helpers/app';
import { captureLogger, type LogLine } from './helpers/logger';
import { parseSamples } from './helpers/promtool';
import type { StatusChange } from '../lib/core/manager';

let fixture: AppFixture;
let changes: StatusChange[];
let logs: LogLine[];

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
  const captured = captureLogger();
  logs = captured.lines;
  fixture = createApp({ log_level: 'warn' }, {}, captured.logger);
  changes = [];
  fixture.manager.on('status', (change) => changes.push(change));
});
afterEach(() => {
  void fixture.manager.close();
  jest.useRealTimers();
});

it('does not blame in-process services for a blocked event loop', () => {
  const worker = fixture.manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
  const loop = setInterval(() => {
    worker.pulse();
  }, 500); // the worker's own loop, on the same event loop
  fixture.clock.advance(5000);
  fixture.clock.skip(30_000); // a 30 s synchronous stall: neither the worker nor the monitor ran
  fixture.clock.advance(5000);
  clearInterval(loop);
  expect(changes).toEqual([]);
  expect(fixture.manager.status().services.save_worker?.status).toBe('healthy');
});

it('still takes a service that is really dead to critical, in one transition, one interval after the stall', () => {
  fixture.manager.heartbeat({ tag: 'dead_worker', interval: 2 }).start();
  fixture.clock.advance(1000);
  fixture.clock.skip(30_000);
  expect(fixture.manager.status().services.dead_worker?.status).toBe('healthy');
  fixture.clock.advance(2150); // not yet its interval and grace (2.2 s) after the resume
  expect(fixture.manager.status().services.dead_worker?.status).toBe('healthy');
  fixture.clock.advance(100);
  expect(changes.map((c) => `${c.service}:${c.from}->${c.to}`)).toEqual(['dead_worker:healthy->critical']);
});

it('does not count, after a second stall, the misses the first one forgave', () => {
  fixture.manager.heartbeat({ tag: 'slow_worker', interval: 2 }).start();
  fixture.clock.advance(1000);
  fixture.clock.skip(30_000);
  fixture.clock.advance(1000); // one second of running time: not yet its interval and grace
  fixture.clock.skip(30_000);
  expect(fixture.manager.monitorHealth().stalls).toBe(2);
  expect(fixture.manager.status().services.slow_worker?.status).toBe('healthy');
  fixture.clock.advance(2150);
  expect(changes).toEqual([]);
  fixture.clock.advance(100);
  expect(changes.map((c) => `${c.service}:${c.from}->${c.to}`)).toEqual(['slow_worker:healthy->critical']);
});

it('names its own stall once: a log line, the lag gauge and the live endpoint', async () => {
  fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
  fixture.clock.skip(12_000);
  const lag = fixture.manager.monitorHealth();
  expect(lag.stalls).toBe(1);
  expect(lag.event_loop_lag_seconds).toBeGreaterThanOrEqual(12);
  expect(lag.last_stall?.seconds).toBeGreaterThanOrEqual(12);
  const samples = parseSamples(await fixture.registry.metrics());
  expect(samples.get('heartbeat_event_loop_lag_seconds')).toBeGreaterThanOrEqual(12);
  const live = await request(fixture.app).get('/api/health/live');
  expect(live.body).toMatchObject({ status: 'ok', stalls: 1, last_stall: { seconds: lag.last_stall?.seconds } });
  const stallLines = logs.filter((line) => line.msg.startsWith('Heartbeat monitor was stalled'));
  expect(stallLines).toEqual([expect.objectContaining({ level: 40, msg: expect.stringContaining('stalled for 12.0 s') })]);
});

it('does not treat ordinary timer jitter as a stall', () => {
  const worker = fixture.manager.heartbeat({ tag: 'w', interval: 1 }).start();
  for (let i = 0; i < 10; i++) {
    fixture.clock.advance(900);
    worker.pulse();
  }
  fixture.clock.advance(1150);
  expect(fixture.manager.monitorHealth().stalls).toBe(0);
  expect(changes.map((c) => c.to)).toEqual(['warning']);
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { HeartbeatManager, fileStore, type HeartbeatConfig } from '../lib';
import { healthRouter } from '../lib/http/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { captureLogger } from './helpers/logger';
import { closeManagers, trackManager } from './helpers/managers';

/*
 * Services that remote calls registered under auto_register, across a restart on a file store:
 * everything over real HTTP, the restart a new manager and router on the same directory.
 */

const TOKEN = 'restart-token-0123456789abcdef';
const auth = { Authorization: `Bearer ${TOKEN}` };
/** Remote services get default_interval: 10 s, so a grace of 1 s (10%) and an amnesty of 11 s after a restart. */
const INTERVAL_MS = 10_000;
const AMNESTY_MS = 11_000;
const BASE: HeartbeatConfig = { remote_token: TOKEN, auto_register: true, default_interval: 10 };

let clock: TestClock;
let dir = '';

beforeEach(() => {
  // supertest's sockets need the real nextTick and setImmediate.
  jest.useFakeTimers({ now: Date.parse('2026-11-30T10:00:00Z'), doNotFake: ['nextTick', 'setImmediate'] });
  clock = createTestClock();
  dir = mkdtempSync(join(tmpdir(), 'heartbeat-remote-restart-'));
});
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/** A manager on the test's state directory, and an app serving it: what a process does at its start. */
function start(config: HeartbeatConfig = {}) {
  const { logger, messages } = captureLogger('info');
  const manager = trackManager(new HeartbeatManager({ config: { ...BASE, ...config }, clock, logger, store: fileStore({ dir }) }));
  const app = express().use(healthRouter({ manager, registry: new Registry() }));
  return { manager, app, messages };
}

/** Stops the process, lets `offlineMs` pass with nothing running, and starts it again on the same directory. */
function restart(manager: HeartbeatManager, offlineMs: number, config: HeartbeatConfig = {}) {
  void manager.close();
  clock.skip(offlineMs);
  return start(config);
}

const pulse = (app: express.Express, name: string) => request(app).post(`/api/health/service/${name}/pulse`).set(auth);
const reportError = (app: express.Express, name: string, message: string) =>
  request(app).post(`/api/health/service/${name}/error`).set(auth).send({ message });
const serviceOf = async (app: express.Express, name: string) => (await request(app).get(`/api/health/service/${name}`)).body;
const statusOf = async (app: express.Express, name: string): Promise<string> => (await serviceOf(app, name)).status as string;

it('brings registered services back in /status, with their counters and history', async () => {
  const first = start();
  for (let i = 0; i < 3; i++) {
    expect((await pulse(first.app, 'csharp_client')).status).toBe(204);
    clock.advance(1000);
  }
  expect((await pulse(first.app, 'py_worker')).status).toBe(204);
  expect((await reportError(first.app, 'py_worker', 'queue full')).status).toBe(204);
  clock.advance(1000);
  const before = { csharp: await serviceOf(first.app, 'csharp_client'), py: await serviceOf(first.app, 'py_worker') };
  const history = (await request(first.app).get('/api/health/service/py_worker/history')).body;
  expect(history.transitions.map((t: { reason: string }) => t.reason)).toEqual(['error: queue full']);

  const second = restart(first.manager, 60_000);
  const status = (await request(second.app).get('/api/health/status')).body;
  expect(Object.keys(status.services)).toEqual(['csharp_client', 'py_worker']);
  expect(status.services.csharp_client).toMatchObject({ status: 'healthy', interval: 10, critical: false });
  const after = { csharp: await serviceOf(second.app, 'csharp_client'), py: await serviceOf(second.app, 'py_worker') };
  expect(after.csharp).toMatchObject({ total_pulses: 3, error_count: 0, last_heartbeat: before.csharp.last_heartbeat });
  expect(after.py).toMatchObject({ total_pulses: 1, error_count: 1, last_error: before.py.last_error, status: 'warning' });
  const restored = (await request(second.app).get('/api/health/service/py_worker/history')).body;
  expect(restored.transitions).toEqual(history.transitions);
  expect(restored.gaps).toHaveLength(1);
  expect(second.messages()).toContain('Restored 2 services from the file store; the monitor was offline for 60 s');
});

describe('a remote service whose deadline passed while the monitor was down', () => {
  it('is not counted missing until one interval and grace after the restart, then goes degraded or critical', async () => {
    const first = start();
    await pulse(first.app, 'csharp_client');
    clock.advance(1);
    const second = restart(first.manager, 12 * INTERVAL_MS); // twelve beats missed while nobody watched
    expect(await statusOf(second.app, 'csharp_client')).toBe('healthy');
    clock.advance(AMNESTY_MS - 1000);
    expect(await serviceOf(second.app, 'csharp_client')).toMatchObject({ status: 'healthy', consecutive_failures: 0 });

    clock.advance(2000); // the amnesty is over, and still no pulse
    expect(['degraded', 'critical']).toContain(await statusOf(second.app, 'csharp_client'));
    clock.advance(5 * INTERVAL_MS);
    expect(await statusOf(second.app, 'csharp_client')).toBe('critical');
  });

  // Core bug, kept here until lib/core fixes it (then make this an it): a pulse in the same
  // millisecond as the final save is not "before the crash" to the restore (state-keeper sets
  // frozenAt to the save's time, and ServiceRecord.frozen() asks lastSignAt < frozenAt), so the
  // service gets no amnesty and turns critical at the restart, "missed 12 heartbeats". With the
  // real clock, a pulse within a millisecond of the save does it: its wall time is rounded up.
  it('gets its amnesty too when its last pulse came in the millisecond of the final save', async () => {
    const first = start();
    await pulse(first.app, 'csharp_client');
    const second = restart(first.manager, 12 * INTERVAL_MS);
    expect(await statusOf(second.app, 'csharp_client')).toBe('healthy');
  });

  it('stays healthy, without a status change, when a pulse comes within that time', async () => {
    const first = start();
    await pulse(first.app, 'csharp_client');
    clock.advance(1);
    const second = restart(first.manager, 12 * INTERVAL_MS);
    const changes = (await request(second.app).get('/api/health/service/csharp_client/history')).body.transitions;
    expect(changes).toEqual([]);
    clock.advance(AMNESTY_MS - 1000);
    expect((await pulse(second.app, 'csharp_client')).status).toBe(204);
    clock.advance(INTERVAL_MS); // past the amnesty, within the new pulse's interval
    expect(await serviceOf(second.app, 'csharp_client')).toMatchObject({ status: 'healthy', total_pulses: 2, consecutive_failures: 0 });
    expect((await request(second.app).get('/api/health/service/csharp_client/history')).body.transitions).toEqual(changes);
  });
});

describe('the remote registry after a restart', () => {
  it('counts the restored services against max_services', async () => {
    const first = start({ max_services: 2 });
    await pulse(first.app, 'a');
    await pulse(first.app, 'b');
    const second = restart(first.manager, 5000, { max_services: 2 });
    const third = await pulse(second.app, 'c');
    expect(third.status).toBe(429);
    expect(third.body.error).toBe('This server already took 2 remote services (max_services); no more are registered.');
    expect((await pulse(second.app, 'a')).status).toBe(204);
  });

  it('expires them auto_register_ttl after their restored last pulse, offline time included', async () => {
    const config = { auto_register_ttl: 600, max_services: 1 };
    const first = start(config);
    await pulse(first.app, 'csharp_client');
    clock.advance(100_000);
    const second = restart(first.manager, 300_000, config); // 400 s since the pulse
    clock.advance(150_000); // 550 s
    expect((await request(second.app).get('/api/health/service/csharp_client')).status).toBe(200);
    expect((await pulse(second.app, 'other')).status).toBe(429);
    clock.advance(52_000); // 602 s: the registry's timer looks at most a second after the deadline
    expect((await request(second.app).get('/api/health/service/csharp_client')).status).toBe(404);
    expect(second.messages()).toContain(
      'Service csharp_client, registered by a remote call, had no pulse for 600 s (auto_register_ttl): removed',
    );
    // Its place is free again.
    expect((await pulse(second.app, 'other')).status).toBe(204);
  });

  it('removes at once a service whose ttl ran out while the monitor was down, for good', async () => {
    const config = { auto_register_ttl: 600 };
    const first = start(config);
    await pulse(first.app, 'csharp_client');
    const second = restart(first.manager, 900_000, config);
    clock.advance(1000); // the registry's first look
    expect((await request(second.app).get('/api/health/service/csharp_client')).status).toBe(404);
    const third = restart(second.manager, 1000, config);
    expect((await request(third.app).get('/api/health/status')).body.services).toEqual({});
  });

  it('forgets a DELETEd service: it does not come back after the next restart', async () => {
    const first = start();
    await pulse(first.app, 'a');
    await pulse(first.app, 'b');
    const second = restart(first.manager, 5000);
    expect((await request(second.app).delete('/api/health/service/a').set(auth)).status).toBe(204);
    const third = restart(second.manager, 5000);
    expect(Object.keys((await request(third.app).get('/api/health/status')).body.services)).toEqual(['b']);
    expect((await request(third.app).get('/api/health/service/a')).status).toBe(404);
    // And it can be registered again, from nothing.
    expect((await pulse(third.app, 'a')).status).toBe(204);
    expect(await serviceOf(third.app, 'a')).toMatchObject({ total_pulses: 1 });
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { HeartbeatManager, fileStore, type HeartbeatConfig } from '../lib';
import { healthRouter, type HealthRouterOptions } from '../lib/http/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { captureLogger } from './helpers/logger';
import { closeManagers, trackManager } from './helpers/managers';

/** `GET {basePath}/service/{name}/history?days=N` over real HTTP: the daily rollups, the offline gaps, and every bad `days` refused with 400. */

/** A minute before a UTC midnight: a test that runs two minutes spans two days. */
const BEFORE_MIDNIGHT = Date.parse('2026-11-29T23:59:00Z');
const HISTORY = '/api/health/service/save_worker/history';

let clock: TestClock;
const dirs: string[] = [];

beforeEach(() => {
  // supertest's sockets need the real nextTick and setImmediate.
  jest.useFakeTimers({ now: BEFORE_MIDNIGHT, doNotFake: ['nextTick', 'setImmediate'] });
  clock = createTestClock();
});
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function serve(config: HeartbeatConfig = {}, options: Omit<HealthRouterOptions, 'manager' | 'registry'> = {}, dir?: string) {
  const { logger } = captureLogger('silent');
  const store = dir === undefined ? {} : { store: fileStore({ dir }) };
  const manager = trackManager(new HeartbeatManager({ config, clock, logger, ...store }));
  const app = express();
  app.use(healthRouter({ manager, registry: new Registry(), ...options }));
  return { manager, app };
}

/** A service with an outage across midnight: 30 s down on each day. */
function outageAcrossMidnight(manager: HeartbeatManager): void {
  const worker = manager.heartbeat({ tag: 'save_worker', interval: 10 }).start(); // 23:59:00
  clock.advance(10_000);
  worker.pulse(); // 23:59:10
  clock.advance(10_000);
  worker.pulse(); // 23:59:20
  clock.advance(10_000);
  worker.error('disk full', { critical: true }); // 23:59:30: down
  clock.advance(60_000);
  worker.pulse(); // 00:00:30: up
  clock.advance(5000); // 00:00:35, within the interval
}

describe('history?days=N', () => {
  it('adds one rollup per UTC day, oldest first, with the downtime, changes, pulses and errors of each', async () => {
    const { manager, app } = serve();
    outageAcrossMidnight(manager);
    const response = await request(app).get(`${HISTORY}?days=2`);
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body.daily).toEqual([
      // Watched from 23:59:00: 60 s, 30 of them down.
      { date: '2026-11-29', uptime: 0.5, downtime_seconds: 30, transitions: 1, pulses: 2, errors: 1 },
      // 35 s so far, 30 of them down.
      { date: '2026-11-30', uptime: expect.closeTo(5 / 35, 3) as number, downtime_seconds: 30, transitions: 1, pulses: 1, errors: 0 },
    ]);
    expect(response.body.transitions.map((t: { to: string }) => t.to)).toEqual(['critical', 'healthy']);
    expect(response.body.gaps).toEqual([]);
  });

  it('gives only the days asked for, and none before the service was first watched', async () => {
    const { manager, app } = serve();
    outageAcrossMidnight(manager);
    const one = await request(app).get(`${HISTORY}?days=1`);
    expect(one.body.daily.map((day: { date: string }) => day.date)).toEqual(['2026-11-30']);
    const all = await request(app).get(`${HISTORY}?days=90`);
    expect(all.body.daily.map((day: { date: string }) => day.date)).toEqual(['2026-11-29', '2026-11-30']);
  });

  it('answers as before without days, plus the gaps, and no daily', async () => {
    const { manager, app } = serve();
    outageAcrossMidnight(manager);
    const response = await request(app).get(HISTORY);
    expect(response.status).toBe(200);
    expect(Object.keys(response.body)).toEqual(['service', 'uptime', 'transitions', 'gaps']);
  });

  it('takes up to retention_days, exactly', async () => {
    const { manager, app } = serve({ retention_days: 7 });
    manager.heartbeat({ tag: 'save_worker', interval: 10 }).start();
    expect((await request(app).get(`${HISTORY}?days=7`)).status).toBe(200);
    const refused = await request(app).get(`${HISTORY}?days=8`);
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      error: 'The days parameter is "8"; expected a whole number from 1 to 7 (retention_days), given once, e.g. days=7.',
      parameter: 'days',
      value: '8',
      minimum: 1,
      maximum: 7,
    });
  });

  it.each([
    ['zero', 'days=0', '0'],
    ['a negative number', 'days=-1', '-1'],
    ['a fraction', 'days=1.5', '1.5'],
    ['a word', 'days=abc', 'abc'],
    ['nothing', 'days=', ''],
    ['an exponent', 'days=1e1', '1e1'],
    ['a plus sign', 'days=%2B1', '+1'],
    ['a leading space', 'days=%201', ' 1'],
    ['more than retention_days', 'days=91', '91'],
    ['a number past 2^53', 'days=99999999999999999999', '99999999999999999999'],
    ['a repeated parameter', 'days=1&days=2', '["1","2"]'],
  ])('answers %s with 400 naming the parameter, the value and the range', async (_label, query, value) => {
    const { manager, app } = serve();
    manager.heartbeat({ tag: 'save_worker', interval: 10 }).start();
    const response = await request(app).get(`${HISTORY}?${query}`);
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body).toEqual({
      error: `The days parameter is ${JSON.stringify(value)}; expected a whole number from 1 to 90 (retention_days), given once, e.g. days=7.`,
      parameter: 'days',
      value,
      minimum: 1,
      maximum: 90,
    });
  });

  it('checks days before the name (400 for any service), and the details policy before both (401)', async () => {
    const { app } = serve({ remote_token: 'history-token-0123456789abcdef' }, { details: 'when-authorized' });
    const auth = { Authorization: 'Bearer history-token-0123456789abcdef' };
    expect((await request(app).get('/api/health/service/nope/history?days=0').set(auth)).status).toBe(400);
    expect((await request(app).get('/api/health/service/nope/history?days=1').set(auth)).status).toBe(404);
    const anonymous = await request(app).get('/api/health/service/nope/history?days=0');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).not.toContain('days');
  });
});

describe('history gaps', () => {
  it('shows the time the monitor was down as a gap, from the last save to the restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heartbeat-history-'));
    dirs.push(dir);
    const first = serve({}, {}, dir);
    first.manager.heartbeat({ tag: 'save_worker', interval: 10 }).start();
    clock.advance(5000);
    const stoppedAt = new Date(clock.wallNow()).toISOString();
    void first.manager.close();
    clock.skip(600_000); // ten minutes offline, across midnight
    const restartedAt = new Date(clock.wallNow()).toISOString();

    const second = serve({}, {}, dir);
    second.manager.heartbeat({ tag: 'save_worker', interval: 10 }).start();
    const response = await request(second.app).get(`${HISTORY}?days=2`);
    expect(response.status).toBe(200);
    expect(response.body.gaps).toEqual([{ start: stoppedAt, end: restartedAt, reason: 'monitor offline' }]);
    // Nobody watched: the ten minutes count neither as up nor as down, on either day.
    expect(response.body.daily.map((day: { uptime: number; downtime_seconds: number }) => [day.uptime, day.downtime_seconds])).toEqual([
      [1, 0],
      [1, 0],
    ]);
  });
});

describe('history?limit=N', () => {
  it('lists only the newest N status changes, oldest first, with the rest of the body unchanged', async () => {
    const { manager, app } = serve();
    outageAcrossMidnight(manager);
    const whole = await request(app).get(HISTORY);
    expect(whole.body.transitions).toHaveLength(2);
    const last = await request(app).get(`${HISTORY}?limit=1&days=2`);
    expect(last.status).toBe(200);
    expect(last.body).toEqual({ ...whole.body, transitions: whole.body.transitions.slice(-1), daily: expect.any(Array) });
    expect((await request(app).get(`${HISTORY}?limit=100000`)).body).toEqual(whole.body);
  });

  it.each([
    ['zero', 'limit=0', '0'],
    ['a word', 'limit=all', 'all'],
    ['more than history_size may be', 'limit=100001', '100001'],
    ['a repeated parameter', 'limit=1&limit=2', '["1","2"]'],
  ])('answers %s with 400 naming the parameter, the value and the range', async (_label, query, value) => {
    const { manager, app } = serve();
    manager.heartbeat({ tag: 'save_worker', interval: 10 }).start();
    const response = await request(app).get(`${HISTORY}?${query}`);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: `The limit parameter is ${JSON.stringify(value)}; expected a whole number from 1 to 100000 (the most history_size allows), given once, e.g. limit=7.`,
      parameter: 'limit',
      value,
      minimum: 1,
      maximum: 100000,
    });
  });
});

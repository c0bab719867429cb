import request from 'supertest';
import { createApp, type AppFixture } from './helpers/app';
import { parseSamples } from './helpers/promtool';
import { closeManagers } from './helpers/managers';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let fixture: AppFixture;

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

/** Stalls a 60 s heartbeat for `hours`, then pulses it back. */
function outage(hours: number): void {
  const heartbeat = fixture.manager.get('save_worker');
  fixture.clock.advance(hours * HOUR);
  heartbeat?.pulse();
  fixture.clock.advance(1);
}

/** Keeps the heartbeat pulsing on time for `hours`. */
function healthyFor(hours: number): void {
  const heartbeat = fixture.manager.get('save_worker');
  for (let minute = 0; minute < hours * 60; minute++) {
    fixture.clock.advance(60_000);
    heartbeat?.pulse();
  }
}

it('records transitions and computes uptime ratios over simulated days', async () => {
  fixture = createApp();
  fixture.manager.heartbeat({ tag: 'save_worker', interval: 60 }).start();
  healthyFor(24 * 3);
  outage(2); // about 2 h down (degraded after 3 misses, critical after 5)
  healthyFor(22);
  const response = await request(fixture.app).get('/api/health/service/save_worker/history');
  expect(response.status).toBe(200);
  expect(response.headers['cache-control']).toBe('no-store');
  const { transitions, uptime, service } = response.body;
  expect(service).toBe('save_worker');
  expect(transitions.map((t: { to: string }) => t.to)).toEqual(['warning', 'degraded', 'critical', 'healthy']);
  expect(transitions[3]).toMatchObject({ from: 'critical', reason: 'pulse received' });
  expect(Date.parse(transitions[0].time)).toBeLessThan(Date.parse(transitions[3].time));
  // Down (degraded or critical) from 3 missed minutes + grace to the pulse at 2 h: about 1 h 56.9 min.
  const down = 2 * HOUR - (3 * 60_000 + 6000);
  expect(uptime['24h']).toBeCloseTo(1 - down / DAY, 3);
  expect(uptime['7d']).toBeCloseTo(1 - down / (4 * DAY), 3); // the service has lived four days
});

it('exports uptime ratios as a gauge', async () => {
  fixture = createApp();
  fixture.manager.heartbeat({ tag: 'save_worker', interval: 60 }).start();
  healthyFor(10);
  outage(2);
  const samples = parseSamples(await fixture.registry.metrics());
  expect(samples.get('heartbeat_uptime_ratio{service="save_worker",window="24h"}')).toBeCloseTo(1 - (2 * HOUR - 186_000) / (12 * HOUR), 3);
  expect(samples.get('heartbeat_uptime_ratio{service="save_worker",window="7d"}')).toBeCloseTo(1 - (2 * HOUR - 186_000) / (12 * HOUR), 3);
});

it('keeps at most history_size transitions', () => {
  fixture = createApp({ history_size: 3 });
  const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 10 }).start();
  for (let i = 0; i < 10; i++) {
    heartbeat.error(`e${i}`);
    heartbeat.pulse();
    fixture.clock.advance(1);
  }
  const history = fixture.manager.history('w');
  expect(history?.transitions).toHaveLength(3);
  expect(history?.transitions.at(-1)).toMatchObject({ to: 'healthy' });
  expect(history?.transitions[0]).toMatchObject({ to: 'healthy' });
  expect(history?.transitions[1]).toMatchObject({ to: 'warning', reason: 'error: e9' });
});

it('drops old history on cleanupOldData, manager-wide too', () => {
  fixture = createApp();
  fixture.manager.heartbeat({ tag: 'save_worker', interval: 60 }).start();
  outage(1);
  healthyFor(24 * 8);
  expect(fixture.manager.history('save_worker')?.uptime['7d']).toBe(1);
  expect(fixture.manager.history('save_worker')?.transitions).toHaveLength(4);
  expect(fixture.manager.cleanupOldData(7)).toBe(4);
  expect(fixture.manager.history('save_worker')?.transitions).toEqual([]);
});

it('answers 404 JSON for the history of an unknown or prototype name', async () => {
  fixture = createApp();
  for (const name of ['nope', '__proto__', 'constructor', '%E0%A4%A']) {
    const response = await request(fixture.app).get(`/api/health/service/${name}/history`);
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  }
});

describe('GET /api/health/export', () => {
  it('gives every service history as JSON', async () => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'a', interval: 10 }).error('boom');
    fixture.manager.heartbeat({ tag: 'b', interval: 10 }).start();
    const response = await request(fixture.app).get('/api/health/export');
    expect(response.status).toBe(200);
    expect(response.body.generated_at).toBe(new Date(fixture.clock.wallNow()).toISOString());
    expect(response.body.services.map((s: { service: string }) => s.service)).toEqual(['a', 'b']);
    expect(response.body.services[0].transitions[0]).toMatchObject({ from: 'healthy', to: 'warning', reason: 'error: boom' });
  });

  it('gives CSV as an attachment, every field quoted', async () => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: '=HYPERLINK("x")', interval: 10 }).error('a, "quoted"\nmessage');
    const response = await request(fixture.app).get('/api/health/export?format=csv');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toBe('attachment; filename="heartbeat-history.csv"');
    const lines = response.text.split('\r\n');
    expect(lines[0]).toBe('"service","time","from","to","reason","uptime_24h","uptime_7d"');
    expect(lines[1]).toBe(
      `"'=HYPERLINK(""x"")","${new Date(fixture.clock.wallNow()).toISOString()}","healthy","warning","error: a, ""quoted""\nmessage","1","1"`,
    );
  });

  it('answers an unknown format with 400 JSON naming it', async () => {
    fixture = createApp();
    const response = await request(fixture.app).get('/api/health/export?format=xml');
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: 'Unknown export format "xml"; use format=json or format=csv.', format: 'xml' });
    const repeated = await request(fixture.app).get('/api/health/export?format=csv&format=json');
    expect(repeated.status).toBe(400);
  });

  it('writes only a header for no history', async () => {
    fixture = createApp();
    const response = await request(fixture.app).get('/api/health/export?format=csv');
    expect(response.text).toBe('"service","time","from","to","reason","uptime_24h","uptime_7d"\r\n');
  });
});

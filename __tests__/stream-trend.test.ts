// The stream's `trend` event (issue 20) over real HTTP (SSE) and WebSocket on the test clock:
// exact payloads for both audiences, at_risk in the snapshot, and the manager's trend listener
// held only while a client is connected (the manager reads trends every second only then).
import type { Server } from 'node:http';
import express from 'express';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { HeartbeatManager } from '../lib/core/manager';
import { TREND_CHECK_MS } from '../lib/core/trend-watch';
import { healthRouter } from '../lib/http/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { openStream, type SseClient } from './helpers/sse';
import { DRIFT_INTERVAL, driftingGaps, steadyGaps } from './helpers/drift';

const SECOND = 1000;
const TOKEN = 'stream-trend-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
/**
 * Keep-alives an hour apart: the drifts move the fake clock ten minutes in one go, and a
 * WebSocket that cannot answer a ping before the next is cut off.
 */
const HOUR = 3_600_000;

let clock: TestClock;
let manager: HeartbeatManager;
let server: Server | undefined;
let base: string;
let port: number;
const sseClients: SseClient[] = [];
const sockets: WebSocket[] = [];

interface Frame {
  event: string;
  data: any;
}

async function start(): Promise<void> {
  const health = healthRouter({
    manager,
    registry: new Registry(),
    details: 'when-authorized',
    stream: { pulseBatchMs: 250, keepAliveMs: HOUR },
  });
  server = express().use(health).listen(0, '127.0.0.1');
  await new Promise((resolve) => server?.once('listening', resolve));
  port = (server.address() as { port: number }).port;
  base = `http://127.0.0.1:${String(port)}`;
  health.attachWebSocket(server);
}

async function connectSse(headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await openStream(`${base}/api/health/stream`, headers);
  sseClients.push(client);
  await client.waitFor(1, 'snapshot');
  return client;
}

/** Polls `ready` on each turn of the event loop, for at most 5 s of real time (the tests run on fake timers). */
async function until(ready: () => boolean, what: string): Promise<void> {
  const started = jest.getRealSystemTime();
  while (!ready()) {
    if (jest.getRealSystemTime() - started > 5000) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A WebSocket client keeping every frame, open once its snapshot came. */
async function connectWs(headers: Record<string, string> = {}): Promise<{ socket: WebSocket; frames: Frame[] }> {
  const socket = new WebSocket(`ws://127.0.0.1:${String(port)}/api/health/ws`, { headers, perMessageDeflate: false });
  sockets.push(socket);
  const frames: Frame[] = [];
  socket.on('message', (message: Buffer) => frames.push(JSON.parse(message.toString('utf8')) as Frame));
  await until(() => frames.length > 0, 'the WebSocket snapshot');
  return { socket, frames };
}

const sseData = (client: SseClient, name: string): unknown[] =>
  client.events.filter((event) => event.event === name).map((event) => JSON.parse(event.data) as unknown);
const wsData = (frames: Frame[], name: string): unknown[] => frames.filter((frame) => frame.event === name).map((frame) => frame.data);

/** Pulses `tag` after each gap; gives the ISO time of the first pulse after which its trend was at risk, if any. */
function pulseAfter(tag: string, gaps: readonly number[]): string | null {
  const heartbeat = manager.get(tag) ?? manager.heartbeat({ tag, interval: DRIFT_INTERVAL }).start();
  let flaggedAt: string | null = null;
  for (const gap of gaps) {
    clock.advance(gap * SECOND);
    heartbeat.pulse();
    if (flaggedAt === null && manager.service(tag)?.trend.at_risk === true) flaggedAt = new Date(clock.wallNow()).toISOString();
  }
  return flaggedAt;
}

/** Starts `tag` with its first pulse, then drifts it until it is at risk. */
function drift(tag = 'save_worker'): string {
  manager.heartbeat({ tag, interval: DRIFT_INTERVAL }).start().pulse();
  const flaggedAt = pulseAfter(tag, driftingGaps());
  if (flaggedAt === null) throw new Error('the drift did not put the service at risk');
  return flaggedAt;
}

/** The trend at risk as the watch reads it one look after the last drifting pulse. */
const AT_RISK_AT_LOOK = {
  mean_gap_seconds: expect.any(Number),
  p95_gap_seconds: expect.any(Number),
  slope: 1.5,
  at_risk: true,
  eta_seconds: expect.any(Number),
  reason: expect.stringMatching(/^gaps growing 1\.5 s per beat: a miss expected in about \d+ s$/),
};

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent', remote_token: TOKEN } });
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  for (const client of sseClients.splice(0)) client.close();
  void manager.close();
  if (server) {
    const closing = server;
    server = undefined;
    closing.closeAllConnections();
    await new Promise((resolve) => closing.close(resolve));
  }
  jest.restoreAllMocks();
  jest.useRealTimers();
});

describe('the trend event', () => {
  it('goes to a caller with details as the manager gives it, and to one without as the flag alone, when at_risk turns and when it clears', async () => {
    await start();
    const anonymous = await connectSse();
    const admitted = await connectSse(AUTH);
    const changes: unknown[] = [];
    manager.on('trend', (change) => changes.push(change));

    const flaggedAt = drift();
    clock.advance(TREND_CHECK_MS + 1);
    await admitted.waitFor(1, 'trend');
    await anonymous.waitFor(1, 'trend');
    // Exactly the manager's TrendChange, read at the same look.
    expect(changes).toHaveLength(1);
    expect(sseData(admitted, 'trend')).toEqual(changes);
    expect(sseData(admitted, 'trend')).toEqual([{ service: 'save_worker', time: flaggedAt, trend: AT_RISK_AT_LOOK }]);
    expect(sseData(anonymous, 'trend')).toEqual([{ service: 'save_worker', at_risk: true }]);

    pulseAfter('save_worker', steadyGaps(10));
    clock.advance(TREND_CHECK_MS + 1);
    await admitted.waitFor(2, 'trend');
    await anonymous.waitFor(2, 'trend');
    expect(changes).toHaveLength(2);
    expect(sseData(admitted, 'trend')).toEqual(changes);
    expect(sseData(admitted, 'trend')[1]).toEqual({
      service: 'save_worker',
      time: expect.any(String),
      trend: {
        mean_gap_seconds: expect.any(Number),
        p95_gap_seconds: expect.any(Number),
        slope: expect.any(Number),
        at_risk: false,
        eta_seconds: null,
        reason: 'steady',
      },
    });
    expect(sseData(anonymous, 'trend')).toEqual([
      { service: 'save_worker', at_risk: true },
      { service: 'save_worker', at_risk: false },
    ]);
    // The status never moved: the trend is beside it.
    expect(sseData(anonymous, 'status')).toEqual([]);
    expect(anonymous.raw()).not.toMatch(/gaps growing|eta_seconds|reason/);
  });

  it('carries the same data over the WebSocket as over SSE, for both audiences', async () => {
    await start();
    const sseAnonymous = await connectSse();
    const sseAdmitted = await connectSse(AUTH);
    const wsAnonymous = await connectWs();
    const wsAdmitted = await connectWs(AUTH);
    const flaggedAt = drift();
    clock.advance(TREND_CHECK_MS + 1);
    await sseAdmitted.waitFor(1, 'trend');
    await sseAnonymous.waitFor(1, 'trend');
    await until(() => wsData(wsAdmitted.frames, 'trend').length === 1 && wsData(wsAnonymous.frames, 'trend').length === 1, 'trend frames');
    expect(wsData(wsAdmitted.frames, 'trend')).toEqual(sseData(sseAdmitted, 'trend'));
    expect(wsData(wsAdmitted.frames, 'trend')).toEqual([{ service: 'save_worker', time: flaggedAt, trend: AT_RISK_AT_LOOK }]);
    expect(wsData(wsAnonymous.frames, 'trend')).toEqual([{ service: 'save_worker', at_risk: true }]);
    expect(wsData(wsAnonymous.frames, 'trend')).toEqual(sseData(sseAnonymous, 'trend'));
  });
});

describe('the snapshot', () => {
  it('shows a service already at risk to a client that connects: the trend in the body with details, at_risk in the summary', async () => {
    await start();
    manager.heartbeat({ tag: 'steady_worker', interval: HOUR / SECOND }).start();
    drift();
    const trend = manager.service('save_worker')?.trend;
    expect(trend).toMatchObject({ at_risk: true, eta_seconds: 33 });

    const admitted = await connectSse(AUTH);
    const anonymous = await connectSse();
    const ws = await connectWs();
    const [full] = sseData(admitted, 'snapshot') as Array<{ services: Array<{ service: string; trend: unknown }> }>;
    expect(full?.services.map((body) => [body.service, body.trend])).toEqual([
      [
        'steady_worker',
        { mean_gap_seconds: null, p95_gap_seconds: null, slope: null, at_risk: false, eta_seconds: null, reason: 'learning: 0 of 10 gaps' },
      ],
      ['save_worker', trend],
    ]);
    const summary = {
      overall_status: 'healthy',
      services: [
        { service: 'steady_worker', status: 'healthy', paused: false, group: null, at_risk: false },
        { service: 'save_worker', status: 'healthy', paused: false, group: null, at_risk: true },
      ],
      time: new Date(clock.wallNow()).toISOString(),
    };
    expect(sseData(anonymous, 'snapshot')).toEqual([summary]);
    expect(wsData(ws.frames, 'snapshot')).toEqual([summary]);
    // The same caller reading the service gets the same summary as the snapshot's.
    const rest = await fetch(`${base}/api/health/service/save_worker`);
    expect(await rest.json()).toEqual(summary.services[1]);
  });
});

describe("the manager's trend listener", () => {
  it('is held only while a client is connected, of either transport, and let go when the last leaves and when the manager closes', async () => {
    const on = jest.spyOn(manager, 'on');
    const off = jest.spyOn(manager, 'off');
    const trendCalls = (spy: jest.SpyInstance) =>
      spy.mock.calls.filter(([event]) => event === 'trend').map(([, listener]) => listener as unknown);
    await start();
    // Served, but nobody watching: no listener, so the manager reads no trend every second.
    drift();
    clock.advance(5 * TREND_CHECK_MS);
    expect(trendCalls(on)).toEqual([]);

    const first = await connectSse();
    const ws = await connectWs();
    expect(trendCalls(on)).toHaveLength(1);
    const listener = trendCalls(on)[0];
    // A service already at risk when the first client comes is news to the stream too.
    clock.advance(TREND_CHECK_MS + 1);
    await first.waitFor(1, 'trend');
    await until(() => wsData(ws.frames, 'trend').length === 1, 'the WebSocket trend frame');

    first.close();
    ws.socket.close();
    await until(() => trendCalls(off).length === 1, 'the listener let go');
    expect(trendCalls(off)).toEqual([listener]);

    // A client that comes back takes it again; the manager closing lets it go once more.
    await connectSse();
    expect(trendCalls(on)).toEqual([listener, listener]);
    await manager.close();
    expect(trendCalls(off)).toEqual([listener, listener]);
  });
});

// One serialisation per event, shared by all clients (issue 21): 40 clients of the live stream
// over real loopback (SSE and WebSocket, each with and without details) and a few status
// changes; JSON.stringify and Buffer.from are watched, and each change must be serialised and
// encoded to bytes once per transport and audience, four times in all, however many clients
// receive it.
import type { Server } from 'node:http';
import express from 'express';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter } from '../lib/http/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { openStream, type SseClient } from './helpers/sse';

const TOKEN = 'fanout-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** Clients of each transport and audience: 10 × 2 × 2. */
const EACH = 10;
const TAG = 'save_worker';

interface Frame {
  event: string;
  data: any;
}

let clock: TestClock;
let manager: HeartbeatManager;
let server: Server;
let port: number;
const sseClients: SseClient[] = [];
const sockets: WebSocket[] = [];

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent', remote_token: TOKEN } });
});

afterEach(async () => {
  jest.restoreAllMocks();
  for (const socket of sockets.splice(0)) socket.terminate();
  for (const client of sseClients.splice(0)) client.close();
  void manager.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  jest.useRealTimers();
});

async function start(): Promise<void> {
  const health = healthRouter({
    manager,
    registry: new Registry(),
    details: 'when-authorized',
    stream: { maxClients: 4 * EACH, maxClientsPerAddress: 4 * EACH },
  });
  server = express().use(health).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as { port: number }).port;
  health.attachWebSocket(server);
}

/** Polls `ready` on each turn of the event loop, for at most 5 s of real time (the timers are fake). */
async function until(ready: () => boolean, what: string): Promise<void> {
  const started = jest.getRealSystemTime();
  while (!ready()) {
    if (jest.getRealSystemTime() - started > 5000) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function connectSse(headers: Record<string, string>): Promise<SseClient> {
  const client = await openStream(`http://127.0.0.1:${String(port)}/api/health/stream`, headers);
  sseClients.push(client);
  await client.waitFor(1, 'snapshot');
  return client;
}

async function connectWs(headers: Record<string, string>): Promise<Frame[]> {
  const socket = new WebSocket(`ws://127.0.0.1:${String(port)}/api/health/ws`, { headers, perMessageDeflate: false });
  sockets.push(socket);
  const frames: Frame[] = [];
  socket.on('message', (message: Buffer) => frames.push(JSON.parse(message.toString('utf8')) as Frame));
  await until(() => frames.length > 0, 'a WebSocket snapshot');
  return frames;
}

/** Whether `value`, handed to Buffer.from, is a status event's whole frame as text: SSE's or the WebSocket's message. */
function isStatusFrame(value: unknown): boolean {
  return typeof value === 'string' && (value.includes('\nevent: status\n') || value.startsWith('{"event":"status"'));
}

/**
 * Whether `value`, handed to JSON.stringify, is a status event's payload: the WebSocket's whole
 * message, or the SSE `data:` of either audience (the change with details, status words without).
 */
function isStatusPayload(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const payload = value as Record<string, unknown>;
  if (payload.event === 'status') return true;
  return payload.service === TAG && 'overall_status' in payload && ('to' in payload || 'status' in payload);
}

it('serialises and encodes each status event once per transport and audience, for 40 clients over loopback', async () => {
  const worker = manager.heartbeat({ tag: TAG, interval: 60 }).start();
  await start();
  const range = Array.from({ length: EACH });
  const detailedSse = await Promise.all(range.map(() => connectSse(AUTH)));
  const briefSse = await Promise.all(range.map(() => connectSse({})));
  const detailedWs = await Promise.all(range.map(() => connectWs(AUTH)));
  const briefWs = await Promise.all(range.map(() => connectWs({})));
  const stringify = jest.spyOn(JSON, 'stringify');
  const statusSerialisations = (): number => stringify.mock.calls.filter(([value]) => isStatusPayload(value)).length;
  const encode = jest.spyOn(Buffer, 'from');
  const statusEncodings = (): number => encode.mock.calls.filter(([value]) => isStatusFrame(value)).length;
  const statusEvents = (count: number): boolean =>
    [...detailedSse, ...briefSse].every((client) => client.events.filter((event) => event.event === 'status').length >= count) &&
    [...detailedWs, ...briefWs].every((frames) => frames.filter((frame) => frame.event === 'status').length >= count);

  worker.error('disk full');
  await until(() => statusEvents(1), 'the warning on every client');
  expect(statusSerialisations()).toBe(4);
  expect(statusEncodings()).toBe(4);
  worker.pulse();
  // The recovery is announced at the monitor's next timer turn.
  clock.advance(1);
  await until(() => statusEvents(2), 'the recovery on every client');
  worker.error('disk gone', { critical: true });
  await until(() => statusEvents(3), 'the critical status on every client');
  // Three events to 40 clients: 12 serialisations and 12 encodings to UTF-8 (per client would be 120).
  expect(statusSerialisations()).toBe(3 * 4);
  expect(statusEncodings()).toBe(3 * 4);

  // Every client of one transport and audience got the very same text.
  const sseStatus = (client: SseClient): string[] => client.events.filter((event) => event.event === 'status').map((event) => event.data);
  const wsStatus = (frames: Frame[]): string[] =>
    frames.filter((frame) => frame.event === 'status').map((frame) => JSON.stringify(frame.data));
  for (const group of [detailedSse, briefSse])
    for (const client of group) expect(sseStatus(client)).toEqual(sseStatus(group[0] as SseClient));
  for (const group of [detailedWs, briefWs]) for (const frames of group) expect(wsStatus(frames)).toEqual(wsStatus(group[0] as Frame[]));
  expect(JSON.parse(sseStatus(detailedSse[0] as SseClient)[2] as string)).toMatchObject({ service: TAG, from: 'healthy', to: 'critical' });
  expect(JSON.parse(sseStatus(briefSse[0] as SseClient)[2] as string)).toEqual({
    service: TAG,
    status: 'critical',
    overall_status: 'critical',
  });
  expect((detailedWs[0] as Frame[]).filter((frame) => frame.event === 'status').map((frame) => frame.data.to)).toEqual([
    'warning',
    'healthy',
    'critical',
  ]);
});

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type Server } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import express from 'express';
import express4 from 'express4';
import { Registry } from 'prom-client';
import request from 'supertest';
import WebSocket, { WebSocketServer, type ClientOptions } from 'ws';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter, type HealthRouter, type HealthRouterOptions } from '../lib/http/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { openStream, type SseClient } from './helpers/sse';

const TOKEN = 'ws-token-0123456789abcdef';
const REMOTE_TOKEN = 'remote-token-0123456789abcdef';

let clock: TestClock;
let manager: HeartbeatManager;
let server: Server;
let health: HealthRouter;
let base: string;
let port: number;
const sockets: WebSocket[] = [];
const sseClients: SseClient[] = [];

/** One frame as the server sends it: `{ event, data }`. */
interface Frame {
  event: string;
  data: any;
}

/** A WebSocket client that keeps every frame it receives. */
interface WsStream {
  socket: WebSocket;
  frames: Frame[];
  /** Whether each message arrived as text (`isBinary` false), as ClientWebSocket's MessageType.Text. */
  textOnly: () => boolean;
  waitFor(count: number, event?: string): Promise<Frame[]>;
  closed: Promise<{ code: number; reason: string }>;
}

type Attempt = { kind: 'open'; stream: WsStream } | { kind: 'refused'; status: number; headers: IncomingMessage['headers']; body: unknown };

/** Polls `ready` on each turn of the event loop until it holds, for at most 5 s of real time (the tests run on fake timers). */
async function until(ready: () => boolean, what: string): Promise<void> {
  const started = jest.getRealSystemTime();
  while (!ready()) {
    if (jest.getRealSystemTime() - started > 5000) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function attempt(path = '/api/health/ws', headers: Record<string, string> = {}, options: ClientOptions = {}): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    // As .NET's ClientWebSocket connects by default: no subprotocol, no compression, headers of its own.
    const socket = new WebSocket(`ws://127.0.0.1:${String(port)}${path}`, { headers, perMessageDeflate: false, ...options });
    sockets.push(socket);
    const frames: Frame[] = [];
    let binary = false;
    socket.on('message', (message: Buffer, isBinary) => {
      binary ||= isBinary;
      const text = message.toString('utf8');
      frames.push(text.startsWith('{') ? (JSON.parse(text) as Frame) : { event: 'text', data: text });
    });
    const closed = new Promise<{ code: number; reason: string }>((done) => {
      socket.on('close', (code, reason) => {
        done({ code, reason: String(reason) });
      });
    });
    socket.on('open', () => {
      resolve({
        kind: 'open',
        stream: {
          socket,
          frames,
          textOnly: () => !binary,
          closed,
          waitFor: async (count, event) => {
            const matching = () => frames.filter((frame) => event === undefined || frame.event === event);
            await until(
              () => matching().length >= count,
              `${String(count)} ${event ?? 'frames'} (saw ${frames.map((f) => f.event).join(', ')})`,
            );
            return matching();
          },
        },
      });
    });
    socket.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        socket.terminate();
        resolve({ kind: 'refused', status: res.statusCode ?? 0, headers: res.headers, body: body ? JSON.parse(body) : undefined });
      });
    });
    socket.on('error', (error) => {
      if (socket.readyState !== WebSocket.CLOSED) reject(error);
    });
  });
}

async function connectWs(headers: Record<string, string> = {}, options: ClientOptions = {}): Promise<WsStream> {
  const result = await attempt('/api/health/ws', headers, options);
  if (result.kind !== 'open') throw new Error(`Refused: ${String(result.status)} ${JSON.stringify(result.body)}`);
  return result.stream;
}

async function refused(
  path?: string,
  headers?: Record<string, string>,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: unknown }> {
  const result = await attempt(path, headers);
  if (result.kind !== 'refused') throw new Error('The upgrade was accepted');
  return result;
}

async function connectSse(headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await openStream(`${base}/api/health/stream`, headers);
  sseClients.push(client);
  return client;
}

async function start(options: Omit<HealthRouterOptions, 'manager' | 'registry'> = {}, app: express.Express = express()): Promise<void> {
  health = healthRouter({ manager, registry: new Registry(), ...options });
  app.use(health);
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as { port: number }).port;
  base = `http://127.0.0.1:${String(port)}`;
  health.attachWebSocket(server);
}

/** Open TCP connections of the server: a dropped client's leaves at once. */
function connections(): Promise<number> {
  return new Promise((resolve) => {
    server.getConnections((_error, count) => {
      resolve(count);
    });
  });
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent', remote_token: REMOTE_TOKEN } });
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  for (const client of sseClients.splice(0)) client.close();
  void manager.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  jest.useRealTimers();
});

it('sends a snapshot on connect as one JSON text frame, { event, data }', async () => {
  manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
  await start();
  const stream = await connectWs();
  const [snapshot] = await stream.waitFor(1);
  expect(snapshot).toMatchObject({
    event: 'snapshot',
    data: { overall_status: 'healthy', services: [{ service: 'save_worker', status: 'healthy' }] },
  });
  expect(Object.keys(snapshot as Frame)).toEqual(['event', 'data']);
  expect(stream.textOnly()).toBe(true);
  expect(stream.socket.protocol).toBe('');
});

it('carries each status change with the same data as the SSE event', async () => {
  const worker = manager.heartbeat({ tag: 'save_worker', interval: 10 }).start();
  await start();
  const sse = await connectSse();
  const ws = await connectWs();
  await sse.waitFor(1, 'snapshot');
  await ws.waitFor(1, 'snapshot');
  worker.error('disk full');
  worker.pulse();
  clock.advance(1);
  const [sseWarning, sseHealthy] = await sse.waitFor(2, 'status');
  const [wsWarning, wsHealthy] = await ws.waitFor(2, 'status');
  expect(wsWarning?.data).toEqual(JSON.parse(sseWarning?.data as string));
  expect(wsHealthy?.data).toEqual(JSON.parse(sseHealthy?.data as string));
  expect(wsWarning?.data).toMatchObject({
    service: 'save_worker',
    from: 'healthy',
    to: 'warning',
    health: { last_error: { message: 'disk full' } },
  });
});

it('batches pulses: one frame per pulseBatchMs, each service once', async () => {
  const bridge = manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
  await start({ stream: { pulseBatchMs: 250 } });
  const ws = await connectWs();
  await ws.waitFor(1, 'snapshot');
  for (let i = 0; i < 500; i++) bridge.pulse();
  clock.advance(250);
  await ws.waitFor(1, 'pulse');
  for (let i = 0; i < 500; i++) bridge.pulse();
  clock.advance(250);
  clock.advance(250); // nothing new: no frame
  await ws.waitFor(2, 'pulse');
  for (let i = 0; i < 5; i++) await settle();
  expect(ws.frames.filter((f) => f.event === 'pulse').map((f) => f.data.services.flask_bridge.total_pulses)).toEqual([500, 1000]);
});

describe('the details policy', () => {
  it('sends summaries without the remote_token, and details with it in the upgrade request', async () => {
    const worker = manager.heartbeat({ tag: 'w', interval: 10 }).start();
    await start({ details: 'when-authorized' });
    const anonymous = await connectWs();
    const admitted = await connectWs({ authorization: `Bearer ${REMOTE_TOKEN}` });
    const [summarySnapshot] = await anonymous.waitFor(1, 'snapshot');
    // Status words only (whatever else a summary carries, such as a group): no counters, no interval.
    expect(summarySnapshot?.data.services).toEqual([expect.objectContaining({ service: 'w', status: 'healthy', paused: false })]);
    expect(summarySnapshot?.data.services[0]).not.toHaveProperty('total_pulses');
    expect(summarySnapshot?.data.services[0]).not.toHaveProperty('interval');
    expect((await admitted.waitFor(1, 'snapshot'))[0]?.data.services[0]).toMatchObject({ service: 'w', total_pulses: 0, interval: 10 });
    worker.error('secret path /var/lib/x');
    worker.pulse();
    clock.advance(250);
    await admitted.waitFor(1, 'pulse');
    const [summary] = await anonymous.waitFor(1, 'status');
    expect(summary?.data).toEqual({ service: 'w', status: 'warning', overall_status: 'healthy' });
    expect((await admitted.waitFor(1, 'status'))[0]?.data.health.last_error.message).toBe('secret path /var/lib/x');
    for (let i = 0; i < 5; i++) await settle();
    expect(anonymous.frames.map((f) => f.event)).not.toContain('pulse');
    expect(JSON.stringify(anonymous.frames)).not.toContain('secret');
  });
});

describe('places shared with the SSE stream', () => {
  it('counts WebSocket and SSE clients against maxClients together: 503 JSON for both past it', async () => {
    await start({ stream: { maxClients: 2 } });
    expect((await connectSse()).status).toBe(200);
    await connectWs();
    expect(await refused()).toMatchObject({
      status: 503,
      headers: { 'retry-after': '5', 'content-type': 'application/json; charset=utf-8' },
      body: { error: 'Too many open event streams (the limit is 2); try again later.', limit: 2 },
    });
    expect((await request(base).get('/api/health/stream')).status).toBe(503);
  });

  it('counts them against maxClientsPerAddress together, and gives the place back when a socket closes', async () => {
    await start({ stream: { maxClientsPerAddress: 2 } });
    await connectSse();
    const ws = await connectWs();
    expect(await refused()).toMatchObject({ status: 429, body: { limit: 2 } });
    ws.socket.close();
    await ws.closed;
    await until(() => true, 'nothing');
    let again: Attempt | undefined;
    for (let round = 0; round < 50 && again?.kind !== 'open'; round++) {
      await settle();
      again = await attempt();
    }
    expect(again?.kind).toBe('open');
  });

  it('follows the app’s trust proxy for the address, as req.ip does', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    await start({ stream: { maxClientsPerAddress: 1 } }, app);
    await connectWs({ 'x-forwarded-for': '203.0.113.1' });
    expect((await refused(undefined, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(429);
    await connectWs({ 'x-forwarded-for': '203.0.113.2' });
  });
});

it('drops a client that stops reading once maxBufferedBytes wait for it, and counts it out', async () => {
  const worker = manager.heartbeat({ tag: 'w', interval: 1000 }).start();
  await start({ stream: { maxBufferedBytes: 64 * 1024, maxClients: 2 } });
  const reader = await connectWs();
  const stuck = await connectWs();
  await stuck.waitFor(1, 'snapshot');
  // The socket stops reading: the kernel's buffers fill, then the server's queue grows.
  (stuck.socket as unknown as { _socket: net.Socket })._socket.pause();
  const big = 'x'.repeat(1000);
  let transitions = 0;
  for (let round = 0; round < 20_000; round++) {
    worker.error(big);
    worker.pulse();
    clock.advance(1);
    transitions += 2;
    await settle();
    if (round % 50 === 0 && (await connections()) === 1) break;
  }
  expect(await connections()).toBe(1);
  await reader.waitFor(transitions, 'status');
  expect(reader.frames.filter((f) => f.event === 'status')).toHaveLength(transitions);
  // Its place is free again: a new client gets in under maxClients 2.
  expect((await attempt()).kind).toBe('open');
});

describe('the origin check', () => {
  it('refuses a page of another origin on both transports with 403 JSON naming it and the option', async () => {
    await start();
    const evil = { origin: 'https://evil.example' };
    const error =
      'Origin "https://evil.example" may not open a health stream: it is not this server\'s own origin, nor listed in the stream option allowedOrigins.';
    expect(await refused(undefined, evil)).toMatchObject({ status: 403, body: { error, origin: 'https://evil.example' } });
    const sse = await request(base).get('/api/health/stream').set(evil);
    expect([sse.status, sse.body]).toEqual([403, { error, origin: 'https://evil.example' }]);
    // A lookalike of the server's own host on another port is another origin.
    expect((await refused(undefined, { origin: `http://127.0.0.1:${String(port + 1)}` })).status).toBe(403);
    expect((await refused(undefined, { origin: 'null' })).status).toBe(403);
  });

  it('admits the server’s own origin, the listed ones, and requests without Origin', async () => {
    await start({ stream: { allowedOrigins: ['https://ops.example.com'] } });
    await connectWs({ origin: `http://127.0.0.1:${String(port)}` });
    await connectWs({ origin: 'https://ops.example.com' });
    await connectWs();
    expect((await connectSse({ origin: 'https://ops.example.com' })).status).toBe(200);
    expect((await connectSse({ origin: base })).status).toBe(200);
    expect((await refused(undefined, { origin: 'https://ops.example.com.evil.example' })).status).toBe(403);
  });

  it('takes the public host from X-Forwarded-Host only from a trusted proxy', async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    await start({}, app);
    const proxied = { origin: 'https://status.example.com', 'x-forwarded-host': 'status.example.com' };
    expect((await connectSse(proxied)).status).toBe(200);
    await connectWs(proxied);
  });

  it('rejects allowedOrigins that are not origins, naming the key and value', () => {
    for (const bad of ['ops.example.com', 'https://ops.example.com/', 'https://ops.example.com/status', 'ftp://x.example', '*']) {
      expect(() => healthRouter({ manager, registry: new Registry(), stream: { allowedOrigins: [bad] } })).toThrow(
        `"stream.allowedOrigins[0]" is ${JSON.stringify(bad)}; expected an origin such as "https://ops.example.com"`,
      );
    }
    expect(() => healthRouter({ manager, registry: new Registry(), stream: { allowedOrigins: 'https://a.example' as never } })).toThrow(
      '"stream.allowedOrigins" is "https://a.example"; expected an array of origins',
    );
  });
});

describe('the token option', () => {
  it('needs Authorization: Bearer <token> on the upgrade (or the remote_token), else 401 JSON without the token', async () => {
    await start({ webSocket: { token: TOKEN } });
    const missing = await refused();
    expect(missing).toMatchObject({
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="heartbeat"' },
      body: { error: 'Authentication required: send Authorization: Bearer <token>.' },
    });
    const wrong = await refused(undefined, { authorization: `Bearer ${TOKEN}x` });
    expect(wrong.body).toEqual({ error: 'The bearer token is not valid.' });
    const inQuery = await refused(`/api/health/ws?token=${TOKEN}`, { authorization: `Bearer ${TOKEN}` });
    expect(inQuery.body).toEqual({ error: 'Tokens are not accepted in the query string; send Authorization: Bearer <token>.' });
    for (const answer of [missing, wrong, inQuery]) expect(JSON.stringify(answer)).not.toContain(TOKEN);
    await connectWs({ authorization: `Bearer ${TOKEN}` });
    await connectWs({ authorization: `Bearer ${REMOTE_TOKEN}` });
  });

  it('rejects a bad token without echoing it', () => {
    const short = 'short-secret';
    let message = '';
    try {
      healthRouter({ manager, registry: new Registry(), webSocket: { token: short } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('"webSocket.token" is not valid: it is shorter than 16 characters');
    expect(message).not.toContain(short);
    expect(() => healthRouter({ manager, registry: new Registry(), stream: false, webSocket: true })).toThrow(
      '"webSocket" is true; expected false when the stream is off',
    );
  });
});

describe('keep-alive', () => {
  it('pings every keepAliveMs, and keeps a client that answers', async () => {
    await start({ stream: { keepAliveMs: 1000, pulseBatchMs: 250 } });
    const ws = await connectWs();
    await ws.waitFor(1, 'snapshot');
    let pings = 0;
    ws.socket.on('ping', () => pings++);
    for (let round = 1; round <= 3; round++) {
      clock.advance(1000);
      await until(() => pings >= round, `ping ${String(round)}`);
      await roundTrip(ws.socket);
    }
    expect(ws.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('terminates a client that did not answer the previous ping', async () => {
    await start({ stream: { keepAliveMs: 1000, pulseBatchMs: 250 } });
    const silent = await connectWs({}, { autoPong: false });
    await silent.waitFor(1, 'snapshot');
    let pings = 0;
    silent.socket.on('ping', () => pings++);
    clock.advance(1000);
    await until(() => pings === 1, 'the first ping');
    clock.advance(1000);
    expect((await silent.closed).code).toBe(1006);
    await until(() => true, 'nothing');
  });
});

it('closes every socket with 1001 and removes its upgrade listener when the manager closes, leaving no timer', async () => {
  await start();
  const ws = await connectWs();
  await ws.waitFor(1, 'snapshot');
  expect(server.listenerCount('upgrade')).toBe(1);
  void manager.close();
  expect(await ws.closed).toEqual({ code: 1001, reason: 'The server is closing' });
  expect(server.listenerCount('upgrade')).toBe(0);
  for (let i = 0; i < 5; i++) await settle();
  expect(jest.getTimerCount()).toBe(0);
  // Without the listener, an upgrade reaches the router as a plain request: 503, not a hang.
  const closed = await refused();
  expect(closed).toMatchObject({ status: 503, body: { error: 'The heartbeat manager is closed.' } });
  expect(() => {
    health.attachWebSocket(http.createServer());
  }).toThrow('attachWebSocket(): the heartbeat manager is closed.');
});

it('cuts off, 2 s after the manager closes, a client that never answers the close', async () => {
  await start();
  const deaf = await connectWs();
  await deaf.waitFor(1, 'snapshot');
  (deaf.socket as unknown as { _socket: net.Socket })._socket.pause();
  void manager.close();
  for (let i = 0; i < 5; i++) await settle();
  expect(await connections()).toBe(1);
  clock.advance(1999);
  for (let i = 0; i < 5; i++) await settle();
  expect(await connections()).toBe(1);
  clock.advance(1);
  await until(() => server.listenerCount('upgrade') === 0, 'the listener removed');
  let open = 1;
  for (let round = 0; round < 200 && open > 0; round++) {
    await settle();
    open = await connections();
  }
  expect(open).toBe(0);
  expect(jest.getTimerCount()).toBe(0);
});

describe('other upgrade requests', () => {
  it('are left to the server’s other listeners', async () => {
    await start();
    const other = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/chat')
        other.handleUpgrade(req, socket, head, (ws) => {
          ws.send('hello from chat');
        });
    });
    const result = await attempt('/chat');
    expect(result.kind).toBe('open');
    if (result.kind === 'open') await until(() => result.stream.socket.readyState === WebSocket.OPEN, 'chat');
    other.close();
  });

  it('get 404 JSON under the base path, and where no other listener would answer', async () => {
    await start();
    expect(await refused('/api/health/wss')).toMatchObject({ status: 404, body: { error: 'No WebSocket endpoint at /api/health/wss.' } });
    expect(await refused('/chat')).toMatchObject({ status: 404, body: { error: 'No WebSocket endpoint at /chat.' } });
  });

  it('get 404 JSON where only health routers listen, none of them for that path, from exactly one', async () => {
    await start();
    // A second router of another manager, at another base path, on the same server.
    const jobs = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
    const second = healthRouter({ manager: jobs, registry: new Registry(), basePath: '/jobs/health' });
    second.attachWebSocket(server);
    try {
      // Neither claims /chat: before, each left it to the other and the request hung.
      const answer = await rawUpgrade(
        'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      expect(answer.match(/^HTTP\/1\.1 /gm)).toEqual(['HTTP/1.1 ']);
      expect(answer).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[^]*\r\n\r\n\{"error":"No WebSocket endpoint at \/chat\.","path":"\/chat"\}$/);
      // Each router's own path and base path stay its own.
      expect(await refused('/jobs/health/wss')).toMatchObject({ status: 404 });
      expect((await attempt('/jobs/health/ws')).kind).toBe('open');
      expect((await attempt('/api/health/ws')).kind).toBe('open');
    } finally {
      void jobs.close();
    }
  });

  it('get JSON for a broken handshake, and plain HTTP to /ws gets 426', async () => {
    await start();
    const plain = await request(base).get('/api/health/ws');
    expect([plain.status, plain.headers.upgrade, plain.body.error]).toEqual([
      426,
      'websocket',
      'This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket), or use the event stream at ./stream.',
    ]);
    const posted = await request(base).post('/api/health/ws');
    expect([posted.status, posted.headers.allow, posted.body.error]).toEqual([405, 'GET', 'Method POST is not allowed here; use GET.']);
    const answer = await rawUpgrade('POST /api/health/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(JSON.parse(answer.split('\r\n\r\n')[1] as string)).toEqual({
      error: 'Not a valid WebSocket handshake: Invalid HTTP method.',
      path: '/api/health/ws',
    });
    const noKey = await rawUpgrade('GET /api/health/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(noKey).toMatch(
      /^HTTP\/1\.1 400 Bad Request\r\n[^]*"Not a valid WebSocket handshake: Missing or invalid Sec-WebSocket-Key header."/,
    );
  });
});

/**
 * A ping of the client's own, answered: the server has read everything the client sent before,
 * the automatic pong to the server's ping included (TCP keeps the order).
 */
function roundTrip(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('pong', () => {
      resolve();
    });
    socket.ping();
  });
}

/** Sends `text` on a raw connection and reads until the server closes it. */
function rawUpgrade(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => {
      resolve(answer);
    });
    socket.on('error', reject);
  });
}

describe('attachWebSocket()', () => {
  it('takes the full path when the router is mounted under a prefix, is idempotent, and refuses another path', async () => {
    manager.heartbeat({ tag: 'w', interval: 10 }).start();
    health = healthRouter({ manager, registry: new Registry() });
    const app = express();
    app.use('/ops', health);
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as { port: number }).port;
    health.attachWebSocket(server, { path: '/ops/api/health/ws' });
    health.attachWebSocket(server, { path: '/ops/api/health/ws' });
    expect(server.listenerCount('upgrade')).toBe(1);
    expect(() => {
      health.attachWebSocket(server);
    }).toThrow(
      'attachWebSocket(): the stream is already attached to this server at /ops/api/health/ws; it cannot be attached again at /api/health/ws.',
    );
    const result = await attempt('/ops/api/health/ws');
    expect(result.kind).toBe('open');
    if (result.kind === 'open') expect((await result.stream.waitFor(1, 'snapshot'))[0]?.data.services[0].service).toBe('w');
    expect((await refused('/ops/api/health/nope')).status).toBe(404);
    expect(() => {
      health.attachWebSocket(http.createServer(), { path: 'ws' });
    }).toThrow('Invalid attachWebSocket options: "path" is "ws"');
  });

  it('refuses what is not a server, and answers 503 JSON on a server it was not attached to', async () => {
    health = healthRouter({ manager, registry: new Registry() });
    expect(() => {
      health.attachWebSocket({} as never);
    }).toThrow('Invalid attachWebSocket options: "server" is an object; expected the app\'s HTTP or HTTPS server');
    const app = express();
    app.use(health);
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as { port: number }).port;
    // No upgrade listener: Node hands the request to the app as a plain one.
    expect(await refused()).toMatchObject({
      status: 503,
      body: { error: 'The WebSocket stream is not attached to this server: the app calls attachWebSocket(server) after listen().' },
    });
  });

  it('speaks no subprotocol: a client that insists on one gives up', async () => {
    await start();
    const socket = new WebSocket(`ws://127.0.0.1:${String(port)}/api/health/ws`, ['graphql-ws']);
    sockets.push(socket);
    await expect(
      new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      }),
    ).rejects.toThrow('Server sent no subprotocol');
  });

  it('throws when the WebSocket is turned off', async () => {
    await start({ webSocket: false }).catch((error: unknown) => error);
    expect(() => {
      health.attachWebSocket(server);
    }).toThrow('attachWebSocket(): the WebSocket stream is off');
    expect((await request(base).get('/api/health/ws')).status).toBe(404);
  });
});

describe('as .NET’s ClientWebSocket speaks', () => {
  /**
   * The handshake and the reads of ClientWebSocket, byte for byte: an Authorization header, no
   * subprotocol and no extension offered, masked frames out; in, each ReceiveAsync into a
   * 16 KiB buffer gives at most that much of a message and says whether it ends it
   * (EndOfMessage), across frames (continuations) and TCP reads alike, and the caller gathers
   * the pieces until it does, as docs/streams.md's loop.
   */
  async function clientWebSocket(path: string, headers: Record<string, string>) {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const key = randomBytes(16).toString('base64');
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${String(port)}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra.join('')}\r\n`,
    );
    let buffer = Buffer.alloc(0);
    const waiters: Array<() => void> = [];
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (const wake of waiters.splice(0)) wake();
    });
    const more = async () => {
      await new Promise<void>((resolve) => waiters.push(resolve));
    };
    while (!buffer.includes('\r\n\r\n')) await more();
    const end = buffer.indexOf('\r\n\r\n');
    const head = buffer.subarray(0, end).toString('latin1');
    buffer = buffer.subarray(end + 4);
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    /** One frame's header and its payload still to read. */
    let frame: { fin: boolean; opcode: number; left: number } | null = null;
    let messageType = 0;
    /** ReceiveAsync into a 16 KiB buffer: a piece of the current message, and whether it ends it. */
    const receiveAsync = async (): Promise<{ messageType: number; piece: Buffer; endOfMessage: boolean }> => {
      for (;;) {
        if (frame === null) {
          while (buffer.length < 2) await more();
          const lengthCode = (buffer[1] as number) & 0x7f;
          const headerLength = lengthCode === 126 ? 4 : lengthCode === 127 ? 10 : 2;
          while (buffer.length < headerLength) await more();
          expect((buffer[1] as number) & 0x80).toBe(0); // a server never masks
          const length = lengthCode === 126 ? buffer.readUInt16BE(2) : lengthCode === 127 ? Number(buffer.readBigUInt64BE(2)) : lengthCode;
          frame = { fin: ((buffer[0] as number) & 0x80) !== 0, opcode: (buffer[0] as number) & 0x0f, left: length };
          buffer = buffer.subarray(headerLength);
          if (frame.opcode !== 0) messageType = frame.opcode;
        }
        if (frame.left > 0 && buffer.length === 0) await more();
        const take = Math.min(frame.left, buffer.length, 16 * 1024);
        const piece = buffer.subarray(0, take);
        buffer = buffer.subarray(take);
        frame.left -= take;
        const endOfMessage = frame.left === 0 && frame.fin;
        if (frame.left === 0) frame = null;
        if (piece.length > 0 || endOfMessage) return { messageType, piece, endOfMessage };
      }
    };
    return { head, accept, receiveAsync, close: () => socket.destroy() };
  }

  it('gets text messages, whole once gathered until EndOfMessage, after a handshake with a header and no subprotocol', async () => {
    for (let i = 0; i < 400; i++)
      manager.heartbeat({ tag: `service_${String(i).padStart(3, '0')}_${'x'.repeat(100)}`, interval: 10 }).start();
    await start({ webSocket: { token: TOKEN } });
    const client = await clientWebSocket('/api/health/ws', { Authorization: `Bearer ${TOKEN}` });
    expect(client.head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(client.head).toContain(`Sec-WebSocket-Accept: ${client.accept}`);
    expect(client.head.toLowerCase()).not.toContain('sec-websocket-protocol');
    expect(client.head.toLowerCase()).not.toContain('sec-websocket-extensions');
    const pieces: Buffer[] = [];
    let result;
    do {
      result = await client.receiveAsync();
      pieces.push(result.piece);
    } while (!result.endOfMessage);
    expect(result.messageType).toBe(1); // text
    expect(pieces.length).toBeGreaterThan(8); // more than 128 KiB, 16 KiB at a time
    const message = JSON.parse(Buffer.concat(pieces).toString('utf8')) as Frame;
    expect(message.event).toBe('snapshot');
    expect(message.data.services).toHaveLength(400);
    client.close();
  });
});

it('attaches to an HTTPS server as to an HTTP one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    manager.heartbeat({ tag: 'w', interval: 10 }).start();
    health = healthRouter({ manager, registry: new Registry() });
    const app = express();
    app.use(health);
    const secure = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, app);
    server = secure;
    secure.listen(0, '127.0.0.1');
    await new Promise((resolve) => secure.once('listening', resolve));
    port = (secure.address() as { port: number }).port;
    health.attachWebSocket(secure);
    const socket = new WebSocket(`wss://127.0.0.1:${String(port)}/api/health/ws`, { rejectUnauthorized: false });
    sockets.push(socket);
    const first = await new Promise<string>((resolve, reject) => {
      socket.once('message', (message: Buffer) => {
        resolve(message.toString('utf8'));
      });
      socket.once('error', reject);
    });
    expect(JSON.parse(first)).toMatchObject({ event: 'snapshot', data: { services: [{ service: 'w' }] } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('works with Express 4', async () => {
  manager.heartbeat({ tag: 'w', interval: 10 }).start();
  // Express 4's app is a request listener like 5's: start() mounts the router on it the same way.
  await start({}, express4());
  const ws = await connectWs();
  expect((await ws.waitFor(1, 'snapshot'))[0]?.data.services[0].service).toBe('w');
  expect((await refused(undefined, { origin: 'https://evil.example' })).status).toBe(403);
  expect((await request(base).get('/api/health/stream').set('origin', 'https://evil.example')).status).toBe(403);
});

import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Gauge, Registry } from 'prom-client';
import request from 'supertest';
import type { HeartbeatConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import type { HeartbeatStore } from '../lib/core/store';
import { fileStore } from '../lib/store';
import { healthRouter, type HealthRouter, type HealthRouterOptions } from '../lib/http/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { failNext } from './helpers/fs-faults';
import { Contract, type Observed } from './helpers/openapi';
import { openStream, type SseClient, type SseEvent } from './helpers/sse';
import { HANDSHAKE, openWebSocket, refusedUpgrade, type UpgradeRefusal, type WsClient } from './helpers/ws';
import { textBody } from './helpers/text-body';
import { driftingGaps, pulseAfterGaps, learningTrend } from './helpers/drift';

/**
 * The router against openapi.yaml: real answers, each looked up in the document by its own
 * method, path and status, and checked against what the document declares for it.
 */

interface Fixture {
  app: express.Express;
  health: HealthRouter;
  manager: HeartbeatManager;
  registry: Registry;
  clock: TestClock;
}

const contract = new Contract();
let fixture: Fixture | undefined;
/** A real server for the event stream, which supertest cannot read while it stays open. */
let server: Server | undefined;
const streams: SseClient[] = [];
const webSockets: WsClient[] = [];
/** State directories of the file store fixtures, removed after each test. */
const stateDirs: string[] = [];

/** A new state directory for a file store, removed after the test. */
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-contract-'));
  stateDirs.push(dir);
  return dir;
}

type RouterOptions = Omit<HealthRouterOptions, 'manager' | 'registry'>;

function setup(config: HeartbeatConfig = {}, options: RouterOptions = {}, store?: HeartbeatStore, clock = createTestClock()): Fixture {
  const manager = new HeartbeatManager({ config: { log_level: 'silent', ...config }, clock, ...(store ? { store } : {}) });
  const registry = new Registry();
  const app = express();
  const health = healthRouter({ manager, registry, ...options });
  app.use(health);
  fixture = { app, health, manager, registry, clock };
  return fixture;
}

/** Serves the fixture's app on 127.0.0.1 and gives its base URL. */
async function listen(): Promise<string> {
  const listening = (fixture as Fixture).app.listen(0, '127.0.0.1');
  server = listening;
  await new Promise((resolve) => listening.once('listening', resolve));
  return `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
}

const STREAM_PATH = '/api/health/stream';

async function openEvents(base: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await openStream(`${base}${STREAM_PATH}`, headers);
  streams.push(client);
  return client;
}

const WS_PATH = '/api/health/ws';

/** Serves the fixture's app on 127.0.0.1 with the WebSocket stream attached, and gives its base URL. */
async function listenWithWebSocket(): Promise<string> {
  const base = await listen();
  (fixture as Fixture).health.attachWebSocket(server as Server);
  return base;
}

/** A WebSocket to the stream of the server at `base` (an http:// URL). */
async function openMessages(base: string, headers: Record<string, string> = {}): Promise<WsClient> {
  const client = await openWebSocket(`${base.replace(/^http/, 'ws')}${WS_PATH}`, headers);
  webSockets.push(client);
  return client;
}

beforeEach(() => {
  // supertest's sockets and node:http's stream need the real nextTick, setImmediate and queueMicrotask.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
});

afterEach(async () => {
  for (const client of streams.splice(0)) client.close();
  for (const client of webSockets.splice(0)) client.close();
  void fixture?.manager.close();
  fixture = undefined;
  if (server) {
    const closing = server;
    server = undefined;
    closing.closeAllConnections();
    await new Promise<void>((resolve) =>
      closing.close(() => {
        resolve();
      }),
    );
  }
  jest.restoreAllMocks();
  jest.useRealTimers();
  for (const dir of stateDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const JSON_TYPE = 'application/json; charset=utf-8';

/** What the contract checks, read from the answer and the request that was really sent. */
function observe(response: request.Response): Observed {
  const contentType = response.headers['content-type'] ?? '';
  const isJson = contentType.startsWith('application/json');
  return {
    method: response.request.method,
    path: new URL(response.request.url).pathname,
    status: response.status,
    headers: response.headers,
    body: isJson ? (JSON.parse(response.text) as unknown) : response.text,
  };
}

/** A node:http header set, as the contract reads headers: one string per name. */
function flatHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]));
}

/** What the contract checks of an open event stream: its head, and the complete frames read so far as the body. */
function observeStream(client: SseClient): Observed {
  const raw = client.raw();
  const end = raw.lastIndexOf('\n\n');
  return {
    method: 'GET',
    path: STREAM_PATH,
    status: client.status,
    headers: flatHeaders(client.headers),
    body: end === -1 ? '' : raw.slice(0, end + 2),
  };
}

/** The stream `client` read so far matches the contract, and each event named in `schemas` its schema there. */
function expectStreamValid(client: SseClient, schemas: Readonly<Record<string, string>>): void {
  const observed = observeStream(client);
  expect(contract.problems(observed)).toEqual([]);
  for (const event of client.events) {
    expect(contract.eventProblems(observed, event)).toEqual([]);
    const schema = schemas[event.event];
    if (schema) expect([event.event, contract.schema(schema)(JSON.parse(event.data))]).toEqual([event.event, true]);
  }
}

/** What the contract checks of a WebSocket's handshake: its 101 head, and no body. */
function observeWebSocket(client: WsClient): Observed {
  return { method: 'GET', path: WS_PATH, status: client.status, headers: flatHeaders(client.headers), body: '' };
}

/** The handshake `client` made matches the contract, every message so far too, and each event named in `schemas` its schema there. */
function expectWebSocketValid(client: WsClient, schemas: Readonly<Record<string, string>>): void {
  const observed = observeWebSocket(client);
  expect(contract.problems(observed)).toEqual([]);
  for (const message of client.messages) expect(contract.messageProblems(observed, message)).toEqual([]);
  for (const event of client.events) {
    const schema = schemas[event.event];
    if (schema) expect([event.event, contract.schema(schema)(JSON.parse(event.data))]).toEqual([event.event, true]);
  }
}

/** An event's name and data, the same whichever transport carried it. */
function dataOf(event: SseEvent): [string, unknown] {
  return [event.event, JSON.parse(event.data)];
}

/** What the contract checks of a refused upgrade request: the HTTP answer written on the raw socket. */
function observeRefusal(method: string, path: string, refusal: UpgradeRefusal): Observed {
  const isJson = (refusal.headers['content-type'] ?? '').startsWith('application/json');
  return {
    method,
    path,
    status: refusal.status,
    headers: flatHeaders(refusal.headers),
    body: isJson ? (JSON.parse(refusal.text) as unknown) : refusal.text,
  };
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options';

/** The `remote_token` of the fixtures that have one, and the header that sends it. */
const TOKEN = 'contract-token-0123456789abcdef';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

/** What a request carries besides its method and path. */
interface Send {
  headers?: Record<string, string>;
  /** The Content-Type header, sent with the body as it is. */
  type?: string;
  /** The body, exactly as sent. */
  body?: string;
}

/** A JSON body, sent with the token unless other headers are given. */
function json(value: unknown, headers: Record<string, string> = AUTH): Send {
  return { headers, type: 'application/json', body: JSON.stringify(value) };
}

/** Sends a request to the fixture's app and checks the answer against the contract. */
async function call(method: Method, path: string, expectedStatus: number, send: Send = {}): Promise<request.Response> {
  const app = (fixture as Fixture).app;
  let test = request(app)[method](path);
  if (send.headers) test = test.set(send.headers);
  if (send.type !== undefined) test = test.set('Content-Type', send.type);
  if (send.body !== undefined) test = test.send(send.body);
  const response = await test;
  expect(`${method.toUpperCase()} ${path} → ${response.status}`).toBe(`${method.toUpperCase()} ${path} → ${expectedStatus}`);
  const observed = observe(response);
  if (typeof observed.body !== 'string') expect(response.headers['content-type']).toBe(JSON_TYPE);
  expect(contract.problems(observed)).toEqual([]);
  return response;
}

/** What the document says of a request's body (not of its answer): empty if the body is one the operation declares. */
function requestProblems(method: Method, path: string, send: Send): string[] {
  const sent = {
    method,
    path: new URL(path, 'http://x').pathname,
    ...(send.type === undefined ? {} : { contentType: send.type }),
    ...(send.body === undefined ? {} : { body: send.body }),
  };
  return contract.requestProblems(sent);
}

describe('the document', () => {
  const document = contract.document as {
    openapi: string;
    info: { title?: string; version?: string };
    paths: Record<string, Record<string, unknown>>;
    components: {
      schemas: Record<string, unknown>;
      parameters: Record<string, { name: string; in: string; required?: boolean }>;
      headers: Record<string, { required?: boolean }>;
      securitySchemes: Record<string, unknown>;
    };
  };

  it('is OpenAPI 3.1 with a title and a version', () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info.title).toEqual(expect.any(String));
    expect(document.info.version).toEqual(expect.any(String));
  });

  it('gives every operation an id, a summary and described responses', () => {
    const ids: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, value] of Object.entries(item)) {
        if (method === 'parameters') continue;
        const operation = value as {
          operationId?: string;
          summary?: string;
          responses: Record<string, { description?: string; $ref?: string }>;
        };
        expect([path, method, typeof operation.operationId, typeof operation.summary]).toEqual([path, method, 'string', 'string']);
        ids.push(operation.operationId as string);
        for (const status of Object.keys(operation.responses)) {
          const key = `${method.toUpperCase()} ${path} ${status}`;
          // lookup() resolves the $ref; a response object must say what it means.
          const documented = contract.lookup(method, path.replace(/\{[^}]+\}/g, 'x'), Number(status));
          expect([key, typeof documented.response.description]).toEqual([key, 'string']);
        }
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('declares every path parameter', () => {
    for (const [path, item] of Object.entries(document.paths)) {
      const declared = ((item.parameters ?? []) as { $ref: string }[]).map((parameter) => {
        const name = parameter.$ref.split('/').pop() as string;
        return document.components.parameters[name];
      });
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        expect(declared.find((parameter) => parameter?.name === name)).toMatchObject({ in: 'path', required: true });
      }
    }
  });

  it("gives the WebSocket's messages the stream's events, each with the same schema", () => {
    const ws = contract.lookup('get', WS_PATH, 101).response;
    const stream = contract.lookup('get', STREAM_PATH, 200).response as { content: Record<string, Record<string, unknown>> };
    expect(ws['x-events']).toEqual(stream.content['text/event-stream']?.['x-events']);
    expect(ws['x-message']).toEqual({ $ref: '#/components/schemas/WebSocketMessage' });
    expect(ws.content).toBeUndefined();
  });

  it('has component schemas that compile under strict JSON Schema 2020-12', () => {
    for (const name of Object.keys(document.components.schemas)) expect(typeof contract.schema(name)).toBe('function');
  });

  it('declares bearer auth on every operation: required by the remote heartbeats, optional on the read endpoints, none on the open ones, challenged on every 401', () => {
    type Operation = { security?: Record<string, string[]>[]; responses: Record<string, unknown> };
    const schemes = document.components.securitySchemes;
    expect(schemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const required: string[] = [];
    const optional: string[] = [];
    const open: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, value] of Object.entries(item)) {
        if (method === 'parameters') continue;
        const operation = value as Operation;
        const key = `${method.toUpperCase()} ${path}`;
        for (const requirement of operation.security ?? []) {
          for (const name of Object.keys(requirement)) expect([key, name, name in schemes]).toEqual([key, name, true]);
        }
        const statuses = Object.keys(operation.responses);
        // Said on each operation, `security: []` where it is open: with no root-level default, an absent one reads as forgotten.
        expect([key, Array.isArray(operation.security)]).toEqual([key, true]);
        const requirements = operation.security ?? [];
        if (requirements.length > 0) {
          const anonymous = requirements.some((requirement) => Object.keys(requirement).length === 0);
          (anonymous ? optional : required).push(key);
          // Auth that can fail must say how it fails.
          if (!anonymous) expect([key, statuses.includes('401')]).toEqual([key, true]);
        } else {
          open.push(key);
          // Refusing a caller is what security declares.
          expect([key, statuses.filter((status) => status === '401' || status === '403')]).toEqual([key, []]);
        }
        for (const status of statuses.filter((code) => code === '401')) {
          const documented = contract.lookup(method, path.replace(/\{[^}]+\}/g, 'x'), Number(status));
          expect([key, (documented.response.headers as Record<string, { $ref?: string }>)['WWW-Authenticate']]).toEqual([
            key,
            { $ref: '#/components/headers/WWWAuthenticate' },
          ]);
        }
      }
    }
    expect(required.sort()).toEqual([
      'DELETE /api/health/service/{name}',
      'POST /api/health/service/{name}/error',
      'POST /api/health/service/{name}/exit/{code}',
      'POST /api/health/service/{name}/fail',
      'POST /api/health/service/{name}/pause',
      'POST /api/health/service/{name}/pulse',
      'POST /api/health/service/{name}/resume',
      'POST /api/health/service/{name}/start',
    ]);
    expect(optional.sort()).toEqual([
      'GET /api/health',
      'GET /api/health/badge/{name}.svg',
      'GET /api/health/export',
      'GET /api/health/ready',
      'GET /api/health/service/{name}',
      'GET /api/health/service/{name}/history',
      'GET /api/health/status',
      'GET /api/health/stream',
      'GET /api/health/ws',
    ]);
    expect(open.sort()).toEqual(['GET /api/health/badge.svg', 'GET /api/health/live', 'GET /api/health/ui', 'GET /metrics']);
    expect(document.components.headers.WWWAuthenticate?.required).toBe(true);
  });
});

describe('GET /api/health/status', () => {
  it('answers 200 with the documented body while not critical', async () => {
    const { manager } = setup({ services: { idle_worker: { interval: 60 } } });
    manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    manager.heartbeat({ tag: 'flaky', interval: 30, critical: false }).error('disk full');
    const response = await call('get', '/api/health/status', 200);
    expect(response.body.overall_status).toBe('warning');
    // Both forms of last_heartbeat are in the body that was validated.
    expect(response.body.services.idle_worker.last_heartbeat).toBeNull();
    expect(response.body.services.save_worker.last_heartbeat).toEqual(expect.any(String));
  });

  it('answers 200 while degraded', async () => {
    const { manager, clock } = setup();
    manager.heartbeat({ tag: 'w', interval: 1 }).start();
    clock.advance(3200);
    const response = await call('get', '/api/health/status', 200);
    expect(response.body.services.w).toMatchObject({ status: 'degraded', consecutive_failures: 3 });
  });

  it('answers 503 with the same body while critical', async () => {
    const { manager } = setup();
    manager.heartbeat({ tag: 'core', interval: 30 }).error('x', { critical: true });
    const response = await call('get', '/api/health/status', 503);
    expect(response.body.overall_status).toBe('critical');
  });

  it('answers 503 after missed beats make a critical service critical', async () => {
    const { manager, clock } = setup();
    manager.heartbeat({ tag: 'w', interval: 1 }).start();
    clock.advance(5200);
    await call('get', '/api/health/status', 503);
  });

  it('answers a client error raised while routing with 400 and the path', async () => {
    const { manager } = setup();
    jest.spyOn(manager, 'statusView').mockImplementation(() => {
      throw Object.assign(new URIError('Failed to decode param'), { status: 400 });
    });
    const response = await call('get', '/api/health/status', 400);
    expect(response.body.path).toBe('/api/health/status');
  });

  it('answers a failure with a bare 500', async () => {
    const { manager } = setup();
    jest.spyOn(manager, 'statusView').mockImplementation(() => {
      throw new Error('boom at /secret/path.js');
    });
    const response = await call('get', '/api/health/status', 500);
    expect(response.text).not.toContain('/secret/path.js');
  });
});

describe('GET /api/health/service/{name}', () => {
  it('answers 200 with the documented body, last error and uptime included', async () => {
    const { manager, clock } = setup();
    const heartbeat = manager.heartbeat({ tag: 'save_worker', interval: 7 * 86_400 }).start();
    clock.advance(((2 * 24 + 14) * 60 + 23) * 60_000);
    heartbeat.pulse();
    heartbeat.error('disk full');
    const response = await call('get', '/api/health/service/save_worker', 200);
    expect(response.body).toMatchObject({ uptime: '2d 14h 23m', last_error: { message: 'disk full' } });
    expect(Date.parse(response.body.started_at)).toBe(clock.wallNow() - ((2 * 24 + 14) * 60 + 23) * 60_000);
  });

  it('answers 200 for a configured service that never started', async () => {
    setup({ services: { idle_worker: { interval: 60 } } });
    const response = await call('get', '/api/health/service/idle_worker', 200);
    expect(response.body).toMatchObject({ last_heartbeat: null, uptime: '0s', started_at: null, last_error: null, active: false });
  });

  it('finds a name that needs percent-encoding', async () => {
    setup().manager.heartbeat({ tag: 'a/b c', interval: 30 }).start();
    const response = await call('get', `/api/health/service/${encodeURIComponent('a/b c')}`, 200);
    expect(response.body.service).toBe('a/b c');
  });

  it.each([
    ['an unknown name', 'nope'],
    ['malformed percent-encoding', '%E0%A4%A'],
  ])('answers 404 for %s', async (_label, name) => {
    setup().manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const response = await call('get', `/api/health/service/${name}`, 404);
    expect(response.body.service).toEqual(expect.any(String));
  });

  it('answers a failure with a bare 500', async () => {
    const { manager } = setup();
    jest.spyOn(manager, 'service').mockImplementation(() => {
      throw new Error('boom');
    });
    await call('get', '/api/health/service/x', 500);
  });
});

describe('GET /api/health/service/{name}/history', () => {
  it('answers 200 with the transitions, oldest first, and uptime ratios below 1 after an outage', async () => {
    const { manager, clock } = setup();
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    clock.advance(60_000);
    worker.pulse();
    clock.advance(1);
    worker.error('disk "full", again');
    const response = await call('get', '/api/health/service/save_worker/history', 200);
    const { transitions, uptime, service } = response.body;
    expect(service).toBe('save_worker');
    expect(transitions.map((t: { from: string; to: string }) => `${t.from}->${t.to}`)).toEqual([
      'healthy->warning',
      'warning->degraded',
      'degraded->critical',
      'critical->healthy',
      'healthy->warning',
    ]);
    expect(transitions.map((t: { reason: string }) => t.reason)).toEqual([
      'missed 1 heartbeat',
      'missed 3 heartbeats',
      'missed 5 heartbeats',
      'pulse received',
      'error: disk "full", again',
    ]);
    // Both ends of the ratio's range are open here: it is a real share, not a flag.
    expect(uptime['24h']).toBeGreaterThan(0);
    expect(uptime['24h']).toBeLessThan(1);
    expect(uptime['7d']).toBe(uptime['24h']);
  });

  it('answers 200 with no transitions and full uptime for a configured service that never started', async () => {
    setup({ services: { idle_worker: { interval: 60 } } });
    const response = await call('get', '/api/health/service/idle_worker/history', 200);
    expect(response.body).toEqual({ service: 'idle_worker', uptime: { '24h': 1, '7d': 1 }, transitions: [], gaps: [] });
  });

  it('answers days=N with 200 and the daily rollups, and a monitor offline gap after a restart on a file store', async () => {
    const dir = stateDir();
    const { manager, clock } = setup({}, {}, fileStore({ dir }));
    manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    clock.advance(3500); // missed beats: a status change of today
    void manager.close();
    clock.skip(120_000);
    setup({}, {}, fileStore({ dir }), clock).manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    const response = await call('get', '/api/health/service/save_worker/history?days=7', 200);
    expect(response.body.gaps).toEqual([{ start: expect.any(String), end: expect.any(String), reason: 'monitor offline' }]);
    // Today, the one day watched, with every status change of the (restored) history.
    expect(response.body.daily).toEqual([
      expect.objectContaining({
        date: new Date(clock.wallNow()).toISOString().slice(0, 10),
        transitions: response.body.transitions.length,
        errors: 0,
      }),
    ]);
    expect(response.body.transitions.length).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['zero', '?days=0'],
    ['a word', '?days=abc'],
    ['a fraction', '?days=1.5'],
    ['more than retention_days', '?days=91'],
    ['a repeated parameter', '?days=1&days=2'],
  ])('answers %s for days with 400 naming the parameter, the value and the range', async (_label, query) => {
    setup().manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const response = await call('get', `/api/health/service/save_worker/history${query}`, 400);
    expect(response.body).toMatchObject({ parameter: 'days', minimum: 1, maximum: 90 });
    expect(response.body.error).toContain(
      `The days parameter is ${JSON.stringify(response.body.value)}; expected a whole number from 1 to 90`,
    );
  });

  it('finds a name that needs percent-encoding', async () => {
    setup().manager.heartbeat({ tag: 'a/b c', interval: 30 }).start();
    const response = await call('get', `/api/health/service/${encodeURIComponent('a/b c')}/history`, 200);
    expect(response.body.service).toBe('a/b c');
  });

  it.each([
    ['an unknown name', 'nope'],
    ['a name from the prototype', '__proto__'],
    ['malformed percent-encoding', '%E0%A4%A'],
  ])('answers 404 for %s', async (_label, name) => {
    setup().manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const response = await call('get', `/api/health/service/${name}/history`, 404);
    expect(response.body.service).toEqual(expect.any(String));
  });

  it('answers a failure with a bare 500', async () => {
    const { manager } = setup();
    jest.spyOn(manager, 'history').mockImplementation(() => {
      throw new Error('boom at /secret/path.js');
    });
    const response = await call('get', '/api/health/service/x/history', 500);
    expect(response.text).not.toContain('/secret/path.js');
  });
});

describe('GET /api/health/export', () => {
  /** Two services with history and a configured one without: the export lists all three. */
  function withHistory(): Fixture {
    const fixed = setup({ services: { idle_worker: { interval: 60 } } });
    const worker = fixed.manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    fixed.clock.advance(3200);
    worker.pulse();
    fixed.clock.advance(1);
    fixed.manager.heartbeat({ tag: 'flaky', interval: 30, critical: false }).error('disk full', { critical: true });
    return fixed;
  }

  it.each(['/api/health/export', '/api/health/export?format=json'])('answers %s with 200 JSON', async (path) => {
    const { clock } = withHistory();
    const response = await call('get', path, 200);
    expect(response.body.generated_at).toBe(new Date(clock.wallNow()).toISOString());
    expect(response.body.services.map((s: { service: string }) => s.service)).toEqual(['idle_worker', 'save_worker', 'flaky']);
    expect(response.body.services[0].transitions).toEqual([]);
    // The JSON carries everything: the gaps, and a rollup for every retained day (here the one day watched).
    for (const service of response.body.services) expect([service.gaps, service.daily.length]).toEqual([[], 1]);
    expect(response.body.services[2].transitions).toEqual([
      expect.objectContaining({ to: 'critical', reason: 'critical error: disk full' }),
    ]);
    expect(response.headers['content-disposition']).toBeUndefined();
  });

  it('answers format=csv with a 200 attachment, formula-safe and every field quoted', async () => {
    const { manager, clock } = withHistory();
    for (const tag of ['=HYPERLINK("x")', '+plus', '-minus', '@at', '\ttab', 'a,b', 'a;=1+1']) {
      manager.heartbeat({ tag, interval: 30 }).error('line one\r\nline "two"');
    }
    const response = await call('get', '/api/health/export?format=csv', 200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    // The contract cannot require this header of the CSV alone (the JSON answer shares the status): checked here.
    expect(response.headers['content-disposition']).toBe('attachment; filename="heartbeat-history.csv"');
    const now = new Date(clock.wallNow()).toISOString();
    const rows = response.text.split('\r\n');
    expect(rows[0]).toBe('"service","time","from","to","reason","uptime_24h","uptime_7d"');
    expect(rows.filter((row) => row.startsWith('"save_worker",'))).toHaveLength(3);
    expect(response.text).toContain(`\r\n"'=HYPERLINK(""x"")","${now}","healthy","warning","error: line one\r\nline ""two""","1","1"\r\n`);
    for (const name of ["'+plus", "'-minus", "'@at", "'\ttab", 'a,b', "a;'=1+1"])
      expect(response.text).toContain(`\r\n"${name}","${now}",`);
    expect(response.text).not.toContain('idle_worker');
    expect(response.text.endsWith('\r\n')).toBe(true);
  });

  it('answers format=csv with the header row alone when nothing has history', async () => {
    setup({ services: { idle_worker: { interval: 60 } } });
    const response = await call('get', '/api/health/export?format=csv', 200);
    expect(response.text).toBe('"service","time","from","to","reason","uptime_24h","uptime_7d"\r\n');
  });

  it.each<[string, string, unknown]>([
    ['an unknown format', '?format=xml', 'xml'],
    ['a format in the wrong case', '?format=CSV', 'CSV'],
    ['an empty format', '?format=', ''],
    ['a repeated format', '?format=csv&format=json', '["csv","json"]'],
    ['a repeated valid format', '?format=json&format=json', '["json","json"]'],
  ])('answers %s with 400 naming it', async (_label, query, format) => {
    setup();
    const response = await call('get', `/api/health/export${query}`, 400);
    expect(response.body.format).toEqual(format);
  });

  it('answers a failure with a bare 500', async () => {
    const { manager } = setup();
    jest.spyOn(manager, 'listedRecords').mockImplementation(() => {
      throw new Error('boom at /secret/path.js');
    });
    const response = await call('get', '/api/health/export?format=csv', 500);
    expect(response.text).not.toContain('/secret/path.js');
  });
});

describe('GET /api/health/stream', () => {
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('answers 200 with a stream whose snapshot, status and pulse events match their schemas', async () => {
    const { manager, clock } = setup({ services: { idle_worker: { interval: 60 } } }, { stream: { pulseBatchMs: 250, keepAliveMs: 250 } });
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const bridge = manager.heartbeat({ tag: 'flask_bridge', interval: 15, critical: false }).start();
    worker.error('old news');
    const client = await openEvents(await listen());
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const [snapshot] = await client.waitFor(1, 'snapshot');
    expect(JSON.parse(snapshot?.data as string).services.map((s: { service: string }) => s.service)).toEqual([
      'idle_worker',
      'save_worker',
      'flask_bridge',
    ]);

    bridge.error('line one\nevent: snapshot\ndata: {}', { critical: true });
    const [status] = await client.waitFor(1, 'status');
    expect(JSON.parse(status?.data as string)).toMatchObject({
      service: 'flask_bridge',
      from: 'healthy',
      to: 'critical',
      cause: 'error',
      missed: 0,
    });

    worker.pulse();
    bridge.pulse();
    bridge.pulse();
    clock.advance(250);
    const [pulse] = await client.waitFor(1, 'pulse');
    const pulsedAt = new Date(clock.wallNow() - 250).toISOString();
    expect(JSON.parse(pulse?.data as string).services).toEqual({
      save_worker: { total_pulses: 1, last_heartbeat: pulsedAt },
      flask_bridge: { total_pulses: 2, last_heartbeat: pulsedAt },
    });
    // The pulses recovered both: status events with the detail after the change.
    const statuses = (await client.waitFor(3, 'status')).map((event) => JSON.parse(event.data));
    expect(statuses.slice(1)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          service: 'save_worker',
          from: 'warning',
          to: 'healthy',
          cause: 'recovered',
          health: expect.objectContaining({ status: 'healthy' }),
        }),
        expect.objectContaining({
          service: 'flask_bridge',
          from: 'critical',
          to: 'healthy',
          cause: 'recovered',
          health: expect.objectContaining({ status: 'healthy' }),
        }),
      ]),
    );
    for (let i = 0; i < 20 && !client.raw().includes(': keep-alive'); i++) await settle();
    expect(client.raw()).toContain('\n\n: keep-alive\n\n');

    // The head and every complete frame so far, then each event's data against its schema.
    const observed = observeStream(client);
    expect(contract.problems(observed)).toEqual([]);
    expect(new Set(client.events.map((event) => event.event))).toEqual(new Set(['snapshot', 'status', 'pulse']));
    for (const event of client.events) expect(contract.eventProblems(observed, event)).toEqual([]);
  });

  it('answers 503 with the limit and Retry-After past maxClients', async () => {
    setup({}, { stream: { maxClients: 1 } });
    const first = await openEvents(await listen());
    await first.waitFor(1, 'snapshot');
    const response = await call('get', STREAM_PATH, 503);
    expect(response.body).toEqual({ error: expect.any(String), limit: 1 });
    // Optional in the contract, since it is not sent after close: checked here.
    expect(response.headers['retry-after']).toBe('5');
  });

  it('answers 429 with the limit and Retry-After past maxClientsPerAddress', async () => {
    setup({}, { stream: { maxClientsPerAddress: 1 } });
    const first = await openEvents(await listen());
    await first.waitFor(1, 'snapshot');
    const response = await call('get', STREAM_PATH, 429);
    expect(response.body).toEqual({ error: expect.any(String), limit: 1 });
    expect(response.headers['retry-after']).toBe('5');
  });

  it("answers 403 with the origin to another site's page", async () => {
    setup();
    const response = await call('get', STREAM_PATH, 403, { headers: { Origin: 'https://evil.example' } });
    expect(response.body).toEqual({ error: expect.any(String), origin: 'https://evil.example' });
  });

  it('answers 503 without a limit after the manager closed', async () => {
    void setup().manager.close();
    const response = await call('get', STREAM_PATH, 503);
    expect(response.body).toEqual({ error: expect.any(String) });
    expect(response.headers['retry-after']).toBeUndefined();
  });

  it('answers 404 like an unknown path with stream: false', async () => {
    setup({}, { stream: false, ui: false });
    const response = await call('get', STREAM_PATH, 404);
    expect(response.body.endpoints).not.toContain(STREAM_PATH);
  });
});

describe('GET /api/health/ws', () => {
  const WS_TOKEN = 'contract-ws-token-0123456789abcdef';

  /** Sends an upgrade request to the server at `base` and checks its refusal against the contract. */
  async function refused(
    base: string,
    expectedStatus: number,
    { method = 'GET', path = WS_PATH, headers = {} }: { method?: string; path?: string; headers?: Record<string, string> } = {},
  ): Promise<{ observed: Observed; refusal: UpgradeRefusal }> {
    const refusal = await refusedUpgrade(`${base}${path}`, method, headers);
    expect(`${method} ${path} → ${refusal.status}`).toBe(`${method} ${path} → ${expectedStatus}`);
    expect(refusal.headers['content-type']).toBe(JSON_TYPE);
    const observed = observeRefusal(method, path, refusal);
    expect(contract.problems(observed)).toEqual([]);
    return { observed, refusal };
  }

  it('answers a handshake with 101, then a snapshot and a status message whose data match their schemas, with details and as summaries', async () => {
    const { manager } = setup({ remote_token: TOKEN, services: { idle_worker: { interval: 60 } } }, { details: 'when-authorized' });
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const base = await listenWithWebSocket();
    const anonymous = await openMessages(base);
    const authorized = await openMessages(base, AUTH);
    expect([anonymous.status, anonymous.headers.upgrade, anonymous.headers['sec-websocket-accept']]).toEqual([
      101,
      'websocket',
      expect.any(String),
    ]);
    for (const client of [anonymous, authorized]) await client.waitFor(1, 'snapshot');
    worker.error('queue full', { critical: true });
    for (const client of [anonymous, authorized]) await client.waitFor(1, 'status');

    expect(anonymous.events.map((event) => event.event)).toEqual(['snapshot', 'status']);
    expect(authorized.events.map((event) => event.event)).toEqual(['snapshot', 'status']);
    expect(JSON.parse(anonymous.events[1]?.data as string)).toEqual({
      service: 'save_worker',
      status: 'critical',
      overall_status: 'critical',
    });
    expect(JSON.parse(authorized.events[1]?.data as string)).toMatchObject({ service: 'save_worker', to: 'critical', cause: 'error' });
    expect(anonymous.messages.join('\n')).not.toContain('queue full');
    expectWebSocketValid(anonymous, { snapshot: 'StreamSnapshotSummary', status: 'StreamStatusSummary' });
    expectWebSocketValid(authorized, { snapshot: 'StreamSnapshot', status: 'StreamStatusEvent' });
  });

  it('answers plain HTTP with 426 and Upgrade: websocket, and another method with 405 and Allow: GET, over HTTP and on the raw socket', async () => {
    setup();
    const base = await listenWithWebSocket();
    const plain = await call('get', WS_PATH, 426);
    expect(plain.headers.upgrade).toBe('websocket');
    for (const method of ['post', 'delete'] as const) {
      const response = await call(method, WS_PATH, 405);
      expect([response.headers.allow, response.body.path]).toEqual(['GET', WS_PATH]);
    }
    const { refusal, observed } = await refused(base, 405, { method: 'POST', headers: HANDSHAKE });
    expect([refusal.headers.allow, observed.body]).toEqual(['GET', { error: expect.any(String), path: WS_PATH }]);
  });

  it('answers a handshake without a key, or of another version, with 400 and Sec-WebSocket-Version: 13', async () => {
    setup();
    const base = await listenWithWebSocket();
    for (const headers of [{}, { ...HANDSHAKE, 'Sec-WebSocket-Version': '7' }]) {
      const { refusal, observed } = await refused(base, 400, { headers });
      expect([refusal.headers['sec-websocket-version'], observed.body]).toEqual(['13', { error: expect.any(String) }]);
    }
  });

  it('answers a handshake without the webSocket token, or with a wrong one, with 401 and a challenge; the token or the remote_token opens it', async () => {
    setup({ remote_token: TOKEN }, { webSocket: { token: WS_TOKEN } });
    const base = await listenWithWebSocket();
    for (const headers of [HANDSHAKE, { ...HANDSHAKE, Authorization: `Bearer ${WS_TOKEN}x` }]) {
      const { refusal } = await refused(base, 401, { headers });
      expect(refusal.text).not.toContain(WS_TOKEN);
    }
    for (const headers of [{ Authorization: `Bearer ${WS_TOKEN}` }, AUTH]) expectWebSocketValid(await openMessages(base, headers), {});
  });

  it("answers a handshake from another site's page with 403 naming the origin", async () => {
    setup();
    const base = await listenWithWebSocket();
    const { observed } = await refused(base, 403, { headers: { ...HANDSHAKE, Origin: 'https://evil.example' } });
    expect(observed.body).toEqual({ error: expect.any(String), origin: 'https://evil.example' });
  });

  it('answers an upgrade for another path under the base path with the unknown-path 404 and the path alone, and /ws as unknown with webSocket: false', async () => {
    const attached = setup();
    const base = await listenWithWebSocket();
    const { observed } = await refused(base, 404, { path: '/api/health/nope', headers: HANDSHAKE });
    expect(observed.body).toEqual({ error: expect.any(String), path: '/api/health/nope' });
    void attached.manager.close();
    setup({}, { webSocket: false });
    const response = await call('get', WS_PATH, 404);
    expect(response.body.endpoints).toEqual(expect.arrayContaining([STREAM_PATH]));
  });

  // The place is held by an SSE stream for the per-address limit (streams and WebSockets share
  // places) and by a WebSocket for the overall one.
  it.each([
    { status: 429, limit: 'maxClientsPerAddress', holder: 'an event stream', open: openEvents },
    { status: 503, limit: 'maxClients', holder: 'a WebSocket', open: openMessages },
  ])('answers $status with the limit and Retry-After past $limit, its place held by $holder', async ({ status, limit, open }) => {
    setup({}, { stream: { [limit]: 1 } });
    const base = await listenWithWebSocket();
    await (await open(base)).waitFor(1, 'snapshot');
    const { refusal, observed } = await refused(base, status, { headers: HANDSHAKE });
    expect([refusal.headers['retry-after'], observed.body]).toEqual(['5', { error: expect.any(String), limit: 1 }]);
  });

  it('answers 503 without a limit when the stream is not attached to the server, and after the manager closed', async () => {
    const { manager } = setup();
    const base = await listen();
    const { refusal, observed } = await refused(base, 503, { headers: HANDSHAKE });
    expect([refusal.headers['retry-after'], observed.body]).toEqual([undefined, { error: expect.stringContaining('attachWebSocket') }]);
    (fixture as Fixture).health.attachWebSocket(server as Server);
    void manager.close();
    // The manager's close removed the upgrade listener: the upgrade reaches the app.
    const closed = await refused(base, 503, { headers: HANDSHAKE });
    expect(closed.observed.body).toEqual({ error: 'The heartbeat manager is closed.' });
    expect((await call('get', WS_PATH, 503)).headers['retry-after']).toBeUndefined();
  });
});

describe('GET /api/health/ui', () => {
  it('answers 200 with the page under a strict Content-Security-Policy', async () => {
    setup();
    const response = await call('get', '/api/health/ui', 200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toMatch(/^default-src 'none'; /);
    expect(response.text).toContain('data-stream="/api/health/stream"');
  });

  it('answers 404 like an unknown path with ui: false', async () => {
    setup({}, { ui: false });
    const response = await call('get', '/api/health/ui', 404);
    expect(response.body.endpoints).toEqual(expect.arrayContaining([STREAM_PATH]));
    expect(response.body.endpoints).not.toContain('/api/health/ui');
  });
});

describe('probes', () => {
  it('live answers 200 even while critical, with the event loop lag and no stall yet', async () => {
    const { manager, clock } = setup();
    manager.heartbeat({ tag: 'core', interval: 1 }).error('x', { critical: true });
    clock.advance(1500);
    const response = await call('get', '/api/health/live', 200);
    expect(response.body).toEqual({
      status: 'ok',
      event_loop_lag_seconds: expect.any(Number),
      stalls: 0,
      last_stall: null,
      store: { state: 'memory', last_error: null, errors: 0, last_write: null },
    });
  });

  it("live answers 200 with a file store's last write, and still 200 once a failed write degrades it", async () => {
    const dir = stateDir();
    const { manager, clock } = setup({}, {}, fileStore({ dir }));
    const worker = manager.heartbeat({ tag: 'core', interval: 30 }).start();
    worker.pulse();
    clock.advance(2000); // a flush (every flush_interval, 1 s, on the monitor's timer) saves the pulse's counters
    const ok = await call('get', '/api/health/live', 200);
    expect(ok.body.store).toEqual({ state: 'ok', last_error: null, errors: 0, last_write: expect.any(String) as string });
    expect(Date.parse(ok.body.store.last_write)).toBeGreaterThan(clock.wallNow() - 2000);

    // EIO from the disk: no test can cause it for real.
    failNext('fdatasyncSync', 'EIO');
    worker.error('disk full'); // a status change, saved before it is announced: the write fails
    const degraded = await call('get', '/api/health/live', 200);
    expect(degraded.body.store).toEqual({
      state: 'degraded',
      last_error: expect.stringContaining('EIO') as string,
      errors: 1,
      last_write: ok.body.store.last_write,
    });
  });

  it("live answers 200 naming the monitor's own stall", async () => {
    const { manager, clock } = setup();
    manager.heartbeat({ tag: 'core', interval: 1 }).start();
    clock.skip(12_000);
    const response = await call('get', '/api/health/live', 200);
    expect(response.body).toMatchObject({ status: 'ok', stalls: 1, last_stall: { time: expect.any(String) } });
    expect(response.body.last_stall.seconds).toBeGreaterThanOrEqual(12);
    expect(response.body.event_loop_lag_seconds).toBeGreaterThanOrEqual(12);
  });

  it('ready answers 200 while a non-critical service is critical', async () => {
    const { manager } = setup();
    manager.heartbeat({ tag: 'core', interval: 30 }).start();
    manager.heartbeat({ tag: 'optional', interval: 30, critical: false }).error('x', { critical: true });
    const response = await call('get', '/api/health/ready', 200);
    expect(response.body).toEqual({ status: 'ready', overall_status: 'degraded', failing: [] });
  });

  it('ready answers 503 naming the failing critical service', async () => {
    setup().manager.heartbeat({ tag: 'core', interval: 30 }).error('x', { critical: true });
    const response = await call('get', '/api/health/ready', 503);
    expect(response.body.failing).toEqual(['core']);
  });

  it('ready answers 503 while offline', async () => {
    setup({ enabled: false });
    const response = await call('get', '/api/health/ready', 503);
    expect(response.body).toEqual({ status: 'not_ready', overall_status: 'offline', failing: [] });
  });

  it('ready answers a client error with 400 and a failure with 500', async () => {
    const { manager } = setup();
    const status = jest.spyOn(manager, 'statusView');
    status.mockImplementationOnce(() => {
      throw Object.assign(new Error('bad'), { status: 400 });
    });
    await call('get', '/api/health/ready', 400);
    status.mockImplementationOnce(() => {
      throw new Error('boom');
    });
    await call('get', '/api/health/ready', 500);
  });
});

describe('GET /metrics', () => {
  it('answers 200 with the text exposition', async () => {
    setup().manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const response = await call('get', '/metrics', 200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.text).toContain('heartbeat_service_status{service="save_worker"} 0');
  });

  it('answers a failed collection with a bare 500', async () => {
    const { registry } = setup();
    new Gauge({
      name: 'app_broken',
      help: 'A collector that throws.',
      registers: [registry],
      collect() {
        throw new Error('collector broke');
      },
    });
    await call('get', '/metrics', 500);
  });
});

describe('POST /api/health/service/{name}/pulse and /error', () => {
  const PULSE = '/api/health/service/some_service/pulse';
  const ERROR = '/api/health/service/some_service/error';

  /** Remote heartbeats on: a token, and one configured service. */
  function remote(config: HeartbeatConfig = {}): Fixture {
    return setup({ remote_token: TOKEN, services: { some_service: { interval: 30 } }, ...config });
  }

  it('takes a pulse with no body, 204, and with metrics, other keys ignored', async () => {
    remote();
    const bare: Send = { headers: AUTH };
    const response = await call('post', PULSE, 204, bare);
    expect(response.text).toBe('');
    expect(requestProblems('post', PULSE, bare)).toEqual([]);
    const withMetrics = json({ metrics: { queue_depth: 12, batch_seconds: 0.25 }, sent_at: '1999-01-01T00:00:00Z' });
    expect(requestProblems('post', PULSE, withMetrics)).toEqual([]);
    await call('post', PULSE, 204, withMetrics);
    await call('post', PULSE, 204, json({}));
    const service = await call('get', '/api/health/service/some_service', 200);
    expect(service.body).toMatchObject({ total_pulses: 3, active: true, metrics: { queue_depth: 12, batch_seconds: 0.25 } });
  });

  it('takes an error, 204, and the service shows it', async () => {
    const { clock } = remote();
    const report = json({ message: 'queue full', critical: true, timestamp: '1999-01-01T00:00:00Z' });
    expect(requestProblems('post', ERROR, report)).toEqual([]);
    await call('post', ERROR, 204, report);
    const service = await call('get', '/api/health/service/some_service', 200);
    expect(service.body).toMatchObject({
      status: 'critical',
      error_count: 1,
      last_error: { message: 'queue full', critical: true, time: new Date(clock.wallNow()).toISOString() },
    });
    await call('post', ERROR, 204, json({ message: 'slow' }));
    expect((await call('get', '/api/health/service/some_service', 200)).body.last_error).toMatchObject({
      message: 'slow',
      critical: false,
    });
  });

  it.each<[string, string, Send]>([
    ['no Authorization header', PULSE, {}],
    ['a wrong token', PULSE, { headers: { Authorization: 'Bearer wrong-token-0123456789abcdef' } }],
    ['another scheme', PULSE, { headers: { Authorization: `Basic ${TOKEN}` } }],
    ['the right token in the query string', `${PULSE}?token=${TOKEN}`, { headers: AUTH }],
    ['no Authorization header on the error path', ERROR, json({ message: 'x' }, {})],
    ['a token in the query string on the error path', `${ERROR}?access_token=${TOKEN}`, json({ message: 'x' }, {})],
  ])('answers %s with 401 and a challenge, and records nothing', async (_label, path, send) => {
    const { manager } = remote();
    const response = await call('post', path, 401, send);
    expect(Object.keys(response.body)).toEqual(['error']);
    expect(response.text).not.toContain(TOKEN);
    expect(manager.service('some_service')).toMatchObject({ total_pulses: 0, error_count: 0 });
  });

  it.each([PULSE.replace('some_service', 'stranger'), ERROR.replace('some_service', 'stranger')])(
    'answers %s with 404 while auto_register is off',
    async (path) => {
      const { manager } = remote();
      const response = await call('post', path, 404, json({ message: 'x' }));
      expect(response.body.service).toBe('stranger');
      expect(manager.service('stranger')).toBeUndefined();
    },
  );

  it('answers a name whose percent-encoding does not decode with 404, before the token is checked', async () => {
    remote({ auto_register: true });
    const response = await call('post', '/api/health/service/%E0%A4%A/pulse', 404);
    expect(response.body.service).toBe('%E0%A4%A');
  });

  it('registers new names with auto_register up to max_services, then answers 429', async () => {
    const { manager } = remote({ auto_register: true, max_services: 1 });
    await call('post', '/api/health/service/first/pulse', 204, { headers: AUTH });
    const refused = await call('post', '/api/health/service/second/pulse', 429, { headers: AUTH });
    expect(refused.body.service).toBe('second');
    await call('post', '/api/health/service/third/error', 429, json({ message: 'x' }));
    // Configured services and names taken before still answer.
    await call('post', '/api/health/service/first/error', 204, json({ message: 'x' }));
    await call('post', PULSE, 204, { headers: AUTH });
    expect(manager.tags().sort()).toEqual(['first', 'some_service']);
  });

  // Each of these bodies is one the document's requestBody refuses too.
  it.each<[string, string, Send]>([
    ['metrics that are not an object', PULSE, json({ metrics: [1] })],
    ['metrics that are a string', PULSE, json({ metrics: 'queue_depth=12' })],
    ['a JSON null', PULSE, { headers: AUTH, type: 'application/json', body: 'null' }],
    ['an array', PULSE, json([{ metrics: { queue_depth: 12 } }])],
    ['an array', ERROR, json([1, 2])],
    ['a missing message', ERROR, json({ critical: true })],
    ['an empty message', ERROR, json({ message: '' })],
    ['a numeric message', ERROR, json({ message: 42 })],
    ['a string critical', ERROR, json({ message: 'x', critical: 'yes' })],
    ['invalid JSON', ERROR, { headers: AUTH, type: 'application/json', body: '{"message": ' }],
    ['a JSON string', ERROR, { headers: AUTH, type: 'application/json', body: '"queue full"' }],
  ])('answers a body with %s with 400', async (_label, path, send) => {
    const { manager } = remote();
    await call('post', path, 400, send);
    expect(requestProblems('post', path, send)).not.toEqual([]);
    expect(manager.service('some_service')).toMatchObject({ total_pulses: 0, error_count: 0 });
  });

  it('answers metrics past the 20 names a service keeps with 400 naming the service, though the body alone is valid', async () => {
    remote();
    await call('post', PULSE, 204, json({ metrics: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`m${i}`, i])) }));
    const send = json({ metrics: { one_more: 1 } });
    expect(requestProblems('post', PULSE, send)).toEqual([]);
    const response = await call('post', PULSE, 400, send);
    expect(response.body).toEqual({ error: expect.stringContaining('at most 20 are kept per service'), service: 'some_service' });
  });

  it('answers a name longer than 200 characters with 400 naming it', async () => {
    remote({ auto_register: true });
    const name = 'x'.repeat(201);
    const response = await call('post', `/api/health/service/${name}/pulse`, 400, { headers: AUTH });
    expect(response.body.service).toBe(name);
  });

  it('answers a compressed body that does not decompress with 400', async () => {
    remote();
    await call('post', ERROR, 400, { headers: { ...AUTH, 'Content-Encoding': 'gzip' }, type: 'application/json', body: '{"message":"x"}' });
  });

  it.each([PULSE, ERROR])('answers %s with a body over 4096 bytes with 413', async (path) => {
    remote();
    const send = json({ message: 'x'.repeat(5000) });
    await call('post', path, 413, send);
  });

  it.each<[string, string, Send]>([
    ['a text pulse', PULSE, { headers: AUTH, type: 'text/plain', body: 'alive' }],
    ['a form error', ERROR, { headers: AUTH, type: 'application/x-www-form-urlencoded', body: 'message=x' }],
    ['an error without a body', ERROR, { headers: AUTH }],
    ['a body in another charset', ERROR, { headers: AUTH, type: 'application/json; charset=latin1', body: '{"message":"x"}' }],
    ['an unknown Content-Encoding', PULSE, { headers: { ...AUTH, 'Content-Encoding': 'x-unknown' }, type: 'application/json', body: '{}' }],
  ])('answers %s with 415', async (_label, path, send) => {
    remote();
    await call('post', path, 415, send);
  });

  it('answers a failure with a bare 500', async () => {
    const { manager } = remote();
    jest.spyOn(manager, 'heartbeat').mockImplementation(() => {
      throw new Error('boom at /secret/path.js');
    });
    const pulse = await call('post', PULSE, 500, { headers: AUTH });
    expect(pulse.text).not.toContain('/secret/path.js');
    const error = await call('post', ERROR, 500, json({ message: 'x' }));
    expect(error.text).not.toContain('/secret/path.js');
  });

  it.each([PULSE, ERROR])('answers %s with 404 and no endpoints while remote heartbeats are off, token or not', async (path) => {
    setup({ services: { some_service: { interval: 30 } } });
    const response = await call('post', path, 404, json({ message: 'x' }));
    expect(response.body).toEqual({ error: expect.stringMatching(/^Remote heartbeats are off/), endpoints: [] });
    await call('post', path, 404, json({ message: 'x' }, {}));
  });
});

describe('job runs and pauses: POST …/start, /fail, /exit/{code}, /pause and /resume', () => {
  const JOB = '/api/health/service/job';
  const RUN_PATHS = [`${JOB}/start`, `${JOB}/fail`, `${JOB}/exit/0`];
  const PAUSE_PATHS = [`${JOB}/pause`, `${JOB}/resume`];

  /** Remote heartbeats on, with the configured service `job`. */
  function remote(config: HeartbeatConfig = {}): Fixture {
    return setup({ remote_token: TOKEN, services: { job: { interval: 60, max_runtime: 600 } }, ...config });
  }

  it('answers a start, a pulse with a rid, an exit and a fail with 204, and the service body shows the run', async () => {
    const { clock } = remote();
    const start = json({ rid: 'nightly-1' });
    expect(requestProblems('post', `${JOB}/start`, start)).toEqual([]);
    expect((await call('post', `${JOB}/start`, 204, start)).text).toBe('');
    // Running: the body has started_at (the contract's if/then), and it validates.
    const running = await call('get', JOB, 200);
    expect(running.body.run).toEqual({
      state: 'running',
      started_at: expect.any(String),
      last_duration_seconds: null,
      last_exit_code: null,
      runtime_anomaly: null,
    });
    expect(running.body).toMatchObject({ paused: null, suppressed_by: null });
    clock.advance(5_000);
    const pulse = json({ rid: 'nightly-1', metrics: { rows: 12 } });
    expect(requestProblems('post', `${JOB}/pulse`, pulse)).toEqual([]);
    await call('post', `${JOB}/pulse?rid=nightly-1`, 204, pulse);
    expect((await call('get', JOB, 200)).body.run).toEqual({
      state: 'idle',
      started_at: null,
      last_duration_seconds: 5,
      last_exit_code: 0,
      runtime_anomaly: null,
    });

    await call('post', `${JOB}/start`, 204, { headers: AUTH });
    expect(requestProblems('post', `${JOB}/exit/3`, { headers: AUTH })).toEqual([]);
    await call('post', `${JOB}/exit/3`, 204, { headers: AUTH });
    expect((await call('get', JOB, 200)).body).toMatchObject({ status: 'warning', run: { last_exit_code: 3 } });
    const fail = json({ rid: 'nightly-2', message: 'disk full', critical: true });
    expect(requestProblems('post', `${JOB}/fail`, fail)).toEqual([]);
    await call('post', `${JOB}/fail`, 204, fail);
    expect((await call('get', JOB, 200)).body).toMatchObject({ status: 'critical', last_error: { message: 'disk full' } });
  });

  it('answers a pause with 200 and the pause, shown in the service body, and a resume with 200 and whether it ended one', async () => {
    const { clock } = remote();
    const send = json({ until: new Date(clock.wallNow() + 3_600_000).toISOString(), reason: 'database migration' });
    expect(requestProblems('post', `${JOB}/pause`, send)).toEqual([]);
    const paused = await call('post', `${JOB}/pause`, 200, send);
    expect(paused.body).toMatchObject({ reason: 'database migration' });
    expect((await call('get', JOB, 200)).body.paused).toEqual(paused.body);
    clock.advance(60_000);
    await call('post', `${JOB}/pause`, 200, { headers: AUTH });
    expect(requestProblems('post', `${JOB}/resume`, { headers: AUTH })).toEqual([]);
    expect((await call('post', `${JOB}/resume`, 200, { headers: AUTH })).body).toEqual({ resumed: true });
    expect((await call('post', `${JOB}/resume`, 200, json({}))).body).toEqual({ resumed: false });
    // The pause is a gap in the history, which counts neither as up nor as down.
    const history = await call('get', `${JOB}/history`, 200);
    expect(history.body.gaps).toEqual([{ start: expect.any(String), end: expect.any(String), reason: 'paused' }]);
  });

  // Each of these bodies is one the document's requestBody refuses too.
  it.each<[string, string, Send]>([
    ['a rid with a space', `${JOB}/start`, json({ rid: 'a b' })],
    ['a rid of 65 characters', `${JOB}/exit/0`, json({ rid: 'r'.repeat(65) })],
    ['an empty message', `${JOB}/fail`, json({ message: '' })],
    ['a string critical', `${JOB}/fail`, json({ critical: 'yes' })],
    ['an array', `${JOB}/start`, json([1])],
    ['an until without a zone', `${JOB}/pause`, json({ until: '2026-12-01T14:00:00' })],
    ['a numeric until', `${JOB}/pause`, json({ until: 1 })],
    ['a reason of 201 characters', `${JOB}/pause`, json({ reason: 'r'.repeat(201) })],
    ['an array', `${JOB}/resume`, json([])],
  ])('answers a body with %s with 400', async (_label, path, send) => {
    remote();
    const response = await call('post', path, 400, send);
    expect(response.body.service).toBe('job');
    expect(requestProblems('post', path, send)).not.toEqual([]);
  });

  it.each([`${JOB}/exit/256`, `${JOB}/pulse?rid=a&rid=b`, `${JOB}/start?rid=a`])('answers %s with 400', async (path) => {
    remote();
    await call('post', path, 400, path.endsWith('rid=a') ? json({ rid: 'b' }) : { headers: AUTH });
  });

  it.each([...RUN_PATHS, ...PAUSE_PATHS])('answers %s without a token with 401 and a challenge', async (path) => {
    remote();
    const response = await call('post', path, 401);
    expect(Object.keys(response.body)).toEqual(['error']);
  });

  it.each([...RUN_PATHS, ...PAUSE_PATHS])(
    'answers %s for an unknown name with 404, and while remote heartbeats are off with 404 and no endpoints',
    async (path) => {
      remote();
      const stranger = await call('post', path.replace('/job/', '/stranger/'), 404, { headers: AUTH });
      expect(stranger.body.service).toBe('stranger');
      void (fixture as Fixture).manager.close();
      setup({ services: { job: { interval: 60 } } });
      const off = await call('post', path, 404, { headers: AUTH });
      expect(off.body).toEqual({ error: expect.stringMatching(/^Remote heartbeats are off/), endpoints: [] });
    },
  );

  it.each([...RUN_PATHS, ...PAUSE_PATHS])('answers %s with a body over 4096 bytes with 413 and a text body with 415', async (path) => {
    remote();
    await call('post', path, 413, json({ rid: 'x'.repeat(5000) }));
    await call('post', path, 415, { headers: AUTH, type: 'text/plain', body: 'done' });
  });

  it.each(RUN_PATHS)('answers %s for a new name past max_services with 429', async (path) => {
    remote({ auto_register: true, max_services: 1 });
    await call('post', '/api/health/service/first/start', 204, { headers: AUTH });
    const refused = await call('post', path.replace('/job/', '/second/'), 429, { headers: AUTH });
    expect(refused.body.service).toBe('second');
  });

  it.each([...RUN_PATHS, ...PAUSE_PATHS, `${JOB}/pulse`, `${JOB}/error`])(
    'answers %s with 503 naming the service once the manager is closed',
    async (path) => {
      const { manager } = remote();
      void manager.close();
      const response = await call('post', path, 503, path.endsWith('/error') ? json({ message: 'x' }) : { headers: AUTH });
      expect(response.body).toEqual({ error: 'The heartbeat manager is closed: the server is shutting down.', service: 'job' });
    },
  );

  it.each([...RUN_PATHS, ...PAUSE_PATHS])('answers a failure of %s with a bare 500', async (path) => {
    const { manager } = remote();
    const boom = (): never => {
      throw new Error('boom at /secret/path.js');
    };
    jest.spyOn(manager, 'heartbeat').mockImplementation(boom);
    jest.spyOn(manager, 'pause').mockImplementation(boom);
    jest.spyOn(manager, 'resume').mockImplementation(boom);
    const response = await call('post', path, 500, { headers: AUTH });
    expect(response.text).not.toContain('/secret/path.js');
  });

  it.each<[Method, string]>([
    ['get', `${JOB}/start`],
    ['put', `${JOB}/fail`],
    ['delete', `${JOB}/exit/1`],
    ['patch', `${JOB}/pause`],
    ['get', `${JOB}/resume`],
  ])('answers %s %s with 405 and Allow: POST, and like an unknown path while remote heartbeats are off', async (method, path) => {
    remote();
    expect((await call(method, path, 405, { headers: AUTH })).headers.allow).toBe('POST');
    void (fixture as Fixture).manager.close();
    setup();
    await call(method, path, 404);
  });
});

describe('DELETE /api/health/service/{name}', () => {
  /** Remote heartbeats on with auto_register: a token, one configured service, one the server runs. */
  function remote(): Fixture {
    const fixed = setup({ remote_token: TOKEN, auto_register: true, services: { configured: { interval: 30 } } });
    fixed.manager.heartbeat({ tag: 'local', interval: 30 }).start();
    return fixed;
  }

  it('answers 204 for a service a remote pulse registered, which is then gone', async () => {
    const { manager } = remote();
    await call('post', '/api/health/service/save-worker/pulse', 204, { headers: AUTH });
    const response = await call('delete', '/api/health/service/save-worker', 204, { headers: AUTH });
    expect(response.text).toBe('');
    expect(manager.service('save-worker')).toBeUndefined();
  });

  it.each([
    ['a configured service', 'configured'],
    ['a service the server runs', 'local'],
  ])('answers 409 for %s, naming it, and keeps it', async (_label, name) => {
    const { manager } = remote();
    const response = await call('delete', `/api/health/service/${name}`, 409, { headers: AUTH });
    expect(response.body.service).toBe(name);
    expect(manager.service(name)).toBeDefined();
  });

  it.each([
    ['an unknown name', 'nope'],
    ['malformed percent-encoding', '%E0%A4%A'],
  ])('answers 404 for %s', async (_label, name) => {
    remote();
    const response = await call('delete', `/api/health/service/${name}`, 404, { headers: AUTH });
    expect(response.body.service).toEqual(expect.any(String));
  });

  it.each<[string, Record<string, string>]>([
    ['no token', {}],
    ['a wrong token', { Authorization: 'Bearer wrong-token-0123456789abcdef' }],
  ])('answers %s with 401 and a challenge, and removes nothing', async (_label, headers) => {
    const { manager } = remote();
    await call('post', '/api/health/service/save-worker/pulse', 204, { headers: AUTH });
    const response = await call('delete', '/api/health/service/save-worker', 401, { headers });
    expect(Object.keys(response.body)).toEqual(['error']);
    expect(manager.service('save-worker')).toBeDefined();
  });

  it('answers 404 with no endpoints while remote heartbeats are off, token or not', async () => {
    setup({ services: { configured: { interval: 30 } } });
    for (const headers of [AUTH, {}]) {
      const response = await call('delete', '/api/health/service/configured', 404, { headers });
      expect(response.body).toEqual({ error: expect.stringMatching(/^Remote heartbeats are off/), endpoints: [] });
    }
  });

  it('answers a failure with a bare 500', async () => {
    const { manager } = remote();
    jest.spyOn(manager, 'service').mockImplementation(() => {
      throw new Error('boom at /secret/path.js');
    });
    const response = await call('delete', '/api/health/service/x', 500, { headers: AUTH });
    expect(response.text).not.toContain('/secret/path.js');
  });

  it.each(['put', 'patch', 'post'] as const)('answers %s on the path with 405 and Allow: GET, HEAD, DELETE', async (method) => {
    remote();
    const response = await call(method, '/api/health/service/local', 405, { headers: AUTH });
    expect(response.headers.allow).toBe('GET, HEAD, DELETE');
  });
});

describe('the details policy', () => {
  type Policy = 'when-authorized' | 'never';
  const SECRET = 'password=hunter2';

  /** A configured idle service, and one critical with a secret in its error message. */
  function guarded(details: Policy, options: RouterOptions = {}): Fixture {
    const fixed = setup({ remote_token: TOKEN, services: { idle_worker: { interval: 60 } } }, { details, ...options });
    fixed.manager.heartbeat({ tag: 'save_worker', interval: 30 }).error(SECRET, { critical: true });
    return fixed;
  }

  it.each<[Policy, Record<string, string>]>([
    ['when-authorized', {}],
    ['when-authorized', { Authorization: 'Bearer wrong-token-0123456789abcdef' }],
    ['never', {}],
    ['never', AUTH],
  ])('%s: a caller with headers %j gets summaries with the same status codes', async (policy, headers) => {
    const { manager } = guarded(policy);
    const status = await call('get', '/api/health/status', 503, { headers });
    expect(status.body).toEqual({
      services: { idle_worker: { status: 'healthy' }, save_worker: { status: 'critical' } },
      overall_status: 'critical',
    });
    expect(contract.schema('HealthStatusSummary')(status.body)).toBe(true);
    const service = await call('get', '/api/health/service/save_worker', 200, { headers });
    expect(service.body).toEqual({ service: 'save_worker', status: 'critical', paused: false, group: null, at_risk: false });
    expect(contract.schema('ServiceSummary')(service.body)).toBe(true);
    await call('get', '/api/health/service/nope', 404, { headers });
    const notReady = await call('get', '/api/health/ready', 503, { headers });
    expect(notReady.body).toEqual({ status: 'not_ready', overall_status: 'critical', failing: [] });
    for (const answer of [status, service, notReady]) expect(answer.text).not.toContain('hunter2');

    manager.get('save_worker')?.pulse();
    const healthy = await call('get', '/api/health/status', 200, { headers });
    expect(healthy.body.services.save_worker).toEqual({ status: 'healthy' });
    expect((await call('get', '/api/health/ready', 200, { headers })).body).toEqual({
      status: 'ready',
      overall_status: 'healthy',
      failing: [],
    });
  });

  it.each<[string, Record<string, string>]>([
    ['no token', {}],
    ['a wrong token', { Authorization: 'Bearer wrong-token-0123456789abcdef' }],
  ])('when-authorized: history and export answer a caller with %s with 401 and a challenge', async (_label, headers) => {
    guarded('when-authorized');
    for (const path of [
      '/api/health/service/save_worker/history',
      '/api/health/service/nope/history',
      '/api/health/export',
      '/api/health/export?format=csv',
      '/api/health/export?format=xml',
    ]) {
      const refused = await call('get', path, 401, { headers });
      expect(refused.text).not.toContain('hunter2');
    }
    // A token in the query string is no token, even the right one.
    await call('get', `/api/health/export?token=${TOKEN}`, 401, { headers });
  });

  it('when-authorized: the token shows everything', async () => {
    guarded('when-authorized');
    const status = await call('get', '/api/health/status', 503, { headers: AUTH });
    expect(contract.schema('HealthStatus')(status.body)).toBe(true);
    expect(status.body.services.save_worker).toMatchObject({ status: 'critical', consecutive_failures: 1 });
    const service = await call('get', '/api/health/service/save_worker', 200, { headers: AUTH });
    expect(service.body.last_error.message).toBe(SECRET);
    expect((await call('get', '/api/health/ready', 503, { headers: AUTH })).body.failing).toEqual(['save_worker']);
    const history = await call('get', '/api/health/service/save_worker/history', 200, { headers: AUTH });
    expect(history.body.transitions[0].reason).toContain('hunter2');
    await call('get', '/api/health/export?format=csv', 200, { headers: AUTH });
    await call('get', '/api/health/export', 200, { headers: AUTH });
  });

  it('never: history and export answer 403, token or not', async () => {
    guarded('never');
    for (const headers of [{}, AUTH]) {
      for (const path of ['/api/health/service/save_worker/history', '/api/health/export', '/api/health/export?format=csv']) {
        const refused = await call('get', path, 403, { headers });
        expect(refused.text).not.toContain('hunter2');
      }
    }
  });

  it('a pause and a job run reach a stream with details as pause and run events, and one without as the pause flag alone', async () => {
    const { manager, clock } = guarded('when-authorized', { stream: { pulseBatchMs: 250, keepAliveMs: 60_000 } });
    const base = await listenWithWebSocket();
    const anonymous = await openEvents(base);
    const authorized = await openEvents(base, AUTH);
    // The same events over the WebSocket, each message checked against the 101's annotations.
    const anonymousWs = await openMessages(base);
    const authorizedWs = await openMessages(base, AUTH);
    for (const client of [anonymous, authorized, anonymousWs, authorizedWs]) await client.waitFor(1, 'snapshot');

    manager.pause('idle_worker', { reason: 'database migration' });
    for (const client of [anonymous, authorized, anonymousWs, authorizedWs]) await client.waitFor(1, 'pause');
    const run = manager.get('save_worker')?.begin();
    clock.advance(250);
    for (const client of [authorized, authorizedWs]) await client.waitFor(1, 'run');
    clock.advance(1000);
    run?.success();
    clock.advance(250);
    for (const client of [authorized, authorizedWs]) await client.waitFor(2, 'run');
    manager.resume('idle_worker');
    for (const client of [anonymous, authorized, anonymousWs, authorizedWs]) await client.waitFor(2, 'pause');

    const pauses = (client: SseClient) =>
      client.events.filter((event) => event.event === 'pause').map((event) => JSON.parse(event.data) as unknown);
    expect(pauses(anonymous)).toEqual([
      { service: 'idle_worker', paused: true, overall_status: expect.any(String) },
      { service: 'idle_worker', paused: false, overall_status: expect.any(String) },
    ]);
    expect(pauses(authorized)).toEqual([
      expect.objectContaining({
        service: 'idle_worker',
        paused: true,
        reason: 'database migration',
        until: null,
        health: expect.objectContaining({ paused: expect.objectContaining({ reason: 'database migration' }) }),
      }),
      expect.objectContaining({ service: 'idle_worker', paused: false, health: expect.objectContaining({ paused: null }) }),
    ]);
    const runs = authorized.events.filter((event) => event.event === 'run').map((event) => JSON.parse(event.data) as unknown);
    expect(runs).toEqual([
      { services: { save_worker: expect.objectContaining({ state: 'running', last_duration_seconds: null }) } },
      { services: { save_worker: expect.objectContaining({ state: 'idle', last_duration_seconds: 1.25 }) } },
    ]);
    expect(anonymous.raw()).not.toMatch(/database migration|event: run|event: pulse/);

    for (const [client, schemas] of [
      [anonymous, { pause: 'StreamPauseSummary' }],
      [authorized, { pause: 'StreamPauseEvent', run: 'StreamRunEvent' }],
    ] as const) {
      expectStreamValid(client, schemas);
    }
    expect(anonymousWs.events.map(dataOf)).toEqual(anonymous.events.map(dataOf));
    expect(authorizedWs.events.map(dataOf)).toEqual(authorized.events.map(dataOf));
    expectWebSocketValid(anonymousWs, { pause: 'StreamPauseSummary' });
    expectWebSocketValid(authorizedWs, { pause: 'StreamPauseEvent', run: 'StreamRunEvent' });
  });

  it('a stream without details carries summary snapshot and status events and no pulse; with the token, full ones with their cause', async () => {
    const { manager, clock } = guarded('when-authorized', { stream: { pulseBatchMs: 250, keepAliveMs: 60_000 } });
    manager.heartbeat({ tag: 'fast', interval: 1 }).start();
    const base = await listenWithWebSocket();
    const anonymous = await openEvents(base);
    const authorized = await openEvents(base, AUTH);
    const anonymousWs = await openMessages(base);
    const authorizedWs = await openMessages(base, AUTH);
    for (const client of [anonymous, authorized, anonymousWs, authorizedWs]) await client.waitFor(1, 'snapshot');

    const worker = manager.get('save_worker');
    // Each change in a turn of its own, as the monitor's timer and the worker make them.
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    worker?.pulse(); // recovers save_worker, and is the next pulse batch
    clock.advance(250);
    await nextTurn();
    clock.advance(1000); // fast misses a beat
    await nextTurn();
    worker?.error('second secret: hunter3');
    for (const client of [authorized, authorizedWs]) await client.waitFor(1, 'pulse');
    for (const client of [anonymous, authorized, anonymousWs, authorizedWs]) await client.waitFor(3, 'status');

    const causes = authorized.events
      .filter((event) => event.event === 'status')
      .map((event) => JSON.parse(event.data) as { service: string; to: string; cause: string });
    expect(causes.map(({ service, to, cause }) => `${service}->${to}:${cause}`)).toEqual([
      'save_worker->healthy:recovered',
      'fast->warning:missed',
      'save_worker->warning:error',
    ]);
    expect(anonymous.raw()).not.toMatch(/hunter|last_error|reason|cause|total_pulses|"from"|"to"/);

    const full: Record<string, string> = { snapshot: 'StreamSnapshot', status: 'StreamStatusEvent', pulse: 'StreamPulseEvent' };
    const summary: Record<string, string> = { snapshot: 'StreamSnapshotSummary', status: 'StreamStatusSummary' };
    for (const [client, schemas, events] of [
      [anonymous, summary, ['snapshot', 'status']],
      [authorized, full, ['snapshot', 'status', 'pulse']],
    ] as const) {
      const observed = observeStream(client);
      expect(contract.problems(observed)).toEqual([]);
      expect(new Set(client.events.map((event) => event.event))).toEqual(new Set(events));
      for (const event of client.events) {
        expect(contract.eventProblems(observed, event)).toEqual([]);
        // Which alternative, not just any: the policy decides.
        expect([event.event, contract.schema(schemas[event.event] as string)(JSON.parse(event.data))]).toEqual([event.event, true]);
      }
    }
    expect(anonymous.events.filter((event) => event.event === 'status').map((event) => JSON.parse(event.data))).toEqual([
      { service: 'save_worker', status: 'healthy', overall_status: 'healthy' },
      { service: 'fast', status: 'warning', overall_status: 'warning' },
      { service: 'save_worker', status: 'warning', overall_status: 'warning' },
    ]);
    expect(anonymousWs.events.map(dataOf)).toEqual(anonymous.events.map(dataOf));
    expect(authorizedWs.events.map(dataOf)).toEqual(authorized.events.map(dataOf));
    expectWebSocketValid(anonymousWs, summary);
    expectWebSocketValid(authorizedWs, full);
  });

  it('a service drifting toward its deadline reaches a stream with details as a trend event, and one without as the at-risk flag, in the snapshot too', async () => {
    const { manager, clock } = guarded('when-authorized', { stream: { pulseBatchMs: 250, keepAliveMs: 3_600_000 } });
    const base = await listenWithWebSocket();
    const anonymous = await openEvents(base);
    const authorized = await openEvents(base, AUTH);
    const anonymousWs = await openMessages(base);
    const authorizedWs = await openMessages(base, AUTH);
    for (const client of [anonymous, authorized, anonymousWs, authorizedWs]) await client.waitFor(1, 'snapshot');
    // Twenty gaps of 20 s, then eight growing by 1.5 s per beat, of an interval of 30 s: at risk.
    const drifter = manager.heartbeat({ tag: 'drifter', interval: 30 }).start();
    drifter.pulse();
    pulseAfterGaps(clock, drifter, driftingGaps());
    clock.advance(1001);
    for (const client of [anonymous, authorized, anonymousWs, authorizedWs]) await client.waitFor(1, 'trend');
    expect(anonymous.events.filter((event) => event.event === 'trend').map((event) => JSON.parse(event.data))).toEqual([
      { service: 'drifter', at_risk: true },
    ]);
    const late = await openEvents(base);
    await late.waitFor(1, 'snapshot');
    expect(JSON.parse(late.events[0]?.data as string).services).toContainEqual({
      service: 'drifter',
      status: 'healthy',
      paused: false,
      group: null,
      at_risk: true,
    });

    for (const [client, schemas] of [
      [anonymous, { trend: 'StreamTrendSummary', snapshot: 'StreamSnapshotSummary' }],
      [late, { snapshot: 'StreamSnapshotSummary' }],
      [authorized, { trend: 'StreamTrendEvent', snapshot: 'StreamSnapshot' }],
    ] as const) {
      expectStreamValid(client, schemas);
    }
    expectWebSocketValid(anonymousWs, { trend: 'StreamTrendSummary', snapshot: 'StreamSnapshotSummary' });
    expectWebSocketValid(authorizedWs, { trend: 'StreamTrendEvent', snapshot: 'StreamSnapshot' });
  });
});

describe('everything else', () => {
  it.each<[Method, string]>([
    ['post', '/api/health/status'],
    ['put', '/api/health/live'],
    ['patch', '/api/health/ready'],
    ['options', '/api/health/status'],
    ['post', '/api/health/service/save_worker/history'],
    ['delete', '/api/health/export'],
    ['post', '/api/health/stream'],
    ['put', '/api/health/ui'],
    ['post', '/metrics'],
    ['post', '/api/health'],
    ['put', '/api/health/badge.svg'],
    ['delete', '/api/health/badge/save_worker.svg'],
  ])('answers %s %s with 405 and Allow', async (method, path) => {
    setup();
    const response = await call(method, path, 405);
    expect(response.headers.allow).toBe('GET, HEAD');
  });

  it.each<[Method, string]>([
    ['get', '/api/health/service/some_service/pulse'],
    ['put', '/api/health/service/some_service/pulse'],
    ['delete', '/api/health/service/some_service/error'],
    ['patch', '/api/health/service/some_service/error'],
  ])('answers %s %s with 405 and Allow: POST when remote heartbeats are on', async (method, path) => {
    setup({ remote_token: TOKEN });
    const response = await call(method, path, 405, { headers: AUTH });
    expect(response.headers.allow).toBe('POST');
  });

  it.each<[Method, string]>([
    ['get', '/api/health/service/some_service/pulse'],
    ['delete', '/api/health/service/some_service/error'],
  ])('answers %s %s like an unknown path while remote heartbeats are off', async (method, path) => {
    setup();
    const response = await call(method, path, 404);
    expect(response.body.endpoints).not.toContain('/api/health/service/{name}/pulse');
  });

  it.each<[string, HeartbeatConfig, string[]]>([
    ['with a remote_token', { remote_token: TOKEN }, []],
    [
      'without one',
      {},
      [
        '/api/health/service/{name}/pulse',
        '/api/health/service/{name}/error',
        '/api/health/service/{name}/start',
        '/api/health/service/{name}/fail',
        '/api/health/service/{name}/exit/{code}',
        '/api/health/service/{name}/pause',
        '/api/health/service/{name}/resume',
      ],
    ],
  ])('lists exactly the documented paths under the base path in the 404, %s', async (_label, config, left) => {
    setup(config);
    const response = await call('get', '/api/health/nope', 404);
    // The WebSocket's path is documented but not listed (UnknownEndpoint's description says so).
    const documented = contract.paths().filter((path) => /^\/api\/health(\/|$)/.test(path) && path !== WS_PATH && !left.includes(path));
    expect([...response.body.endpoints].sort()).toEqual(documented.sort());
  });

  it.each<[Method, string]>([
    ['get', '/api/health/nope'],
    ['get', '/api/health/'],
    ['get', '/api/health/service/'],
    ['get', '/api/health/service/a/b'],
    ['post', '/api/health/status/extra'],
    ['get', '/api/health/service/save_worker/history/extra'],
    ['get', '/api/health/export/csv'],
  ])('answers %s %s with 404 and the endpoint list', async (method, path) => {
    setup();
    const response = await call(method, path, 404);
    expect(response.body.endpoints).toEqual(
      expect.arrayContaining(['/api/health/status', '/api/health/export', STREAM_PATH, '/api/health/ui']),
    );
  });
});

describe('health+json, badges and draining', () => {
  /** GETs a path whose answer may be health+json or SVG, and checks it against the contract. */
  async function get(
    path: string,
    expectedStatus: number,
    headers: Record<string, string> = {},
  ): Promise<{ body: unknown; response: request.Response }> {
    const response = await request((fixture as Fixture).app)
      .get(path)
      .set(headers)
      .buffer(true)
      .parse(textBody);
    expect(`GET ${path} → ${response.status}`).toBe(`GET ${path} → ${expectedStatus}`);
    const text = response.body as string;
    const body: unknown = /^application\/(.+\+)?json/.test(response.headers['content-type'] ?? '') ? JSON.parse(text) : text;
    expect(
      contract.problems({
        method: 'GET',
        path: new URL(path, 'http://x').pathname,
        status: response.status,
        headers: response.headers,
        body,
      }),
    ).toEqual([]);
    return { body, response };
  }

  it('GET /api/health answers 200 in health+json or plain JSON, 503 when failing, 406 for neither, and a bare 500 on a failure', async () => {
    const { manager, clock } = setup();
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    clock.advance(1500); // a missed beat: warn
    const warn = await get('/api/health', 200);
    expect(warn.response.headers['content-type']).toBe('application/health+json; charset=utf-8');
    expect((warn.body as { status: string }).status).toBe('warn');
    expect((await get('/api/health', 200, { Accept: 'application/json' })).response.headers['content-type']).toBe(JSON_TYPE);
    worker.error('disk full', { critical: true });
    expect((await get('/api/health', 503)).body).toMatchObject({ status: 'fail' });
    expect((await get('/api/health', 406, { Accept: 'text/html' })).body).toMatchObject({
      acceptable: ['application/health+json', 'application/json'],
    });
    jest.spyOn(manager, 'statusView').mockImplementationOnce(() => {
      throw new Error('boom');
    });
    await get('/api/health', 500);
  });

  it('GET /api/health gives a caller without details checks of status words only, which the full schema refuses', async () => {
    setup({ remote_token: TOKEN }, { details: 'when-authorized' }).manager.heartbeat({ tag: 'core', interval: 30 }).start();
    const { body } = await get('/api/health', 200);
    const check = (body as { checks: Record<string, unknown[]> }).checks['core:heartbeat']?.[0];
    expect([contract.schema('HeartbeatCheckSummary')(check), contract.schema('HeartbeatCheck')(check)]).toEqual([true, false]);
    const full = await get('/api/health', 200, AUTH);
    const detailed = (full.body as { checks: Record<string, unknown[]> }).checks['core:heartbeat']?.[0];
    expect([contract.schema('HeartbeatCheckSummary')(detailed), contract.schema('HeartbeatCheck')(detailed)]).toEqual([false, true]);
  });

  it('the badges answer 200 with an SVG, 400 for a bad query, 401 and 403 for an uptime without details, and 404 for an unknown service', async () => {
    setup().manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    await get('/api/health/badge.svg', 200);
    await get('/api/health/badge.svg?type=uptime', 400);
    const drawn = await get('/api/health/badge/save_worker.svg', 200);
    // A proxy revalidating with the ETag: nothing changed, no body.
    const etag = { 'If-None-Match': drawn.response.headers.etag as string };
    expect((await get('/api/health/badge/save_worker.svg', 304, etag)).body).toBe('');
    await get('/api/health/badge.svg', 304, { 'If-None-Match': (await get('/api/health/badge.svg', 200)).response.headers.etag as string });
    await get('/api/health/badge/save_worker.svg?type=uptime&window=7d&style=for-the-badge&label=up', 200);
    await get('/api/health/badge/save_worker.svg?style=round', 400);
    await get('/api/health/badge/nope.svg', 404);
    await get('/api/health/badge/%FF.svg', 404);
    setup({ remote_token: TOKEN }, { details: 'when-authorized' }).manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    await get('/api/health/badge/save_worker.svg?type=uptime', 401);
    expect((await get('/api/health/badge/save_worker.svg?type=uptime', 200, AUTH)).response.headers['cache-control']).toBe(
      'private, max-age=60',
    );
    setup({ remote_token: TOKEN }, { details: 'never' }).manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    await get('/api/health/badge/save_worker.svg?type=uptime', 403, AUTH);
  });

  it('ready answers 503 draining once the manager closes', async () => {
    const { manager } = setup();
    manager.heartbeat({ tag: 'core', interval: 30 }).start();
    void manager.close();
    const response = await call('get', '/api/health/ready', 503);
    expect(response.body).toEqual({ status: 'draining', overall_status: 'healthy', failing: [] });
  });

  it('rejects a health+json body off the draft, a summary check with a detail, and a badge without its headers', () => {
    const base = { status: 'pass', description: 'x', checks: {}, links: { self: '/api/health', status: '/api/health/status' } };
    const observed = (body: unknown, headers: Record<string, string> = {}): Observed => ({
      method: 'GET',
      path: '/api/health',
      status: 200,
      headers: { 'content-type': 'application/health+json; charset=utf-8', 'cache-control': 'no-store', vary: 'Accept', ...headers },
      body,
    });
    expect(contract.problems(observed(base))).toEqual([]);
    const summary = { componentId: 'a', componentType: 'component', status: 'pass', links: { about: '/api/health/service/a' } };
    expect(contract.problems(observed({ ...base, checks: { 'a:heartbeat': [summary] } }))).toEqual([]);
    for (const body of [
      { ...base, status: 'ok' },
      { ...base, checks: { 'a:b:heartbeat': [summary] } },
      { ...base, checks: { 'a:heartbeat': [{ ...summary, output: 'secret' }] } },
      { ...base, checks: { 'a:heartbeat': [] } },
    ]) {
      expect([body, contract.problems(observed(body)).length > 0]).toEqual([body, true]);
    }
    expect(contract.problems(observed(base, { vary: 'Origin' }))).not.toEqual([]);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"></svg>';
    const badgeAnswer = (headers: Record<string, string>): Observed => ({
      method: 'GET',
      path: '/api/health/badge.svg',
      status: 200,
      headers: { 'content-type': 'image/svg+xml; charset=utf-8', ...headers },
      body: svg,
    });
    const good = {
      etag: 'W/"1f4-abc"',
      'cache-control': 'public, max-age=60',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    };
    expect(contract.problems(badgeAnswer(good))).toEqual([]);
    expect(contract.problems(badgeAnswer({ ...good, 'cache-control': 'no-store' }))).not.toEqual([]);
    expect(contract.problems(badgeAnswer({ ...good, 'content-security-policy': 'default-src *' }))).not.toEqual([]);
  });
});

describe('the check itself', () => {
  // A separate instance: these checks must not count as exercising the document.
  const probe = new Contract();

  async function realStatusAnswer(): Promise<Observed> {
    setup().manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const observed = observe(await request((fixture as Fixture).app).get('/api/health/status'));
    expect(probe.problems(observed)).toEqual([]);
    return observed;
  }

  it('rejects a body missing a required key', async () => {
    const observed = await realStatusAnswer();
    const body = observed.body as { services: Record<string, Record<string, unknown>>; overall_status?: string };
    const withoutOverall = { ...body };
    delete withoutOverall.overall_status;
    expect(probe.schema('HealthStatus')(withoutOverall)).toBe(false);
    expect(probe.problems({ ...observed, body: withoutOverall }).join('\n')).toMatch(/must have required property 'overall_status'/);

    const entry = { ...body.services.save_worker };
    delete entry.last_heartbeat;
    const withoutLastHeartbeat = { ...body, services: { save_worker: entry } };
    expect(probe.problems({ ...observed, body: withoutLastHeartbeat }).join('\n')).toMatch(
      /\/services\/save_worker must have required property 'last_heartbeat'/,
    );
  });

  it('rejects a wrong value, a missing header and a wrong content type', async () => {
    const observed = await realStatusAnswer();
    const body = observed.body as { services: Record<string, Record<string, unknown>> };
    const badStatus = { ...body, services: { save_worker: { ...body.services.save_worker, status: 'fine' } } };
    expect(probe.problems({ ...observed, body: badStatus }).join('\n')).toMatch(/status must be equal to one of the allowed values/);
    const badTime = { ...body, services: { save_worker: { ...body.services.save_worker, last_heartbeat: '2024-05-01 12:00' } } };
    expect(probe.problems({ ...observed, body: badTime })).not.toEqual([]);
    expect(probe.problems({ ...observed, headers: { ...observed.headers, 'cache-control': undefined } }).join('\n')).toMatch(
      /required header Cache-Control is missing/,
    );
    expect(probe.problems({ ...observed, headers: { ...observed.headers, 'content-type': 'text/html' } }).join('\n')).toMatch(
      /content type "text\/html" is not one of application\/json/,
    );
  });

  it('fails an answer whose status or path the document does not declare', async () => {
    const observed = await realStatusAnswer();
    expect(() => probe.problems({ ...observed, status: 502 })).toThrow(/does not document status 502 for GET \/api\/health\/status/);
    expect(() => probe.problems({ ...observed, path: '/api/health/live', status: 503 })).toThrow(/does not document status 503/);
    expect(() => probe.problems({ ...observed, method: 'POST', status: 200 })).toThrow(/does not document status 200 .*wrongMethod/);
    expect(() => probe.problems({ ...observed, path: '/elsewhere' })).toThrow(/not in the contract/);
  });

  /** A real answer from the fixture's app, checked clean first so each mutation below is the only fault. */
  async function realAnswer(path: string): Promise<Observed> {
    const observed = observe(await request((fixture as Fixture).app).get(path));
    expect(probe.problems(observed)).toEqual([]);
    return observed;
  }

  it('rejects a history with a ratio out of range, a wrong status word or a missing key', async () => {
    const { manager, clock } = setup();
    manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    clock.advance(1200);
    const observed = await realAnswer('/api/health/service/save_worker/history');
    type History = { uptime: Record<string, unknown>; transitions: Record<string, unknown>[] };
    const body = observed.body as History;
    expect(body.transitions).toHaveLength(1);
    const with24h = (value: unknown) => ({ ...observed, body: { ...body, uptime: { ...body.uptime, '24h': value } } });
    expect(probe.problems(with24h(1.5)).join('\n')).toMatch(/\/uptime\/24h must be <= 1/);
    expect(probe.problems(with24h(-0.1)).join('\n')).toMatch(/\/uptime\/24h must be >= 0/);
    expect(probe.problems(with24h('99.9%')).join('\n')).toMatch(/\/uptime\/24h must be number/);
    const badTo = { ...body, transitions: [{ ...body.transitions[0], to: 'down' }] };
    expect(probe.problems({ ...observed, body: badTo }).join('\n')).toMatch(
      /\/transitions\/0\/to must be equal to one of the allowed values/,
    );
    const noReason = { ...body, transitions: [{ ...body.transitions[0], reason: undefined }] };
    expect(probe.problems({ ...observed, body: JSON.parse(JSON.stringify(noReason)) }).join('\n')).toMatch(
      /must have required property 'reason'/,
    );
    const noSevenDays = { ...body, uptime: { '24h': 1 } };
    expect(probe.problems({ ...observed, body: noSevenDays }).join('\n')).toMatch(/must have required property '7d'/);

    // The service body's new key is required, and a date-time or null.
    const service = await realAnswer('/api/health/service/save_worker');
    const { started_at: _startedAt, ...withoutStartedAt } = service.body as Record<string, unknown>;
    expect(probe.problems({ ...service, body: withoutStartedAt }).join('\n')).toMatch(/must have required property 'started_at'/);
    expect(probe.problems({ ...service, body: { ...(service.body as object), started_at: 'yesterday' } })).not.toEqual([]);
  });

  it('rejects a gap or a day off its schema, an exported service without daily, a bad days 400 and a live without its store', async () => {
    const { manager, clock } = setup();
    manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    clock.advance(1200);
    const observed = await realAnswer('/api/health/service/save_worker/history?days=3');
    type Day = Record<string, unknown>;
    const body = observed.body as { daily: Day[] };
    const problems = (changed: unknown) => probe.problems({ ...observed, body: changed }).join('\n');
    const gap = { start: '2024-05-01T12:00:00.000Z', end: '2024-05-01T12:05:00.000Z', reason: 'monitor offline' };
    expect(problems({ ...body, gaps: [gap] })).toBe('');
    expect(problems({ ...body, gaps: [{ ...gap, reason: 'restart' }] })).toMatch(
      /\/gaps\/0\/reason must be equal to one of the allowed values/,
    );
    expect(problems({ ...body, gaps: [{ ...gap, reason: 'paused' }] })).toBe('');
    expect(problems({ ...body, gaps: [{ ...gap, end: 'later' }] })).toMatch(/\/gaps\/0\/end must match/);
    const { gaps: _gaps, ...withoutGaps } = body as Record<string, unknown>;
    expect(problems(withoutGaps)).toMatch(/must have required property 'gaps'/);
    const day = body.daily[0] as Day;
    expect(problems({ ...body, daily: [{ ...day, uptime: 1.2 }] })).toMatch(/\/daily\/0\/uptime must be <= 1/);
    expect(problems({ ...body, daily: [{ ...day, date: '1 May 2024' }] })).toMatch(/\/daily\/0\/date must match/);
    expect(problems({ ...body, daily: [{ ...day, downtime_seconds: 0.5 }] })).toMatch(/\/daily\/0\/downtime_seconds must be integer/);
    const { pulses: _pulses, ...withoutPulses } = day;
    expect(problems({ ...body, daily: [withoutPulses] })).toMatch(/must have required property 'pulses'/);

    const exported = await realAnswer('/api/health/export');
    const services = (exported.body as { services: Record<string, unknown>[] }).services;
    const { daily: _daily, ...withoutDaily } = services[0] as Record<string, unknown>;
    expect(probe.problems({ ...exported, body: { ...(exported.body as object), services: [withoutDaily] } }).join('\n')).toMatch(
      /must have required property 'daily'/,
    );

    const refused = await realAnswer('/api/health/service/save_worker/history?days=0');
    expect(probe.problems({ ...refused, body: { error: 'x' } }).join('\n')).toMatch(/must have required property 'parameter'/);
    expect(probe.problems({ ...refused, body: { ...(refused.body as object), parameter: 'format' } }).join('\n')).toMatch(/parameter/);

    const live = await realAnswer('/api/health/live');
    const liveBody = live.body as { store: Record<string, unknown> };
    const { store: _store, ...withoutStore } = liveBody;
    expect(probe.problems({ ...live, body: withoutStore }).join('\n')).toMatch(/must have required property 'store'/);
    expect(probe.problems({ ...live, body: { ...liveBody, store: { ...liveBody.store, state: 'broken' } } })).not.toEqual([]);
    expect(probe.problems({ ...live, body: { ...liveBody, store: { ...liveBody.store, last_write: 'yesterday' } } })).not.toEqual([]);
  });

  it('rejects a CSV export with LF line ends, an unguarded formula, an unquoted field, a missing column or a bad ratio', async () => {
    const { manager } = setup();
    manager.heartbeat({ tag: '=cmd', interval: 30 }).error('x;=1+1');
    const observed = await realAnswer('/api/health/export?format=csv');
    const text = observed.body as string;
    expect(text).toContain(`\r\n"'=cmd",`);
    expect(text).toContain(`,"error: x;'=1+1",`);
    const problems = (body: string) => probe.problems({ ...observed, body }).join('\n');
    expect(problems(text)).toBe('');
    expect(problems(text.replace(/\r\n/g, '\n'))).toMatch(/text~1csv\/schema: \(root\) must match pattern/);
    expect(problems(text.replace("'=cmd", '=cmd'))).toMatch(/must match pattern/);
    expect(problems(text.replace(";'=1+1", ';=1+1'))).toMatch(/must match pattern/);
    expect(problems(text.replace('"healthy"', 'healthy'))).toMatch(/must match pattern/);
    expect(problems(text.replace(',"1","1"\r\n', ',"1"\r\n'))).toMatch(/must match pattern/);
    expect(problems(text.replace(',"1","1"\r\n', ',"100","1"\r\n'))).toMatch(/must match pattern/);
    expect(problems(text.replace('uptime_7d', 'uptime_week'))).toMatch(/must match pattern/);
    expect(problems(text.slice(0, -2))).toMatch(/must match pattern/);
    // And the JSON export: generated_at is a date-time.
    const json = await realAnswer('/api/health/export');
    expect(probe.problems({ ...json, body: { ...(json.body as object), generated_at: 'now' } }).join('\n')).toMatch(/generated_at/);
  });

  it('rejects an export 400 without the format, and a stream 503 with a bad limit', async () => {
    setup();
    const refused = await realAnswer('/api/health/export?format=xml');
    expect(probe.problems({ ...refused, body: { error: 'x' } }).join('\n')).toMatch(/must have required property 'format'/);
    void fixture?.manager.close();
    const closed = await realAnswer(STREAM_PATH);
    expect(probe.problems({ ...closed, body: { error: 'x', limit: 0 } }).join('\n')).toMatch(/must match exactly one schema in oneOf/);
    expect(probe.problems({ ...closed, body: { limit: 3 } }).join('\n')).toMatch(/must have required property 'error'/);
  });

  it('rejects stream events that are undeclared, not JSON, or off their schema, and a frame with two data lines', async () => {
    const { manager, clock } = setup();
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    const client = await openEvents(await listen());
    worker.pulse();
    clock.advance(250);
    await client.waitFor(1, 'pulse');
    const observed = observeStream(client);
    expect(probe.problems(observed)).toEqual([]);
    const [snapshot, pulse] = client.events.map((event) => ({
      event: event.event,
      data: JSON.parse(event.data) as Record<string, unknown>,
    }));
    expect(snapshot?.event).toBe('snapshot');
    expect(pulse?.event).toBe('pulse');
    const check = (event: string, data: unknown) =>
      probe.eventProblems(observed, { event, data: typeof data === 'string' ? data : JSON.stringify(data) }).join('\n');
    expect(check('snapshot', snapshot?.data)).toBe('');
    expect(check('pulse', pulse?.data)).toBe('');

    expect(check('message', pulse?.data)).toMatch(/not a documented event; documented: snapshot, status, pulse/);
    expect(check('pulse', '{"services":')).toMatch(/data is not JSON/);
    expect(check('pulse', { services: { save_worker: { total_pulses: -1, last_heartbeat: null } } })).toMatch(
      /total_pulses must be >= 0.*last_heartbeat must be string|last_heartbeat must be string.*total_pulses must be >= 0/,
    );
    expect(check('pulse', { services: {} })).toMatch(/\/services must NOT have fewer than 1 properties/);
    const { time: _time, ...withoutTime } = snapshot?.data as Record<string, unknown>;
    expect(check('snapshot', withoutTime)).toMatch(/must have required property 'time'/);
    // A summary entry is a summary snapshot's; one with a detail added, or without its at-risk flag, is neither alternative.
    const summaryEntry = { service: 'save_worker', status: 'healthy', paused: false, group: null, at_risk: false };
    expect(check('snapshot', { ...snapshot?.data, services: [summaryEntry] })).toBe('');
    const { at_risk: _atRisk, ...withoutAtRisk } = summaryEntry;
    expect(check('snapshot', { ...snapshot?.data, services: [withoutAtRisk] })).toMatch(
      /\/services\/0 must have required property 'at_risk'/,
    );
    expect(check('trend', { service: 'save_worker', at_risk: true, reason: 'gaps growing' })).toMatch(
      /must match exactly one schema in oneOf/,
    );
    expect(check('snapshot', { ...snapshot?.data, services: [{ service: 'save_worker', status: 'healthy', total_pulses: 1 }] })).toMatch(
      /\/services\/0 must have required property/,
    );
    expect(
      check('status', {
        service: 'save_worker',
        from: 'healthy',
        to: 'warning',
        time: '2024-05-01T12:00:00.000Z',
        reason: 'x',
        missed: 0,
        overall_status: 'warning',
      }),
    ).toMatch(/must have required property 'health'/);
    // A frame whose data spans two lines, as an unescaped line break would make it.
    const body = observed.body as string;
    expect(probe.problems({ ...observed, body: `${body}id: 9\nevent: status\ndata: {"a":\ndata: 1}\n\n` }).join('\n')).toMatch(
      /text~1event-stream\/schema: \(root\) must match pattern/,
    );
    expect(probe.problems({ ...observed, headers: { ...observed.headers, 'x-accel-buffering': undefined } }).join('\n')).toMatch(
      /required header X-Accel-Buffering is missing/,
    );
  });

  /** A real answer to any request, checked clean first. */
  async function realCall(method: Method, path: string, send: Send = {}): Promise<Observed> {
    let test = request((fixture as Fixture).app)[method](path);
    if (send.headers) test = test.set(send.headers);
    if (send.type !== undefined) test = test.set('Content-Type', send.type);
    if (send.body !== undefined) test = test.send(send.body);
    const observed = observe(await test);
    expect(probe.problems(observed)).toEqual([]);
    return observed;
  }

  it('rejects a WebSocket 101 with a body or without its accept header, and messages not one { event, data }, undeclared or off their schema', () => {
    const handshake: Observed = {
      method: 'GET',
      path: WS_PATH,
      status: 101,
      headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' },
      body: '',
    };
    expect(probe.problems(handshake)).toEqual([]);
    expect(probe.problems({ ...handshake, body: '{}' }).join('\n')).toMatch(/the response has no content, but a body was sent/);
    expect(probe.problems({ ...handshake, headers: { ...handshake.headers, 'sec-websocket-accept': undefined } }).join('\n')).toMatch(
      /required header Sec-WebSocket-Accept is missing/,
    );
    const status = { service: 'save_worker', status: 'critical', overall_status: 'critical' };
    expect(probe.messageProblems(handshake, JSON.stringify({ event: 'status', data: status }))).toEqual([]);
    expect(probe.messageProblems(handshake, 'event: status').join('\n')).toMatch(/not JSON/);
    expect(probe.messageProblems(handshake, JSON.stringify({ event: 'status', data: status, id: 1 })).join('\n')).toMatch(
      /must NOT have additional properties/,
    );
    expect(probe.messageProblems(handshake, JSON.stringify({ event: 'message', data: status })).join('\n')).toMatch(
      /must be equal to one of the allowed values/,
    );
    expect(probe.messageProblems(handshake, JSON.stringify({ event: 'status', data: { service: 'save_worker' } })).join('\n')).toMatch(
      /data does not match .*x-events\/status/,
    );
    expect(probe.messageProblems({ ...handshake, path: STREAM_PATH, status: 200 }, '{}').join('\n')).toMatch(/declares no x-message/);
  });

  it('rejects a remote 204 with a body or a content type, a 401 without its challenge, and a 404 or 429 of the wrong shape', async () => {
    setup({ remote_token: TOKEN, services: { some_service: { interval: 30 } }, auto_register: true, max_services: 1 });
    const PULSE = '/api/health/service/some_service/pulse';
    const accepted = await realCall('post', PULSE, { headers: AUTH });
    expect(accepted.status).toBe(204);
    expect(probe.problems({ ...accepted, body: 'ok' }).join('\n')).toMatch(/has no content, but a body was sent/);
    expect(probe.problems({ ...accepted, headers: { ...accepted.headers, 'content-type': 'application/json' } }).join('\n')).toMatch(
      /has no content, but content type/,
    );
    expect(probe.problems({ ...accepted, headers: { ...accepted.headers, 'cache-control': undefined } }).join('\n')).toMatch(
      /required header Cache-Control is missing/,
    );
    expect(() => probe.problems({ ...accepted, status: 200 })).toThrow(/does not document status 200 for POST/);

    const refused = await realCall('post', PULSE);
    expect(refused.status).toBe(401);
    expect(probe.problems({ ...refused, headers: { ...refused.headers, 'www-authenticate': undefined } }).join('\n')).toMatch(
      /required header WWW-Authenticate is missing/,
    );
    expect(probe.problems({ ...refused, headers: { ...refused.headers, 'www-authenticate': 'Basic' } }).join('\n')).toMatch(
      /WWW-Authenticate.*must be equal to constant/,
    );
    expect(probe.problems({ ...refused, body: { error: 'x', token: TOKEN } }).join('\n')).toMatch(/must NOT have additional properties/);

    await realCall('post', '/api/health/service/first/pulse', { headers: AUTH });
    const full = await realCall('post', '/api/health/service/second/pulse', { headers: AUTH });
    expect(full.status).toBe(429);
    expect(probe.problems({ ...full, body: { error: 'x' } }).join('\n')).toMatch(/must have required property 'service'/);
    const tooBig = await realCall('post', PULSE, json({ pad: 'x'.repeat(5000) }));
    expect(tooBig.status).toBe(413);
    expect(probe.problems({ ...tooBig, body: { error: 'x', limit: 4096 } }).join('\n')).toMatch(/must NOT have additional properties/);
    // A 404 is one service not found or remote heartbeats off: neither is a bare error, and an off answer lists no endpoint.
    const notFound = await realCall('post', '/api/health/service/%E0%A4%A/pulse');
    expect(probe.problems({ ...notFound, body: { error: 'x', endpoints: [] } })).toEqual([]);
    expect(probe.problems({ ...notFound, body: { error: 'x', endpoints: ['/api/health/status'] } }).join('\n')).toMatch(
      /must match exactly one schema in oneOf/,
    );
    expect(probe.problems({ ...notFound, body: { error: 'x' } }).join('\n')).toMatch(
      /must have required property 'service'.*must match exactly one schema in oneOf/,
    );
  });

  it('rejects a service body without its run, pause or suppressed_by, or with them off their schemas, and pause answers of the wrong shape', async () => {
    setup({ remote_token: TOKEN, services: { job: { interval: 60 } } });
    await realCall('post', '/api/health/service/job/start', { headers: AUTH });
    const service = await realAnswer('/api/health/service/job');
    const body = service.body as Record<string, unknown> & { run: Record<string, unknown> };
    const problems = (changed: Record<string, unknown>) => probe.problems({ ...service, body: { ...body, ...changed } }).join('\n');
    for (const key of ['run', 'paused', 'suppressed_by']) {
      const { [key]: _left, ...without } = body;
      expect(probe.problems({ ...service, body: without }).join('\n')).toMatch(new RegExp(`must have required property '${key}'`));
    }
    expect(problems({ run: { ...body.run, state: 'done' } })).toMatch(/\/run\/state must be equal to one of the allowed values/);
    expect(problems({ run: { ...body.run, started_at: null } })).toMatch(
      /\/run\/started_at must be string; \/run must match "then" schema/,
    );
    expect(problems({ run: { ...body.run, state: 'idle' } })).toMatch(/\/run\/started_at must be null.*must match "else" schema/);
    expect(problems({ run: { ...body.run, last_exit_code: 256 } })).toMatch(/\/run\/last_exit_code must be <= 255/);
    expect(problems({ run: { ...body.run, last_duration_seconds: -1 } })).toMatch(/\/run\/last_duration_seconds must be >= 0/);
    expect(problems({ paused: { reason: 'x', until: null } })).toMatch(
      /\/paused must have required property 'since'.*must match exactly one schema in oneOf/,
    );
    expect(problems({ suppressed_by: 3 })).toMatch(/\/suppressed_by must be string,null/);

    const paused = await realCall('post', '/api/health/service/job/pause', { headers: AUTH });
    expect(paused.status).toBe(200);
    expect(probe.problems({ ...paused, body: { ...(paused.body as object), until: '2026-12-01T14:00:00' } }).join('\n')).toMatch(
      /\/until must match exactly one schema in oneOf/,
    );
    const resumed = await realCall('post', '/api/health/service/job/resume', { headers: AUTH });
    expect(probe.problems({ ...resumed, body: { resumed: 'yes' } }).join('\n')).toMatch(/\/resumed must be boolean/);
    expect(probe.problems({ ...resumed, body: { resumed: true, until: null } }).join('\n')).toMatch(/must NOT have additional properties/);
    const closed = await realCall('post', '/api/health/service/nope/pause', { headers: AUTH });
    expect(closed.status).toBe(404);
    expect(probe.problems({ ...closed, body: { error: 'x' } }).join('\n')).toMatch(/must have required property 'service'/);
  });

  it("rejects an Allow header that is not the path's methods, and the off 404 on a path it is not for", async () => {
    setup({ remote_token: TOKEN });
    const remote = await realCall('get', '/api/health/service/x/pulse');
    expect(probe.problems({ ...remote, headers: { ...remote.headers, allow: 'GET, HEAD' } }).join('\n')).toMatch(
      /header Allow: "GET, HEAD" is not the methods of \/api\/health\/service\/\{name\}\/pulse, "POST"/,
    );
    const read = await realCall('post', '/api/health/status');
    expect(probe.problems({ ...read, headers: { ...read.headers, allow: 'POST' } }).join('\n')).toMatch(
      /header Allow: "POST" is not the methods of \/api\/health\/status, "GET, HEAD"/,
    );
    expect(probe.problems({ ...read, headers: { ...read.headers, allow: 'GET, POST' } }).join('\n')).toMatch(
      /must be equal to one of the allowed values/,
    );
    // GET alone is the WebSocket's, whose handshake HEAD cannot make, and no other path's.
    expect(probe.problems({ ...read, headers: { ...read.headers, allow: 'GET' } }).join('\n')).toMatch(
      /header Allow: "GET" is not the methods of \/api\/health\/status, "GET, HEAD"/,
    );
    const ws = await realCall('post', '/api/health/ws');
    expect(probe.problems({ ...ws, headers: { ...ws.headers, allow: 'GET, HEAD' } }).join('\n')).toMatch(
      /header Allow: "GET, HEAD" is not the methods of \/api\/health\/ws, "GET"/,
    );
    // The unknown-path 404 for a wrong method is documented on the remote paths only.
    const unknown = await realCall('get', '/api/health/nope');
    expect(() => probe.problems({ ...unknown, method: 'DELETE', path: '/api/health/status' })).toThrow(
      /only on .*pulse.*not for DELETE \/api\/health\/status/,
    );
    expect(probe.problems({ ...unknown, method: 'DELETE', path: '/api/health/service/x/error' })).toEqual([]);
  });

  it('rejects request bodies the remote operations do not take', () => {
    const sent = (method: string, path: string, contentType: string | undefined, body: string | undefined) =>
      probe
        .requestProblems({ method, path, ...(contentType === undefined ? {} : { contentType }), ...(body === undefined ? {} : { body }) })
        .join('\n');
    const PULSE = '/api/health/service/x/pulse';
    const ERROR = '/api/health/service/x/error';
    expect(sent('POST', PULSE, undefined, undefined)).toBe('');
    expect(sent('POST', ERROR, undefined, undefined)).toMatch(/a body is required/);
    expect(sent('POST', ERROR, 'application/json', '{"message":""}')).toMatch(/\/message must NOT have fewer than 1 characters/);
    expect(sent('POST', ERROR, 'application/json', '{"message":"x","critical":"yes"}')).toMatch(/\/critical must be boolean/);
    expect(sent('POST', PULSE, 'application/json', '{"metrics":{"queue_depth":"12"}}')).toMatch(/\/metrics\/queue_depth must be number/);
    expect(sent('POST', PULSE, 'application/json', '{"metrics":{"queue-depth":12}}')).toMatch(/\/metrics property name must be valid/);
    expect(sent('POST', PULSE, 'text/plain', 'alive')).toMatch(/content type "text\/plain" is not one of application\/json/);
    expect(sent('POST', PULSE, 'application/json', '{')).toMatch(/not JSON/);
    expect(sent('GET', '/api/health/status', 'application/json', '{}')).toMatch(/takes no body/);
    expect(() => sent('GET', PULSE, undefined, undefined)).toThrow(/no operation for GET/);
  });

  it('rejects summaries that leak a detail or mix in full entries, and refusals of the wrong shape', async () => {
    setup({ remote_token: TOKEN }, { details: 'never' });
    fixture?.manager.heartbeat({ tag: 'save_worker', interval: 30 }).error('x', { critical: true });
    fixture?.manager.heartbeat({ tag: 'other', interval: 30 }).start();
    const status = await realAnswer('/api/health/status');
    type Summary = { services: Record<string, Record<string, unknown>>; overall_status: string };
    const body = status.body as Summary;
    expect(body.services.save_worker).toEqual({ status: 'critical' });
    const leak = { ...body, services: { ...body.services, save_worker: { status: 'critical', consecutive_failures: 1 } } };
    expect(probe.problems({ ...status, body: leak }).join('\n')).toMatch(/must match a schema in anyOf/);
    const full = { status: 'healthy', last_heartbeat: null, interval: 30, consecutive_failures: 0 };
    const mixed = { ...body, services: { ...body.services, other: full } };
    expect(probe.problems({ ...status, body: mixed }).join('\n')).toMatch(/must match a schema in anyOf/);
    expect(probe.problems({ ...status, body: { ...body, time: 'now' } }).join('\n')).toMatch(/must match a schema in anyOf/);

    const service = await realAnswer('/api/health/service/save_worker');
    expect(
      probe.problems({ ...service, body: { service: 'save_worker', status: 'critical', last_error: { message: 'x' } } }).join('\n'),
    ).toMatch(/must match exactly one schema in oneOf/);
    expect(probe.problems({ ...service, body: { service: 'save_worker' } }).join('\n')).toMatch(/must have required property 'status'/);

    const forbidden = await realAnswer('/api/health/export');
    expect(forbidden.status).toBe(403);
    expect(probe.problems({ ...forbidden, body: { error: 'x', services: [] } }).join('\n')).toMatch(/must NOT have additional properties/);
    expect(() => probe.problems({ ...forbidden, path: '/api/health/live' })).toThrow(/does not document status 403/);

    void fixture?.manager.close();
    setup({ remote_token: TOKEN }, { details: 'when-authorized' });
    const unauthorized = await realAnswer('/api/health/service/x/history');
    expect(unauthorized.status).toBe(401);
    expect(probe.problems({ ...unauthorized, headers: { ...unauthorized.headers, 'www-authenticate': undefined } }).join('\n')).toMatch(
      /required header WWW-Authenticate is missing/,
    );
  });

  it('rejects summary events with a detail or the change itself, pulse names without details, and a status event without or against its cause', () => {
    const observed: Observed = {
      method: 'GET',
      path: STREAM_PATH,
      status: 200,
      headers: { 'content-type': 'text/event-stream; charset=utf-8' },
      body: '',
    };
    const check = (event: string, data: unknown) => probe.eventProblems(observed, { event, data: JSON.stringify(data) }).join('\n');
    const time = '2024-05-01T12:00:00.000Z';
    const summary = { service: 'w', status: 'warning', overall_status: 'warning' };
    expect(check('status', summary)).toBe('');
    expect(check('status', { ...summary, reason: 'error: secret' })).toMatch(/must match exactly one schema in oneOf/);
    // What it changed from, and when, is history: a summary does not carry it.
    expect(check('status', { ...summary, from: 'healthy' })).toMatch(/must match exactly one schema in oneOf/);
    expect(check('status', { ...summary, time })).toMatch(/must match exactly one schema in oneOf/);
    // Pulses go only to callers who see details: a bare list of names is no pulse event.
    expect(check('pulse', { services: ['w'] })).toMatch(/\/services must be object/);
    const change = { service: 'w', from: 'healthy', to: 'warning', time, overall_status: 'warning' };
    expect(
      check('snapshot', { overall_status: 'healthy', services: [{ service: 'w', status: 'healthy', last_error: null }], time }),
    ).toMatch(/must match a schema in anyOf/);

    const health = {
      service: 'w',
      status: 'warning',
      last_heartbeat: time,
      uptime: '1m',
      started_at: time,
      total_pulses: 0,
      error_count: 0,
      interval: 30,
      consecutive_failures: 1,
      critical: true,
      active: true,
      last_error: null,
      metrics: {},
      run: { state: 'idle', started_at: null, last_duration_seconds: null, last_exit_code: null, runtime_anomaly: null },
      paused: null,
      suppressed_by: null,
      group: null,
      trend: learningTrend(0),
    };
    const event = { ...change, reason: 'missed 1 heartbeat', cause: 'missed', missed: 1, health, paused: false, suppressed_by: null };
    expect(check('status', event)).toBe('');
    // A job run past max_runtime is a cause of its own, never one of a recovery.
    expect(check('status', { ...event, reason: 'run exceeded max_runtime (10m)', cause: 'runtime' })).toBe('');
    expect(check('status', { ...event, to: 'healthy', cause: 'runtime' })).toMatch(/\/cause must be equal to constant/);
    expect(check('status', { ...event, paused: 'no' })).toMatch(/\/paused must be boolean/);
    const { suppressed_by: _suppressed, ...withoutSuppressedBy } = event;
    expect(check('status', withoutSuppressedBy)).toMatch(/must have required property 'suppressed_by'/);
    const { cause: _cause, ...withoutCause } = event;
    expect(check('status', withoutCause)).toMatch(/must have required property 'cause'/);
    expect(check('status', { ...event, cause: 'timeout' })).toMatch(/\/cause must be equal to one of the allowed values/);
    expect(check('status', { ...event, cause: 'recovered' })).toMatch(
      /\/cause must be equal to one of the allowed values.*must match "else" schema/,
    );
    expect(check('status', { ...event, to: 'healthy', cause: 'missed' })).toMatch(
      /\/cause must be equal to constant.*must match "then" schema/,
    );
  });

  it('rejects a service without metrics or with bad ones, and a live body without its lag, stalls or last stall', async () => {
    const { manager, clock } = setup();
    manager.heartbeat({ tag: 'save_worker', interval: 30 }).pulse({ queue_depth: 12 });
    const service = await realAnswer('/api/health/service/save_worker');
    const body = service.body as Record<string, unknown>;
    expect(body.metrics).toEqual({ queue_depth: 12 });
    const { metrics: _metrics, ...withoutMetrics } = body;
    expect(probe.problems({ ...service, body: withoutMetrics }).join('\n')).toMatch(/must have required property 'metrics'/);
    expect(probe.problems({ ...service, body: { ...body, metrics: { queue_depth: '12' } } }).join('\n')).toMatch(
      /\/metrics\/queue_depth must be number/,
    );
    expect(probe.problems({ ...service, body: { ...body, metrics: { 'queue-depth': 12 } } }).join('\n')).toMatch(
      /\/metrics property name must be valid/,
    );
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`m${i}`, i]));
    expect(probe.problems({ ...service, body: { ...body, metrics: many } }).join('\n')).toMatch(
      /\/metrics must NOT have more than 20 properties/,
    );

    clock.skip(12_000);
    const live = await realAnswer('/api/health/live');
    const alive = live.body as { stalls: number; last_stall: { time: string; seconds: number } };
    expect(alive.stalls).toBe(1);
    const liveProblems = (changed: Record<string, unknown>) => probe.problems({ ...live, body: { ...alive, ...changed } }).join('\n');
    const { stalls: _stalls, ...withoutStalls } = alive;
    expect(probe.problems({ ...live, body: withoutStalls }).join('\n')).toMatch(/must have required property 'stalls'/);
    expect(liveProblems({ event_loop_lag_seconds: -0.1 })).toMatch(/\/event_loop_lag_seconds must be >= 0/);
    expect(liveProblems({ event_loop_lag_seconds: '0.1s' })).toMatch(/\/event_loop_lag_seconds must be number/);
    expect(liveProblems({ stalls: 1.5 })).toMatch(/\/stalls must be integer/);
    expect(liveProblems({ last_stall: null })).toMatch(/\/stalls must be equal to constant/);
    expect(liveProblems({ stalls: 0 })).toMatch(/\/stalls must be >= 1/);
    expect(liveProblems({ last_stall: { ...alive.last_stall, seconds: 0.1 } })).toMatch(/\/last_stall\/seconds must be >= 0.25/);
    expect(liveProblems({ last_stall: { seconds: 12 } })).toMatch(/\/last_stall must have required property 'time'/);
    expect(liveProblems({ status: 'alive' })).toMatch(/\/status must be equal to constant/);
  });

  it('rejects an endpoint list that is empty or repeats a path, and credits an alternative only to a body that matches it alone', async () => {
    setup();
    const unknown = await realAnswer('/api/health/nope');
    expect(probe.problems({ ...unknown, body: { error: 'x', endpoints: [] } }).join('\n')).toMatch(
      /\/endpoints must NOT have fewer than 1 items/,
    );
    expect(probe.problems({ ...unknown, body: { error: 'x', endpoints: ['/a', '/a'] } }).join('\n')).toMatch(
      /\/endpoints must NOT have duplicate items/,
    );

    const fresh = new Contract();
    const keys = fresh.documentedKeys();
    for (const key of [
      'GET /api/health/status 200 application/json as HealthStatusSummary',
      'GET /api/health/service/{name} 200 application/json as ServiceSummary',
      'POST /api/health/service/{name}/pulse 404 application/json as RemoteOff',
      'GET /api/health/stream 200 event status as StreamStatusSummary',
      'wrongMethod 404',
    ]) {
      expect(keys).toContain(key);
    }
    // With no service listed, full and summary are the same body: it exercises neither.
    const empty = await realAnswer('/api/health/status');
    expect(empty.body).toEqual({ services: {}, overall_status: 'healthy' });
    expect(fresh.problems(empty)).toEqual([]);
    expect([...fresh.exercised]).toEqual(['GET /api/health/status 200']);
    fixture?.manager.heartbeat({ tag: 'w', interval: 30 }).start();
    expect(fresh.problems(await realAnswer('/api/health/status'))).toEqual([]);
    expect([...fresh.exercised]).toEqual(['GET /api/health/status 200', 'GET /api/health/status 200 application/json as HealthStatus']);
  });

  it('rejects a status page with a weaker Content-Security-Policy or without its other headers', async () => {
    setup();
    const observed = await realAnswer('/api/health/ui');
    const csp = observed.headers['content-security-policy'] as string;
    const withCsp = (value: string) =>
      probe.problems({ ...observed, headers: { ...observed.headers, 'content-security-policy': value } }).join('\n');
    expect(withCsp(csp.replace(/script-src [^;]+/, "script-src 'unsafe-inline'"))).toMatch(
      /header Content-Security-Policy: .* must match pattern/,
    );
    expect(withCsp(csp.replace("frame-ancestors 'none'", 'frame-ancestors *'))).toMatch(/must match pattern/);
    expect(withCsp(csp.replace("default-src 'none'", "default-src 'self'"))).toMatch(/must match pattern/);
    expect(withCsp(csp.replace("connect-src 'self'", 'connect-src *'))).toMatch(/must match pattern/);
    for (const name of ['Content-Security-Policy', 'X-Content-Type-Options', 'X-Frame-Options', 'Cache-Control']) {
      expect(probe.problems({ ...observed, headers: { ...observed.headers, [name.toLowerCase()]: undefined } }).join('\n')).toMatch(
        new RegExp(`required header ${name} is missing`),
      );
    }
    expect(probe.problems({ ...observed, headers: { ...observed.headers, 'x-frame-options': 'SAMEORIGIN' } }).join('\n')).toMatch(
      /X-Frame-Options.*must be equal to constant/,
    );
  });
});

// Last: the tests above must have driven every path, and every response the document declares.
describe('coverage of the document', () => {
  it('exercised every path at least once', () => {
    const keys = [...contract.exercised];
    for (const path of contract.paths()) expect([path, keys.some((key) => key.includes(` ${path} `))]).toEqual([path, true]);
  });

  it('exercised every documented response', () => {
    expect(contract.documentedKeys().filter((key) => !contract.exercised.has(key))).toEqual([]);
  });
});

import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { HeartbeatConfig } from '../lib/config';
import { HeartbeatManager } from '../lib/manager';
import { healthRouter, type HealthRouterOptions } from '../lib/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { Contract, type Observed } from './helpers/openapi';
import { openStream, type SseClient } from './helpers/sse';

/**
 * The router against openapi.yaml: real answers, each looked up in the document by its own
 * method, path and status, and checked against what the document declares for it.
 */

interface Fixture {
  app: express.Express;
  manager: HeartbeatManager;
  registry: Registry;
  clock: TestClock;
}

const contract = new Contract();
let fixture: Fixture | undefined;
/** A real server for the event stream, which supertest cannot read while it stays open. */
let server: Server | undefined;
const streams: SseClient[] = [];

type RouterOptions = Omit<HealthRouterOptions, 'manager' | 'registry'>;

function setup(config: HeartbeatConfig = {}, options: RouterOptions = {}): Fixture {
  const clock = createTestClock();
  const manager = new HeartbeatManager({ config: { log_level: 'silent', ...config }, clock });
  const registry = new Registry();
  const app = express();
  app.use(healthRouter({ manager, registry, ...options }));
  fixture = { app, manager, registry, clock };
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

async function openEvents(base: string): Promise<SseClient> {
  const client = await openStream(`${base}${STREAM_PATH}`);
  streams.push(client);
  return client;
}

beforeEach(() => {
  // supertest's sockets and node:http's stream need the real nextTick, setImmediate and queueMicrotask.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
});

afterEach(async () => {
  for (const client of streams.splice(0)) client.close();
  fixture?.manager.close();
  fixture = undefined;
  if (server) {
    const closing = server;
    server = undefined;
    closing.closeAllConnections();
    await new Promise<void>((resolve) => closing.close(() => resolve()));
  }
  jest.restoreAllMocks();
  jest.useRealTimers();
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
  return { method: 'GET', path: STREAM_PATH, status: client.status, headers: flatHeaders(client.headers), body: end === -1 ? '' : raw.slice(0, end + 2) };
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options';

/** Sends a request to the fixture's app and checks the answer against the contract. */
async function call(method: Method, path: string, expectedStatus: number): Promise<request.Response> {
  const app = (fixture as Fixture).app;
  const response = await request(app)[method](path);
  expect(`${method.toUpperCase()} ${path} → ${response.status}`).toBe(`${method.toUpperCase()} ${path} → ${expectedStatus}`);
  const observed = observe(response);
  if (typeof observed.body !== 'string') expect(response.headers['content-type']).toBe(JSON_TYPE);
  expect(contract.problems(observed)).toEqual([]);
  return response;
}

describe('the document', () => {
  const document = contract.document as {
    openapi: string;
    info: { title?: string; version?: string };
    paths: Record<string, Record<string, unknown>>;
    components: { schemas: Record<string, unknown>; parameters: Record<string, { name: string; in: string; required?: boolean }> };
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
        const operation = value as { operationId?: string; summary?: string; responses: Record<string, { description?: string; $ref?: string }> };
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

  it('has component schemas that compile under strict JSON Schema 2020-12', () => {
    for (const name of Object.keys(document.components.schemas)) expect(typeof contract.schema(name)).toBe('function');
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
    jest.spyOn(manager, 'status').mockImplementation(() => {
      throw Object.assign(new URIError('Failed to decode param'), { status: 400 });
    });
    const response = await call('get', '/api/health/status', 400);
    expect(response.body.path).toBe('/api/health/status');
  });

  it('answers a failure with a bare 500', async () => {
    const { manager } = setup();
    jest.spyOn(manager, 'status').mockImplementation(() => {
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
    expect(response.body).toEqual({ service: 'idle_worker', uptime: { '24h': 1, '7d': 1 }, transitions: [] });
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
    expect(response.body.services[2].transitions).toEqual([expect.objectContaining({ to: 'critical', reason: 'critical error: disk full' })]);
    expect(response.headers['content-disposition']).toBeUndefined();
  });

  it('answers format=csv with a 200 attachment, formula-safe and quoted where needed', async () => {
    const { manager, clock } = withHistory();
    for (const tag of ['=HYPERLINK("x")', '+plus', '-minus', '@at', '\ttab', 'a,b']) {
      manager.heartbeat({ tag, interval: 30 }).error('line one\r\nline "two"');
    }
    const response = await call('get', '/api/health/export?format=csv', 200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    // The contract cannot require this header of the CSV alone (the JSON answer shares the status): checked here.
    expect(response.headers['content-disposition']).toBe('attachment; filename="heartbeat-history.csv"');
    const now = new Date(clock.wallNow()).toISOString();
    const rows = response.text.split('\r\n');
    expect(rows[0]).toBe('service,time,from,to,reason,uptime_24h,uptime_7d');
    expect(rows.filter((row) => row.startsWith('save_worker,'))).toHaveLength(3);
    expect(response.text).toContain(`\r\n"'=HYPERLINK(""x"")",${now},healthy,warning,"error: line one\r\nline ""two""",1,1\r\n`);
    for (const name of ["'+plus", "'-minus", "'@at", "'\ttab", '"a,b"']) expect(response.text).toContain(`\r\n${name},${now},`);
    expect(response.text).not.toContain('idle_worker');
    expect(response.text.endsWith('\r\n')).toBe(true);
  });

  it('answers format=csv with the header row alone when nothing has history', async () => {
    setup({ services: { idle_worker: { interval: 60 } } });
    const response = await call('get', '/api/health/export?format=csv', 200);
    expect(response.text).toBe('service,time,from,to,reason,uptime_24h,uptime_7d\r\n');
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
    jest.spyOn(manager, 'exportHistory').mockImplementation(() => {
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
    expect(JSON.parse(status?.data as string)).toMatchObject({ service: 'flask_bridge', from: 'healthy', to: 'critical', missed: 0 });

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
        expect.objectContaining({ service: 'save_worker', from: 'warning', to: 'healthy', health: expect.objectContaining({ status: 'healthy' }) }),
        expect.objectContaining({ service: 'flask_bridge', from: 'critical', to: 'healthy', health: expect.objectContaining({ status: 'healthy' }) }),
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

  it('answers 503 without a limit after the manager closed', async () => {
    setup().manager.close();
    const response = await call('get', STREAM_PATH, 503);
    expect(response.body).toEqual({ error: expect.any(String) });
    expect(response.headers['retry-after']).toBeUndefined();
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
});

describe('probes', () => {
  it('live answers 200 even while critical', async () => {
    setup().manager.heartbeat({ tag: 'core', interval: 30 }).error('x', { critical: true });
    const response = await call('get', '/api/health/live', 200);
    expect(response.body).toMatchObject({ status: 'ok' });
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
    const status = jest.spyOn(manager, 'status');
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
    jest.spyOn(registry, 'metrics').mockRejectedValue(new Error('collector broke'));
    await call('get', '/metrics', 500);
  });
});

describe('everything else', () => {
  it.each<[Method, string]>([
    ['post', '/api/health/status'],
    ['delete', '/api/health/service/save_worker'],
    ['put', '/api/health/live'],
    ['patch', '/api/health/ready'],
    ['options', '/api/health/status'],
    ['post', '/api/health/service/save_worker/history'],
    ['delete', '/api/health/export'],
    ['post', '/api/health/stream'],
    ['put', '/api/health/ui'],
    ['post', '/metrics'],
  ])('answers %s %s with 405 and Allow', async (method, path) => {
    setup();
    const response = await call(method, path, 405);
    expect(response.headers.allow).toBe('GET, HEAD');
  });

  it.each<[Method, string]>([
    ['get', '/api/health/nope'],
    ['get', '/api/health'],
    ['get', '/api/health/service/'],
    ['get', '/api/health/service/a/b'],
    ['post', '/api/health/status/extra'],
    ['get', '/api/health/service/save_worker/history/extra'],
    ['get', '/api/health/export/csv'],
  ])('answers %s %s with 404 and the endpoint list', async (method, path) => {
    setup();
    const response = await call(method, path, 404);
    expect(response.body.endpoints).toEqual(expect.arrayContaining(['/api/health/status', '/api/health/export', STREAM_PATH, '/api/health/ui']));
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
    expect(probe.problems({ ...observed, body: badTo }).join('\n')).toMatch(/\/transitions\/0\/to must be equal to one of the allowed values/);
    const noReason = { ...body, transitions: [{ ...body.transitions[0], reason: undefined }] };
    expect(probe.problems({ ...observed, body: JSON.parse(JSON.stringify(noReason)) }).join('\n')).toMatch(/must have required property 'reason'/);
    const noSevenDays = { ...body, uptime: { '24h': 1 } };
    expect(probe.problems({ ...observed, body: noSevenDays }).join('\n')).toMatch(/must have required property '7d'/);

    // The service body's new key is required, and a date-time or null.
    const service = await realAnswer('/api/health/service/save_worker');
    const { started_at: _startedAt, ...withoutStartedAt } = service.body as Record<string, unknown>;
    expect(probe.problems({ ...service, body: withoutStartedAt }).join('\n')).toMatch(/must have required property 'started_at'/);
    expect(probe.problems({ ...service, body: { ...(service.body as object), started_at: 'yesterday' } })).not.toEqual([]);
  });

  it('rejects a CSV export with LF line ends, an unguarded formula, a missing column or a bad ratio', async () => {
    const { manager } = setup();
    manager.heartbeat({ tag: '=cmd', interval: 30 }).error('x');
    const observed = await realAnswer('/api/health/export?format=csv');
    const text = observed.body as string;
    expect(text).toContain("\r\n'=cmd,");
    const problems = (body: string) => probe.problems({ ...observed, body }).join('\n');
    expect(problems(text.replace(/\r\n/g, '\n'))).toMatch(/text~1csv\/schema: \(root\) must match pattern/);
    expect(problems(text.replace("'=cmd", '=cmd'))).toMatch(/must match pattern/);
    expect(problems(text.replace(',1,1\r\n', ',1\r\n'))).toMatch(/must match pattern/);
    expect(problems(text.replace(',1,1\r\n', ',100,1\r\n'))).toMatch(/must match pattern/);
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
    fixture?.manager.close();
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
    const [snapshot, pulse] = client.events.map((event) => ({ event: event.event, data: JSON.parse(event.data) as Record<string, unknown> }));
    expect(snapshot?.event).toBe('snapshot');
    expect(pulse?.event).toBe('pulse');
    const check = (event: string, data: unknown) => probe.eventProblems(observed, { event, data: typeof data === 'string' ? data : JSON.stringify(data) }).join('\n');
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
    expect(check('snapshot', { ...snapshot?.data, services: [{ service: 'save_worker', status: 'healthy' }] })).toMatch(/\/services\/0 must have required property/);
    expect(check('status', { service: 'save_worker', from: 'healthy', to: 'warning', time: '2024-05-01T12:00:00.000Z', reason: 'x', missed: 0, overall_status: 'warning' })).toMatch(
      /must have required property 'health'/,
    );
    // A frame whose data spans two lines, as an unescaped line break would make it.
    const body = observed.body as string;
    expect(probe.problems({ ...observed, body: `${body}id: 9\nevent: status\ndata: {"a":\ndata: 1}\n\n` }).join('\n')).toMatch(/text~1event-stream\/schema: \(root\) must match pattern/);
    expect(probe.problems({ ...observed, headers: { ...observed.headers, 'x-accel-buffering': undefined } }).join('\n')).toMatch(/required header X-Accel-Buffering is missing/);
  });

  it('rejects a status page with a weaker Content-Security-Policy or without its other headers', async () => {
    setup();
    const observed = await realAnswer('/api/health/ui');
    const csp = observed.headers['content-security-policy'] as string;
    const withCsp = (value: string) => probe.problems({ ...observed, headers: { ...observed.headers, 'content-security-policy': value } }).join('\n');
    expect(withCsp(csp.replace(/script-src [^;]+/, "script-src 'unsafe-inline'"))).toMatch(/header Content-Security-Policy: .* must match pattern/);
    expect(withCsp(csp.replace("frame-ancestors 'none'", "frame-ancestors *"))).toMatch(/must match pattern/);
    expect(withCsp(csp.replace("default-src 'none'", "default-src 'self'"))).toMatch(/must match pattern/);
    expect(withCsp(csp.replace("connect-src 'self'", 'connect-src *'))).toMatch(/must match pattern/);
    for (const name of ['Content-Security-Policy', 'X-Content-Type-Options', 'X-Frame-Options', 'Cache-Control']) {
      expect(probe.problems({ ...observed, headers: { ...observed.headers, [name.toLowerCase()]: undefined } }).join('\n')).toMatch(
        new RegExp(`required header ${name} is missing`),
      );
    }
    expect(probe.problems({ ...observed, headers: { ...observed.headers, 'x-frame-options': 'SAMEORIGIN' } }).join('\n')).toMatch(/X-Frame-Options.*must be equal to constant/);
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

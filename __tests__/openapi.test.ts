import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { HeartbeatConfig } from '../lib/config';
import { HeartbeatManager } from '../lib/manager';
import { healthRouter } from '../lib/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { Contract, type Observed } from './helpers/openapi';

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

function setup(config: HeartbeatConfig = {}): Fixture {
  const clock = createTestClock();
  const manager = new HeartbeatManager({ config: { log_level: 'silent', ...config }, clock });
  const registry = new Registry();
  const app = express();
  app.use(healthRouter({ manager, registry }));
  fixture = { app, manager, registry, clock };
  return fixture;
}

beforeEach(() => {
  // supertest's sockets need the real nextTick and setImmediate.
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
});

afterEach(() => {
  fixture?.manager.close();
  fixture = undefined;
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
  });

  it('answers 200 for a configured service that never started', async () => {
    setup({ services: { idle_worker: { interval: 60 } } });
    const response = await call('get', '/api/health/service/idle_worker', 200);
    expect(response.body).toMatchObject({ last_heartbeat: null, uptime: '0s', last_error: null, active: false });
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

describe('probes', () => {
  it('live answers 200 even while critical', async () => {
    setup().manager.heartbeat({ tag: 'core', interval: 30 }).error('x', { critical: true });
    const response = await call('get', '/api/health/live', 200);
    expect(response.body).toEqual({ status: 'ok' });
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
  ])('answers %s %s with 404 and the endpoint list', async (method, path) => {
    setup();
    const response = await call(method, path, 404);
    expect(response.body.endpoints).toContain('/api/health/status');
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

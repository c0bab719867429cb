import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry } from 'prom-client';
import { HealthMonitor, HealthMonitorError } from '../lib/client/health-monitor';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter } from '../lib/http/router';
import { ConfigError } from '../lib/util/validate';

/**
 * The client over real HTTP on loopback: the real router for the answers, tiny node:http
 * servers for the faults. Real timers throughout; intervals are an hour, so no status changes
 * while a test runs. Jest fails the test during which a promise rejection goes unhandled, so
 * every test here also checks that the client leaves none.
 */

const HOUR = 3600;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server, destroying its sockets (a request left hanging included) so jest exits. */
async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

interface Served {
  url: string;
  manager: HeartbeatManager;
  server: Server;
}

/** The real router for a manager on the real clock, on 127.0.0.1 and a free port. */
async function serveRouter(setup: (manager: HeartbeatManager) => void): Promise<Served> {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  setup(manager);
  const app = express();
  app.use(healthRouter({ manager, registry: new Registry() }));
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(0, '127.0.0.1', (error?: Error) => {
      if (error) reject(error);
      else resolve(listening);
    });
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, manager, server };
}

/** Answers by the first path segment, whatever follows it: `/html/api/health/status` answers HTML. */
function faultyHandler(req: IncomingMessage, res: ServerResponse): void {
  const kind = (req.url ?? '').split('/')[1];
  switch (kind) {
    case 'html':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!DOCTYPE html><html><body>Welcome to nginx!</body></html>');
      return;
    case 'html503':
      res.writeHead(503, { 'content-type': 'text/html' }).end('<html><body>Service Temporarily Unavailable</body></html>');
      return;
    case 'broken-json':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"services": {');
      return;
    case 'wrong-shape':
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ services: [], overall_status: 'healthy', status: 'healthy' }));
      return;
    case 'no-overall':
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ services: {} }));
      return;
    case 'error500':
      res
        .writeHead(500, { 'content-type': 'application/json; charset=utf-8' })
        .end(JSON.stringify({ error: 'Internal error in the health endpoint; see the server log.' }));
      return;
    case 'endless': {
      // A 200 whose body never ends, written as fast as the client reads.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, ' ');
      const write = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', write);
      };
      write();
      return;
    }
    case 'stall-body':
      // Headers and half a body, then nothing.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"services": {');
      return;
    case 'hang':
    default:
      // Never answers; close() destroys the socket.
      return;
  }
}

let healthy: Served;
let critical: Served;
let faulty: Server | undefined;
let faultyUrl: string;
beforeAll(async () => {
  healthy = await serveRouter((manager) => {
    manager.heartbeat({ tag: 'save_worker', interval: HOUR }).start();
    manager.heartbeat({ tag: 'a/b c', interval: HOUR }).start();
    manager.heartbeat({ tag: 'flaky', interval: HOUR, critical: false }).error('disk full');
  });
  critical = await serveRouter((manager) => {
    manager.heartbeat({ tag: 'save_worker', interval: HOUR }).start();
    manager.heartbeat({ tag: 'core', interval: HOUR }).error('segfault', { critical: true });
  });
  faulty = createServer(faultyHandler);
  faultyUrl = await listen(faulty);
});

afterAll(async () => {
  const started: Array<Served | undefined> = [healthy, critical];
  for (const served of started) {
    if (served === undefined) continue;
    void served.manager.close();
    await close(served.server);
  }
  const fault: Server | undefined = faulty;
  if (fault !== undefined) await close(fault);
});

/** The HealthMonitorError a call rejects with. */
async function failure(promise: Promise<unknown>): Promise<HealthMonitorError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a HealthMonitorError, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(HealthMonitorError);
  return outcome.error as HealthMonitorError;
}

describe('construction', () => {
  it('defaults to /api/health and 5 s, and drops a trailing slash', () => {
    const monitor = new HealthMonitor('http://localhost:3000/');
    expect([monitor.baseUrl, monitor.basePath, monitor.timeoutMs]).toEqual(['http://localhost:3000', '/api/health', 5000]);
    expect(new HealthMonitor('https://example.com/prefix/', { timeoutMs: 250, basePath: '/health' })).toMatchObject({
      baseUrl: 'https://example.com/prefix',
      basePath: '/health',
      timeoutMs: 250,
    });
  });

  it.each<[string, unknown, unknown, RegExp]>([
    ['baseUrl', 'localhost:3000', {}, /"baseUrl" is "localhost:3000"; expected an http\(s\) URL/],
    ['baseUrl', 'not a url', {}, /"baseUrl" is "not a url"/],
    ['baseUrl', 'ftp://example.com', {}, /"baseUrl" is "ftp:\/\/example.com"/],
    ['baseUrl', 'http://example.com/?x=1', {}, /"baseUrl" is "http:\/\/example.com\/\?x=1"/],
    ['baseUrl', 'http://user:secret@example.com', {}, /"baseUrl"/],
    ['baseUrl', undefined, {}, /"baseUrl" is undefined/],
    ['timeoutMs', 'http://localhost', { timeoutMs: 0 }, /"timeoutMs" is 0; expected a whole number of milliseconds from 1 to 2147483647/],
    // AbortSignal.timeout() threw on a fraction: every request rejected with a RangeError.
    ['timeoutMs', 'http://localhost', { timeoutMs: 2500.5 }, /"timeoutMs" is 2500.5/],
    ['timeoutMs', 'http://localhost', { timeoutMs: -5 }, /"timeoutMs" is -5/],
    ['timeoutMs', 'http://localhost', { timeoutMs: Number.NaN }, /"timeoutMs" is NaN/],
    ['timeoutMs', 'http://localhost', { timeoutMs: '5000' }, /"timeoutMs" is "5000"/],
    ['timeoutMs', 'http://localhost', { timeoutMs: 2 ** 31 }, /"timeoutMs" is 2147483648/],
    ['basePath', 'http://localhost', { basePath: 'api/health' }, /"basePath" is "api\/health"/],
    ['basePath', 'http://localhost', { basePath: '/api/health/' }, /"basePath" is "\/api\/health\/"/],
    ['timeoutms', 'http://localhost', { timeoutms: 100 }, /unknown key "timeoutms"/],
  ])('rejects a bad %s: %p %p', (key, baseUrl, options, message) => {
    const attempt = () => new HealthMonitor(baseUrl as string, options as never);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as ConfigError).key).toBe(key);
    }
  });
});

describe('checkHealth', () => {
  it('reads the status of a healthy server', async () => {
    const status = await new HealthMonitor(healthy.url).checkHealth();
    expect(status.overall_status).toBe('warning');
    expect(Object.keys(status.services).sort()).toEqual(['a/b c', 'flaky', 'save_worker']);
    expect(status.services.save_worker).toMatchObject({ status: 'healthy', interval: HOUR, consecutive_failures: 0 });
  });

  it('reads a critical 503 as a status, not an error', async () => {
    const status = await new HealthMonitor(critical.url).checkHealth();
    expect(status.overall_status).toBe('critical');
    expect(status.services.core).toMatchObject({ status: 'critical' });
  });
});

describe('getService and isServiceHealthy', () => {
  const monitor = () => new HealthMonitor(healthy.url);

  it('gets one service in detail', async () => {
    expect(await monitor().getService('flaky')).toMatchObject({
      service: 'flaky',
      status: 'warning',
      error_count: 1,
      last_error: { message: 'disk full', critical: false },
    });
  });

  it('encodes a name that needs it', async () => {
    expect(await monitor().getService('a/b c')).toMatchObject({ service: 'a/b c', status: 'healthy' });
  });

  it('answers undefined for a service the server does not monitor', async () => {
    await expect(monitor().getService('nope')).resolves.toBeUndefined();
    await expect(monitor().getService('%E0')).resolves.toBeUndefined();
  });

  it('tells healthy, unhealthy and unknown services apart', async () => {
    await expect(monitor().isServiceHealthy('save_worker')).resolves.toBe(true);
    await expect(monitor().isServiceHealthy('a/b c')).resolves.toBe(true);
    await expect(monitor().isServiceHealthy('flaky')).resolves.toBe(false);
    await expect(monitor().isServiceHealthy('nope')).resolves.toBe(false);
    await expect(new HealthMonitor(critical.url).isServiceHealthy('core')).resolves.toBe(false);
  });

  it('rejects a name that cannot be sent', async () => {
    await expect(monitor().getService('')).rejects.toThrow(TypeError);
    await expect(monitor().getService('..')).rejects.toThrow(/dot segment/);
  });
});

describe('errors say what happened and where', () => {
  it('unreachable: nothing listens on the port', async () => {
    const closed = createServer();
    const url = await listen(closed);
    await close(closed);
    const error = await failure(new HealthMonitor(url).checkHealth());
    expect([error.code, error.status, error.url]).toEqual(['unreachable', undefined, `${url}/api/health/status`]);
    expect(error.message).toBe(
      `Cannot reach the health endpoint at ${url}/api/health/status: connection refused (ECONNREFUSED), nothing listens there.`,
    );
    expect(error.cause).toBeDefined();
  });

  it('timeout: the server never answers', async () => {
    const started = Date.now();
    const error = await failure(new HealthMonitor(`${faultyUrl}/hang`, { timeoutMs: 200 }).checkHealth());
    expect(Date.now() - started).toBeLessThan(2000);
    expect([error.code, error.status, error.url]).toEqual(['timeout', undefined, `${faultyUrl}/hang/api/health/status`]);
    expect(error.message).toBe(`GET ${faultyUrl}/hang/api/health/status timed out after 200 ms.`);
  });

  it('timeout: the body stops half way', async () => {
    const error = await failure(new HealthMonitor(`${faultyUrl}/stall-body`, { timeoutMs: 200 }).checkHealth());
    expect([error.code, error.status]).toEqual(['timeout', 200]);
    expect(error.message).toMatch(/timed out after 200 ms/);
  });

  it('bad_response: an endless body, read up to 16 MiB and no further', async () => {
    const error = await failure(new HealthMonitor(`${faultyUrl}/endless`, { timeoutMs: 10_000 }).checkHealth());
    expect([error.code, error.status]).toEqual(['bad_response', 200]);
    expect(error.message).toBe(
      `GET ${faultyUrl}/endless/api/health/status answered HTTP 200, but the body is larger than 16777216 bytes (16 MiB), far more than a health answer; the rest was not read.`,
    );
  });

  it('bad_response: HTML where JSON was expected', async () => {
    const error = await failure(new HealthMonitor(`${faultyUrl}/html`).checkHealth());
    expect([error.code, error.status, error.url]).toEqual(['bad_response', 200, `${faultyUrl}/html/api/health/status`]);
    expect(error.message).toMatch(/answered HTTP 200, but the body is "text\/html; charset=utf-8", not JSON: "<!DOCTYPE html>/);
  });

  it('bad_response: JSON that does not parse', async () => {
    const error = await failure(new HealthMonitor(`${faultyUrl}/broken-json`).checkHealth());
    expect(error.code).toBe('bad_response');
    expect(error.message).toMatch(/the body is not valid JSON/);
  });

  it.each([
    ['wrong-shape', /"services" is an array; expected an object/],
    ['no-overall', /"overall_status" is missing; expected a string/],
  ])('bad_response: JSON of the wrong shape (%s)', async (kind, message) => {
    const error = await failure(new HealthMonitor(`${faultyUrl}/${kind}`).checkHealth());
    expect([error.code, error.status]).toEqual(['bad_response', 200]);
    expect(error.message).toMatch(/the body is not a health status/);
    expect(error.message).toMatch(message);
  });

  it('bad_response: a service body of the wrong shape', async () => {
    const error = await failure(new HealthMonitor(`${faultyUrl}/wrong-shape`).getService('x'));
    expect(error.code).toBe('bad_response');
    expect(error.message).toMatch(/the body is not a service health: "service" is missing/);
  });

  it('http_status: a 500, quoting the server', async () => {
    const error = await failure(new HealthMonitor(`${faultyUrl}/error500`).checkHealth());
    expect([error.code, error.status, error.url]).toEqual(['http_status', 500, `${faultyUrl}/error500/api/health/status`]);
    expect(error.message).toBe(
      `GET ${faultyUrl}/error500/api/health/status answered HTTP 500: Internal error in the health endpoint; see the server log.`,
    );
  });

  it('http_status: a 503 without a status body, as a proxy sends', async () => {
    const error = await failure(new HealthMonitor(`${faultyUrl}/html503`).checkHealth());
    expect([error.code, error.status]).toEqual(['http_status', 503]);
    expect(error.message).toMatch(/answered HTTP 503 \(the body is "text\/html", not JSON/);
  });

  it('http_status: a wrong basePath is not mistaken for an unknown service', async () => {
    const monitor = new HealthMonitor(healthy.url, { basePath: '/health' });
    const checked = await failure(monitor.checkHealth());
    expect([checked.code, checked.status, checked.url]).toEqual(['http_status', 404, `${healthy.url}/health/status`]);
    const serviceError = await failure(monitor.isServiceHealthy('save_worker'));
    expect([serviceError.code, serviceError.status]).toEqual(['http_status', 404]);
  });
});
